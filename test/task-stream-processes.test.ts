import { createTestDatabase, type TestDatabase } from './support/database';
import { changesIn, openEventStream, type EventStreamClient } from './support/event-stream';
import { freePort, startProcess, waitFor, type RunningProcess } from './support/processes';

jest.setTimeout(120_000);

/**
 * Two service processes (node dist/src/server.js, as deployed) on one database: a change made
 * through either reaches the streams of both, through PostgreSQL's LISTEN/NOTIFY; the per-user
 * limit counts both; SIGTERM ends a process's streams at once.
 */
const JWT_SECRET = 'two-processes-0123456789abcdefghijklmnopqrstuvwxyz';

let database: TestDatabase;
const services: RunningProcess[] = [];
const streams: EventStreamClient[] = [];

interface Service {
  process: RunningProcess;
  url: string;
}

async function startService(): Promise<Service> {
  const port = await freePort();
  const service = startProcess('node', ['dist/src/server.js'], {
    DATABASE_URL: database.url,
    NODE_ENV: 'development',
    PORT: String(port),
    HOST: '127.0.0.1',
    JWT_SECRET,
    BCRYPT_ROUNDS: '4',
    LOG_FORMAT: 'json',
    LOG_LEVEL: 'info',
    STREAM_HEARTBEAT_MS: '500',
    STREAM_MAX_PER_USER: '2',
    SHUTDOWN_TIMEOUT_MS: '10000',
  });
  services.push(service);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => ((await fetch(`${url}/ready`)).status === 200 ? true : undefined), 60_000, `service on ${port}`).catch((error) => {
    throw new Error(`${error.message}\n${service.output()}`);
  });
  return { process: service, url };
}

beforeAll(async () => {
  database = await createTestDatabase();
});

afterEach(() => {
  for (const stream of streams.splice(0)) stream.close();
});

afterAll(async () => {
  for (const service of services) if (service.child.exitCode === null && service.child.signalCode === null) service.child.kill('SIGKILL');
  await Promise.all(services.map((service) => service.exited));
  await database.drop();
});

interface User {
  id: string;
  username: string;
  auth: { Authorization: string };
}

let counter = 0;

