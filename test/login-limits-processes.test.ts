import http from 'node:http';
import { TEST_JWT_SECRET } from './support/app';
import { createMigratedDatabase, type TestDatabase } from './support/database';
import { freePort, startProcess, waitFor, type RunningProcess } from './support/processes';
import { newUserFields } from './support/users';

/*
 * The login limits as several API processes see them: compiled services (node dist/src/server.js)
 * on one database, as separate processes and as one process with two workers. Each request opens
 * a connection of its own, so the workers of one process take turns.
 */

jest.setTimeout(120_000);

const FAILURE_LIMIT = 4;
const ADDRESS_LIMIT = 8;

let database: TestDatabase;
let closeDatabase: () => Promise<void>;
const running: RunningProcess[] = [];

beforeAll(async () => {
  ({ database, close: closeDatabase } = await createMigratedDatabase());
});

afterAll(async () => {
  await Promise.all(
    running.map(async (service) => {
      if (service.child.exitCode === null && service.child.signalCode === null) service.child.kill('SIGTERM');
      await service.exited;
    }),
  );
  await closeDatabase();
});

/** A compiled service on the test database; behind "loopback" proxies, so each test sends from addresses of its own (X-Forwarded-For). */
async function startService(env: Record<string, string> = {}): Promise<{ port: number; service: RunningProcess }> {
  const port = await freePort();
  const service = startProcess('node', ['dist/src/server.js'], {
    DATABASE_URL: database.url,
    PORT: String(port),
    HOST: '127.0.0.1',
    NODE_ENV: 'test',
    JWT_SECRET: TEST_JWT_SECRET,
    BCRYPT_ROUNDS: '4',
    MIGRATE_ON_START: 'false',
    LOG_FORMAT: 'json',
    LOG_LEVEL: 'info',
    TRUST_PROXY: 'loopback',
    LOGIN_RATE_LIMIT: String(FAILURE_LIMIT),
    LOGIN_RATE_LIMIT_PER_IP: String(ADDRESS_LIMIT),
    ...env,
  });
  running.push(service);
  await waitFor(async () => ((await send(port, 'GET', '/ready')).status === 200 ? true : undefined), 60_000, `/ready on port ${port}`).catch((error) => {
    throw new Error(`${error.message}\n${service.output()}`);
  });
  return { port, service };
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: unknown;
}

/** One request on a connection of its own. */
function send(port: number, method: string, path: string, body?: object, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent: false,
        headers: { Connection: 'close', ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) } : {}), ...headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text ? JSON.parse(text) : undefined }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const login = (port: number, address: string, username: string, password: string) =>
  send(port, 'POST', '/api/v1/login/access-token', { username, password }, { 'X-Forwarded-For': address });

async function signUp(port: number) {
  const fields = newUserFields();
  const response = await send(port, 'POST', '/api/v1/users/signup', fields);
  if (response.status !== 201) throw new Error(`signup failed: ${response.status} ${JSON.stringify(response.body)}`);
  return fields;
}

/** An address of its own for each test, so the per-address counts of one test do not reach the next (all share one database). */
let addressesUsed = 0;
const newAddress = () => `198.51.100.${(addressesUsed += 1)}`;

/** Pids of the processes whose request log lines carry these request ids. */
/**
 * The processes whose request log lines name these answers' request ids. Request lines are written
 * in batches (at least every 50 ms): it waits until every answer's line is out.
 */
async function answeredBy(service: RunningProcess, answers: Answer[]): Promise<Set<number>> {
  const ids = new Set(answers.map((answer) => answer.headers['x-request-id']));
  return waitFor(
    async () => {
      const pids = new Map<string, number>();
      for (const match of service.output().matchAll(/^\{"level":\d+,"time":\d+,"pid":(\d+),[^\n]*"requestId":"([^"]+)"/gm)) {
        if (ids.has(match[2])) pids.set(match[2], Number(match[1]));
      }
      return pids.size === ids.size ? new Set(pids.values()) : undefined;
    },
    5_000,
    'the request lines of the answers',
  );
}

