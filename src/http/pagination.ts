import { IsInt, Max, Min } from 'class-validator';
import { Optional } from './validation';
import { IsInt64, QueryInt64, QueryInteger } from './validators';

/** `skip` and `limit` of every paged list (tasks, the trash, security events): one class, so every list pages by the same rules. */
export class PageQuery {
  /** Any offset a 64-bit integer holds (the contract sets no maximum); past the end, the page is empty. */
  @Optional()
  @QueryInt64()
  @IsInt64(0)
  skip: bigint = 0n;

  @Optional()
  @QueryInteger()
  @IsInt({ message: 'limit must be an integer' })
  @Min(1)
  @Max(100)
  limit: number = 100;
}
