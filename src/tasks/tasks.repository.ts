import { IsNull, type EntityManager } from 'typeorm';
import { selectList, statement, type Database, type Reader, type Statement } from '../db/database';
import type { ListenerIdentity, ListenerOptions, NotificationListener } from '../db/notification-listener';
import { purgeStatements } from '../db/purge-statements';
import type { Position, Snapshot, TakenSnapshot } from './sync-token';
import { Task, type VersionedTask } from './task.entity';
import { syncStatements } from './task-sync.sql';
import type { ListTasksQuery, PageQuery, SortKey, TaskCreate, TaskUpdate } from './tasks.dto';

/*
 * All SQL of the tasks, and their data rules. Every statement filters on the caller's user_id, so
 * another user's task looks exactly like a missing one.
 *
 * The task routes are the hot path: their statements are written by hand and prepared (see
 * Database.rows), and return Task entities with their version (VersionedTask). The cold path
 * (trashing an account's tasks) uses TypeORM's Repository API.
 *
 * Reads given a Reader (the caller: get, list, trash) may be answered by a read replica that has
 * replayed the caller's last write (Database.readTarget); every other statement, including the
 * second looks of the write paths, runs on the primary.
 *
 * Soft delete: TypeORM's find* and softDelete see live tasks only, implicitly (@DeleteDateColumn).
 * The hand-written statements say which tasks they see, with LIVE or TRASHED below, and the method
 * names say it too: …Live, …Trashed, …Any.
 */

/** A parameterised statement: the text never contains user input. */
export interface Sql {
  text: string;
  values: unknown[];
}

/** The version the ETag is made of: updated_at in microseconds since the epoch, exact. */
const VERSION = '(extract(epoch FROM updated_at) * 1000000)::bigint';

/** Every column of the entity, keyed by its property names, and the version (as text: it exceeds 2^53). */
export const TASK_COLUMNS = `${selectList(Task)}, ${VERSION}::text AS "version"`;

/** The ownership rule: the task ($1) of the caller ($2). */
const OWNED = 'id = $1 AND user_id = $2';
const LIVE = 'deleted_at IS NULL';
const TRASHED = 'deleted_at IS NOT NULL';

/** The If-Match condition: parameter $n holds the versions it accepts, or NULL when there is no condition. */
const VERSION_IN = (n: number) => `($${n}::bigint[] IS NULL OR ${VERSION} = ANY($${n}::bigint[]))`;

/**
 * The statements of the task routes (PATCH's are below), each one constant text: one prepared
 * statement per pooled connection. A conditional write carries its If-Match check in its WHERE
 * clause, as a parameter, so check and write are one atomic statement.
 */
export const TASK_SQL = {
  create: statement(`INSERT INTO tasks (user_id, title, description, completed, due_date) VALUES ($1, $2, $3, $4, $5) RETURNING ${TASK_COLUMNS}`),
  findLive: statement(`SELECT ${TASK_COLUMNS} FROM tasks WHERE ${OWNED} AND ${LIVE}`),
  findLiveIfVersion: statement(`SELECT ${TASK_COLUMNS} FROM tasks WHERE ${OWNED} AND ${LIVE} AND ${VERSION_IN(3)}`),
  replaceLive: statement(
    `UPDATE tasks SET title = $3, description = $4, completed = $5, due_date = $6 WHERE ${OWNED} AND ${LIVE} AND ${VERSION_IN(7)} RETURNING ${TASK_COLUMNS}`,
  ),
  trashLive: statement(`UPDATE tasks SET deleted_at = now() WHERE ${OWNED} AND ${LIVE} AND ${VERSION_IN(3)} RETURNING id`),
  restoreTrashed: statement(`UPDATE tasks SET deleted_at = NULL WHERE ${OWNED} AND ${TRASHED} RETURNING ${TASK_COLUMNS}`),
  deleteAny: statement(`DELETE FROM tasks WHERE ${OWNED} AND ${VERSION_IN(3)} RETURNING id`),
  existsLive: statement(`SELECT 1 FROM tasks WHERE ${OWNED} AND ${LIVE}`),
  existsAny: statement(`SELECT 1 FROM tasks WHERE ${OWNED}`),
} as const;

/**
 * ORDER BY for each sort key, always ending with `id` in the same direction, so that rows with equal
 * keys have a fixed order and pages never repeat or skip one. Each matches a partial index
 * `(user_id, <key>, id) WHERE deleted_at IS NULL`, read forwards or backwards; `due_date` keeps
 * PostgreSQL's NULL placement (last ascending, first descending), as SQLAlchemy's `order_by` does.
 */
