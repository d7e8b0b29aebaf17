import type { Express } from 'express';
import request from 'supertest';
import { createApp } from '../src/app';
import { loadConfig } from '../src/config';
import { probePooler } from '../src/db/pooler-probe';
import { TEST_JWT_SECRET } from './support/app';
import { adminUrl, createMigratedDatabase, createTestDatabase, silentLogger, testDataSource, type TestDatabase } from './support/database';
import { afterTheBuild } from './support/npm-scripts';
import { pgbouncerMissing, startPgbouncer, type RunningPgbouncer } from './support/pgbouncer-process';
import { freePort, runToEnd, startProcess, waitFor, type RunningProcess } from './support/processes';
import { signUpAndLogIn } from './support/users';

/*
 * Debian's PgBouncer (1.18) in transaction pooling, started by this file in front of the test
 * server: each transaction may run on any server connection, so a statement prepared under a name
 * on one is missing on the next, and a session's advisory lock is lost after one statement.
 */

jest.setTimeout(120_000);

const missing = pgbouncerMissing();
const describeWithPgbouncer = missing ? describe.skip : describe;
if (missing) describe(`PgBouncer tests are skipped: ${missing}`, () => it.todo('install pgbouncer to run them'));

let database: TestDatabase;
let unmigrated: TestDatabase;
let closeDatabase: () => Promise<void>;
let pgbouncer: RunningPgbouncer;

