import type { Client } from 'pg';
import request from 'supertest';
import { createRetentionService } from '../src/app';
import { Database } from '../src/db/database';
import { SyncMaintenance } from '../src/tasks/sync-maintenance.service';
import { SyncTokenCodec, type SyncCursor } from '../src/tasks/sync-token';
import { createTasksRepository } from '../src/tasks/tasks.repository';
import { createTestApp, TEST_JWT_SECRET, type TestApp } from './support/app';
import { silentLogger } from './support/database';
import { Mirror, openClient, serverState, syncRound } from './support/sync';
import { signUpAndLogIn } from './support/users';

let testApp: TestApp;
type Caller = Awaited<ReturnType<typeof signUpAndLogIn>>;

beforeAll(async () => {
  testApp = await createTestApp();
});

afterAll(() => testApp.close());

const api = () => request(testApp.app);
const codec = new SyncTokenCodec(TEST_JWT_SECRET);

async function createTask(caller: Caller, title: string): Promise<string> {
  const response = await api().post('/api/v1/tasks').set(caller.auth).send({ title });
  expect(response.status).toBe(201);
  return response.body.id;
}

const sync = (caller: Caller, query: Record<string, string> = {}) => api().get('/api/v1/tasks/sync').query(query).set(caller.auth);

/** The ids and states of a round's changes, in the order sent. */
const states = (changes: Array<{ id: string; state: string }>) => changes.map(({ id, state }) => [id, state]);

describe('GET /api/v1/tasks/sync without a token (a full sync)', () => {
  it('returns every live and trashed task of the caller, with state and deleted_at, and a token; `*` does the same', async () => {
    const alice = await signUpAndLogIn(testApp.app);
    const bob = await signUpAndLogIn(testApp.app);
    const kept = await createTask(alice, 'kept');
    const trashed = await createTask(alice, 'trashed');
    await api().delete(`/api/v1/tasks/${trashed}`).set(alice.auth).expect(204);
    const gone = await createTask(alice, 'gone for good');
    await api().delete(`/api/v1/tasks/${gone}/permanent`).set(alice.auth).expect(204);
    await createTask(bob, "bob's");

    for (const query of [{}, { sync_token: '*' }] as Array<Record<string, string>>) {
      const response = await sync(alice, query);
      expect(response.status).toBe(200);
      expect(response.body).toEqual({ data: expect.any(Array), sync_token: expect.stringMatching(/^[A-Za-z0-9_-]+$/), has_more: false, full_sync: true });
      const byId = Object.fromEntries(response.body.data.map((change: { id: string }) => [change.id, change]));
      expect(Object.keys(byId).sort()).toEqual([kept, trashed].sort());
      expect(byId[kept]).toMatchObject({ title: 'kept', user_id: alice.id, state: 'live', deleted_at: null });
      expect(byId[trashed]).toMatchObject({ title: 'trashed', state: 'trashed', deleted_at: expect.any(String) });
    }
  });

  it('pages with limit: every task exactly once over the pages, has_more until the last', async () => {
    const alice = await signUpAndLogIn(testApp.app);
    const ids = [];
    for (let i = 0; i < 7; i += 1) ids.push(await createTask(alice, `task ${i}`));
    const round = await syncRound(testApp.app, alice.auth, undefined, 3);
    expect(round.pages).toBe(3);
    expect(round.fullSync).toBe(true);
    expect(round.changes.map((change) => change.id).sort()).toEqual(ids.sort());

    const next = await syncRound(testApp.app, alice.auth, round.token);
    expect(next).toMatchObject({ changes: [], pages: 1, fullSync: false });
  });
});

