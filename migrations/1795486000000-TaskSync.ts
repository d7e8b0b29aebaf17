import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What `GET /api/v1/tasks/sync` and `/tasks/stream` stand on (docs/sync.md), all kept by triggers so
 * that every writer is covered: the API, the seeds, a retention purge, psql, ON DELETE CASCADE.
 *
 * - tasks.changed_xid: the id of the transaction that last wrote the row (`pg_current_xact_id()`).
 *   A sync token holds the snapshot of the previous sync; the rows whose changed_xid that snapshot
 *   could not see are exactly the ones changed since, in whatever order their transactions
 *   committed. Existing rows get 0: written before any token existed, visible in every snapshot.
 *   Added with a constant default, so no table rewrite; the index is what an incremental sync reads.
 * - task_tombstones: one row per task deleted for good, written by a statement-level trigger.
 * - tombstone_purges: one row per transaction that deleted tombstones (the retention purge, psql) or
 *   truncated tasks. A token is too old (410) when such a transaction committed after its snapshot
 *   and took tombstones from at or after its xmin: deletions it would need are gone. A purge that
 *   committed before the token's snapshot took only tombstones that snapshot could already see.
 * - task_streams: the open change streams, one row per stream (slot 1..STREAM_MAX_PER_USER of its
 *   user), naming the listening connection of the process that holds it. It caps streams per user
 *   across processes, and it tells the triggers whom to NOTIFY: a NOTIFY serialises the commits of
 *   every notifying transaction, so writes for users without a stream send none.
 */
const COMMENTS: Array<[kind: 'TABLE' | 'COLUMN' | 'INDEX', name: string, text: string]> = [
  [
    'COLUMN',
    'tasks.changed_xid',
    'Id of the transaction that last wrote the row (pg_current_xact_id(), set by stamp_task_changed_xid); 0 for rows written before sync existed. What sync tokens compare against.',
  ],
  ['INDEX', 'idx_tasks_user_changed_xid', "Incremental and full sync: one user's tasks in the order of the transactions that last changed them."],
  ['TABLE', 'task_tombstones', 'One row per task deleted for good (any DELETE: the API, purges, cascades), so a sync can tell clients it is gone.'],
  ['COLUMN', 'task_tombstones.user_id', 'The owner of the deleted task; deleting the user for good deletes the rows (ON DELETE CASCADE).'],
  ['COLUMN', 'task_tombstones.deleted_xid', 'Id of the transaction that deleted the task (pg_current_xact_id()).'],
  ['COLUMN', 'task_tombstones.task_id', 'The deleted task.'],
  ['COLUMN', 'task_tombstones.deleted_at', 'When it was deleted; rows older than SYNC_TOMBSTONE_RETENTION_DAYS are purged.'],
  ['INDEX', 'task_tombstones_pkey', "Primary key, and what an incremental sync reads: one user's deletions in transaction order."],
  ['INDEX', 'idx_task_tombstones_deleted_at', 'The retention purge: the oldest tombstones first.'],
  [
    'TABLE',
    'tombstone_purges',
    'Transactions that deleted tombstones or truncated tasks (written by triggers): sync tokens from before one of them may need what it took, and are answered 410.',
  ],
  ['COLUMN', 'tombstone_purges.purge_xid', 'Id of the transaction that deleted tombstones (pg_current_xact_id()), or truncated tasks.'],
  ['COLUMN', 'tombstone_purges.max_deleted_xid', 'The newest deleted_xid among the tombstones it deleted (its own id for a TRUNCATE).'],
  [
    'COLUMN',
    'tombstone_purges.purged_at',
    'When; rows older than SYNC_TOMBSTONE_RETENTION_DAYS are deleted, as every token from before them is too old anyway.',
  ],
  ['INDEX', 'tombstone_purges_pkey', "Primary key, and what every sync reads: the purges at or after a token snapshot's xmin."],
  ['TABLE', 'task_streams', 'Open change streams (GET /api/v1/tasks/stream): at most STREAM_MAX_PER_USER slots per user across processes.'],
  ['COLUMN', 'task_streams.user_id', 'Whose stream; deleting the user for good deletes the rows (ON DELETE CASCADE).'],
  ['COLUMN', 'task_streams.slot', '1 to STREAM_MAX_PER_USER.'],
  ['COLUMN', 'task_streams.listener_pid', 'Backend pid of the LISTEN connection of the process that holds the slot.'],
  [
    'COLUMN',
    'task_streams.listener_started_at',
    "That backend's start time: a slot whose pid and start time name no live backend is free (its process is gone).",
  ],
  ['COLUMN', 'task_streams.opened_at', 'When the stream opened.'],
  ['INDEX', 'task_streams_pkey', "Primary key: claiming a slot, and the triggers' question whether a user has a stream."],
  ['INDEX', 'idx_task_streams_listener_pid', "A process's own rows: released, moved to a new listening connection, or cleaned up."],
];