const ORDER_BY: Record<SortKey, string> = {
  created_at: 'created_at ASC, id ASC',
  '-created_at': 'created_at DESC, id DESC',
  updated_at: 'updated_at ASC, id ASC',
  '-updated_at': 'updated_at DESC, id DESC',
  due_date: 'due_date ASC NULLS LAST, id ASC',
  '-due_date': 'due_date DESC NULLS FIRST, id DESC',
  title: 'title ASC, id ASC',
  '-title': 'title DESC, id DESC',
};

/** The same expression as the GIN index idx_tasks_search, so the planner can use it. */
const SEARCH_DOCUMENT = "to_tsvector('english'::regconfig, (title::text || ' '::text) || coalesce(description, ''::text))";

/**
 * The page and the count of one list request, with the same WHERE, so `count` always describes
 * `data`; without filters the count is the user's live-task counter (user_task_counts), which the
 * triggers on tasks keep equal to that WHERE's count.
 */
export function listTasksSql(userId: string, query: ListTasksQuery): { page: Sql; count: Sql } {
  const values: unknown[] = [userId];
  const where = ['user_id = $1', LIVE];
  const parameter = (value: unknown) => `$${values.push(value)}`;
  if (query.completed !== undefined) where.push(`completed = ${parameter(query.completed)}`);
  if (query.due_before !== undefined) where.push(`due_date < ${parameter(query.due_before)}::timestamptz`);
  if (query.due_after !== undefined) where.push(`due_date > ${parameter(query.due_after)}::timestamptz`);
  const search = query.q?.trim();
  if (search) where.push(`${SEARCH_DOCUMENT} @@ plainto_tsquery('english'::regconfig, ${parameter(search)})`);
  const filter = where.join(' AND ');
  const unfiltered = values.length === 1;
  return {
    count: unfiltered
      ? { text: 'SELECT coalesce((SELECT live_tasks FROM user_task_counts WHERE user_id = $1), 0) AS count', values: [userId] }
      : { text: `SELECT count(*)::int AS count FROM tasks WHERE ${filter}`, values: [...values] },
    page: {
      text: `SELECT ${TASK_COLUMNS} FROM tasks WHERE ${filter} ORDER BY ${ORDER_BY[query.sort]} LIMIT ${parameter(query.limit)} OFFSET ${parameter(query.skip)}`,
      values,
    },
  };
}

/** The trash: the caller's soft-deleted tasks, most recently deleted first. */
export function trashSql(userId: string, query: PageQuery): { page: Sql; count: Sql } {
  const filter = `user_id = $1 AND ${TRASHED}`;
  return {
    count: { text: `SELECT count(*)::int AS count FROM tasks WHERE ${filter}`, values: [userId] },
    page: {
      text: `SELECT ${TASK_COLUMNS} FROM tasks WHERE ${filter} ORDER BY deleted_at DESC, id DESC LIMIT $2 OFFSET $3`,
      values: [userId, query.limit, query.skip],
    },
  };
}

/**
 * The versions a conditional write accepts (from If-Match); undefined when it puts no condition. An
 * empty list matches nothing.
 */
export type ExpectedVersions = readonly string[] | undefined;

/** The fields a PATCH may change; their names are the columns'. */
const PATCHABLE = ['title', 'description', 'completed', 'due_date'] as const;

/**
 * PATCH: one constant statement per combination of fields sent, each naming only those fields in
 * its SET list, built here once. (One statement for every combination, `title = coalesce($3,
 * title)` and so on, names every column: PostgreSQL then counts them all as changed when it
 * maintains the indexes, and under a PATCH load the indexes grew about a tenth more.)
 */
const UPDATE_LIVE: Statement[] = [];
for (let sent = 1; sent < 1 << PATCHABLE.length; sent += 1) {
  const fields = PATCHABLE.filter((_field, bit) => sent & (1 << bit));
  const assignments = fields.map((field, index) => `${field} = $${index + 3}`).join(', ');
  UPDATE_LIVE[sent] = statement(`UPDATE tasks SET ${assignments} WHERE ${OWNED} AND ${LIVE} AND ${VERSION_IN(fields.length + 3)} RETURNING ${TASK_COLUMNS}`);
}