describe('GET /api/v1/tasks/sync with a token (the changes since)', () => {
  it('returns each created, changed, trashed, restored and deleted task once, in its latest state, and nothing more', async () => {
    const alice = await signUpAndLogIn(testApp.app);
    const untouched = await createTask(alice, 'untouched');
    const edited = await createTask(alice, 'edited');
    const trashed = await createTask(alice, 'trashed');
    const restored = await createTask(alice, 'restored');
    const deleted = await createTask(alice, 'deleted');
    await api().delete(`/api/v1/tasks/${restored}`).set(alice.auth).expect(204);
    const { token } = await syncRound(testApp.app, alice.auth);

    await api().patch(`/api/v1/tasks/${edited}`).set(alice.auth).send({ completed: true }).expect(200);
    await api().patch(`/api/v1/tasks/${edited}`).set(alice.auth).send({ title: 'edited twice' }).expect(200);
    await api().delete(`/api/v1/tasks/${trashed}`).set(alice.auth).expect(204);
    await api().post(`/api/v1/tasks/${restored}/restore`).set(alice.auth).expect(200);
    await api().patch(`/api/v1/tasks/${deleted}`).set(alice.auth).send({ title: 'changed, then deleted' }).expect(200);
    await api().delete(`/api/v1/tasks/${deleted}/permanent`).set(alice.auth).expect(204);
    const created = await createTask(alice, 'created');

    const round = await syncRound(testApp.app, alice.auth, token);
    expect(round.fullSync).toBe(false);
    expect(new Map(states(round.changes) as Array<[string, string]>)).toEqual(
      new Map([
        [edited, 'live'],
        [trashed, 'trashed'],
        [restored, 'live'],
        [deleted, 'deleted'],
        [created, 'live'],
      ]),
    );
    expect(round.changes).toHaveLength(5);
    expect(round.changes.map((change) => change.id)).not.toContain(untouched);
    expect(round.changes.find((change) => change.id === edited)).toMatchObject({ title: 'edited twice', completed: true });
    expect(round.changes.find((change) => change.id === deleted)).toEqual({ id: deleted, user_id: alice.id, state: 'deleted', deleted_at: expect.any(String) });

    expect((await syncRound(testApp.app, alice.auth, round.token)).changes).toEqual([]);
  });

  it("never shows another user's changes", async () => {
    const alice = await signUpAndLogIn(testApp.app);
    const bob = await signUpAndLogIn(testApp.app);
    const { token } = await syncRound(testApp.app, alice.auth);
    const bobs = await createTask(bob, "bob's");
    await api().delete(`/api/v1/tasks/${bobs}/permanent`).set(bob.auth).expect(204);
    expect((await syncRound(testApp.app, alice.auth, token)).changes).toEqual([]);
  });

  it('pages the changes of a round with limit, and a change made while paging comes in the next round', async () => {
    const alice = await signUpAndLogIn(testApp.app);
    const { token } = await syncRound(testApp.app, alice.auth);
    const ids = [];
    for (let i = 0; i < 5; i += 1) ids.push(await createTask(alice, `task ${i}`));

    const first = await sync(alice, { sync_token: token, limit: '2' });
    expect(first.body).toMatchObject({ has_more: true, full_sync: false });
    const late = await createTask(alice, 'made while paging');
    const rest = await syncRound(testApp.app, alice.auth, first.body.sync_token, 2);
    const round = [...first.body.data, ...rest.changes].map((change: { id: string }) => change.id);
    expect(round.sort()).toEqual([...ids].sort());

    expect((await syncRound(testApp.app, alice.auth, rest.token)).changes.map((change) => change.id)).toEqual([late]);
  });
});

