import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Read replicas with read-your-writes: each session remembers a position in the primary's WAL,
 * taken when it logs in and after each of its writes commits, and its reads go to a replica only
 * once that replica has replayed so far. The per-request session check reads this row already, so
 * knowing it costs no extra round trip.
 *
 * A byte offset (`pg_lsn - '0/0'`) in a bigint rather than a pg_lsn: TypeORM has no pg_lsn type,
 * and the entities must describe this schema exactly. Nullable and without a default, so adding it
 * rewrites nothing and the running version keeps working (expand only).
 */
export class SessionLastWrite1795481000000 implements MigrationInterface {
  name = 'SessionLastWrite1795481000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE sessions ADD COLUMN last_write_lsn bigint');
    await queryRunner.query(
      "COMMENT ON COLUMN sessions.last_write_lsn IS 'With read replicas: a position in the primary''s WAL, in bytes (pg_current_wal_insert_lsn() - ''0/0''), read at login and after each write of the session committed; a replica serves the session''s reads once it has replayed that far. NULL: none recorded.'",
    );
    await queryRunner.query(
      "COMMENT ON COLUMN sessions.updated_at IS 'Moved by update_sessions_updated_at on every UPDATE (each refresh; with read replicas, each recorded write too).'",
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("COMMENT ON COLUMN sessions.updated_at IS 'Moved by update_sessions_updated_at on every UPDATE (each refresh).'");
    await queryRunner.query('ALTER TABLE sessions DROP COLUMN last_write_lsn');
  }
}
