import { statement, type Statement } from '../db/database';

/*
 * The statements of sync and of the change stream (docs/sync.md). Each reads its rows and the
 * snapshot it read them with, `pg_current_snapshot()`, in one statement: the snapshot then describes
 * exactly what was read, and becomes the next token. They must run on the primary: on a standby,
 * pg_current_snapshot() leaves out the transactions still running on the primary (PostgreSQL keeps
 * them apart while in recovery), so a token taken there would skip their changes for good. Each
 * statement returns pg_is_in_recovery() so the repository refuses to go on if routed to one.
 *
 * Transaction ids are xid8 (64-bit, never wrapping around), handled as bigint.
 */

/** The statement's own snapshot, when it was taken (database clock), and the newest transaction whose tombstones are gone. */
const SNAPSHOT_FIELDS = `pg_snapshot_xmin(snap)::text AS "snapshotXmin",
       pg_snapshot_xmax(snap)::text AS "snapshotXmax",
       ARRAY(SELECT pg_snapshot_xip(snap)::text::bigint ORDER BY 1)::text[] AS "snapshotXip",
       floor(extract(epoch FROM now()))::float8 AS "snapshotAt",
       (SELECT purged_xid FROM sync_horizon)::text AS "horizonXid",
       pg_is_in_recovery() AS "onStandby"`;

/** Not visible in the snapshot ($n xmin, $n+1 xmax, $n+2 xip): committed after it was taken, or never. */
const NOT_SEEN_BY = (column: string, n: number) => `(${column} >= $${n + 1} OR ${column} = ANY ($${n + 2}::bigint[]))`;

/** Visible in the snapshot ($n xmin, $n+1 xmax, $n+2 xip), or no snapshot given ($n NULL). */
const SEEN_BY_OR_NONE = (column: string, n: number) =>
  `($${n}::bigint IS NULL OR ${column} < $${n} OR (${column} < $${n + 1} AND ${column} <> ALL ($${n + 2}::bigint[])))`;

/**
 * One round's page of changes since a snapshot: the tasks and the tombstones whose transaction the
 * lower snapshot ($2-$4) could not see and the upper one ($7-$9, NULL on a round's first page) can,
 * after a position ($5 xid, $6 id), in (xid, id) order, at most $10 rows. Parameters: $1 user.
 * Each half reads its index (idx_tasks_user_changed_xid, task_tombstones_pkey) in order from the
 * lower snapshot's xmin and stops at the page's end. A tombstone of a task that exists again is
 * left out: the row itself says what the task is now.
 */
const changesPage = (taskColumns: string) => `
SELECT s.*, c.*
  FROM (SELECT ${SNAPSHOT_FIELDS} FROM pg_current_snapshot() AS snap) AS s
  LEFT JOIN LATERAL (
    SELECT w.xid::text AS "changeXid", w.id AS "changeId", w.gone_at AS "goneAt", t.*
      FROM ((SELECT id, changed_xid AS xid, NULL::timestamptz AS gone_at FROM tasks
              WHERE user_id = $1 AND changed_xid >= $2 AND (changed_xid, id) > ($5::bigint, $6::uuid)
                AND ${NOT_SEEN_BY('changed_xid', 2)} AND ${SEEN_BY_OR_NONE('changed_xid', 7)}
              ORDER BY changed_xid, id LIMIT $10)
            UNION ALL
            (SELECT task_id, deleted_xid, deleted_at FROM task_tombstones d
              WHERE user_id = $1 AND deleted_xid >= $2 AND (deleted_xid, task_id) > ($5::bigint, $6::uuid)
                AND ${NOT_SEEN_BY('deleted_xid', 2)} AND ${SEEN_BY_OR_NONE('deleted_xid', 7)}
                AND NOT EXISTS (SELECT 1 FROM tasks WHERE tasks.id = d.task_id)
              ORDER BY deleted_xid, task_id LIMIT $10)
            ORDER BY xid, id LIMIT $10) AS w
      LEFT JOIN LATERAL (SELECT ${taskColumns} FROM tasks WHERE tasks.id = w.id AND w.gone_at IS NULL) AS t ON true
     ORDER BY w.xid, w.id
  ) AS c ON true`;

/** A page of a full sync: every task of the user ($1), live and trashed, after a position ($2 xid, $3 id), in (xid, id) order, at most $4. */
const fullPage = (taskColumns: string) => `
SELECT s.*, c.*
  FROM (SELECT ${SNAPSHOT_FIELDS} FROM pg_current_snapshot() AS snap) AS s
  LEFT JOIN LATERAL (
    SELECT changed_xid::text AS "changeXid", id AS "changeId", NULL::timestamptz AS "goneAt", ${taskColumns}
      FROM tasks WHERE user_id = $1 AND (changed_xid, id) > ($2::bigint, $3::uuid)
     ORDER BY changed_xid, id LIMIT $4
  ) AS c ON true`;

export interface SyncStatements {
  changesPage: Statement;
  fullPage: Statement;
  snapshot: Statement;
}

/** The statements, returning tasks with `taskColumns` (the repository's select list, passed in so this module needs nothing of it). */
export function syncStatements(taskColumns: string): SyncStatements {
  return {
    changesPage: statement(changesPage(taskColumns)),
    fullPage: statement(fullPage(taskColumns)),
    snapshot: statement(`SELECT ${SNAPSHOT_FIELDS} FROM pg_current_snapshot() AS snap`),
  };
}