describe('no missed writes: transactions that commit out of order', () => {
  /**
   * A timestamp cursor loses these: A's row carries a time from before B's, but A commits after
   * the sync that returned B. Here A stays open on a connection of its own while B, a PATCH, goes
   * through the API. (B is no insert or delete: those wait for A on the user's live-task counter.)
   */
  async function commitsAfterTheSyncThatReturnedB(alice: Caller, writeA: (client: Client) => Promise<string>) {
    const b = await createTask(alice, 'B');
    const { token } = await syncRound(testApp.app, alice.auth);
    const client = await openClient(testApp.database.url);
    try {
      await client.query('BEGIN');
      const a = await writeA(client);
      await api().patch(`/api/v1/tasks/${b}`).set(alice.auth).send({ title: 'B, committed first' }).expect(200);

      const whileOpen = await syncRound(testApp.app, alice.auth, token);
      expect(states(whileOpen.changes)).toEqual([[b, 'live']]);

      await client.query('COMMIT');
      const after = await syncRound(testApp.app, alice.auth, whileOpen.token);
      expect(after.changes.map(({ id, title }) => [id, title])).toEqual([[a, 'A, committed late']]);
    } finally {
      await client.end();
    }
  }

  it('a transaction that inserts a task and commits after a sync that returned a later one: the next sync returns it', async () => {
    const alice = await signUpAndLogIn(testApp.app);
    await commitsAfterTheSyncThatReturnedB(alice, async (client) => {
      const { rows } = await client.query("INSERT INTO tasks (user_id, title) VALUES ($1, 'A, committed late') RETURNING id", [alice.id]);
      return rows[0].id;
    });
  });

  it('a transaction that updates a task and commits after a sync that returned a later one: the next sync returns it', async () => {
    const alice = await signUpAndLogIn(testApp.app);
    const a = await createTask(alice, 'A, before');
    await commitsAfterTheSyncThatReturnedB(alice, async (client) => {
      await client.query("UPDATE tasks SET title = 'A, committed late' WHERE id = $1", [a]);
      return a;
    });
  });

  it('a transaction that deletes a task for good and commits late: the next sync says it is deleted', async () => {
    const alice = await signUpAndLogIn(testApp.app);
    const a = await createTask(alice, 'A, to delete');
    const b = await createTask(alice, 'B');
    const { token } = await syncRound(testApp.app, alice.auth);
    const client = await openClient(testApp.database.url);
    try {
      await client.query('BEGIN');
      await client.query('DELETE FROM tasks WHERE id = $1', [a]);
      await api().patch(`/api/v1/tasks/${b}`).set(alice.auth).send({ completed: true }).expect(200);
      const whileOpen = await syncRound(testApp.app, alice.auth, token);
      expect(states(whileOpen.changes)).toEqual([[b, 'live']]);
      await client.query('COMMIT');
      expect(states((await syncRound(testApp.app, alice.auth, whileOpen.token)).changes)).toEqual([[a, 'deleted']]);
    } finally {
      await client.end();
    }
  });
});

describe('sync tokens', () => {
  const refusal = (loc: string[]) => ({ detail: [{ loc, msg: expect.any(String), type: 'value_error' }] });

  it("answer 422 for another user's token, and never with that user's data", async () => {
    const alice = await signUpAndLogIn(testApp.app);
    const bob = await signUpAndLogIn(testApp.app);
    await createTask(bob, "bob's secret");
    const bobsFirstToken = (await sync(bob, { limit: '1' })).body.sync_token;
    const response = await sync(alice, { sync_token: bobsFirstToken });
    expect({ status: response.status, body: response.body }).toEqual({ status: 422, body: refusal(['query', 'sync_token']) });
    expect(response.body.detail[0].msg).toBe('The sync token was issued to another user');
  });

  it('answer 422 for anything the service did not issue: garbage, an edited token, one signed with another key', async () => {
    const alice = await signUpAndLogIn(testApp.app);
    const token: string = (await sync(alice)).body.sync_token;
    const raw = Buffer.from(token, 'base64url');
    const edited = Buffer.from(raw);
    edited[20] ^= 1;
    const cursor: SyncCursor = { kind: 'changes', lower: { snapshot: { xmin: 1n, xmax: 1n, xip: [] }, at: Math.floor(Date.now() / 1000) } };
    const otherKey = new SyncTokenCodec('another-secret-0123456789abcdefghijklmnopqrstuvwxyz').encode(alice.id, cursor);
    for (const bad of ['x', '', 'not a token', token.slice(0, -2), `${token}A`, edited.toString('base64url'), otherKey, 'A'.repeat(5000)]) {
      const response = await sync(alice, { sync_token: bad });
      expect({ bad, status: response.status, body: response.body }).toEqual({ bad, status: 422, body: refusal(['query', 'sync_token']) });
    }
  });

  it('answer 410 once tombstones they need are purged, and a full sync starts over', async () => {
    const alice = await signUpAndLogIn(testApp.app);
    const doomed = await createTask(alice, 'deleted, then forgotten');
    const { token } = await syncRound(testApp.app, alice.auth);
    await api().delete(`/api/v1/tasks/${doomed}/permanent`).set(alice.auth).expect(204);
    await testApp.dataSource.query("UPDATE task_tombstones SET deleted_at = now() - interval '31 days' WHERE task_id = $1", [doomed]);
    await testApp.dataSource.query('DELETE FROM task_tombstones WHERE task_id = $1', [doomed]);

    const response = await sync(alice, { sync_token: token });
    expect({ status: response.status, body: response.body }).toEqual({ status: 410, body: { detail: expect.stringContaining('full sync') } });
    const fresh = await syncRound(testApp.app, alice.auth);
    expect((await syncRound(testApp.app, alice.auth, fresh.token)).changes).toEqual([]);
  });

  it('answer 410 when older than SYNC_TOMBSTONE_RETENTION_DAYS, even before any purge', async () => {
    const alice = await signUpAndLogIn(testApp.app);
    const [{ snapshot }] = await testApp.dataSource.query('SELECT pg_current_snapshot()::text AS snapshot');
    const [xmin, xmax] = (snapshot as string).split(':').map(BigInt);
    const lower = (ageDays: number) => ({ snapshot: { xmin, xmax, xip: [] }, at: Math.floor(Date.now() / 1000) - ageDays * 86_400 });
    const old = codec.encode(alice.id, { kind: 'changes', lower: lower(31) });
    const young = codec.encode(alice.id, { kind: 'changes', lower: lower(29) });
    expect((await sync(alice, { sync_token: old })).status).toBe(410);
    expect((await sync(alice, { sync_token: young })).status).toBe(200);
  });
});

