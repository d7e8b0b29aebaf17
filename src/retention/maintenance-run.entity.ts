import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * One periodic job (the retention purge is `retention`): who runs it now, until when that claim
 * holds, and how its last run went. Every process that could run the job claims this row first, so
 * only one runs it at a time, whatever the number of processes, replicas or poolers.
 */
@Entity({
  name: 'maintenance_runs',
  comment:
    'Periodic jobs (the retention purge): who holds each one now, until when, and its last run. Claiming the row is what lets one process at a time run a job.',
})
export class MaintenanceRun {
  @PrimaryColumn({ name: 'job', comment: 'The job: retention.', type: 'varchar', length: 64, primaryKeyConstraintName: 'maintenance_runs_pkey' })
  job: string;

  @Column({
    name: 'holder',
    comment: 'The run holding the job (host, pid and a random tag); NULL when none does.',
    type: 'varchar',
    length: 128,
    nullable: true,
  })
  holder: string | null;

  @Column({
    name: 'lease_expires_at',
    comment: 'Until when the holder may run: renewed by every batch; past it another process may take the job over (the holder died).',
    type: 'timestamptz',
    nullable: true,
  })
  leaseExpiresAt: Date | null;

  @Column({ name: 'last_started_at', comment: 'When the latest run started.', type: 'timestamptz', nullable: true })
  lastStartedAt: Date | null;

  @Column({
    name: 'last_finished_at',
    comment: 'When the latest complete run finished; the timer skips a run within half an interval of it.',
    type: 'timestamptz',
    nullable: true,
  })
  lastFinishedAt: Date | null;

  @Column({ name: 'last_result', comment: 'What the latest complete run did: rows deleted per kind, and its duration.', type: 'jsonb', nullable: true })
  lastResult: Record<string, unknown> | null;
}