/** The PATCH statement for the fields `changes` sends (undefined is "not sent") and its parameters; undefined when none is sent. */
export function updateLiveSql(
  userId: string,
  id: string,
  changes: TaskUpdate,
  versions: ExpectedVersions,
): { statement: Statement; values: unknown[] } | undefined {
  let sent = 0;
  const values: unknown[] = [id, userId];
  for (let bit = 0; bit < PATCHABLE.length; bit += 1) {
    const value = changes[PATCHABLE[bit]];
    if (value === undefined) continue;
    sent |= 1 << bit;
    values.push(value);
  }
  if (sent === 0) return undefined;
  values.push(versions ?? null);
  return { statement: UPDATE_LIVE[sent], values };
}

/** The statements of sync and the change stream (task-sync.sql.ts), returning tasks as the routes' statements do. */
export const SYNC_SQL = syncStatements(TASK_COLUMNS);

/** A live listening connection: the pid and start time of its backend (pg_stat_activity). */
const LIVE_LISTENER = (alias: string) =>
  `EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = ${alias}.listener_pid AND a.backend_start = ${alias}.listener_started_at)`;

/**
 * The open streams' slots (task_streams). A slot is free when nobody holds it or its holder's
 * listening connection is gone (the process died): then it is taken over. Claims of one user take
 * turns on a transaction-level advisory lock, so two processes cannot both see the same slot free.
 */
export const STREAM_SQL = {
  lockUser: statement("SELECT pg_advisory_xact_lock(hashtextextended('task_streams:' || $1::text, 0))"),
  claim: statement(`INSERT INTO task_streams AS s (user_id, slot, listener_pid, listener_started_at)
SELECT $1, free.slot, $3, $4::timestamptz FROM generate_series(1, $2::int) AS free (slot)
 WHERE NOT EXISTS (SELECT 1 FROM task_streams held WHERE held.user_id = $1 AND held.slot = free.slot AND ${LIVE_LISTENER('held')})
 ORDER BY free.slot LIMIT 1
ON CONFLICT (user_id, slot) DO UPDATE SET listener_pid = EXCLUDED.listener_pid, listener_started_at = EXCLUDED.listener_started_at, opened_at = now()
 WHERE NOT ${LIVE_LISTENER('s')}
RETURNING slot`),
  release: statement('DELETE FROM task_streams WHERE user_id = $1 AND slot = $2 AND listener_pid = $3 AND listener_started_at = $4::timestamptz'),
  /** After a reconnection: the slots still held by the old connection move to the new one; the others were taken over meanwhile. */
  move: statement(`UPDATE task_streams SET listener_pid = $3, listener_started_at = $4::timestamptz
 WHERE listener_pid = $1 AND listener_started_at = $2::timestamptz RETURNING user_id AS "userId", slot`),
  /** Slots this listener holds but no open stream of its process uses (a release that failed). */
  releaseUnused: statement(`DELETE FROM task_streams WHERE listener_pid = $1 AND listener_started_at = $2::timestamptz
   AND (user_id, slot) NOT IN (SELECT * FROM unnest($3::uuid[], $4::int[]))`),
  releaseAbandoned: statement(`DELETE FROM task_streams s WHERE NOT ${LIVE_LISTENER('s')}`),
} as const;

/** The retention purge of tombstones, a bounded batch, the oldest first; record_tombstone_purge notes which tokens it expires. */
const PURGE_TOMBSTONES = statement(`WITH gone AS (
  DELETE FROM task_tombstones WHERE ctid = ANY (ARRAY(
    SELECT ctid FROM task_tombstones WHERE deleted_at < now() - make_interval(days => $1) ORDER BY deleted_at LIMIT $2 FOR UPDATE SKIP LOCKED))
  RETURNING 1)
SELECT count(*)::int AS count FROM gone`);

/** Records of purges older than the retention: every token from before them is refused for its age anyway. */
const FORGET_PURGES = statement('DELETE FROM tombstone_purges WHERE purged_at < now() - make_interval(days => $1)');

/** One row of a sync statement: the snapshot it read with, and a change (none when the page is empty). */
interface SyncRow {
  snapshotXmin: string;
  snapshotXmax: string;
  snapshotXip: string[];
  snapshotAt: number;
  tombstonesGone: boolean;
  onStandby: boolean;
  changeXid?: string | null;
  changeId?: string | null;
  goneAt?: Date | null;
}

/** A change as sync reads it: where it is in the order, and the task as it is now, or when it was deleted for good. */
export interface SyncRead {
  position: Position;
  task?: VersionedTask;
  deletedAt?: Date;
}

