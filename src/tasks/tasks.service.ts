import type { DataSource } from 'typeorm';
import { queryRows } from '../db/sql';
import { HttpError, NotFoundError } from '../http/errors';
import { listTasksSql, TASK_COLUMNS, trashSql, type Sql } from './task-queries';
import type { ListTasksQuery, PageQuery, TaskCreate, TaskPublic, TaskUpdate } from './tasks.dto';

export interface TaskRow {
  id: string;
  user_id: string;
  title: string;
  description: string | null;
  completed: boolean;
  due_date: Date | null;
  created_at: Date;
  updated_at: Date;
  /** updated_at in microseconds since the epoch: what the ETag says. */
  version: string;
}

/**
 * The versions an `If-Match` header accepts; undefined when it puts no condition (absent or `*`).
 * A tag that is not one of ours can match nothing, so it yields an empty list and the write answers 412.
 */
export type Precondition = string[] | undefined;

const TASK_NOT_FOUND = 'Task not found';

/** Every statement filters on the caller's user_id: another user's task looks exactly like a missing one. */
export class TasksService {
  constructor(private readonly dataSource: DataSource) {}

  async list(userId: string, query: ListTasksQuery): Promise<{ data: TaskPublic[]; count: number }> {
    return this.page(listTasksSql(userId, query));
  }

  async trash(userId: string, query: PageQuery): Promise<{ data: TaskPublic[]; count: number }> {
    return this.page(trashSql(userId, query));
  }

  async create(userId: string, task: TaskCreate): Promise<TaskRow> {
    const [row] = await queryRows<TaskRow>(
      this.dataSource,
      `INSERT INTO tasks (user_id, title, description, completed, due_date) VALUES ($1, $2, $3, $4, $5) RETURNING ${TASK_COLUMNS}`,
      [userId, task.title, task.description, task.completed, task.due_date],
    );
    return row;
  }

  async get(userId: string, id: string): Promise<TaskRow> {
    const [row] = await queryRows<TaskRow>(this.dataSource, `SELECT ${TASK_COLUMNS} FROM tasks WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL`, [
      id,
      userId,
    ]);
    if (!row) throw new NotFoundError(TASK_NOT_FOUND);
    return row;
  }

  /** PATCH: only the given fields. With nothing to change it is a conditional read. */
  async update(userId: string, id: string, changes: TaskUpdate, precondition: Precondition): Promise<TaskRow> {
    const fields = (['title', 'description', 'completed', 'due_date'] as const).filter((field) => changes[field] !== undefined);
    if (fields.length === 0) {
      return this.conditionally({ text: `SELECT ${TASK_COLUMNS} FROM tasks WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL`, values: [id, userId] }, precondition, 'live');
    }
    const values: unknown[] = [id, userId];
    const assignments = fields.map((field) => `${field} = $${values.push(changes[field])}`);
    return this.conditionally(
      { text: `UPDATE tasks SET ${assignments.join(', ')} WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL`, values },
      precondition,
      'live',
      `RETURNING ${TASK_COLUMNS}`,
    );
  }

  /** PUT: every field, the ones not sent back to their defaults. */
  async replace(userId: string, id: string, task: TaskCreate, precondition: Precondition): Promise<TaskRow> {
    return this.conditionally(
      {
        text: 'UPDATE tasks SET title = $3, description = $4, completed = $5, due_date = $6 WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL',
        values: [id, userId, task.title, task.description, task.completed, task.due_date],
      },
      precondition,
      'live',
      `RETURNING ${TASK_COLUMNS}`,
    );
  }

  async softDelete(userId: string, id: string, precondition: Precondition): Promise<void> {
    await this.conditionally(
      { text: 'UPDATE tasks SET deleted_at = now() WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL', values: [id, userId] },
      precondition,
      'live',
      'RETURNING id',
    );
  }

  async restore(userId: string, id: string): Promise<TaskRow> {
    const [row] = await queryRows<TaskRow>(
      this.dataSource,
      `UPDATE tasks SET deleted_at = NULL WHERE id = $1 AND user_id = $2 AND deleted_at IS NOT NULL RETURNING ${TASK_COLUMNS}`,
      [id, userId],
    );
    if (!row) throw new NotFoundError(TASK_NOT_FOUND);
    return row;
  }

  async deletePermanently(userId: string, id: string, precondition: Precondition): Promise<void> {
    await this.conditionally({ text: 'DELETE FROM tasks WHERE id = $1 AND user_id = $2', values: [id, userId] }, precondition, 'any', 'RETURNING id');
  }

  private async page({ page, count }: { page: Sql; count: Sql }): Promise<{ data: TaskPublic[]; count: number }> {
    const [rows, [{ count: total }]] = await Promise.all([
      queryRows<TaskRow>(this.dataSource, page.text, page.values),
      queryRows<{ count: number }>(this.dataSource, count.text, count.values),
    ]);
    return { data: rows.map(toTaskPublic), count: total };
  }

  /**
   * Runs a statement on one task with the If-Match condition in its WHERE clause, so the check and
   * the write are one atomic statement. When no row matched, a second look only decides between
   * 412 (the task is there, its version is not) and 404.
   */
  private async conditionally(statement: Sql, precondition: Precondition, scope: 'live' | 'any', returning = ''): Promise<TaskRow> {
    const values = [...statement.values];
    const condition = precondition ? ` AND (extract(epoch FROM updated_at) * 1000000)::bigint = ANY($${values.push(precondition)}::bigint[])` : '';
    const [row] = await queryRows<TaskRow>(this.dataSource, `${statement.text}${condition} ${returning}`, values);
    if (row) return row;
    if (precondition) {
      const liveOnly = scope === 'live' ? ' AND deleted_at IS NULL' : '';
      const [exists] = await queryRows(this.dataSource, `SELECT 1 FROM tasks WHERE id = $1 AND user_id = $2${liveOnly}`, statement.values.slice(0, 2));
      if (exists) throw new HttpError(412, 'Precondition Failed: the task has changed since you read it');
    }
    throw new NotFoundError(TASK_NOT_FOUND);
  }
}

export function toTaskPublic(row: TaskRow): TaskPublic {
  return {
    id: row.id,
    user_id: row.user_id,
    title: row.title,
    description: row.description,
    completed: row.completed,
    due_date: row.due_date ? row.due_date.toISOString() : null,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

export function etagOf(row: TaskRow): string {
  return `"${row.version}"`;
}

/** Parses If-Match (RFC 9110): `*`, or a list of strong entity tags. Weak tags never match. */
export function parseIfMatch(header: string | undefined): Precondition {
  if (header === undefined || header.trim() === '*') return undefined;
  return header
    .split(',')
    .map((tag) => /^\s*"(\d{1,18})"\s*$/.exec(tag)?.[1])
    .filter((version): version is string => version !== undefined);
}
