import type { MigrationInterface, QueryRunner } from 'typeorm';

const COMMENTS: Array<[kind: 'TABLE' | 'COLUMN' | 'INDEX', name: string, text: string]> = [
  [
    'TABLE',
    'maintenance_runs',
    'Periodic jobs (the retention purge): who holds each one now, until when, and its last run. Claiming the row is what lets one process at a time run a job.',
  ],
  ['COLUMN', 'maintenance_runs.job', 'The job: retention.'],
  ['COLUMN', 'maintenance_runs.holder', 'The run holding the job (host, pid and a random tag); NULL when none does.'],
  [
    'COLUMN',
    'maintenance_runs.lease_expires_at',
    'Until when the holder may run: renewed by every batch; past it another process may take the job over (the holder died).',
  ],
  ['COLUMN', 'maintenance_runs.last_started_at', 'When the latest run started.'],
  ['COLUMN', 'maintenance_runs.last_finished_at', 'When the latest complete run finished; the timer skips a run within half an interval of it.'],
  ['COLUMN', 'maintenance_runs.last_result', 'What the latest complete run did: rows deleted per kind, and its duration.'],
  ['INDEX', 'maintenance_runs_pkey', 'Primary key: the row a run claims, renews and releases.'],
];

/**
 * Who runs a periodic job, as a row rather than a session advisory lock: a session lock belongs to a
 * server connection, which a transaction-mode pooler (PgBouncer) hands to other clients between
 * transactions, and it says nothing about when the job last ran. A claimed row with an expiry works
 * through any pooler, survives a crashed holder (its lease runs out), and records the last run.
 */
export class MaintenanceRuns1795484100000 implements MigrationInterface {
  name = 'MaintenanceRuns1795484100000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE maintenance_runs (
        job varchar(64) NOT NULL,
        holder varchar(128),
        lease_expires_at timestamptz,
        last_started_at timestamptz,
        last_finished_at timestamptz,
        last_result jsonb,
        CONSTRAINT maintenance_runs_pkey PRIMARY KEY (job)
      )`);
    for (const [kind, name, text] of COMMENTS) await queryRunner.query(`COMMENT ON ${kind} ${name} IS '${text.replaceAll("'", "''")}'`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE maintenance_runs');
  }
}