describe('deletions by any path', () => {
  it("the retention job's purge of old trash shows up as deleted entries", async () => {
    const alice = await signUpAndLogIn(testApp.app);
    const ids = [await createTask(alice, 'old trash 1'), await createTask(alice, 'old trash 2'), await createTask(alice, 'kept')];
    for (const id of ids.slice(0, 2)) await api().delete(`/api/v1/tasks/${id}`).set(alice.auth).expect(204);
    const mirror = new Mirror();
    const { changes, token } = await syncRound(testApp.app, alice.auth);
    mirror.apply(changes);

    // The job as the service runs it, a day past TRASH_RETENTION_DAYS (1) with batches of one; nothing else is due.
    const retention = { trashDays: 1, sessionDays: 0, accountDays: 0, auditDays: 0, intervalMs: 0, batchSize: 1 };
    const later = new Date(Date.now() + 2 * 86_400_000);
    const report = await createRetentionService({ config: { ...testApp.config, retention }, dataSource: testApp.dataSource }, () => later).run();
    expect(report.ran).toBe(true);
    expect(report.deleted.trashed_tasks).toBeGreaterThanOrEqual(2);
    expect(await testApp.dataSource.query('SELECT 1 FROM tasks WHERE id = ANY ($1)', [ids.slice(0, 2)])).toEqual([]);
    const round = await syncRound(testApp.app, alice.auth, token);
    expect(new Set(states(round.changes).map(String))).toEqual(new Set([`${ids[0]},deleted`, `${ids[1]},deleted`]));
    mirror.apply(round.changes);
    expect(mirror.snapshot()).toEqual(await serverState(testApp.dataSource, alice.id));
  });

  it('a user deleted for good takes their tombstones along and moves no other token (ON DELETE CASCADE)', async () => {
    const alice = await signUpAndLogIn(testApp.app);
    const doomed = await signUpAndLogIn(testApp.app);
    await createTask(doomed, 'goes with its user');
    await api()
      .delete(`/api/v1/tasks/${await createTask(doomed, 'deleted first')}/permanent`)
      .set(doomed.auth)
      .expect(204);
    const { token } = await syncRound(testApp.app, alice.auth);
    const purges = () => testApp.dataSource.query('SELECT * FROM tombstone_purges ORDER BY purge_xid');
    const before = await purges();

    await testApp.dataSource.query('DELETE FROM users WHERE id = $1', [doomed.id]);
    expect(await testApp.dataSource.query('SELECT * FROM task_tombstones WHERE user_id = $1', [doomed.id])).toEqual([]);
    expect(await purges()).toEqual(before);
    expect((await sync(alice, { sync_token: token })).status).toBe(200);
  });

  it('TRUNCATE, which writes no tombstones, makes every earlier token 410', async () => {
    const scratch = await createTestApp();
    try {
      const alice = await signUpAndLogIn(scratch.app);
      await request(scratch.app).post('/api/v1/tasks').set(alice.auth).send({ title: 'truncated' }).expect(201);
      const before = (await request(scratch.app).get('/api/v1/tasks/sync').set(alice.auth)).body.sync_token;
      await scratch.dataSource.query('TRUNCATE tasks');
      expect((await request(scratch.app).get('/api/v1/tasks/sync').query({ sync_token: before }).set(alice.auth)).status).toBe(410);
      const fresh = await request(scratch.app).get('/api/v1/tasks/sync').set(alice.auth);
      expect(fresh.body).toMatchObject({ data: [], full_sync: true });
      expect((await request(scratch.app).get('/api/v1/tasks/sync').query({ sync_token: fresh.body.sync_token }).set(alice.auth)).status).toBe(200);
    } finally {
      await scratch.close();
    }
  });
});

