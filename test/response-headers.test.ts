import type { Response } from 'supertest';
import request from 'supertest';
import { SECURITY_HEADERS } from '../src/http/security-headers';
import { DOCS_ASSETS } from '../src/openapi/docs.routes';
import { createTestApp, type TestApp } from './support/app';
import { listRoutes, readingStreamsBriefly, routeName, send, validInput, type Caller } from './support/routes';
import { signUpAndLogIn } from './support/users';

const ROUTES = listRoutes();
const CREATE_TASK = ROUTES.find((route) => route.method === 'post' && route.path === '/api/v1/tasks')!;

let testApp: TestApp;

beforeAll(async () => {
  testApp = await createTestApp({ LOGIN_RATE_LIMIT: '0', LOGIN_RATE_LIMIT_PER_IP: '0', CORS_ORIGINS: '' });
});

afterAll(() => testApp.close());

/** A user of its own with one task, so that a route that ends the session or the account leaves the others theirs. */
async function newCaller(): Promise<Caller> {
  const user = await signUpAndLogIn(testApp.app);
  const task = await send(testApp.app, CREATE_TASK, { params: {}, query: {}, body: { title: 'headers' } }, { auth: user.auth });
  return { auth: user.auth, taskId: task.body.id };
}

/** The header lines of a response as sent, names lower-cased, in order (a repeated header appears twice). */
function headerLines(response: Response): Array<[string, string]> {
  const raw = (response as unknown as { res: { rawHeaders: string[] } }).res.rawHeaders;
  const lines: Array<[string, string]> = [];
  for (let i = 0; i < raw.length; i += 2) lines.push([raw[i].toLowerCase(), raw[i + 1]]);
  return lines;
}

/** Every security header once (with helmet's value unless the response replaces it), the request id once, no header twice. */
function expectCompleteHeaders(response: Response, replaced: string[] = []): void {
  const lines = headerLines(response);
  const names = lines.map(([name]) => name);
  expect(names.filter((name, index) => names.indexOf(name) !== index)).toEqual([]);
  for (const [name, value] of SECURITY_HEADERS) {
    const line = lines.find(([sent]) => sent === name.toLowerCase());
    expect([name, line?.[1]]).toEqual([name, replaced.includes(name.toLowerCase()) ? expect.any(String) : value]);
  }
  expect(lines.find(([name]) => name === 'x-request-id')?.[1]).toMatch(/^[0-9a-f-]{36}$/);
}

describe('the headers of every route', () => {
  it.each(ROUTES.map((route) => [routeName(route), route] as const))(
    '%s: security headers and the request id, once each, on a valid request',
    async (_name, route) => {
      const caller = await newCaller();
      const response = await send(testApp.app, route, validInput(route, caller), { auth: route.auth ? caller.auth : undefined });
      expect(response.status).toBeLessThan(500);
      expectCompleteHeaders(response, route.path === '/docs' ? ['content-security-policy'] : []);
    },
  );

  it.each(ROUTES.filter((route) => route.auth).map((route) => [routeName(route), route] as const))('%s: the same on a 401', async (_name, route) => {
    const response = await send(testApp.app, route, validInput(route, { auth: { Authorization: 'Bearer x' }, taskId: crypto.randomUUID() }));
    expect(response.status).toBe(401);
    expectCompleteHeaders(response);
  });
});

describe('the headers of answers no handler writes', () => {
  const cases: Array<[string, () => request.Test]> = [
    ['an unknown path (404)', () => request(testApp.app).get('/nowhere')],
    ['a known path with another method (405)', () => request(testApp.app).put('/api/v1/users/me')],
    ['OPTIONS on a known path (204)', () => request(testApp.app).options('/api/v1/tasks')],
    ['a body that is not JSON (422)', () => request(testApp.app).post('/api/v1/users/signup').type('json').send('{')],
    ['a static file of the docs', () => request(testApp.app).get(`/docs/${DOCS_ASSETS.stylesheet}`)],
    ['a path under /docs that is not one of its files (404)', () => request(testApp.app).get('/docs/package.json')],
    ['HEAD of the health check', () => request(testApp.app).head('/health')],
  ];

  it.each(cases)('%s: security headers and the request id, once each', async (_name, send) => {
    expectCompleteHeaders(await send());
  });

  it('a 304 to If-None-Match, and a change stream, carry them too', async () => {
    const caller = await newCaller();
    const first = await request(testApp.app).get(`/api/v1/tasks/${caller.taskId}`).set(caller.auth);
    const notModified = await request(testApp.app).get(`/api/v1/tasks/${caller.taskId}`).set(caller.auth).set('If-None-Match', first.headers.etag);
    expect(notModified.status).toBe(304);
    expectCompleteHeaders(notModified);
    const stream = ROUTES.find((route) => route.streaming)!;
    const opened = await readingStreamsBriefly(stream, request(testApp.app).get(stream.path).set(caller.auth));
    expect(opened.headers['content-type']).toMatch(/^text\/event-stream/);
    expectCompleteHeaders(opened);
  });

  it('a handler header of the same name replaces the security header rather than doubling it', async () => {
    const page = await request(testApp.app).get('/docs');
    const csp = headerLines(page).filter(([name]) => name === 'content-security-policy');
    expect(csp).toHaveLength(1);
    expect(csp[0][1]).toContain("'sha256-");
  });
});
