import pino from 'pino';
import request from 'supertest';
import { createTestApp, type TestApp } from './support/app';
import { signUpAndLogIn } from './support/users';

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

  it('breaks simultaneous requests when statements are prepared by name: each transaction may get another server connection', async () => {
    const logger = pino({ level: 'error' }, { write: (line: string) => lines.push(line) });
    testApp = await createTestApp({ DB_PREPARED_STATEMENTS: 'true' }, logger);
    const { auth } = await signUpAndLogIn(testApp.app);
    const statuses = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        request(testApp.app)
          .post('/api/v1/tasks')
          .set(auth)
          .send({ title: `task ${i}` })
          .then((response) => response.status),
      ),
    );
    expect(statuses.filter((status) => status !== 201).length).toBeGreaterThan(0);
    expect(lines.join('\n')).toMatch(/prepared statement \\"q_[0-9a-f]+\\" (already exists|does not exist)/);
  });
});
