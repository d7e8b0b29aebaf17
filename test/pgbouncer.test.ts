import type { AddressInfo } from 'node:net';
import pino from 'pino';
import request from 'supertest';
import { createHttpServer } from '../src/http/http-server';
import { createTestApp, type TestApp } from './support/app';
import { silentLogger } from './support/database';
import { openEventStream } from './support/event-stream';
import { signUp, signUpAndLogIn } from './support/users';

/**
 * With TEST_PGBOUNCER_URL (a PgBouncer in transaction pooling mode in front of the test server;
 * .ci/pgbouncer.sh starts Debian's 1.18), every test app's data source goes through it, while its
 * database is created and migrated directly. These tests check that arrangement, and show on that
 * PgBouncer why the service needs DB_PREPARED_STATEMENTS=false behind it.
 */
const pooler = process.env.TEST_PGBOUNCER_URL;
if (!pooler) {
  console.warn(
    `\n${'!'.repeat(78)}\n!! SKIPPED: the PgBouncer tests need TEST_PGBOUNCER_URL (and TEST_DATABASE_URL, the server behind it).\n` +
      `!! .ci/pgbouncer.sh starts one: see its header.\n${'!'.repeat(78)}\n`,
  );
}

jest.setTimeout(60_000);

(pooler ? describe : describe.skip)('the app behind PgBouncer in transaction pooling mode', () => {
  let testApp: TestApp;
  const lines: string[] = [];

  afterEach(() => testApp?.close());

  it('reaches its database through PgBouncer, on a schema migrated directly beforehand', async () => {
    testApp = await createTestApp();
    expect(new URL((testApp.dataSource.options as { url: string }).url).port).toBe(new URL(pooler!).port);
    const [{ migrations }] = await testApp.dataSource.query('SELECT count(*)::int AS migrations FROM migrations');
    expect(migrations).toBeGreaterThan(0);
    const { auth } = await signUpAndLogIn(testApp.app);
    expect((await request(testApp.app).post('/api/v1/tasks').set(auth).send({ title: 'pooled' })).status).toBe(201);
  });

  it('streams changes: the listening connection goes straight to PostgreSQL (DATABASE_LISTEN_URL), the rest through PgBouncer', async () => {
    testApp = await createTestApp();
    expect(new URL(testApp.config.database.listenUrl!).port).not.toBe(new URL(pooler!).port);
    const server = createHttpServer(testApp.app, testApp.config, silentLogger);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const caller = await signUpAndLogIn(testApp.app);
      const stream = await openEventStream(`http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/tasks/stream`, caller.auth);
      try {
        await stream.next((event) => event.event === 'ready');
        const created = await request(testApp.app).post('/api/v1/tasks').set(caller.auth).send({ title: 'heard through PgBouncer' });
        expect(created.status).toBe(201);
        const change = await stream.next((event) => event.event === 'message');
        expect(change.data).toEqual({ id: created.body.id, state: 'live' });
        const listeners = await testApp.dataSource.query(
          "SELECT 1 FROM pg_stat_activity WHERE application_name = 'todo-service (listen)' AND datname = current_database()",
        );
        expect(listeners).toHaveLength(1);
      } finally {
        stream.close();
      }
    } finally {
      await testApp.app.background.stop();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('breaks simultaneous requests when statements are prepared by name: each transaction may get another server connection', async () => {
    const logger = pino({ level: 'error' }, { write: (line: string) => lines.push(line) });
    // Limits off, so that every answer but 200 comes from a statement failing, not from a limit.
    testApp = await createTestApp({ DB_PREPARED_STATEMENTS: 'true', LOGIN_RATE_LIMIT: '0', LOGIN_RATE_LIMIT_PER_IP: '0' }, logger);
    const user = await signUp(testApp.app);
    // Logins: each runs several statements, some in a transaction of their own (creates, with a session, broke already at the login).
    const statuses = await Promise.all(
      Array.from({ length: 100 }, () =>
        request(testApp.app)
          .post('/api/v1/login/access-token')
          .type('form')
          .send({ username: user.username, password: user.password })
          .then((response) => response.status),
      ),
    );
    expect(statuses.filter((status) => status !== 200).length).toBeGreaterThan(0);
    expect(lines.join('\n')).toMatch(/prepared statement \\"q_[0-9a-f]+\\" (already exists|does not exist)/);
  });
});
