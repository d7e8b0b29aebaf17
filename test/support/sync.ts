import type { Express } from 'express';
import { Client } from 'pg';
import request from 'supertest';
import type { DataSource } from 'typeorm';

/** A change as GET /api/v1/tasks/sync sends it. */
export type Change = Record<string, unknown> & { id: string; state: 'live' | 'trashed' | 'deleted' };

export interface SyncRound {
  changes: Change[];
  token: string;
  pages: number;
  fullSync: boolean;
  /** Ids of the tasks each page named, a page at a time. */
  pageIds: string[][];
}

/** Calls /tasks/sync from `token` until has_more is false; every page must be a 200. */
export async function syncRound(app: Express, auth: { Authorization: string }, token?: string, limit?: number): Promise<SyncRound> {
  const changes: Change[] = [];
  const pageIds: string[][] = [];
  let pages = 0;
  let current = token;
  let fullSync = false;
  for (;;) {
    const query: Record<string, string> = {};
    if (current !== undefined) query.sync_token = current;
    if (limit !== undefined) query.limit = String(limit);
    const response = await request(app).get('/api/v1/tasks/sync').query(query).set(auth);
    if (response.status !== 200) throw new Error(`sync answered ${response.status}: ${response.text}`);
    pages += 1;
    changes.push(...response.body.data);
    pageIds.push(response.body.data.map((change: Change) => change.id));
    fullSync ||= response.body.full_sync;
    current = response.body.sync_token;
    if (!response.body.has_more) return { changes, token: current!, pages, fullSync, pageIds };
  }
}

/** What a client keeps: each task it knows, as sync last told it (live or trashed); deleted ones are dropped. */
export class Mirror {
  readonly tasks = new Map<string, Change>();

  apply(changes: Change[]): void {
    for (const change of changes) {
      if (change.state === 'deleted') this.tasks.delete(change.id);
      else this.tasks.set(change.id, change);
    }
  }

  /** Sorted by id, for comparison with serverState. */
  snapshot(): Change[] {
    return [...this.tasks.values()].sort((a, b) => a.id.localeCompare(b.id));
  }
}

/** Every task of a user as the database holds it, in the shape sync sends (live and trashed), sorted by id. */
export async function serverState(dataSource: DataSource, userId: string): Promise<Change[]> {
  const rows: Array<Record<string, unknown>> = await dataSource.query(
    `SELECT id, user_id, title, description, completed, due_date, created_at, updated_at, deleted_at
       FROM tasks WHERE user_id = $1 ORDER BY id`,
    [userId],
  );
  const iso = (value: unknown) => (value instanceof Date ? value.toISOString() : null);
  return rows
    .map((row) => ({
      id: row.id as string,
      user_id: row.user_id,
      title: row.title,
      description: row.description,
      completed: row.completed,
      due_date: iso(row.due_date),
      created_at: iso(row.created_at),
      updated_at: iso(row.updated_at),
      state: (row.deleted_at ? 'trashed' : 'live') as Change['state'],
      deleted_at: iso(row.deleted_at),
    }))
    .sort((a, b) => a.id.localeCompare(b.id));
}

/** A connection of its own, for transactions the test holds open while the API works. */
export async function openClient(url: string): Promise<Client> {
  const client = new Client({ connectionString: url });
  await client.connect();
  return client;
}