describeWithPgbouncer('through PgBouncer', () => {
  beforeAll(async () => {
    ({ database, close: closeDatabase } = await createMigratedDatabase());
    unmigrated = await createTestDatabase();
    pgbouncer = await startPgbouncer(adminUrl(), [database.name, unmigrated.name]);
  });

  afterAll(async () => {
    await pgbouncer?.stop();
    await unmigrated?.drop();
    await closeDatabase?.();
  });

  describe('the pooler probe', () => {
    it.each([
      ['a direct connection', () => database.url, { sharesServerConnections: false, keepsNamedStatements: true }],
      ['PgBouncer in session pooling', () => pgbouncer.url(database.name, 'session'), { sharesServerConnections: false, keepsNamedStatements: true }],
      ['PgBouncer 1.18 in transaction pooling', () => pgbouncer.url(database.name), { sharesServerConnections: true, keepsNamedStatements: false }],
    ])('tells, ten times out of ten, what %s does with sessions and named statements', async (_name, url, expected) => {
      const dataSource = testDataSource(url());
      await dataSource.initialize();
      try {
        for (let i = 0; i < 10; i += 1) expect(await probePooler(dataSource)).toEqual(expected);
      } finally {
        await dataSource.destroy();
      }
    });
  });

  describe('the HTTP API with DB_PREPARED_STATEMENTS=false in transaction pooling', () => {
    let app: Express;
    let close: () => Promise<void>;

    beforeAll(async () => {
      const config = loadConfig({ NODE_ENV: 'test', BCRYPT_ROUNDS: '4', JWT_SECRET: TEST_JWT_SECRET, DB_PREPARED_STATEMENTS: 'false', DB_POOL_SIZE: '10' });
      const dataSource = testDataSource(pgbouncer.url(database.name), config);
      await dataSource.initialize();
      app = createApp({ config, dataSource, logger: silentLogger });
      close = () => dataSource.destroy();
    });

    afterAll(() => close?.());

    it('serves many callers at once, every statement on whichever server connection is free, without an error', async () => {
      const callers = await Promise.all(Array.from({ length: 8 }, () => signUpAndLogIn(app)));
      const statuses = await Promise.all(
        callers.map(async ({ tokens }) => {
          const auth = { Authorization: `Bearer ${tokens.access_token}` };
          const seen: number[] = [];
          for (let i = 0; i < 6; i += 1) {
            const created = await request(app)
              .post('/api/v1/tasks')
              .set(auth)
              .send({ title: `task ${i}` });
            seen.push(created.status);
            seen.push((await request(app).get(`/api/v1/tasks/${created.body.id}`).set(auth)).status);
            seen.push((await request(app).patch(`/api/v1/tasks/${created.body.id}`).set(auth).send({ completed: true })).status);
            seen.push((await request(app).get('/api/v1/tasks?completed=true&sort=-created_at').set(auth)).status);
          }
          const list = await request(app).get('/api/v1/tasks').set(auth);
          expect(list.body.count).toBe(6);
          return seen;
        }),
      );
      expect(new Set(statuses.flat())).toEqual(new Set([200, 201]));
    });
  });

  describe('the compiled service', () => {
    const serve = async (url: string, env: Record<string, string>) => {
      const port = await freePort();
      const service = startProcess('node', ['dist/src/server.js'], {
        DATABASE_URL: url,
        PORT: String(port),
        HOST: '127.0.0.1',
        NODE_ENV: 'test',
        JWT_SECRET: TEST_JWT_SECRET,
        LOG_FORMAT: 'json',
        MIGRATE_ON_START: 'false',
        ...env,
      });
      return { port, service };
    };

    /** The exit code of a service that must stop by itself; one still running after 30 s is killed and fails the test. */
    const exitCode = async (service: RunningProcess) => {
      const timer = setTimeout(() => service.child.kill('SIGKILL'), 30_000);
      const { code, signal } = await service.exited;
      clearTimeout(timer);
      expect(signal).toBeNull();
      return code;
    };

    it('refuses to start through transaction pooling with DB_PREPARED_STATEMENTS on, naming the variable', async () => {
      const { service } = await serve(pgbouncer.url(database.name), { DB_PREPARED_STATEMENTS: 'true' });
      expect(await exitCode(service)).toBe(1);
      expect(service.output()).toContain(
        'Could not start: DB_PREPARED_STATEMENTS: the database connection goes through a pooler in transaction mode that loses named prepared statements',
      );
      expect(service.output()).toContain('set DB_PREPARED_STATEMENTS=false');
    });

    it.each([
      ['through transaction pooling with DB_PREPARED_STATEMENTS=false', () => pgbouncer.url(database.name), 'false'],
      ['through session pooling with DB_PREPARED_STATEMENTS on', () => pgbouncer.url(database.name, 'session'), 'true'],
      ['on a direct connection with DB_PREPARED_STATEMENTS on', () => database.url, 'true'],
    ])('starts and serves %s', async (_name, url, prepared) => {
      const { port, service } = await serve(url(), { DB_PREPARED_STATEMENTS: prepared });
      try {
        await waitFor(async () => ((await fetch(`http://127.0.0.1:${port}/ready`)).status === 200 ? true : undefined), 30_000, '/ready').catch((error) => {
          throw new Error(`${error.message}\n${service.output()}`);
        });
        const signup = await fetch(`http://127.0.0.1:${port}/api/v1/users/signup`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ email: `served_${port}@example.com`, username: `served_${port}`, password: 'correct horse battery' }),
        });
        expect(signup.status).toBe(201);
      } finally {
        service.child.kill('SIGTERM');
        expect(await service.exited).toEqual({ code: 0, signal: null });
      }
    });

    it('refuses to migrate at start through transaction pooling, even with DB_PREPARED_STATEMENTS=false', async () => {
      const { service } = await serve(pgbouncer.url(unmigrated.name), { DB_PREPARED_STATEMENTS: 'false', MIGRATE_ON_START: 'true' });
      expect(await exitCode(service)).toBe(1);
      expect(service.output()).toContain('which would lose the advisory lock that keeps migrators apart: run migrations on a direct connection');
    });
  });

  describe('migration:run', () => {
    const tables = async (url: string) => {
      const dataSource = testDataSource(url);
      await dataSource.initialize();
      try {
        return (await dataSource.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).map(
          (row: { tablename: string }) => row.tablename,
        );
      } finally {
        await dataSource.destroy();
      }
    };

    it('refuses transaction pooling, saying why and what to do, and applies nothing; applies everything through session pooling', async () => {
      const refused = await runToEnd(...afterTheBuild('migration:run'), { DATABASE_URL: pgbouncer.url(unmigrated.name) });
      expect(refused.code).toBe(1);
      expect(refused.output).toContain('migration:run failed: the database connection goes through a pooler in transaction mode');
      expect(refused.output).toContain('run migrations on a direct connection to PostgreSQL');
      expect(await tables(unmigrated.url)).toEqual([]);

      const applied = await runToEnd(...afterTheBuild('migration:run'), { DATABASE_URL: pgbouncer.url(unmigrated.name, 'session') });
      expect(applied.code).toBe(0);
      expect(applied.output).toContain('Applied InitialSchema');
      expect(await tables(unmigrated.url)).toContain('login_attempt_counts');
    });
  });
});
