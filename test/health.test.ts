import request from 'supertest';
import { revertLastMigration, runPendingMigrations } from '../src/db/migrations';
import { itNeedsDirectConnection, withAdminClient } from './support/database';
import { createTestApp, type TestApp } from './support/app';

let testApp: TestApp;

beforeAll(async () => {
  testApp = await createTestApp();
});

afterAll(() => testApp.close());

describe('GET /health', () => {
  it('answers 200 {"status": "ok"} while the process runs', async () => {
    const response = await request(testApp.app).get('/health');
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(response.body).toEqual({ status: 'ok' });
  });
});

describe('GET /api/v1/utils/health-check/', () => {
  it('answers 200 true, like the Python design', async () => {
    const response = await request(testApp.app).get('/api/v1/utils/health-check/');
    expect(response.status).toBe(200);
    expect(response.text).toBe('true');
  });
});

describe('GET /ready', () => {
  it('answers 200 with the database ok when the database answers', async () => {
    const response = await request(testApp.app).get('/ready');
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ status: 'ok', database: 'ok' });
  });

  itNeedsDirectConnection('PgBouncer keeps the client connection and tries the server again on its own schedule (server_login_retry)')(
    'answers 503 with a detail while the database refuses connections, and 200 again once it is back',
    async () => {
      const name = testApp.database.name;
      await withAdminClient(async (admin) => {
        await admin.query(`ALTER DATABASE ${name} WITH ALLOW_CONNECTIONS false`);
        await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [name]);
      });
      try {
        const down = await request(testApp.app).get('/ready');
        expect(down.status).toBe(503);
        expect(down.body).toEqual({ detail: 'Database unavailable' });
      } finally {
        await withAdminClient((admin) => admin.query(`ALTER DATABASE ${name} WITH ALLOW_CONNECTIONS true`));
      }
      const up = await request(testApp.app).get('/ready');
      expect(up.status).toBe(200);
    },
  );
});

describe('an unknown route', () => {
  it('answers 404 with a JSON detail', async () => {
    const response = await request(testApp.app).get('/api/v1/no-such-thing');
    expect(response.status).toBe(404);
    expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(response.body).toEqual({ detail: 'Not Found' });
  });
});

describe('GET /ready on a database that lacks migrations this build has', () => {
  itNeedsDirectConnection('migrations refuse to run through a transaction-mode pooler (test/transaction-pooling.test.ts shows the refusal)')(
    'answers 503 saying how many are pending, then 200 without a restart once they are applied, and from then on asks only SELECT 1',
    async () => {
      const behind = await createTestApp();
      try {
        await revertLastMigration(behind.dataSource);
        await revertLastMigration(behind.dataSource);
        const stale = await request(behind.app).get('/ready');
        expect(stale.status).toBe(503);
        expect(stale.body).toEqual({ detail: '2 migrations pending: run migration:run' });

        await revertLastMigration(behind.dataSource);
        expect((await request(behind.app).get('/ready')).body).toEqual({ detail: '3 migrations pending: run migration:run' });

        await runPendingMigrations(behind.dataSource);
        expect((await request(behind.app).get('/ready')).status).toBe(200);

        const queries = jest.spyOn(behind.dataSource, 'query');
        for (let probe = 0; probe < 3; probe += 1) expect((await request(behind.app).get('/ready')).status).toBe(200);
        expect(queries.mock.calls.map(([sql]) => sql)).toEqual(['SELECT 1', 'SELECT 1', 'SELECT 1']);
      } finally {
        await behind.close();
      }
    },
  );
});
