import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The login rate limits, counted in PostgreSQL instead of each process's memory, so that N API
 * processes or replicas allow the same number of guesses as one. One row per counter (a limit and
 * its key), for a fixed one-minute window; a single upsert counts an attempt atomically, so a
 * burst spread over every process cannot slip past. Rows whose window has ended are deleted by the
 * service in small batches (the window index).
 */
export class LoginAttemptCounts1795485000000 implements MigrationInterface {
  name = 'LoginAttemptCounts1795485000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE login_attempt_counts (
        kind varchar(8) NOT NULL,
        address varchar(100) NOT NULL,
        account varchar(72) NOT NULL,
        attempts integer NOT NULL,
        window_ends_at timestamptz NOT NULL,
        CONSTRAINT login_attempt_counts_pkey PRIMARY KEY (kind, address, account),
        CONSTRAINT login_attempt_counts_kind_check CHECK (kind IN ('attempts', 'failures')),
        CONSTRAINT login_attempt_counts_account_check CHECK ((kind = 'attempts') = (account = ''))
      )`);
    await queryRunner.query('CREATE INDEX idx_login_attempt_counts_window_ends_at ON login_attempt_counts (window_ends_at)');
    await queryRunner.query(
      "COMMENT ON TABLE login_attempt_counts IS 'Login rate-limit counters, one per limit and key, each for a fixed one-minute window: shared by every API process.'",
    );
    await queryRunner.query(
      "COMMENT ON COLUMN login_attempt_counts.kind IS 'attempts: every login from the address (LOGIN_RATE_LIMIT_PER_IP); failures: failed logins of the account from the address (LOGIN_RATE_LIMIT).'",
    );
    await queryRunner.query(
      "COMMENT ON COLUMN login_attempt_counts.address IS 'The client address as the service sees it (TRUST_PROXY decides), at most its first 100 characters.'",
    );
    await queryRunner.query(
      "COMMENT ON COLUMN login_attempt_counts.account IS 'For failures: user:<id> of the account the login name resolved to, or name:<SHA-256 of the normalised name> when it names none; '''' for attempts.'",
    );
    await queryRunner.query("COMMENT ON COLUMN login_attempt_counts.attempts IS 'Attempts counted in the current window, refused ones included.'");
    await queryRunner.query(
      "COMMENT ON COLUMN login_attempt_counts.window_ends_at IS 'End of the current window: the next attempt after it starts a new window at 1.'",
    );
    await queryRunner.query(
      "COMMENT ON INDEX login_attempt_counts_pkey IS 'Primary key: the conflict target of the counting upsert, and clearing an account''s failures after a success.'",
    );
    await queryRunner.query(
      "COMMENT ON INDEX idx_login_attempt_counts_window_ends_at IS 'The sweep: finds rows whose window has ended, a bounded batch at a time.'",
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE login_attempt_counts');
  }
}
