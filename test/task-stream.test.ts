import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { createHttpServer } from '../src/http/http-server';
import { SyncTokenCodec } from '../src/tasks/sync-token';
import { createTestApp, TEST_JWT_SECRET, type TestApp } from './support/app';
import { silentLogger } from './support/database';
import { changesIn, openEventStream, type EventStreamClient } from './support/event-stream';
import { syncRound } from './support/sync';
import { signUpAndLogIn } from './support/users';

jest.setTimeout(60_000);

const HEARTBEAT_MS = 300;

let testApp: TestApp;
let server: http.Server;
let base: string;
const streams: EventStreamClient[] = [];

beforeAll(async () => {
  testApp = await createTestApp({
    STREAM_HEARTBEAT_MS: String(HEARTBEAT_MS),
    STREAM_MAX_PER_USER: '2',
    REQUEST_TIMEOUT_MS: '1000',
    DB_STATEMENT_TIMEOUT_MS: '900',
  });
  server = createHttpServer(testApp.app, testApp.config, silentLogger);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(() => {
  for (const stream of streams.splice(0)) stream.close();
});

afterAll(async () => {
  await testApp.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

type Caller = Awaited<ReturnType<typeof signUpAndLogIn>>;
const api = () => request(testApp.app);

async function open(caller: Caller, headers: Record<string, string> = {}, query = ''): Promise<EventStreamClient> {
  const stream = await openEventStream(`${base}/api/v1/tasks/stream${query}`, { ...caller.auth, ...headers });
  streams.push(stream);
  return stream;
}

async function createTask(caller: Caller, title: string): Promise<string> {
  return (await api().post('/api/v1/tasks').set(caller.auth).send({ title }).expect(201)).body.id;
}

const isChange = (event: { event: string }) => event.event === 'message';

describe('GET /api/v1/tasks/stream', () => {
  it('opens with `ready` and a sync token, then sends each change with the sync token after it as the event id', async () => {
    const alice = await signUpAndLogIn(testApp.app);
    const stream = await open(alice);
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(stream.headers.get('cache-control')).toBe('no-cache');
    const ready = await stream.next((event) => event.event === 'ready');
    expect(ready).toEqual({ event: 'ready', id: expect.any(String), data: { sync_token: ready.id } });

    const id = await createTask(alice, 'streamed');
    const created = await stream.next(isChange);
    expect(created.data).toEqual({ id, state: 'live' });
    await api().delete(`/api/v1/tasks/${id}`).set(alice.auth).expect(204);
    expect((await stream.next(isChange)).data).toEqual({ id, state: 'trashed' });
    await api().delete(`/api/v1/tasks/${id}/permanent`).set(alice.auth).expect(204);
    const deleted = await stream.next(isChange);
    expect(deleted.data).toEqual({ id, state: 'deleted' });

    // The last event id is a sync token: nothing is left after it, and what follows comes from it.
    expect((await syncRound(testApp.app, alice.auth, deleted.id)).changes).toEqual([]);
    const later = await createTask(alice, 'after the stream');
    expect((await syncRound(testApp.app, alice.auth, deleted.id)).changes.map((change) => change.id)).toEqual([later]);
  });

  it("sends nothing of another user's tasks", async () => {
    const alice = await signUpAndLogIn(testApp.app);
    const bob = await signUpAndLogIn(testApp.app);
    const stream = await open(alice);
    await stream.next((event) => event.event === 'ready');
    await createTask(bob, "bob's");
    const mine = await createTask(alice, "alice's");
    expect((await stream.next(isChange)).data).toEqual({ id: mine, state: 'live' });
    expect(changesIn(stream.events)).toEqual([[mine, 'live']]);
  });

  it('resumes after Last-Event-ID (or a sync_token query): first what was missed, through the sync logic, then `ready`', async () => {
    const alice = await signUpAndLogIn(testApp.app);
    const first = await open(alice);
    const { id: token } = await first.next((event) => event.event === 'ready');
    first.close();
    const missed = [await createTask(alice, 'missed 1'), await createTask(alice, 'missed 2')];

    const resumes: Array<{ headers: Record<string, string>; query: string }> = [
      { headers: { 'Last-Event-ID': token! }, query: '' },
      { headers: {}, query: `?sync_token=${token}` },
    ];
    for (const resume of resumes) {
      const again = await open(alice, resume.headers, resume.query);
      const ready = await again.next((event) => event.event === 'ready');
      expect(changesIn(again.events)).toEqual(missed.map((id) => [id, 'live']));
      expect((await syncRound(testApp.app, alice.auth, ready.id)).changes).toEqual([]);
      again.close();
    }
  });

  it('answers 422 for a Last-Event-ID or sync_token that is not a token of the caller, and 410 for one too old, before any stream starts', async () => {
    const alice = await signUpAndLogIn(testApp.app);
    const bob = await signUpAndLogIn(testApp.app);
    const bobsToken = (await syncRound(testApp.app, bob.auth)).token;
    for (const [headers, query, loc] of [
      [{ 'Last-Event-ID': 'garbage' }, '', ['header', 'Last-Event-ID']],
      [{ 'Last-Event-ID': bobsToken }, '', ['header', 'Last-Event-ID']],
      [{}, `?sync_token=${bobsToken}`, ['query', 'sync_token']],
    ] as const) {
      const refused = await open(alice, headers, query);
      expect({ status: refused.status, body: refused.body }).toEqual({
        status: 422,
        body: { detail: [{ loc, msg: expect.any(String), type: 'value_error' }] },
      });
    }
    const old = new SyncTokenCodec(TEST_JWT_SECRET).encode(alice.id, {
      kind: 'changes',
      lower: { snapshot: { xmin: 3n, xmax: 3n, xip: [] }, at: Math.floor(Date.now() / 1000) - 40 * 86_400 },
    });
    const gone = await open(alice, { 'Last-Event-ID': old });
    expect({ status: gone.status, body: gone.body }).toEqual({ status: 410, body: { detail: expect.stringContaining('full sync') } });
    expect((await open(alice, {}, '')).status).toBe(200);
  });

  it('answers 401 without a valid token', async () => {
    const response = await fetch(`${base}/api/v1/tasks/stream`);
    expect({ status: response.status, body: await response.json() }).toEqual({ status: 401, body: { detail: 'Not authenticated' } });
  });

  it('sends a heartbeat comment every STREAM_HEARTBEAT_MS, and outlives REQUEST_TIMEOUT_MS', async () => {
    const alice = await signUpAndLogIn(testApp.app);
    const stream = await open(alice);
    await stream.next((event) => event.event === 'ready');
    const started = Date.now();
    await stream.next((event) => event.comment === 'heartbeat', 3 * HEARTBEAT_MS);
    await stream.next((event) => event.comment === 'heartbeat', 3 * HEARTBEAT_MS);
    await new Promise((resolve) => setTimeout(resolve, 1500 - (Date.now() - started)));
    const id = await createTask(alice, 'after the request timeout');
    expect((await stream.next(isChange)).data).toEqual({ id, state: 'live' });
  });

  it('allows STREAM_MAX_PER_USER streams per user, then answers 429 until one closes', async () => {
    const alice = await signUpAndLogIn(testApp.app);
    const bob = await signUpAndLogIn(testApp.app);
    const [one, two] = [await open(alice), await open(alice)];
    const third = await open(alice);
    expect({ status: third.status, body: third.body, retryAfter: third.headers.get('retry-after') }).toEqual({
      status: 429,
      body: { detail: 'Too many open streams: at most 2 per user' },
      retryAfter: '5',
    });
    expect((await open(bob)).status).toBe(200);
    expect(await testApp.dataSource.query('SELECT slot FROM task_streams WHERE user_id = $1 ORDER BY slot', [alice.id])).toEqual([{ slot: 1 }, { slot: 2 }]);

    one.close();
    await waitUntil(async () => (await testApp.dataSource.query('SELECT 1 FROM task_streams WHERE user_id = $1', [alice.id])).length === 1);
    expect((await open(alice)).status).toBe(200);
    two.close();
  });

  it('ends at once when its session is revoked (logout), with a last event saying so; another session goes on', async () => {
    const alice = await signUpAndLogIn(testApp.app);
    const otherSession = await api().post('/api/v1/login/access-token').type('form').send({ username: alice.username, password: alice.password });
    const stream = await open(alice);
    const other = await open(alice, { Authorization: `Bearer ${otherSession.body.access_token}` });
    await stream.next((event) => event.event === 'ready');
    await other.next((event) => event.event === 'ready');

    const revokedAt = Date.now();
    await api().post('/api/v1/logout').set(alice.auth).expect(204);
    expect(await stream.next((event) => event.event === 'end', HEARTBEAT_MS / 2 + 1000)).toEqual({ event: 'end', data: { reason: 'revoked' } });
    await stream.ended;
    expect(Date.now() - revokedAt).toBeLessThan(2000);

    const id = await createTask({ ...alice, auth: { Authorization: `Bearer ${otherSession.body.access_token}` } }, 'still streamed');
    expect((await other.next(isChange)).data).toEqual({ id, state: 'live' });
  });

  it('ends when the session is revoked without a notification, at the next heartbeat', async () => {
    const alice = await signUpAndLogIn(testApp.app);
    const stream = await open(alice);
    await stream.next((event) => event.event === 'ready');
    // Straight in the table, as an operator would, with the trigger that notifies disabled.
    await testApp.dataSource.transaction(async (manager) => {
      await manager.query('ALTER TABLE sessions DISABLE TRIGGER notify_session_revoked');
      await manager.query("UPDATE sessions SET revoked_at = now(), revoked_reason = 'logout' WHERE user_id = $1", [alice.id]);
      await manager.query('ALTER TABLE sessions ENABLE TRIGGER notify_session_revoked');
    });
    expect(await stream.next((event) => event.event === 'end', 3 * HEARTBEAT_MS)).toEqual({ event: 'end', data: { reason: 'revoked' } });
  });

  it('counts open streams in /metrics', async () => {
    const alice = await signUpAndLogIn(testApp.app);
    const gauge = async () => Number(/^task_streams_open (\d+)$/m.exec((await api().get('/metrics')).text)?.[1]);
    const before = await gauge();
    const stream = await open(alice);
    await stream.next((event) => event.event === 'ready');
    expect(await gauge()).toBe(before + 1);
    stream.close();
    await waitUntil(async () => (await gauge()) === before);
  });

  it('ends every stream with `end` (shutdown) when the background work stops, and opens no new one', async () => {
    const scratch = await createTestApp({ STREAM_HEARTBEAT_MS: String(HEARTBEAT_MS) });
    const scratchServer = createHttpServer(scratch.app, scratch.config, silentLogger);
    await new Promise<void>((resolve) => scratchServer.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(scratchServer.address() as AddressInfo).port}/api/v1/tasks/stream`;
    try {
      const alice = await signUpAndLogIn(scratch.app);
      const stream = await openEventStream(url, alice.auth);
      await stream.next((event) => event.event === 'ready');
      await scratch.app.background.stop();
      expect(await stream.next((event) => event.event === 'end')).toEqual({ event: 'end', data: { reason: 'shutdown' } });
      await stream.ended;
      expect(await scratch.dataSource.query('SELECT * FROM task_streams')).toEqual([]);
      const refused = await openEventStream(url, alice.auth);
      expect(refused.status).toBe(503);
    } finally {
      await scratch.close();
      scratchServer.closeAllConnections();
      await new Promise((resolve) => scratchServer.close(resolve));
    }
  });
});

async function waitUntil(condition: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
