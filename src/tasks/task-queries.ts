import type { ListTasksQuery, PageQuery, SortKey } from './tasks.dto';

/** A parameterised statement: the text never contains user input. */
export interface Sql {
  text: string;
  values: unknown[];
}

/** Every column of TaskPublic, plus the version the ETag is made of (updated_at in microseconds, exact). */
export const TASK_COLUMNS =
  'id, user_id, title, description, completed, due_date, created_at, updated_at, (extract(epoch FROM updated_at) * 1000000)::bigint::text AS version';

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
  const where = ['user_id = $1', 'deleted_at IS NULL'];
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
  const filter = 'user_id = $1 AND deleted_at IS NOT NULL';
  return {
    count: { text: `SELECT count(*)::int AS count FROM tasks WHERE ${filter}`, values: [userId] },
    page: {
      text: `SELECT ${TASK_COLUMNS} FROM tasks WHERE ${filter} ORDER BY deleted_at DESC, id DESC LIMIT $2 OFFSET $3`,
      values: [userId, query.limit, query.skip],
    },
  };
}
