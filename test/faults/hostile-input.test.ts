import fc from 'fast-check';
import request from 'supertest';
import { routeTable } from '../../src/app';
import { loadConfig } from '../../src/config';
import type { AnyRoute } from '../../src/http/route';
import { createTestApp, TEST_JWT_SECRET, type TestApp } from '../support/app';
import { silentLogger } from '../support/database';
import { signUpAndLogIn } from '../support/users';

jest.setTimeout(300_000);

const RUNS = Number(process.env.FUZZ_RUNS ?? 200);

let testApp: TestApp;
let routes: AnyRoute[];

beforeAll(async () => {
  testApp = await createTestApp({ LOGIN_RATE_LIMIT: '0', LOGIN_RATE_LIMIT_PER_IP: '0' });
  const config = loadConfig({ NODE_ENV: 'test', JWT_SECRET: TEST_JWT_SECRET });
  routes = routeTable({ config, dataSource: testApp.dataSource, logger: silentLogger }).routes;
});

afterAll(() => testApp.close());

/** Everything a rejected request must leave as it was. */
async function fingerprint(): Promise<string> {
  const [row] = await testApp.dataSource.query(`
    SELECT (SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY id), '')) FROM tasks t) AS tasks,
           (SELECT md5(coalesce(string_agg(u::text, ',' ORDER BY id), '')) FROM users u) AS users,
           (SELECT md5(coalesce(string_agg(s::text, ',' ORDER BY id), '')) FROM sessions s) AS sessions`);
  return JSON.stringify(row);
}

const PROTO_KEYS = ['__proto__', 'constructor', 'prototype'];
const printable = (maxLength: number) => fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)), maxLength });
const nasty = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('', ' ', '\u0000', '../../etc/passwd', "'; DROP TABLE tasks; --", '%00', '%', '\uD800', '\uFEFF', 'null', 'true', '-1', '1e309', 'NaN', '9'.repeat(40)),
);
const jsonValue = fc.jsonValue({ maxDepth: 4 });
const deeplyNested = fc.integer({ min: 50, max: 2000 }).map((depth) => '['.repeat(depth) + ']'.repeat(depth));

interface Scenario {
  route: AnyRoute;
  ownTaskId: string;
  trashedTaskId: string;
  authorization: string;
}

function requestArbitrary({ ownTaskId, trashedTaskId, authorization }: Scenario) {
  const fields = ['title', 'description', 'completed', 'due_date', 'email', 'username', 'password', 'current_password', 'new_password', 'refresh_token', 'grant_type', 'id', 'user_id', 'deleted_at', ...PROTO_KEYS];
  const queryKeys = ['skip', 'limit', 'completed', 'due_before', 'due_after', 'q', 'sort', ...PROTO_KEYS];
  // Path segments as a client would put them on the wire: percent-encoded, and sometimes broken escapes.
  const id = fc.oneof(
    fc.constantFrom(ownTaskId, trashedTaskId, '00000000-0000-4000-8000-000000000000'),
    fc.uuid(),
    nasty.map((text) => encodeURIComponent(text.replace(/[\uD800-\uDFFF]/g, "\uFFFD"))),
    fc.constantFrom('%', '%E0%A4%A', '%C0%AF', '%2e%2e%2f', '%FF%FE', 'a%00b'),
  );
  const query = fc.dictionary(fc.oneof(fc.constantFrom(...queryKeys), printable(10)), fc.oneof(nasty, fc.array(printable(10), { maxLength: 3 })), { maxKeys: 5 });
  const objectBody = fc
    .dictionary(fc.oneof(fc.constantFrom(...fields), fc.string({ maxLength: 10 })), jsonValue, { maxKeys: 6 })
    .map((body) => JSON.stringify(body));
  const protoBody = fc
    .tuple(fc.constantFrom(...PROTO_KEYS), jsonValue)
    .map(([key, value]) => `{"title": "x", "${key}": ${JSON.stringify(value ?? null)}, "polluted": {"__proto__": {"isAdmin": true}}}`);
  const body = fc.oneof(
    objectBody,
    protoBody,
    jsonValue.map((value) => JSON.stringify(value)),
    deeplyNested,
    nasty,
    fc.constant(`{"title": "${'x'.repeat(120 * 1024)}"}`),
    fc.constant(undefined),
  );
  const contentType = fc.constantFrom('application/json', 'application/json; charset=utf-8', 'application/x-www-form-urlencoded', 'text/plain', 'application/json; charset=latin1', undefined);
  const auth = fc.oneof(fc.constant(authorization), fc.constant(undefined), printable(80), printable(60).map((token) => `Bearer ${token}`));
  const ifMatch = fc.option(printable(30), { nil: undefined });
  return fc.record({ id, query, body, contentType, auth, ifMatch, requestId: fc.option(printable(200), { nil: undefined }) });
}

