import request from 'supertest';
import { withAdminClient } from './support/database';
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

  it('answers 503 with a detail while the database refuses connections, and 200 again once it is back', async () => {
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
  });
});

describe('an unknown route', () => {
  it('answers 404 with a JSON detail', async () => {
    const response = await request(testApp.app).get('/api/v1/no-such-thing');
    expect(response.status).toBe(404);
    expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(response.body).toEqual({ detail: 'Not Found' });
  });
});
