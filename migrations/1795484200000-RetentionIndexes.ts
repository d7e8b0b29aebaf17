import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The index, what it is for, and its definition after `ON`. */
const INDEXES: Array<[name: string, definition: string, comment: string]> = [
  [
    'idx_tasks_trashed_at',
    'tasks (deleted_at) WHERE deleted_at IS NOT NULL',
    'The retention job: tasks in the trash longer than TRASH_RETENTION_DAYS, across users. Holds trashed rows only.',
  ],
  [
    'idx_sessions_ended_at',
    'sessions ((LEAST(revoked_at, expires_at)))',
    'The retention job: sessions revoked or expired more than SESSION_RETENTION_DAYS ago (LEAST ignores a NULL revoked_at).',
  ],
  [
    'idx_users_deleted_at',
    'users (deleted_at) WHERE deleted_at IS NOT NULL',
    'The retention job: accounts deleted more than ACCOUNT_RETENTION_DAYS ago. Holds deleted accounts only.',
  ],
];

/**
 * The indexes the retention job's batches read, so that each batch finds its oldest rows without
 * scanning a table. tasks, sessions and users can be large and busy: the indexes are built
 * CONCURRENTLY, which holds no lock that blocks reads or writes, and cannot run inside a
 * transaction (hence `transaction = false`). A build that failed half-way leaves an invalid index
 * behind, so each is dropped first: running the migration again finishes the job.
 */
export class RetentionIndexes1795484200000 implements MigrationInterface {
  name = 'RetentionIndexes1795484200000';
  transaction = false;

  public async up(queryRunner: QueryRunner): Promise<void> {
    for (const [name, definition, comment] of INDEXES) {
      await queryRunner.query(`DROP INDEX CONCURRENTLY IF EXISTS ${name}`);
      await queryRunner.query(`CREATE INDEX CONCURRENTLY ${name} ON ${definition}`);
      await queryRunner.query(`COMMENT ON INDEX ${name} IS '${comment.replaceAll("'", "''")}'`);
    }
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    for (const [name] of [...INDEXES].reverse()) await queryRunner.query(`DROP INDEX CONCURRENTLY IF EXISTS ${name}`);
  }
}
