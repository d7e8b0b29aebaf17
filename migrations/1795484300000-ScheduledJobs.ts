import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * When each timer-driven job last ran, and in which process. Several processes (WEB_CONCURRENCY,
 * replicas) run the same timers; an advisory lock alone only keeps two of them from running a job
 * at the same moment, not one after the other, so the job's row says whether it is due: a job runs
 * at most once per interval across the fleet, and the process that ran it last keeps running it.
 */
export class ScheduledJobs1795484300000 implements MigrationInterface {
  name = 'ScheduledJobs1795484300000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE scheduled_jobs (
        name varchar(100) NOT NULL,
        last_run_at timestamptz NOT NULL,
        last_run_by varchar(200) NOT NULL,
        CONSTRAINT scheduled_jobs_pkey PRIMARY KEY (name)
      )`);
    await queryRunner.query(
      "COMMENT ON TABLE scheduled_jobs IS 'Jobs the service runs on a timer in one process of the fleet at a time: when each last ran, and where.'",
    );
    await queryRunner.query("COMMENT ON COLUMN scheduled_jobs.name IS 'The job, e.g. database_stats (the statistics behind /metrics).'");
    await queryRunner.query("COMMENT ON COLUMN scheduled_jobs.last_run_at IS 'When it last ran, by the database''s clock.'");
    await queryRunner.query(
      "COMMENT ON COLUMN scheduled_jobs.last_run_by IS 'The process that ran it (host name/process id): it keeps the job while it keeps running it on time.'",
    );
    await queryRunner.query("COMMENT ON INDEX scheduled_jobs_pkey IS 'Primary key: the one row of each job, claimed with INSERT … ON CONFLICT.'");
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE scheduled_jobs');
  }
}
