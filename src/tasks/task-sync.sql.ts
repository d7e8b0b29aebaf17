import { statement, type Statement } from '../db/database';

/*
 * The statements of sync and of the change stream (docs/sync.md). Each reads its rows and the
 * snapshot it read them with, `pg_current_snapshot()`, in one statement: the snapshot then describes
 * exactly what was read, and becomes the next token. The check that the token's tombstones are all
 * still kept is in the same statement too, so a purge cannot slip in between check and read.
 *
 * They must run on the primary: on a standby, pg_current_snapshot() leaves out the transactions
 * still running on the primary (PostgreSQL keeps them apart during recovery), so a token taken there
 * would skip their changes for good. Each statement returns pg_is_in_recovery(), and the repository
 * refuses to go on if one was routed to a standby.
 *
 * Transaction ids are xid8 (64-bit, they never wrap around), handled as bigint.
 */

/** Not visible in a snapshot of xmin $n, xmax $n+1 and running transactions $n+2: committed after the snapshot was taken, or never. */
const NOT_SEEN_BY = (column: string, n: number) => `(${column} >= $${n} AND ${NOT_SEEN_BY_FROM_XMIN(column, n)})`;

/** The same for an xid known to be at or above the xmin (the rows after a round's position): no bound a btree could start from. */
const NOT_SEEN_BY_FROM_XMIN = (column: string, n: number) => `(${column} >= $${n + 1} OR ${column} = ANY ($${n + 2}::bigint[]))`;

/** Visible in the snapshot ($n xmin, $n+1 xmax, $n+2 xip), or no snapshot given ($n NULL). */
const SEEN_BY_OR_NONE = (column: string, n: number) =>
  `($${n}::bigint IS NULL OR ${column} < $${n} OR (${column} < $${n + 1} AND ${column} <> ALL ($${n + 2}::bigint[])))`;

/**
 * Whether tombstones the snapshot at $n.. ($n NULL: none) needs may be gone: a transaction that
 * committed after it (one it could not see) deleted tombstones of transactions at or after its xmin.
 */
const TOMBSTONES_GONE = (n: number) =>
  `($${n}::bigint IS NOT NULL AND EXISTS (SELECT 1 FROM tombstone_purges p WHERE ${NOT_SEEN_BY('p.purge_xid', n)} AND p.max_deleted_xid >= $${n}))`;

/** The statement's own snapshot, when it was taken (database clock), and whether the lower snapshot at $n.. lost tombstones. */
const SNAPSHOT_FIELDS = (lower: number | undefined) => `pg_snapshot_xmin(snap)::text AS "snapshotXmin",
       pg_snapshot_xmax(snap)::text AS "snapshotXmax",
       ARRAY(SELECT pg_snapshot_xip(snap)::text::bigint ORDER BY 1)::text[] AS "snapshotXip",
       floor(extract(epoch FROM now()))::float8 AS "snapshotAt",
       ${lower === undefined ? 'false' : TOMBSTONES_GONE(lower)} AS "tombstonesGone",
       pg_is_in_recovery() AS "onStandby"`;

/**
 * One round's page of changes since a snapshot: the tasks and the tombstones whose transaction the
 * lower snapshot ($2 xmin, $3 xmax, $4 xip) could not see and the upper one ($7-$9, NULL on a
 * round's first page) can, after a position ($5 xid, $6 id), in (xid, id) order, at most $10
 * rows. $1: the user.
 *
 * Each half reads its index (idx_tasks_user_changed_xid, task_tombstones_pkey) in order from the
 * position and stops at the page's end. The position is the only index bound on the xid (the
 * repository starts a round right before the lower xmin): given a second one, the btree may start
 * from the row comparison and walk every older entry of the user. A tombstone of a task that exists
 * again is left out: the row itself says what the task is now.
 */
const changesPage = (taskColumns: string) => `
SELECT s.*, c.*
  FROM (SELECT ${SNAPSHOT_FIELDS(2)} FROM pg_current_snapshot() AS snap) AS s
  LEFT JOIN LATERAL (
    SELECT w.xid::text AS "changeXid", w.id AS "changeId", w.gone_at AS "goneAt", t.*
      FROM ((SELECT id, changed_xid AS xid, NULL::timestamptz AS gone_at FROM tasks
              WHERE user_id = $1 AND (changed_xid, id) > ($5::bigint, $6::uuid)
                AND ${NOT_SEEN_BY_FROM_XMIN('changed_xid', 2)} AND ${SEEN_BY_OR_NONE('changed_xid', 7)}
              ORDER BY changed_xid, id LIMIT $10)
            UNION ALL
            (SELECT task_id, deleted_xid, deleted_at FROM task_tombstones d
              WHERE user_id = $1 AND (deleted_xid, task_id) > ($5::bigint, $6::uuid)
                AND ${NOT_SEEN_BY_FROM_XMIN('deleted_xid', 2)} AND ${SEEN_BY_OR_NONE('deleted_xid', 7)}
                AND NOT EXISTS (SELECT 1 FROM tasks WHERE tasks.id = d.task_id)
              ORDER BY deleted_xid, task_id LIMIT $10)
            ORDER BY xid, id LIMIT $10) AS w
      LEFT JOIN LATERAL (SELECT ${taskColumns} FROM tasks WHERE tasks.id = w.id AND w.gone_at IS NULL) AS t ON true
     ORDER BY w.xid, w.id
  ) AS c ON true`;

/**
 * A page of a full sync: every task of the user ($1), live and trashed, after a position ($2 xid,
 * $3 id), in (xid, id) order, at most $4. From the second page on, $5-$7 is the snapshot the full
 * sync started with (its token's lower snapshot), checked for lost tombstones; NULL on the first.
 */
const fullPage = (taskColumns: string) => `
SELECT s.*, c.*
  FROM (SELECT ${SNAPSHOT_FIELDS(5)} FROM pg_current_snapshot() AS snap) AS s
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
    snapshot: statement(`SELECT ${SNAPSHOT_FIELDS(undefined)} FROM pg_current_snapshot() AS snap`),
  };
}
