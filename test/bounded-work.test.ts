import { Client } from 'pg';
import request from 'supertest';
import { createTestApp, type TestApp } from './support/app';
import { itNeedsDirectConnection } from './support/database';
import { signUpAndLogIn } from './support/users';

jest.setTimeout(60_000);

type Caller = Awaited<ReturnType<typeof signUpAndLogIn>>;

/** Holds a row lock on a task in another session, so statements touching that row wait. */
async function lockTask(url: string, taskId: string): Promise<() => Promise<void>> {
  const client = new Client({ connectionString: url });
  await client.connect();
  await client.query('BEGIN');
  await client.query('SELECT id FROM tasks WHERE id = $1 FOR UPDATE', [taskId]);
  return async () => {
    await client.query('ROLLBACK');
    await client.end();
  };
}

async function createTask(testApp: TestApp, caller: Caller, title: string): Promise<string> {
  return (await request(testApp.app).post('/api/v1/tasks').set(caller.auth).send({ title })).body.id;
}

describe('statement_timeout', () => {
  let testApp: TestApp;

  beforeAll(async () => {
    testApp = await createTestApp({ DB_STATEMENT_TIMEOUT_MS: '300', REQUEST_TIMEOUT_MS: '5000' });
  });

  afterAll(() => testApp.close());

  itNeedsDirectConnection(
    'PgBouncer 1.18 drops DB_STATEMENT_TIMEOUT_MS, a startup parameter (ignore_startup_parameters); its own STATEMENT_TIMEOUT_MS applies there',
  )('cancels a statement stuck on a lock: 503 within the timeout, nothing written, and the next request is fine', async () => {
    const caller = await signUpAndLogIn(testApp.app);
    const id = await createTask(testApp, caller, 'locked');
    const release = await lockTask(testApp.database.url, id);
    try {
      const started = performance.now();
      const stuck = await request(testApp.app).patch(`/api/v1/tasks/${id}`).set(caller.auth).send({ title: 'should not land' });
      const elapsed = performance.now() - started;
      expect(stuck.status).toBe(503);
      expect(stuck.body).toEqual({ detail: 'Database query timed out' });
      expect(elapsed).toBeLessThan(2000);
    } finally {
      await release();
    }
    const after = await request(testApp.app).get(`/api/v1/tasks/${id}`).set(caller.auth);
    expect(after.status).toBe(200);
    expect(after.body.title).toBe('locked');
  });
});

describe('the request timeout', () => {
  let testApp: TestApp;

  beforeAll(async () => {
    testApp = await createTestApp({ REQUEST_TIMEOUT_MS: '300', DB_STATEMENT_TIMEOUT_MS: '200', BCRYPT_ROUNDS: '14', LOGIN_RATE_LIMIT: '0' });
  });

  afterAll(() => testApp.close());

  it('answers 503 "Request timed out" when a handler takes longer, writes nothing afterwards, and serves the next requests', async () => {
    const started = performance.now();
    const slow = await request(testApp.app)
      .post('/api/v1/users/signup')
      .send({ email: 'slow@example.com', username: 'slow_hash', password: 'a slow password to hash' });
    expect(slow.status).toBe(503);
    expect(slow.body).toEqual({ detail: 'Request timed out' });
    expect(slow.headers['retry-after']).toBe('1');
    expect(performance.now() - started).toBeLessThan(1500);
    expect((await request(testApp.app).get('/ready')).status).toBe(200);
    // The hash goes on in the background; once it is done, the abandoned signup must not have written.
    await new Promise((resolve) => setTimeout(resolve, 4000));
    expect(await testApp.dataSource.query("SELECT id FROM users WHERE username = 'slow_hash'")).toEqual([]);
  });
});

describe('an exhausted pool', () => {
  let testApp: TestApp;

  beforeAll(async () => {
    testApp = await createTestApp({ DB_POOL_SIZE: '2', DB_CONNECT_TIMEOUT_MS: '300', DB_STATEMENT_TIMEOUT_MS: '3000' });
  });

  afterAll(() => testApp.close());

  it('queues a request briefly, then answers 503, and serves requests again once connections are free', async () => {
    const caller = await signUpAndLogIn(testApp.app);
    const first = await createTask(testApp, caller, 'one');
    const second = await createTask(testApp, caller, 'two');
    const releaseFirst = await lockTask(testApp.database.url, first);
    const releaseSecond = await lockTask(testApp.database.url, second);
    // Two PATCHes wait on the locks, each holding one of the pool's two connections.
    const blocked = [first, second].map((id) =>
      request(testApp.app)
        .patch(`/api/v1/tasks/${id}`)
        .set(caller.auth)
        .send({ completed: true })
        .then((r) => r),
    );
    await new Promise((resolve) => setTimeout(resolve, 200));

    const started = performance.now();
    const starved = await request(testApp.app).get('/api/v1/tasks').set(caller.auth);
    expect(starved.status).toBe(503);
    expect(starved.body).toEqual({ detail: 'Database unavailable' });
    expect(performance.now() - started).toBeLessThan(1500);

    await releaseFirst();
    await releaseSecond();
    expect((await Promise.all(blocked)).map((response) => response.status)).toEqual([200, 200]);
    const healthy = await request(testApp.app).get('/api/v1/tasks').set(caller.auth);
    expect(healthy.status).toBe(200);
    expect(healthy.body.count).toBe(2);
  });
});
