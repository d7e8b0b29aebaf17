import { Type } from 'class-transformer';
import { IsArray, IsIn, IsInt, IsString, IsUUID, Min, ValidateNested } from 'class-validator';
import { Nullable } from '../http/validation';
import { IsDateTimeWithOffset } from '../http/validators';
import { SECURITY_EVENT_TYPES, type SecurityEvent, type SecurityEventType } from './security-event.entity';
import type { SecurityEventPageResult } from './security-events.repository';

/** One event as its user sees it: what, when, and from where. `details` stays in the database. */
export class SecurityEventPublic {
  @IsUUID('all')
  id: string;

  @IsIn(SECURITY_EVENT_TYPES)
  type: SecurityEventType;

  /** The client address the service saw; null when it had none. */
  @Nullable()
  @IsString()
  ip: string | null;

  @Nullable()
  @IsString()
  user_agent: string | null;

  @IsDateTimeWithOffset()
  created_at: string;
}

export class SecurityEventPage {
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => SecurityEventPublic)
  data: SecurityEventPublic[];

  /** All of the caller's events, ignoring skip and limit. */
  @IsInt()
  @Min(0)
  count: number;
}

export function toSecurityEventPublic(event: SecurityEvent): SecurityEventPublic {
  return { id: event.id, type: event.type, ip: event.ip, user_agent: event.userAgent, created_at: event.createdAt.toISOString() };
}

export function toSecurityEventPage({ events, count }: SecurityEventPageResult): SecurityEventPage {
  return { data: events.map(toSecurityEventPublic), count };
}