describe('the retention purge of tombstones', () => {
  it('deletes only tombstones older than the retention, in batches, and records each purge with the newest transaction it took', async () => {
    const alice = await signUpAndLogIn(testApp.app);
    const ids = [];
    for (let i = 0; i < 5; i += 1) ids.push(await createTask(alice, `to delete ${i}`));
    for (const id of ids) await api().delete(`/api/v1/tasks/${id}/permanent`).set(alice.auth).expect(204);
    await testApp.dataSource.query("UPDATE task_tombstones SET deleted_at = now() - interval '40 days' WHERE task_id = ANY($1)", [ids.slice(0, 3)]);
    const [{ newest }] = await testApp.dataSource.query('SELECT max(deleted_xid)::text AS newest FROM task_tombstones WHERE task_id = ANY($1)', [
      ids.slice(0, 3),
    ]);

    const maintenance = new SyncMaintenance(
      createTasksRepository(new Database(testApp.dataSource)),
      { retentionDays: 30, intervalMs: 60_000, batchSize: 2, maxBatches: 10 },
      silentLogger,
    );
    expect(await maintenance.run()).toBe(3);
    const left = await testApp.dataSource.query('SELECT task_id FROM task_tombstones WHERE task_id = ANY($1)', [ids]);
    expect(left.map((row: { task_id: string }) => row.task_id).sort()).toEqual(ids.slice(3).sort());
    const [{ latest }] = await testApp.dataSource.query('SELECT max(max_deleted_xid)::text AS latest FROM tombstone_purges');
    expect(latest).toBe(newest);
  });
});

describe('If-None-Match on GET /api/v1/tasks/sync', () => {
  it('answers 304 with no body while nothing changed since the token, and 200 once something did', async () => {
    const alice = await signUpAndLogIn(testApp.app);
    const id = await createTask(alice, 'watched');
    const { token } = await syncRound(testApp.app, alice.auth);
    const first = await sync(alice, { sync_token: token });
    expect(first.headers.etag).toMatch(/^W\/"[A-Za-z0-9_-]+"$/);

    await createTask(await signUpAndLogIn(testApp.app), "another user's change moves the token, not the ETag");
    const unchanged = await sync(alice, { sync_token: first.body.sync_token }).set('If-None-Match', first.headers.etag);
    expect({ status: unchanged.status, text: unchanged.text, etag: unchanged.headers.etag }).toEqual({ status: 304, text: '', etag: first.headers.etag });
    expect(unchanged.headers['content-type']).toBeUndefined();
    expect(unchanged.headers['content-length']).toBeUndefined();

    await api().patch(`/api/v1/tasks/${id}`).set(alice.auth).send({ completed: true }).expect(200);
    const changed = await sync(alice, { sync_token: first.body.sync_token }).set('If-None-Match', first.headers.etag);
    expect(changed.status).toBe(200);
    expect(states(changed.body.data)).toEqual([[id, 'live']]);
  });
});
