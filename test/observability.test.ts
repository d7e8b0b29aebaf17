import pino from 'pino';
import request from 'supertest';
import { createTestApp, type TestApp } from './support/app';
import { bearer, newUserFields } from './support/users';

const lines: string[] = [];
let testApp: TestApp;

beforeAll(async () => {
  const logger = pino({ level: 'trace' }, { write: (line: string) => lines.push(line) });
  testApp = await createTestApp({ SLOW_QUERY_MS: '20' }, logger);
});

afterAll(() => testApp.close());

const requestLines = () => lines.map((line) => JSON.parse(line)).filter((entry) => entry.requestId && entry.status);

describe('the request log', () => {
  it('writes one JSON line per request with its id, method, route template, status, duration and user', async () => {
    const fields = newUserFields();
    await request(testApp.app).post('/api/v1/users/signup').send(fields).expect(201);
    const login = await request(testApp.app).post('/api/v1/login/access-token').type('form').send({ username: fields.username, password: fields.password });
    const before = requestLines().length;
    const created = await request(testApp.app)
      .post('/api/v1/tasks')
      .set(bearer(login.body.access_token))
      .set('X-Request-Id', 'trace-me-123')
      .send({ title: 'logged' });

    expect(created.headers['x-request-id']).toBe('trace-me-123');
    await request(testApp.app).get(`/api/v1/tasks/${created.body.id}`).set(bearer(login.body.access_token)).expect(200);
    const [post, get] = requestLines().slice(before);
    expect(post).toMatchObject({ requestId: 'trace-me-123', method: 'POST', route: '/api/v1/tasks', status: 201, userId: created.body.user_id, level: 30 });
    expect(post.durationMs).toEqual(expect.any(Number));
    expect(get).toMatchObject({ method: 'GET', route: '/api/v1/tasks/:id', path: `/api/v1/tasks/${created.body.id}`, status: 200 });
    expect(get.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('replaces an unusable X-Request-Id with a fresh one', async () => {
    const response = await request(testApp.app).get('/health').set('X-Request-Id', 'bad id\twith "quotes"');
    expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('logs queries slower than SLOW_QUERY_MS with their duration, and not their parameters', async () => {
    await testApp.dataSource.query('SELECT pg_sleep(0.05), $1::text AS secret_parameter', ['do-not-log-me']);
    const slow = lines.map((line) => JSON.parse(line)).filter((entry) => entry.msg?.startsWith('slow query'));
    expect(slow.length).toBeGreaterThan(0);
    expect(slow.at(-1)).toMatchObject({ level: 40, durationMs: expect.any(Number), query: expect.stringContaining('pg_sleep') });
    expect(slow.at(-1).durationMs).toBeGreaterThanOrEqual(50);
    expect(lines.join('')).not.toContain('do-not-log-me');
  });

  it('never contains a password, a token, an Authorization header or a password hash, through signup, login, refresh and a password change', async () => {
    const fields = newUserFields({ password: 'Sup3r-Secret-Passw0rd' });
    const newPassword = 'An0ther-Secret-Passw0rd';
    await request(testApp.app).post('/api/v1/users/signup').send(fields).expect(201);
    const form = await request(testApp.app).post('/api/v1/login/access-token').type('form').send({ username: fields.username, password: fields.password });
    const json = await request(testApp.app).post('/api/v1/login/access-token').send({ username: fields.email, password: fields.password });
    await request(testApp.app).post('/api/v1/login/access-token').type('form').send({ username: fields.username, password: 'Wr0ng-Guess-Secret' }).expect(400);
    const refreshed = await request(testApp.app).post('/api/v1/login/refresh').send({ refresh_token: form.body.refresh_token });
    await request(testApp.app).post('/api/v1/login/refresh').send({ refresh_token: form.body.refresh_token }).expect(401);
    await request(testApp.app).get('/api/v1/users/me').set(bearer(json.body.access_token)).expect(200);
    await request(testApp.app)
      .patch('/api/v1/users/me/password')
      .set(bearer(json.body.access_token))
      .send({ current_password: fields.password, new_password: newPassword })
      .expect(200);
    const [{ hashed_password: hash }] = await testApp.dataSource.query('SELECT hashed_password FROM users WHERE username = $1', [fields.username]);

    const secrets = [
      fields.password,
      newPassword,
      'Wr0ng-Guess-Secret',
      form.body.access_token,
      form.body.refresh_token.split('.')[1],
      json.body.access_token,
      refreshed.body.access_token,
      refreshed.body.refresh_token.split('.')[1],
      hash,
      'Bearer',
      'authorization',
    ];
    const log = lines.join('\n');
    expect(lines.length).toBeGreaterThan(10);
    for (const secret of secrets) expect([secret, log.toLowerCase().includes(secret.toLowerCase())]).toEqual([secret, false]);
  });
});

describe('GET /metrics', () => {
  it('counts requests and times them by method, route template and status, never by raw path', async () => {
    const missing = '00000000-0000-4000-8000-000000000000';
    await request(testApp.app).get(`/api/v1/tasks/${missing}`).expect(401);
    await request(testApp.app).get('/no/such/route').expect(404);
    const metrics = (await request(testApp.app).get('/metrics').expect(200)).text;

    expect(metrics).toContain('http_requests_total{method="GET",route="/api/v1/tasks/:id",status="401"} 1');
    expect(metrics).toMatch(/http_request_duration_seconds_bucket\{le="0.005",method="POST",route="\/api\/v1\/tasks",status="201"\} \d+/);
    expect(metrics).toContain('route="unmatched",status="404"');
    expect(metrics).not.toContain(missing);
    expect(metrics).not.toContain('/no/such/route');
  });

  it('reports the database pool and the process', async () => {
    const metrics = (await request(testApp.app).get('/metrics')).text;
    for (const name of [
      'db_pool_connections',
      'db_pool_idle_connections',
      'db_pool_waiting_requests',
      'db_pool_max_connections 10',
      'process_cpu_user_seconds_total',
      'nodejs_heap_size_used_bytes',
    ]) {
      expect(metrics).toContain(name);
    }
    expect(metrics).toMatch(/db_pool_connections [1-9]/);
  });
});