export class TaskSync1795486000000 implements MigrationInterface {
  name = 'TaskSync1795486000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    const query = (sql: string) => queryRunner.query(sql);
    await query('ALTER TABLE tasks ADD COLUMN changed_xid bigint NOT NULL DEFAULT 0');
    await query(`
      CREATE FUNCTION stamp_task_changed_xid() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        NEW.changed_xid := pg_current_xact_id()::text::bigint;
        RETURN NEW;
      END
      $$`);
    await query('CREATE TRIGGER stamp_task_changed_xid BEFORE INSERT OR UPDATE ON tasks FOR EACH ROW EXECUTE FUNCTION stamp_task_changed_xid()');
    await query('CREATE INDEX idx_tasks_user_changed_xid ON tasks (user_id, changed_xid, id)');

    await query(`
      CREATE TABLE task_tombstones (
        user_id uuid NOT NULL,
        deleted_xid bigint NOT NULL,
        task_id uuid NOT NULL,
        deleted_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT task_tombstones_pkey PRIMARY KEY (user_id, deleted_xid, task_id),
        CONSTRAINT task_tombstones_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
      )`);
    await query('CREATE INDEX idx_task_tombstones_deleted_at ON task_tombstones (deleted_at)');
    await query(`
      CREATE TABLE tombstone_purges (
        purge_xid bigint NOT NULL,
        max_deleted_xid bigint NOT NULL,
        purged_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT tombstone_purges_pkey PRIMARY KEY (purge_xid)
      )`);
    await query(`
      CREATE TABLE task_streams (
        user_id uuid NOT NULL,
        slot integer NOT NULL,
        listener_pid integer NOT NULL,
        listener_started_at timestamptz NOT NULL,
        opened_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT task_streams_pkey PRIMARY KEY (user_id, slot),
        CONSTRAINT task_streams_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
      )`);
    await query('CREATE INDEX idx_task_streams_listener_pid ON task_streams (listener_pid)');

    // One function for the three statement-level triggers (transition tables allow one event per trigger).
    await query(`
      CREATE FUNCTION record_task_changes() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'DELETE' THEN
          -- A user deleted for good takes their tasks along (ON DELETE CASCADE); nobody syncs as them any more.
          INSERT INTO task_tombstones (user_id, deleted_xid, task_id)
          SELECT o.user_id, pg_current_xact_id()::text::bigint, o.id FROM old_rows o
           WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = o.user_id)
          ON CONFLICT DO NOTHING;
          PERFORM pg_notify('task_changes', c.user_id::text)
             FROM (SELECT DISTINCT user_id FROM old_rows) AS c
            WHERE EXISTS (SELECT 1 FROM task_streams s WHERE s.user_id = c.user_id);
        ELSE
          PERFORM pg_notify('task_changes', c.user_id::text)
             FROM (SELECT DISTINCT user_id FROM new_rows) AS c
            WHERE EXISTS (SELECT 1 FROM task_streams s WHERE s.user_id = c.user_id);
        END IF;
        RETURN NULL;
      END
      $$`);
    await query(
      'CREATE TRIGGER record_task_changes_on_insert AFTER INSERT ON tasks REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION record_task_changes()',
    );
    await query(
      'CREATE TRIGGER record_task_changes_on_update AFTER UPDATE ON tasks REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION record_task_changes()',
    );
    await query(
      'CREATE TRIGGER record_task_changes_on_delete AFTER DELETE ON tasks REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION record_task_changes()',
    );

