import { Writable } from 'node:stream';
import type { Express } from 'express';
import fc from 'fast-check';
import { Client, Pool } from 'pg';
import pino from 'pino';
import request from 'supertest';
import { createApp, type App } from '../src/app';
import { SESSION_SQL } from '../src/auth/sessions.repository';
import { loadConfig, type Config } from '../src/config';
import { AppDataSource, dataSourceOptions } from '../src/db/data-source';
import { Database, REPLICA_POLL_MS, statement } from '../src/db/database';
import { runPendingMigrations } from '../src/db/migrations';
import { TASK_SQL } from '../src/tasks/tasks.repository';
import { createTestApp, TEST_JWT_SECRET, type TestApp } from './support/app';
import { waitFor } from './support/processes';
import { listRoutes, readingStreamsBriefly, routeName } from './support/routes';
import { StreamingReplica, whyNoStreamingReplica } from './support/streaming-replica';
import { bearer, logIn, signUp, signUpAndLogIn } from './support/users';

jest.setTimeout(120_000);

type Auth = { Authorization: string };

/** `db_reads_total` from /metrics: reads answered by each database. */
async function readsByTarget(app: Express): Promise<Record<string, number>> {
  const { text } = await request(app).get('/metrics');
  return Object.fromEntries([...text.matchAll(/^db_reads_total\{target="([^"]+)"\} (\d+)$/gm)].map(([, target, count]) => [target, Number(count)]));
}

/** How many reads each database answered while `work` ran. */
async function readsDuring(app: Express, work: () => Promise<void>): Promise<Record<string, number>> {
  const before = await readsByTarget(app);
  await work();
  const after = await readsByTarget(app);
  return Object.fromEntries(Object.entries(after).map(([target, count]) => [target, count - (before[target] ?? 0)]));
}

async function createTask(app: Express, auth: Auth, title: string): Promise<string> {
  const response = await request(app).post('/api/v1/tasks').set(auth).send({ title });
  expect(response.status).toBe(201);
  return response.body.id;
}

describe('on a single node (no DATABASE_READ_URLS)', () => {
  let testApp: TestApp;

  beforeAll(async () => {
    testApp = await createTestApp();
  });

  afterAll(() => testApp.close());

  it('runs the statements of before: the session check and the write, nothing recorded', async () => {
    const user = await signUpAndLogIn(testApp.app);
    const spy = jest.spyOn(Database.prototype, 'rows');
    try {
      const id = await createTask(testApp.app, user.auth, 'single node');
      expect((await request(testApp.app).get(`/api/v1/tasks/${id}`).set(user.auth)).status).toBe(200);
      expect(spy.mock.calls.map(([, statement]) => statement.name)).toEqual([
        SESSION_SQL.authenticate.name,
        TASK_SQL.create.name,
        SESSION_SQL.authenticate.name,
        TASK_SQL.findLive.name,
      ]);
      expect(spy.mock.calls.every((call) => call[4] === undefined)).toBe(true);
    } finally {
      spy.mockRestore();
    }
    expect(await testApp.dataSource.query('SELECT last_write_lsn FROM sessions WHERE user_id = $1', [user.id])).toEqual([{ last_write_lsn: null }]);
  });

  it('records a write position with an asynchronous commit of its own: the setting ends with its transaction', async () => {
    const user = await signUpAndLogIn(testApp.app);
    const [{ id: sessionId }] = await testApp.dataSource.query('SELECT id FROM sessions WHERE user_id = $1', [user.id]);
    const runner = testApp.dataSource.createQueryRunner();
    const setting = async () => (await runner.query("SELECT current_setting('synchronous_commit') AS value"))[0].value;
    try {
      await runner.startTransaction();
      await new Database(testApp.dataSource).rows(runner.manager, SESSION_SQL.recordWrite, [sessionId]);
      expect(await setting()).toBe('off');
      await runner.commitTransaction();
      expect(await setting()).toBe('on');
    } finally {
      await runner.release();
    }
    const [{ recorded }] = await testApp.dataSource.query('SELECT last_write_lsn::numeric > 0 AS recorded FROM sessions WHERE id = $1', [sessionId]);
    expect(recorded).toBe(true);
  });

  it('answers /ready exactly as before, and /metrics without replica metrics', async () => {
    expect((await request(testApp.app).get('/ready')).text).toBe('{"status":"ok","database":"ok"}');
    const { text } = await request(testApp.app).get('/metrics');
    expect(text).not.toMatch(/db_replica_|db_reads_total/);
  });
});

const noReplica = whyNoStreamingReplica();
if (noReplica) console.warn(`test/replicas.test.ts: the streaming-replica tests are skipped: ${noReplica}`);
const describeWithReplica = noReplica ? describe.skip : describe;

describeWithReplica(`with a streaming replica${noReplica ? ` (skipped: ${noReplica})` : ''}`, () => {
  /** Put in the replica's URL to check that no log line ever shows it (trust authentication ignores it). */
  const REPLICA_PASSWORD = 'replica-password-never-logged';
  let replica: StreamingReplica;
  let dataSource: AppDataSource;
  let config: Config;
  let app: App;
  let replicaUrl: string;
  const logLines: string[] = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk, _encoding, done) {
        logLines.push(String(chunk));
        done();
      },
    }),
  );

  const isStandbyPool = (pool: Pool) => (pool as Pool & { options: { connectionString?: string } }).options.connectionString === replicaUrl;
  const statementText = (statement: unknown) => (typeof statement === 'string' ? statement : (statement as { text: string }).text);

  /** The replica as an app's /ready reports it. */
  const replicaReadiness = async (target: Express) => (await request(target).get('/ready')).body.replicas?.[0];

  /** Waits until the standby has applied everything the primary has now, and the app's monitor has seen it. */
  async function settled(target: Express = app): Promise<void> {
    const [{ position }] = await replica.query<{ position: string }>(replica.primary, 'todo', 'SELECT pg_current_wal_flush_lsn()::text AS position');
    await waitFor(
      async () => {
        const [{ caughtUp }] = await replica.query<{ caughtUp: boolean }>(
          replica.standby,
          'todo',
          'SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS "caughtUp"',
          [position],
        );
        return caughtUp || undefined;
      },
      20_000,
      'the standby to apply what the primary has',
    );
    await new Promise((resolve) => setTimeout(resolve, 2 * REPLICA_POLL_MS + 50));
    await waitFor(async () => ((await replicaReadiness(target))?.status === 'ok' ? true : undefined), 10_000, 'the replica to be ok');
  }

  async function standbyHasTask(id: string): Promise<boolean> {
    return (await replica.query(replica.standby, 'todo', 'SELECT 1 FROM tasks WHERE id = $1', [id])).length > 0;
  }

  function appWith(env: Record<string, string>): Express {
    const appConfig = loadConfig({
      ...env,
      NODE_ENV: 'test',
      BCRYPT_ROUNDS: '4',
      JWT_SECRET: TEST_JWT_SECRET,
      DATABASE_URL: replica.url(replica.primary, 'todo'),
    });
    return createApp({ config: appConfig, dataSource, logger });
  }

  beforeAll(async () => {
    replica = await StreamingReplica.start();
    await replica.query(replica.primary, 'postgres', 'CREATE DATABASE todo');
    replicaUrl = replica.url(replica.standby, 'todo', REPLICA_PASSWORD);
    config = loadConfig({
      NODE_ENV: 'test',
      BCRYPT_ROUNDS: '4',
      JWT_SECRET: TEST_JWT_SECRET,
      DATABASE_URL: replica.url(replica.primary, 'todo'),
      DATABASE_READ_URLS: replicaUrl,
    });
    dataSource = new AppDataSource(dataSourceOptions(replica.url(replica.primary, 'todo'), config, logger));
    await dataSource.initialize();
    await runPendingMigrations(dataSource);
    app = createApp({ config, dataSource, logger });
    await settled();
  });

  afterAll(async () => {
    // The stream the route walk opens started the app's listening connection.
    await app?.background.stop();
    await dataSource?.destroy();
    await replica?.stop();
  });

  it('keeps the reads of a transaction on its connection, and lets the others go to the replica', async () => {
    const database = new Database(dataSource, { replicas: { readUrls: [replicaUrl], readMaxLagMs: 5000, logger } });
    await waitFor(async () => (database.replicaStatuses()![0].state === 'ok' ? true : undefined), 10_000, 'the replica to be ok');
    expect(database.readTarget(dataSource.manager, { lastWriteLsn: null })?.name).toBe('replica-1');
    expect(await database.transaction(async (tx) => database.readTarget(tx.manager, { lastWriteLsn: null }))).toBeUndefined();
  });

  it.each([
    ['on: the reads on the replica and the polls of both databases are prepared by name', true],
    ['off: the reads on the replica and the polls of both databases run unnamed, as behind a transaction-mode pooler', false],
  ])('DB_PREPARED_STATEMENTS %s', async (_title, preparedStatements) => {
    const ON_STANDBY = statement('SELECT pg_is_in_recovery() AS standby');
    // A data source of its own, named so that its statements (and its replica pool's) stand apart from the app's, which polls too.
    const applicationName = `prepared statements ${preparedStatements}`;
    const own = new AppDataSource({ ...dataSourceOptions(replica.url(replica.primary, 'todo'), config, logger), applicationName });
    await own.initialize();
    const query = jest.spyOn(Client.prototype, 'query');
    try {
      const database = new Database(own, { preparedStatements, replicas: { readUrls: [replicaUrl], readMaxLagMs: 5000, logger } });
      await waitFor(async () => (database.replicaStatuses()![0].state === 'ok' ? true : undefined), 10_000, 'the replica to be ok');
      const target = database.readTarget(own.manager, { lastWriteLsn: null });
      expect(await database.rows(own.manager, ON_STANDBY, [], undefined, target)).toEqual([{ standby: true }]);
      expect(database.readsByTarget()).toEqual([
        { target: 'primary', reads: 0 },
        { target: 'replica-1', reads: 1 },
      ]);
      const ours = query.mock.calls.filter(
        (_call, index) =>
          (query.mock.contexts[index] as { connectionParameters: { application_name: string } }).connectionParameters.application_name === applicationName,
      );
      // The primary's WAL position, the standby's replay position, and the read.
      expect(ours.length).toBeGreaterThanOrEqual(3);
      const names = ours.map(([config]) => (config as { name?: string }).name);
      if (preparedStatements) expect(names.every((name) => name?.startsWith('q_'))).toBe(true);
      else expect(names.filter((name) => name !== undefined)).toEqual([]);
    } finally {
      query.mockRestore();
      await own.destroy();
    }
  });

  it('lets a caller read its own writes at once while the standby is 2 s behind, and serves another user from the standby meanwhile', async () => {
    const other = await signUpAndLogIn(app);
    const othersTask = await createTask(app, other.auth, "the other user's task");
    const caller = await signUpAndLogIn(app);
    // The standby has the caller's login too: from here only the caller's writes can keep its reads off it.
    await settled();
    await replica.delayStandby('2s');
    try {
      const primaryReads = await readsDuring(app, async () => {
        const id = await createTask(app, caller.auth, 'written just now');
        const got = await request(app).get(`/api/v1/tasks/${id}`).set(caller.auth);
        expect(got.status).toBe(200);
        expect(got.body.title).toBe('written just now');
        // The standby does not have it yet: the read above cannot have come from it.
        expect(await standbyHasTask(id)).toBe(false);
        const list = await request(app).get('/api/v1/tasks').set(caller.auth);
        expect(list.body).toMatchObject({ count: 1, data: [{ id, title: 'written just now' }] });
        // Another device logging in now sees it too: a session starts at the primary's current position.
        const secondDevice = await logIn(app, caller.username, caller.password);
        expect((await request(app).get(`/api/v1/tasks/${id}`).set(bearer(secondDevice.access_token))).status).toBe(200);

        expect((await request(app).patch(`/api/v1/tasks/${id}`).set(caller.auth).send({ completed: true })).status).toBe(200);
        expect((await request(app).get(`/api/v1/tasks/${id}`).set(caller.auth)).body.completed).toBe(true);
        expect((await request(app).delete(`/api/v1/tasks/${id}`).set(caller.auth)).status).toBe(204);
        expect((await request(app).get(`/api/v1/tasks/${id}`).set(caller.auth)).status).toBe(404);
        expect((await request(app).get('/api/v1/tasks/trash').set(caller.auth)).body).toMatchObject({ count: 1, data: [{ id }] });
        expect((await request(app).post(`/api/v1/tasks/${id}/restore`).set(caller.auth)).status).toBe(200);
        expect((await request(app).get('/api/v1/tasks').set(caller.auth)).body.count).toBe(1);
        expect((await request(app).delete(`/api/v1/tasks/${id}/permanent`).set(caller.auth)).status).toBe(204);
        expect((await request(app).get(`/api/v1/tasks/${id}`).set(caller.auth)).status).toBe(404);
        expect((await request(app).get('/api/v1/tasks/trash').set(caller.auth)).body.count).toBe(0);
      });
      // get, list (page and count), the second device's get, get, get, trash (2), list (2), get, trash (2): all on the primary.
      expect(primaryReads).toEqual({ primary: 13, 'replica-1': 0 });

      const replicaReads = await readsDuring(app, async () => {
        expect((await request(app).get(`/api/v1/tasks/${othersTask}`).set(other.auth)).body.title).toBe("the other user's task");
        expect((await request(app).get('/api/v1/tasks').set(other.auth)).body).toMatchObject({ count: 1, data: [{ id: othersTask }] });
        expect((await request(app).get('/api/v1/tasks/trash').set(other.auth)).body.count).toBe(0);
      });
      expect(replicaReads).toEqual({ primary: 0, 'replica-1': 5 });

      // Sync reads the primary whoever asks: a sync token is a snapshot of the primary's transactions, which a standby's cannot stand for.
      const { sync_token } = (await request(app).get('/api/v1/tasks/sync').set(other.auth).expect(200)).body;
      const synced = await createTask(app, other.auth, 'synced before the standby has it');
      expect(await standbyHasTask(synced)).toBe(false);
      const changes = await request(app).get('/api/v1/tasks/sync').query({ sync_token }).set(other.auth).expect(200);
      expect(changes.body.data).toEqual([expect.objectContaining({ id: synced, state: 'live' })]);
      expect(await replicaReadiness(app)).toMatchObject({ name: 'replica-1', status: 'ok' });

      // Once the standby has applied the caller's writes, the caller's reads go to it too.
      const later = await createTask(app, caller.auth, 'read from the standby once applied');
      await waitFor(async () => ((await standbyHasTask(later)) ? true : undefined), 10_000, 'the standby to apply the task');
      await new Promise((resolve) => setTimeout(resolve, 2 * REPLICA_POLL_MS + 50));
      const afterwards = await readsDuring(app, async () => {
        expect((await request(app).get(`/api/v1/tasks/${later}`).set(caller.auth)).status).toBe(200);
      });
      expect(afterwards).toEqual({ primary: 0, 'replica-1': 1 });
    } finally {
      await replica.delayStandby('0');
    }
  });

  it('shows every caller its own writes at once, in generated sequences of writes, reads, new logins and pauses, with the standby 300 ms behind', async () => {
    const reader = await signUpAndLogIn(app);
    const readersTasks = [await createTask(app, reader.auth, 'first'), await createTask(app, reader.auth, 'second')];
    await settled();
    await replica.delayStandby('300ms');
    type Task = { title: string; completed: boolean; trashed: boolean };
    const action = fc.oneof(
      fc.record({ kind: fc.constant('create' as const), user: fc.nat(1), title: fc.stringMatching(/^[a-z]{1,12}$/) }),
      fc.record({
        kind: fc.constantFrom('patch' as const, 'trash' as const, 'restore' as const, 'delete' as const, 'get' as const),
        user: fc.nat(1),
        pick: fc.nat(),
      }),
      fc.record({ kind: fc.constantFrom('trashList' as const, 'login' as const), user: fc.nat(1) }),
    );
    // A pause longer than the delay lets the standby catch up, so that the next write is the only thing it lacks.
    const step = fc.record({ pauseMs: fc.constantFrom(0, 0, 0, 450), action });
    try {
      const totals = await readsDuring(app, () =>
        fc.assert(
          fc.asyncProperty(fc.array(step, { minLength: 5, maxLength: 15 }), async (steps) => {
            const users = await Promise.all([0, 1].map(() => signUpAndLogIn(app)));
            const auth: Auth[] = users.map((user) => user.auth);
            const models = users.map(() => new Map<string, Task>());
            const known: string[][] = users.map(() => []);
            const expectList = async (user: number, trashed: boolean) => {
              const response = await request(app)
                .get(trashed ? '/api/v1/tasks/trash' : '/api/v1/tasks?limit=100')
                .set(auth[user]);
              const expected = [...models[user]].filter(([, entry]) => entry.trashed === trashed).map(([taskId]) => taskId);
              expect(response.body.count).toBe(expected.length);
              expect(response.body.data.map((entry: { id: string }) => entry.id).sort()).toEqual(expected.sort());
            };
            for (const { pauseMs, action: op } of steps) {
              await new Promise((resolve) => setTimeout(resolve, pauseMs));
              const { user } = op;
              const model = models[user];
              const id = 'pick' in op && known[user].length ? known[user][op.pick % known[user].length] : '00000000-0000-4000-8000-000000000000';
              const task = model.get(id);
              const live = task !== undefined && !task.trashed;
              if (op.kind === 'create') {
                const created = await createTask(app, auth[user], op.title);
                model.set(created, { title: op.title, completed: false, trashed: false });
                known[user].push(created);
              } else if (op.kind === 'patch') {
                const response = await request(app).patch(`/api/v1/tasks/${id}`).set(auth[user]).send({ completed: !task?.completed });
                expect(response.status).toBe(live ? 200 : 404);
                if (live) task.completed = !task.completed;
              } else if (op.kind === 'trash') {
                expect((await request(app).delete(`/api/v1/tasks/${id}`).set(auth[user])).status).toBe(live ? 204 : 404);
                if (live) task.trashed = true;
              } else if (op.kind === 'restore') {
                expect((await request(app).post(`/api/v1/tasks/${id}/restore`).set(auth[user])).status).toBe(task?.trashed ? 200 : 404);
                if (task?.trashed) task.trashed = false;
              } else if (op.kind === 'delete') {
                expect((await request(app).delete(`/api/v1/tasks/${id}/permanent`).set(auth[user])).status).toBe(task ? 204 : 404);
                model.delete(id);
              } else if (op.kind === 'get') {
                const response = await request(app).get(`/api/v1/tasks/${id}`).set(auth[user]);
                expect(response.status).toBe(live ? 200 : 404);
                if (live) expect(response.body).toMatchObject({ title: task.title, completed: task.completed });
              } else if (op.kind === 'login') {
                // A new session of the same user (a second device logging in) sees everything written before it.
                auth[user] = bearer((await logIn(app, users[user].username, users[user].password)).access_token);
              } else {
                await expectList(user, true);
              }
              // Right after every step, the user's list is exactly what it wrote.
              await expectList(user, false);
              // A user who only reads, and wrote long ago, sees the same whichever database answers.
              const readers = await request(app).get('/api/v1/tasks').set(reader.auth);
              expect(readers.body.data.map((entry: { id: string }) => entry.id).sort()).toEqual([...readersTasks].sort());
            }
          }),
          { numRuns: 4 },
        ),
      );
      expect(totals.primary).toBeGreaterThan(0);
      expect(totals['replica-1']).toBeGreaterThan(0);
    } finally {
      await replica.delayStandby('0');
    }
  });

  it('skips a replica further behind than DATABASE_READ_MAX_LAG_MS for everyone, and uses it again once it catches up', async () => {
    const strict = appWith({ DATABASE_READ_URLS: replicaUrl, DATABASE_READ_MAX_LAG_MS: '1000' });
    const user = await signUpAndLogIn(app);
    const id = await createTask(app, user.auth, 'written before the lag');
    await settled(strict);
    await replica.delayStandby('2500ms');
    try {
      const writer = await signUpAndLogIn(app);
      await createTask(app, writer.auth, 'makes the standby lag');
      await waitFor(async () => ((await replicaReadiness(strict))?.status === 'lagging' ? true : undefined), 5000, 'the replica to be lagging');
      const lagging = await replicaReadiness(strict);
      expect(lagging.lag_seconds).toBeGreaterThan(1);
      expect(lagging.lag_bytes).toBeGreaterThan(0);
      expect((await request(strict).get('/ready')).status).toBe(200);
      const skipped = await readsDuring(strict, async () => {
        expect((await request(strict).get(`/api/v1/tasks/${id}`).set(user.auth)).status).toBe(200);
      });
      expect(skipped).toEqual({ primary: 1, 'replica-1': 0 });
      // The same replica is within the default 5 s: the other app still reads from it.
      expect(await readsDuring(app, async () => void (await request(app).get(`/api/v1/tasks/${id}`).set(user.auth)))).toEqual({ primary: 0, 'replica-1': 1 });
      expect(logLines.join('')).toMatch(/Read replica replica-1 \(127\.0\.0\.1:\d+\) is lagging: \d+ ms behind the primary; its reads go to the primary/);

      await settled(strict);
      const back = await readsDuring(strict, async () => {
        expect((await request(strict).get(`/api/v1/tasks/${id}`).set(user.auth)).status).toBe(200);
      });
      expect(back).toEqual({ primary: 0, 'replica-1': 1 });
    } finally {
      await replica.delayStandby('0');
    }
  });

  it('never sends a statement of any route but the task reads to the standby, and every write succeeds (the route table, exercised whole)', async () => {
    const bystander = await signUpAndLogIn(app);
    const bystandersTask = await createTask(app, bystander.auth, 'read from the standby');
    await settled();
    const onStandby: string[] = [];
    const query = jest.spyOn(Pool.prototype, 'query');
    const exercised = new Set<string>();
    try {
      const user = await signUp(app);
      exercised.add('POST /api/v1/users/signup');
      const send = async (method: 'get' | 'post' | 'patch' | 'put' | 'delete', path: string, route: string, body?: object, auth?: Auth) => {
        const spec = listRoutes().find((candidate) => routeName(candidate) === `${method.toUpperCase()} ${route}`)!;
        let pending = readingStreamsBriefly(spec, request(app)[method](path));
        if (auth) pending = pending.set(auth);
        const response = body ? await pending.send(body) : await pending;
        expect({ route, status: response.status }).toEqual({ route, status: spec.success.status });
        exercised.add(`${method.toUpperCase()} ${route}`);
        return response;
      };
      const login = await request(app).post('/api/v1/login/access-token').type('form').send({ username: user.username, password: user.password });
      expect(login.status).toBe(200);
      exercised.add('POST /api/v1/login/access-token');
      const refreshed = await send('post', '/api/v1/login/refresh', '/api/v1/login/refresh', { refresh_token: login.body.refresh_token });
      const auth = { Authorization: `Bearer ${refreshed.body.access_token}` };
      const id = (await send('post', '/api/v1/tasks', '/api/v1/tasks', { title: 'every route' }, auth)).body.id;
      for (const [method, path, route, body] of [
        ['get', '/api/v1/tasks', '/api/v1/tasks'],
        ['get', `/api/v1/tasks/${id}`, '/api/v1/tasks/:id'],
        ['get', '/api/v1/tasks/sync', '/api/v1/tasks/sync'],
        ['get', '/api/v1/tasks/stream', '/api/v1/tasks/stream'],
        ['patch', `/api/v1/tasks/${id}`, '/api/v1/tasks/:id', { title: 'patched' }],
        ['put', `/api/v1/tasks/${id}`, '/api/v1/tasks/:id', { title: 'replaced' }],
        ['delete', `/api/v1/tasks/${id}`, '/api/v1/tasks/:id'],
        ['get', '/api/v1/tasks/trash', '/api/v1/tasks/trash'],
        ['post', `/api/v1/tasks/${id}/restore`, '/api/v1/tasks/:id/restore'],
        ['delete', `/api/v1/tasks/${id}/permanent`, '/api/v1/tasks/:id/permanent'],
        ['post', '/api/v1/login/test-token', '/api/v1/login/test-token'],
        ['get', '/api/v1/users/me', '/api/v1/users/me'],
        ['get', '/api/v1/users/me/events', '/api/v1/users/me/events'],
        ['patch', '/api/v1/users/me', '/api/v1/users/me', { username: `${user.username}_2` }],
        ['patch', '/api/v1/users/me/password', '/api/v1/users/me/password', { current_password: user.password, new_password: 'another horse battery' }],
        ['post', '/api/v1/logout', '/api/v1/logout'],
      ] as const) {
        await send(method, path, route, body, auth);
      }
      const again = await logIn(app, `${user.username}_2`, 'another horse battery');
      await send('delete', '/api/v1/users/me', '/api/v1/users/me', undefined, { Authorization: `Bearer ${again.access_token}` });
      // A user who wrote long ago: the standby answers, so the spy does see its reads.
      expect((await request(app).get(`/api/v1/tasks/${bystandersTask}`).set(bystander.auth)).status).toBe(200);
      for (const route of ['/health', '/ready', '/metrics', '/api/v1/utils/health-check/', '/api/v1/openapi.json', '/docs']) {
        expect((await request(app).get(route)).status).toBe(200);
        exercised.add(`GET ${route}`);
      }

      for (const [index, [statement]] of query.mock.calls.entries()) {
        if (isStandbyPool(query.mock.contexts[index] as Pool)) onStandby.push(statementText(statement));
      }
    } finally {
      query.mockRestore();
    }
    expect(
      listRoutes()
        .map(routeName)
        .filter((route) => !exercised.has(route)),
    ).toEqual([]);
    const reads = [TASK_SQL.findLive.text];
    const allowed = (text: string) =>
      reads.includes(text) ||
      /^SELECT .* FROM tasks WHERE user_id = \$1 AND deleted_at IS (NOT )?NULL/s.test(text) ||
      /^SELECT (count\(\*\)|coalesce)/.test(text) ||
      text.includes('pg_is_in_recovery()');
    expect(onStandby.filter((text) => !allowed(text))).toEqual([]);
    expect(onStandby.some((text) => text === TASK_SQL.findLive.text)).toBe(true);
  });

  it('retries on the primary a read the replica fails, and skips the replica until a poll finds it again', async () => {
    const user = await signUpAndLogIn(app);
    const id = await createTask(app, user.auth, 'read twice');
    await settled();
    const originalQuery = Pool.prototype.query as (...args: unknown[]) => unknown;
    let failed = 0;
    const query = jest.spyOn(Pool.prototype, 'query').mockImplementation(function (this: Pool, ...args: unknown[]) {
      if (failed === 0 && isStandbyPool(this) && statementText(args[0]) === TASK_SQL.findLive.text) {
        failed += 1;
        return Promise.reject(new Error('Connection terminated unexpectedly'));
      }
      return originalQuery.apply(this, args);
    } as never);
    try {
      const retried = await readsDuring(app, async () => {
        const response = await request(app).get(`/api/v1/tasks/${id}`).set(user.auth);
        expect(response.status).toBe(200);
        expect(response.body.title).toBe('read twice');
      });
      expect(failed).toBe(1);
      expect(retried).toEqual({ primary: 1, 'replica-1': 0 });
    } finally {
      query.mockRestore();
    }
    expect(logLines.join('')).toMatch(/Read replica replica-1 \(127\.0\.0\.1:\d+\) is down: cannot reach the database \(Connection terminated unexpectedly\)/);
    await settled();
  });

  it('falls back to the primary when the standby stops: reads succeed, /ready stays 200 and says it is down, metrics show it; it serves again once back', async () => {
    const user = await signUpAndLogIn(app);
    const id = await createTask(app, user.auth, 'still readable');
    await settled();
    await replica.stopStandby();
    try {
      for (let attempt = 0; attempt < 3; attempt += 1) {
        const response = await request(app).get(`/api/v1/tasks/${id}`).set(user.auth);
        expect(response.status).toBe(200);
        expect(response.body.title).toBe('still readable');
      }
      await waitFor(async () => ((await replicaReadiness(app))?.status === 'down' ? true : undefined), 5000, 'the replica to be down');
      const ready = await request(app).get('/ready');
      expect(ready.status).toBe(200);
      expect(ready.body).toEqual({ status: 'ok', database: 'ok', replicas: [{ name: 'replica-1', status: 'down', lag_seconds: null, lag_bytes: null }] });
      const metrics = (await request(app).get('/metrics')).text;
      expect(metrics).toMatch(/^db_replica_up\{replica="replica-1"\} 0$/m);
      expect(metrics).not.toMatch(/^db_replica_lag_seconds\{/m);
      expect(await readsDuring(app, async () => void (await request(app).get('/api/v1/tasks').set(user.auth)))).toEqual({ primary: 2, 'replica-1': 0 });

      // A process started while the replica is down starts, and serves from the primary.
      const startedWhileDown = appWith({ DATABASE_READ_URLS: replicaUrl });
      await waitFor(async () => ((await replicaReadiness(startedWhileDown))?.status === 'down' ? true : undefined), 5000, 'the new process to see it down');
      expect((await request(startedWhileDown).get('/ready')).status).toBe(200);
      expect((await request(startedWhileDown).get(`/api/v1/tasks/${id}`).set(user.auth)).status).toBe(200);
    } finally {
      await replica.startStandby();
    }
    await settled();
    expect(await readsDuring(app, async () => void (await request(app).get(`/api/v1/tasks/${id}`).set(user.auth)))).toEqual({ primary: 0, 'replica-1': 1 });
    const metrics = (await request(app).get('/metrics')).text;
    expect(metrics).toMatch(/^db_replica_up\{replica="replica-1"\} 1$/m);
    expect(metrics).toMatch(/^db_replica_lag_seconds\{replica="replica-1"\} [\d.]+$/m);
    expect(metrics).toMatch(/^db_replica_lag_bytes\{replica="replica-1"\} \d+$/m);
    const log = logLines.join('');
    expect(log).toMatch(/Read replica replica-1 \(127\.0\.0\.1:\d+\) is down: cannot reach the database/);
    expect(log).toMatch(/Read replica replica-1 \(127\.0\.0\.1:\d+\) serves reads/);
    expect(log).not.toContain(REPLICA_PASSWORD);
  });
});