/**
 * A burst of parallel wrong guesses at one account from one address, spread over `ports`: exactly
 * `FAILURE_LIMIT` are checked (answered 400), every other one is refused before any check (429).
 */
async function expectBurstCappedAtTheLimit(ports: number[]): Promise<Answer[]> {
  const user = await signUp(ports[0]);
  const address = newAddress();
  const guesses = await Promise.all(Array.from({ length: 30 }, (_, i) => login(ports[i % ports.length], address, user.username, `guess-${i}`)));
  const statuses = guesses.map((guess) => guess.status);
  expect(statuses.filter((status) => status === 400)).toHaveLength(FAILURE_LIMIT);
  expect(statuses.filter((status) => status === 429)).toHaveLength(30 - FAILURE_LIMIT);
  for (const port of ports) expect((await login(port, address, user.username, user.password)).status).toBe(429);
  return guesses;
}

describe('two service processes on one database', () => {
  let ports: number[];

  beforeAll(async () => {
    ports = (await Promise.all([startService(), startService()])).map(({ port }) => port);
  });

  it('refuse an account at the limit of failures split between them, the right password included, on both', async () => {
    const user = await signUp(ports[0]);
    const address = newAddress();
    for (let i = 0; i < FAILURE_LIMIT; i += 1) expect((await login(ports[i % 2], address, i % 2 ? user.email : user.username, 'wrong')).status).toBe(400);
    for (const port of ports) {
      const refused = await login(port, address, user.username, user.password);
      expect(refused.status).toBe(429);
      expect(refused.body).toEqual({ detail: 'Too many login attempts; try again later' });
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60);
    }
    // The same account from another address is counted apart.
    expect((await login(ports[1], newAddress(), user.username, user.password)).status).toBe(200);
  });

  it('refuse an address at the limit of attempts split between them, whatever the names', async () => {
    const user = await signUp(ports[1]);
    const address = newAddress();
    for (let i = 0; i < ADDRESS_LIMIT; i += 1) expect((await login(ports[i % 2], address, `nobody_${i}`, 'x')).status).toBe(400);
    for (const port of ports) expect((await login(port, address, user.username, user.password)).status).toBe(429);
  });

  it('check at most the limit of passwords from a parallel burst spread over both, counted from outside as the 400 answers', async () => {
    await expectBurstCappedAtTheLimit(ports);
  });
});

describe('one service process with WEB_CONCURRENCY=2', () => {
  let port: number;
  let service: RunningProcess;

  beforeAll(async () => {
    ({ port, service } = await startService({ WEB_CONCURRENCY: '2' }));
    await waitFor(
      async () => ((service.output().match(/Listening on http:\/\/[^ ]+ \(worker \d+\)/g) ?? []).length === 2 ? true : undefined),
      30_000,
      'two workers',
    );
  });

  it('refuses an account at the limit of failures answered by both workers', async () => {
    const user = await signUp(port);
    const address = newAddress();
    const failures: Answer[] = [];
    for (let i = 0; i < FAILURE_LIMIT; i += 1) failures.push(await login(port, address, user.username, 'wrong'));
    expect(failures.map((failure) => failure.status)).toEqual(Array(FAILURE_LIMIT).fill(400));
    expect((await answeredBy(service, failures)).size).toBe(2);
    const refusals: Answer[] = [];
    for (let i = 0; i < 4; i += 1) refusals.push(await login(port, address, user.username, user.password));
    expect(refusals.map((refusal) => refusal.status)).toEqual([429, 429, 429, 429]);
    expect((await answeredBy(service, refusals)).size).toBe(2);
  });

  it('checks at most the limit of passwords from a parallel burst over both workers', async () => {
    const guesses = await expectBurstCappedAtTheLimit([port]);
    expect((await answeredBy(service, guesses)).size).toBe(2);
  });
});