    // Tombstones that go while their user stays (the purge, psql) take the tokens that needed them along.
    await query(`
      CREATE FUNCTION record_tombstone_purge() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO tombstone_purges (purge_xid, max_deleted_xid)
        SELECT pg_current_xact_id()::text::bigint, max(deleted_xid) FROM old_rows o
         WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = o.user_id)
        HAVING count(*) > 0
        ON CONFLICT (purge_xid) DO UPDATE SET max_deleted_xid = greatest(tombstone_purges.max_deleted_xid, EXCLUDED.max_deleted_xid);
        RETURN NULL;
      END
      $$`);
    await query(
      'CREATE TRIGGER record_tombstone_purge AFTER DELETE ON task_tombstones REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION record_tombstone_purge()',
    );
    // TRUNCATE writes no tombstones and keeps no old rows: every token issued before it is too old.
    await query(`
      CREATE FUNCTION expire_sync_tokens() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        xid bigint := pg_current_xact_id()::text::bigint;
      BEGIN
        INSERT INTO tombstone_purges (purge_xid, max_deleted_xid) VALUES (xid, xid)
        ON CONFLICT (purge_xid) DO UPDATE SET max_deleted_xid = EXCLUDED.max_deleted_xid;
        RETURN NULL;
      END
      $$`);
    await query('CREATE TRIGGER expire_sync_tokens_on_truncate AFTER TRUNCATE ON tasks FOR EACH STATEMENT EXECUTE FUNCTION expire_sync_tokens()');
    await query('CREATE TRIGGER expire_sync_tokens_on_truncate AFTER TRUNCATE ON task_tombstones FOR EACH STATEMENT EXECUTE FUNCTION expire_sync_tokens()');

    // A revoked or deleted session ends its streams at once, on every process.
    await query(`
      CREATE FUNCTION notify_session_revoked() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF EXISTS (SELECT 1 FROM task_streams WHERE user_id = OLD.user_id) THEN
          PERFORM pg_notify('session_revocations', OLD.id::text);
        END IF;
        RETURN NULL;
      END
      $$`);
    await query(
      'CREATE TRIGGER notify_session_revoked AFTER UPDATE OF revoked_at ON sessions FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL) EXECUTE FUNCTION notify_session_revoked()',
    );
    await query('CREATE TRIGGER notify_session_deleted AFTER DELETE ON sessions FOR EACH ROW EXECUTE FUNCTION notify_session_revoked()');

    for (const [kind, name, text] of COMMENTS) await query(`COMMENT ON ${kind} ${name} IS '${text.replaceAll("'", "''")}'`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    const query = (sql: string) => queryRunner.query(sql);
    await query('DROP TRIGGER notify_session_deleted ON sessions');
    await query('DROP TRIGGER notify_session_revoked ON sessions');
    await query('DROP FUNCTION notify_session_revoked()');
    await query('DROP TRIGGER expire_sync_tokens_on_truncate ON tasks');
    await query('DROP TRIGGER record_task_changes_on_delete ON tasks');
    await query('DROP TRIGGER record_task_changes_on_update ON tasks');
    await query('DROP TRIGGER record_task_changes_on_insert ON tasks');
    await query('DROP FUNCTION record_task_changes()');
    await query('DROP TABLE task_streams');
    await query('DROP TABLE task_tombstones');
    await query('DROP FUNCTION record_tombstone_purge()');
    await query('DROP TABLE tombstone_purges');
    await query('DROP FUNCTION expire_sync_tokens()');
    await query('DROP INDEX idx_tasks_user_changed_xid');
    await query('DROP TRIGGER stamp_task_changed_xid ON tasks');
    await query('DROP FUNCTION stamp_task_changed_xid()');
    await query('ALTER TABLE tasks DROP COLUMN changed_xid');
  }
}
