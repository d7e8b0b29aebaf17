import { Type } from 'class-transformer';
import { Equals, IsArray, IsIn, IsInt, IsNumber, IsString, Min, ValidateNested } from 'class-validator';
import type { ReplicaStatus } from '../db/replicas';
import { Nullable, Optional } from '../http/validation';

export class HealthStatus {
  @Equals('ok')
  status: 'ok';
}

/** A read replica as /ready reports it. */
export class ReplicaReadiness {
  /** `replica-1`, `replica-2`, … in the order of DATABASE_READ_URLS. */
  @IsString()
  name: string;

  /** `ok`: it serves reads; `lagging`: further behind than DATABASE_READ_MAX_LAG_MS; `down`: not answering as a standby. Reads skip it unless ok. */
  @IsIn(['ok', 'lagging', 'down'])
  status: 'ok' | 'lagging' | 'down';

  /** How old its data may be, in seconds; null while down. */
  @Nullable()
  @IsNumber()
  @Min(0)
  lag_seconds: number | null;

  /** WAL bytes the primary has written and it has not replayed; null while down. */
  @Nullable()
  @IsInt()
  @Min(0)
  lag_bytes: number | null;
}

export class ReadinessStatus {
  @Equals('ok')
  status: 'ok';

  @Equals('ok')
  database: 'ok';

  /** Only with read replicas (DATABASE_READ_URLS). A replica that is not ok is skipped, and /ready stays 200: the primary serves. */
  @Optional()
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => ReplicaReadiness)
  replicas?: ReplicaReadiness[];
}

/** /ready's body: without replicas exactly `{"status":"ok","database":"ok"}`. */
export function toReadinessStatus(replicas: ReplicaStatus[] | undefined): ReadinessStatus {
  if (!replicas) return { status: 'ok', database: 'ok' };
  return {
    status: 'ok',
    database: 'ok',
    replicas: replicas.map((replica) => ({ name: replica.name, status: replica.state, lag_seconds: replica.lagSeconds, lag_bytes: replica.lagBytes })),
  };
}