/** What a sync statement read, with which snapshot, and whether tombstones the cursor's lower snapshot needs may be gone. */
export interface SyncReadResult {
  taken: TakenSnapshot;
  tombstonesGone: boolean;
  changes: SyncRead[];
}

/** What the change stream hears about, from any process. */
export interface ChangeListenerHandlers {
  tasksChanged(userId: string): void;
  sessionRevoked(sessionId: string): void;
  connected(identity: ListenerIdentity, previous: ListenerIdentity | undefined): Promise<void>;
  failed(error: unknown): void;
}

/** The fields of a sync row that are not the task's. */
const SYNC_ROW_FIELDS = [
  'snapshotXmin',
  'snapshotXmax',
  'snapshotXip',
  'snapshotAt',
  'tombstonesGone',
  'onStandby',
  'changeXid',
  'changeId',
  'goneAt',
] as const;

const NIL_UUID = '00000000-0000-0000-0000-000000000000';
const MAX_UUID = 'ffffffff-ffff-ffff-ffff-ffffffffffff';

function syncResult(rows: Array<SyncRow & Record<string, unknown>>): SyncReadResult {
  const [first] = rows;
  // Routed to a standby, the snapshot would leave out transactions still running on the primary, and a token made of it would skip their changes for good.
  if (first.onStandby) throw new Error('sync read a standby: its pg_current_snapshot() cannot make tokens; sync statements must run on the primary');
  const taken = {
    snapshot: { xmin: BigInt(first.snapshotXmin), xmax: BigInt(first.snapshotXmax), xip: first.snapshotXip.map(BigInt) },
    at: first.snapshotAt,
  };
  const changes: SyncRead[] = [];
  for (const row of rows) {
    // A page with no change still has its one row, of the snapshot; the snapshot statement has no change columns.
    if (!row.changeXid || !row.changeId) continue;
    const position = { xid: BigInt(row.changeXid), id: row.changeId };
    if (row.goneAt) {
      changes.push({ position, deletedAt: row.goneAt });
      continue;
    }
    const task = Object.assign(new Task(), row) as VersionedTask & Partial<SyncRow>;
    for (const field of SYNC_ROW_FIELDS) delete task[field];
    changes.push({ position, task });
  }
  return { taken, tombstonesGone: first.tombstonesGone, changes };
}

/**
 * The trashed tasks the retention job deletes for good: those in the trash since before a time
 * (TRASH_RETENTION_DAYS), or those of accounts deleted before a time (ACCOUNT_RETENTION_DAYS:
 * deleting an account trashes its tasks, so these are all it has left) that the first rule does not
 * take: trashed since its cutoff (`trashedSince`; null when the trash is kept forever). So the two
 * rules never count one task twice. Removing an account's tasks in batches before the account
 * keeps the account's own delete small, whatever it owned.
 */
export type TrashPurge = { trashedBefore: Date } | { ofAccountsDeletedBefore: Date; trashedSince: Date | null };

const PURGE = {
  trashed: purgeStatements('tasks', 'deleted_at < $1'),
  ofDeletedAccounts: purgeStatements('tasks', 'deleted_at >= $2 AND user_id IN (SELECT id FROM users WHERE deleted_at < $1)', 2),
};

/** The rule's statements and the parameters of its condition. */
function purgeRule(which: TrashPurge): { sql: (typeof PURGE)['trashed']; parameters: unknown[] } {
  if ('trashedBefore' in which) return { sql: PURGE.trashed, parameters: [which.trashedBefore] };
  return { sql: PURGE.ofDeletedAccounts, parameters: [which.ofAccountsDeletedBefore, which.trashedSince ?? '-infinity'] };
}

/** A page of tasks and the count of all that match. */
export interface TaskPageResult {
  tasks: VersionedTask[];
  count: number;
}

