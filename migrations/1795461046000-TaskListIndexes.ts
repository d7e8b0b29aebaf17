import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * One partial index per sort key of the task list, over live rows of one user, ending in `id` so
 * the tie-break is in the index too: every list query reads a user's rows in order and stops at the
 * page's end. The created_at one also carries completed and due_date, so counting a user's tasks
 * under those filters never visits the table. The trash has its own, over deleted rows.
 */
export class TaskListIndexes1795461046000 implements MigrationInterface {
  name = 'TaskListIndexes1795461046000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE INDEX idx_tasks_user_created_at ON tasks (user_id, created_at, id) INCLUDE (completed, due_date) WHERE deleted_at IS NULL');
    await queryRunner.query('CREATE INDEX idx_tasks_user_updated_at ON tasks (user_id, updated_at, id) WHERE deleted_at IS NULL');
    await queryRunner.query('CREATE INDEX idx_tasks_user_due_date ON tasks (user_id, due_date, id) WHERE deleted_at IS NULL');
    await queryRunner.query('CREATE INDEX idx_tasks_user_title ON tasks (user_id, title, id) WHERE deleted_at IS NULL');
    await queryRunner.query('CREATE INDEX idx_tasks_user_trash ON tasks (user_id, deleted_at, id) WHERE deleted_at IS NOT NULL');
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX idx_tasks_user_trash');
    await queryRunner.query('DROP INDEX idx_tasks_user_title');
    await queryRunner.query('DROP INDEX idx_tasks_user_due_date');
    await queryRunner.query('DROP INDEX idx_tasks_user_updated_at');
    await queryRunner.query('DROP INDEX idx_tasks_user_created_at');
  }
}