function isContractError(status: number, body: unknown): boolean {
  if (typeof body !== 'object' || body === null) return false;
  const { detail } = body as { detail: unknown };
  if (status !== 422) return typeof detail === 'string' && detail.length > 0;
  return (
    Array.isArray(detail) &&
    detail.length > 0 &&
    detail.every(
      (issue) =>
        Array.isArray(issue.loc) && ['body', 'query', 'path'].includes(issue.loc[0]) && typeof issue.msg === 'string' && typeof issue.type === 'string',
    )
  );
}

describe('hostile input on every route', () => {
  it('covers every route of the table', () => {
    expect(routes.length).toBeGreaterThanOrEqual(24);
  });

  it.each([
    'get /health', 'get /ready', 'get /metrics', 'get /api/v1/openapi.json', 'get /docs', 'get /api/v1/utils/health-check/',
    'post /api/v1/login/access-token', 'post /api/v1/login/refresh', 'post /api/v1/login/test-token', 'post /api/v1/logout',
    'post /api/v1/users/signup', 'get /api/v1/users/me', 'patch /api/v1/users/me', 'delete /api/v1/users/me', 'patch /api/v1/users/me/password',
    'get /api/v1/tasks', 'post /api/v1/tasks', 'get /api/v1/tasks/trash', 'get /api/v1/tasks/:id', 'patch /api/v1/tasks/:id',
    'put /api/v1/tasks/:id', 'delete /api/v1/tasks/:id', 'post /api/v1/tasks/:id/restore', 'delete /api/v1/tasks/:id/permanent',
  ])(`%s: ${RUNS} random requests, never a 500, always the contract's error shape, nothing written when rejected`, async (name) => {
    const route = routes.find((candidate) => `${candidate.method} ${candidate.path}` === name)!;
    expect(route).toBeDefined();
    const owner = await signUpAndLogIn(testApp.app);
    const ownTask = await request(testApp.app).post('/api/v1/tasks').set(owner.auth).send({ title: 'fuzz target' });
    const trashed = await request(testApp.app).post('/api/v1/tasks').set(owner.auth).send({ title: 'fuzz trash' });
    await request(testApp.app).delete(`/api/v1/tasks/${trashed.body.id}`).set(owner.auth).expect(204);
    const scenario = { route, ownTaskId: ownTask.body.id, trashedTaskId: trashed.body.id, authorization: owner.auth.Authorization };

    await fc.assert(
      fc.asyncProperty(requestArbitrary(scenario), async (input) => {
        const path = route.path.replace(':id', input.id);
        const search = new URLSearchParams();
        for (const [key, value] of Object.entries(input.query)) for (const item of [value].flat()) search.append(key, item);
        const before = await fingerprint();
        let pending = request(testApp.app)[route.method](`${path}${search.size ? `?${search}` : ''}`);
        if (input.auth !== undefined) pending = pending.set('Authorization', input.auth);
        if (input.ifMatch !== undefined) pending = pending.set('If-Match', input.ifMatch);
        if (input.requestId !== undefined) pending = pending.set('X-Request-Id', input.requestId);
        if (input.contentType !== undefined) pending = pending.set('Content-Type', input.contentType);
        const response = input.body === undefined ? await pending : await pending.send(input.body);

        expect(response.status).toBeLessThan(500);
        if (response.status >= 400) {
          expect({ status: response.status, body: response.body, shaped: isContractError(response.status, response.body) }).toMatchObject({ shaped: true });
          expect(await fingerprint()).toBe(before);
        }
        expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
        expect(Object.prototype).not.toHaveProperty('polluted');
      }),
      { numRuns: RUNS },
    );
  });
});