async function signUpAndLogIn(service: Service): Promise<User> {
  counter += 1;
  const username = `streamer_${process.pid}_${counter}`;
  const signup = await fetch(`${service.url}/api/v1/users/signup`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email: `${username}@example.com`, username, password: 'correct horse battery' }),
  });
  const { id } = (await signup.json()) as { id: string };
  const login = await fetch(`${service.url}/api/v1/login/access-token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username, password: 'correct horse battery' }),
  });
  const { access_token } = (await login.json()) as { access_token: string };
  return { id, username, auth: { Authorization: `Bearer ${access_token}` } };
}

/** A JSON answer: a task, a sync page or an error. */
type Answer = { id: string; data: Array<Record<string, unknown>> } & Record<string, unknown>;

async function call(service: Service, user: User, method: string, path: string, body?: unknown): Promise<{ status: number; body: Answer }> {
  const response = await fetch(`${service.url}${path}`, {
    method,
    headers: { ...user.auth, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

async function open(service: Service, user: User, headers: Record<string, string> = {}): Promise<EventStreamClient> {
  const stream = await openEventStream(`${service.url}/api/v1/tasks/stream`, { ...user.auth, ...headers });
  streams.push(stream);
  return stream;
}

const isChange = (event: { event: string }) => event.event === 'message';
const isReady = (event: { event: string }) => event.event === 'ready';

describe('change streams across two service processes on one database', () => {
  let a: Service;
  let b: Service;

  beforeAll(async () => {
    a = await startService();
    b = await startService();
  });

  it('deliver a change made through one process to a stream held by the other, with an event id that is a usable sync token', async () => {
    const alice = await signUpAndLogIn(a);
    const stream = await open(a, alice);
    await stream.next(isReady);

    const created = await call(b, alice, 'POST', '/api/v1/tasks', { title: 'written on B' });
    const event = await stream.next(isChange);
    expect(event.data).toEqual({ id: created.body.id, state: 'live' });
    await call(b, alice, 'PATCH', `/api/v1/tasks/${created.body.id}`, { completed: true });
    const changed = await stream.next(isChange);
    expect(changed.data).toEqual({ id: created.body.id, state: 'live' });

    for (const service of [a, b]) {
      const sync = await call(service, alice, 'GET', `/api/v1/tasks/sync?sync_token=${changed.id}`);
      expect({ status: sync.status, data: sync.body.data }).toEqual({ status: 200, data: [] });
    }
    const fromFirst = await call(b, alice, 'GET', `/api/v1/tasks/sync?sync_token=${event.id}`);
    expect(fromFirst.body.data).toEqual([expect.objectContaining({ id: created.body.id, completed: true, state: 'live' })]);
  });

  it('end a stream held by one process when its session is revoked through the other', async () => {
    const alice = await signUpAndLogIn(a);
    const stream = await open(a, alice);
    await stream.next(isReady);
    const revoked = Date.now();
    expect((await call(b, alice, 'POST', '/api/v1/logout')).status).toBe(204);
    expect(await stream.next((event) => event.event === 'end', 2000)).toEqual({ event: 'end', data: { reason: 'revoked' } });
    await stream.ended;
    expect(Date.now() - revoked).toBeLessThan(2000);
  });

  it('hold STREAM_MAX_PER_USER streams of one user across both processes, and free the slots of a stream that closes', async () => {
    const alice = await signUpAndLogIn(a);
    const onA = await open(a, alice);
    const onB = await open(b, alice);
    await Promise.all([onA.next(isReady), onB.next(isReady)]);
    for (const service of [a, b]) {
      const refused = await open(service, alice);
      expect({ status: refused.status, body: refused.body }).toEqual({ status: 429, body: { detail: 'Too many open streams: at most 2 per user' } });
    }
    onB.close();
    await waitFor(async () => ((await open(a, alice)).status === 200 ? true : undefined), 5000, 'a freed slot');
  });

  it('resume on one process, with Last-Event-ID, after changes made through the other while disconnected', async () => {
    const alice = await signUpAndLogIn(a);
    const first = await open(a, alice);
    const { id: lastEventId } = await first.next(isReady);
    first.close();
    const missed = [];
    for (const title of ['missed 1', 'missed 2']) missed.push((await call(a, alice, 'POST', '/api/v1/tasks', { title })).body.id);
    await call(a, alice, 'DELETE', `/api/v1/tasks/${missed[0]}/permanent`);

    const resumed = await open(b, alice, { 'Last-Event-ID': lastEventId! });
    await resumed.next(isReady);
    expect(new Map(changesIn(resumed.events) as Array<[string, string]>)).toEqual(
      new Map([
        [missed[0], 'deleted'],
        [missed[1], 'live'],
      ]),
    );
  });

  it('take over the slots of a process that died (kill -9), whose listening connection is gone', async () => {
    const alice = await signUpAndLogIn(a);
    const doomed = await startService();
    const [one, two] = [await open(doomed, alice), await open(doomed, alice)];
    await Promise.all([one.next(isReady), two.next(isReady)]);
    expect((await open(a, alice)).status).toBe(429);
    doomed.process.child.kill('SIGKILL');
    await doomed.process.exited;
    // Cut without a last event: each client sees its connection end (undici: "terminated").
    expect((await Promise.allSettled([one.ended, two.ended])).map(({ status }) => status)).toEqual([expect.any(String), expect.any(String)]);
    // PostgreSQL ends the dead process's connections once it notices; then its slots are free.
    await waitFor(async () => ((await open(a, alice)).status === 200 ? true : undefined), 20_000, 'slots of the dead process');
  });

  it('end every stream of a process on SIGTERM, with a last event, and the process exits 0 at once; the log has each stream', async () => {
    const alice = await signUpAndLogIn(b);
    const doomed = await startService();
    const held = [await open(doomed, alice), await open(doomed, alice)];
    await Promise.all(held.map((stream) => stream.next(isReady)));

    const stopped = Date.now();
    doomed.process.child.kill('SIGTERM');
    for (const stream of held) {
      expect(await stream.next((event) => event.event === 'end')).toEqual({ event: 'end', data: { reason: 'shutdown' } });
      await stream.ended;
    }
    expect(await doomed.process.exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - stopped).toBeLessThan(5000);
    const streamLines = doomed.process
      .output()
      .split('\n')
      .filter((line) => line.includes('"route":"/api/v1/tasks/stream"'));
    expect(streamLines.map((line) => JSON.parse(line).status)).toEqual([200, 200]);
    // Its slots went with it: alice can open two elsewhere.
    expect((await open(b, alice)).status).toBe(200);
    expect((await open(b, alice)).status).toBe(200);
  });
});