/** The tasks' custom repository (TypeORM's Repository<Task>, extended); created once, by the app. */
export function createTasksRepository(database: Database) {
  return database.repository(Task).extend({
    async listLive(userId: string, query: ListTasksQuery, reader: Reader): Promise<TaskPageResult> {
      return page(this.manager, listTasksSql(userId, query), reader);
    },

    async listTrashed(userId: string, query: PageQuery, reader: Reader): Promise<TaskPageResult> {
      return page(this.manager, trashSql(userId, query), reader);
    },

    async add(userId: string, task: TaskCreate): Promise<VersionedTask> {
      const [created] = await database.rows(this.manager, TASK_SQL.create, [userId, task.title, task.description, task.completed, task.due_date], Task);
      return created as VersionedTask;
    },

    async findLive(userId: string, id: string, reader: Reader): Promise<VersionedTask | undefined> {
      const [task] = await database.rows(this.manager, TASK_SQL.findLive, [id, userId], Task, database.readTarget(this.manager, reader));
      return task as VersionedTask | undefined;
    },

    /** PATCH. Undefined fields keep their values; with none to change nothing is written (the version does not move): a conditional read. */
    async updateLive(userId: string, id: string, changes: TaskUpdate, versions: ExpectedVersions): Promise<VersionedTask | undefined> {
      const update = updateLiveSql(userId, id, changes, versions);
      const [task] = update
        ? await database.rows(this.manager, update.statement, update.values, Task)
        : await database.rows(this.manager, TASK_SQL.findLiveIfVersion, [id, userId, versions ?? null], Task);
      return task as VersionedTask | undefined;
    },

    /** PUT: every field, as given. */
    async replaceLive(userId: string, id: string, task: TaskCreate, versions: ExpectedVersions): Promise<VersionedTask | undefined> {
      const [replaced] = await database.rows(
        this.manager,
        TASK_SQL.replaceLive,
        [id, userId, task.title, task.description, task.completed, task.due_date, versions ?? null],
        Task,
      );
      return replaced as VersionedTask | undefined;
    },

    /** Moves a live task to the trash; false when no live task of the caller matched (or its version did not). */
    async trashLive(userId: string, id: string, versions: ExpectedVersions): Promise<boolean> {
      return (await database.rows(this.manager, TASK_SQL.trashLive, [id, userId, versions ?? null])).length > 0;
    },

    async restoreTrashed(userId: string, id: string): Promise<VersionedTask | undefined> {
      const [task] = await database.rows(this.manager, TASK_SQL.restoreTrashed, [id, userId], Task);
      return task as VersionedTask | undefined;
    },

    /** Deletes a task for good, live or trashed; false when none of the caller's matched (or its version did not). */
    async deleteAny(userId: string, id: string, versions: ExpectedVersions): Promise<boolean> {
      return (await database.rows(this.manager, TASK_SQL.deleteAny, [id, userId, versions ?? null])).length > 0;
    },

    async existsLive(userId: string, id: string): Promise<boolean> {
      return (await database.rows(this.manager, TASK_SQL.existsLive, [id, userId])).length > 0;
    },

    async existsAny(userId: string, id: string): Promise<boolean> {
      return (await database.rows(this.manager, TASK_SQL.existsAny, [id, userId])).length > 0;
    },

    /**
     * Sync: the user's changes the `lower` snapshot could not see (and, in the middle of a round of
     * pages, `upper` can), after `after`, at most `limit`, with the snapshot this read was made with.
     * Primary only (see task-sync.sql.ts).
     */
    async readChanges(userId: string, lower: Snapshot, upper: Snapshot | undefined, after: Position | undefined, limit: number): Promise<SyncReadResult> {
      // Nothing the lower snapshot could not see is below its xmin: a round starts right before it.
      const from = after ?? { xid: lower.xmin - 1n, id: MAX_UUID };
      const rows = await database.rows<SyncRow & Record<string, unknown>>(this.manager, SYNC_SQL.changesPage, [
        userId,
        lower.xmin,
        lower.xmax,
        lower.xip,
        from.xid,
        from.id,
        upper?.xmin ?? null,
        upper?.xmax ?? null,
        upper?.xip ?? null,
        limit,
      ]);
      return syncResult(rows);
    },

    /**
     * A full sync's page: every task of the user, live and trashed, after `after`, at most `limit`;
     * `lower`, the snapshot the full sync began with, is checked for lost tombstones (none on its first page).
     */
    async readAll(userId: string, lower: Snapshot | undefined, after: Position | undefined, limit: number): Promise<SyncReadResult> {
      const rows = await database.rows<SyncRow & Record<string, unknown>>(this.manager, SYNC_SQL.fullPage, [
        userId,
        after?.xid ?? -1n,
        after?.id ?? NIL_UUID,
        limit,
        lower?.xmin ?? null,
        lower?.xmax ?? null,
        lower?.xip ?? null,
      ]);
      return syncResult(rows);
    },

    /** The current snapshot, with nothing read: where a change stream without a token starts. */
    async currentSnapshot(): Promise<SyncReadResult> {
      return syncResult(await database.rows<SyncRow & Record<string, unknown>>(this.manager, SYNC_SQL.snapshot, []));
    },

    /** Deletes up to `batch` tombstones older than `days`; returns how many went. */
    async purgeTombstones(days: number, batch: number): Promise<number> {
      const [{ count }] = await database.rows<{ count: number }>(this.manager, PURGE_TOMBSTONES, [days, batch]);
      return count;
    },

    /** Forgets the purges older than `days`. */
    async forgetPurges(days: number): Promise<void> {
      await database.rows(this.manager, FORGET_PURGES, [days]);
    },

    /** Takes a free stream slot of the user (1..max) for `listener`; undefined when all are held. */
    async claimStreamSlot(userId: string, max: number, listener: ListenerIdentity): Promise<number | undefined> {
      return this.manager.transaction(async (manager) => {
        await database.rows(manager, STREAM_SQL.lockUser, [userId]);
        const [claimed] = await database.rows<{ slot: number }>(manager, STREAM_SQL.claim, [userId, max, listener.pid, listener.startedAt]);
        return claimed?.slot;
      });
    },

    async releaseStreamSlot(userId: string, slot: number, listener: ListenerIdentity): Promise<void> {
      await database.rows(this.manager, STREAM_SQL.release, [userId, slot, listener.pid, listener.startedAt]);
    },

    /** Moves the slots of a lost listening connection to its replacement; returns the ones it still held. */
    async moveStreamSlots(from: ListenerIdentity, to: ListenerIdentity): Promise<Array<{ userId: string; slot: number }>> {
      return database.rows(this.manager, STREAM_SQL.move, [from.pid, from.startedAt, to.pid, to.startedAt]);
    },

    /** Releases the slots of `listener` that are not in `inUse`. */
    async releaseUnusedStreamSlots(listener: ListenerIdentity, inUse: Array<{ userId: string; slot: number }>): Promise<void> {
      await database.rows(this.manager, STREAM_SQL.releaseUnused, [
        listener.pid,
        listener.startedAt,
        inUse.map((held) => held.userId),
        inUse.map((held) => held.slot),
      ]);
    },

    /** Deletes the slots whose process is gone, so writes for their users stop sending notifications nobody hears. */
    async releaseAbandonedStreamSlots(): Promise<void> {
      await database.rows(this.manager, STREAM_SQL.releaseAbandoned, []);
    },

    /** The dedicated connection that hears, from every process, which users' tasks changed and which sessions ended. */
    listenForChanges(handlers: ChangeListenerHandlers, options: ListenerOptions): NotificationListener {
      return database.listen(
        ['task_changes', 'session_revocations'],
        {
          notification: (channel, payload) => (channel === 'task_changes' ? handlers.tasksChanged(payload) : handlers.sessionRevoked(payload)),
          connected: handlers.connected,
          failed: handlers.failed,
        },
        options,
      );
    },

    /** Moves every live task of a user to the trash (account deletion); TypeORM's softDelete. */
    async trashAllOf(userId: string): Promise<void> {
      await this.softDelete({ userId, deletedAt: IsNull() });
    },

    /**
     * Retention: deletes for good up to `limit` trashed tasks of `which` kind; returns how many went.
     * The one way the retention job deletes tasks (the live-task counter is unaffected: trashed tasks
     * are not counted).
     */
    async purgeTrashed(which: TrashPurge, limit: number): Promise<number> {
      const { sql, parameters } = purgeRule(which);
      return (await database.rows(this.manager, sql.purge, [...parameters, limit])).length;
    },

    async countTrashed(which: TrashPurge): Promise<number> {
      const { sql, parameters } = purgeRule(which);
      const [{ count }] = await database.rows<{ count: number }>(this.manager, sql.count, parameters);
      return count;
    },
  });

  /** The page and its count, from the same database. */
  async function page(manager: EntityManager, { page, count }: { page: Sql; count: Sql }, reader: Reader): Promise<TaskPageResult> {
    const target = database.readTarget(manager, reader);
    const [tasks, [{ count: total }]] = await Promise.all([
      database.rows(manager, statement(page.text), page.values, Task, target),
      database.rows<{ count: number }>(manager, statement(count.text), count.values, undefined, target),
    ]);
    return { tasks: tasks as VersionedTask[], count: total };
  }
}

export type TasksRepository = ReturnType<typeof createTasksRepository>;
