import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { Client } from 'pg';
import { parse } from 'yaml';
import { runPendingMigrations } from '../src/db/migrations';
import { createTestDatabase, testDataSource, type TestDatabase } from './support/database';
import { startDnsServer, type DnsServer } from './support/dns-server';
import { LOAD_BALANCER_TEMPLATE, NGINX, renderTemplate, startNginx, type RunningNginx } from './support/nginx';
import { freePort, projectRoot, startProcess, waitFor, type RunningProcess } from './support/processes';
import { rawExchange } from './support/raw-http';
import { listRoutes } from './support/routes';

/**
 * `docker compose up --scale api=N` puts nginx, configured by deploy/nginx/templates, in front of
 * the api replicas. Docker is not here, so this runs the same template on Debian's nginx with
 * stand-ins for what Docker provides: a DNS server on loopback that answers a name with one address
 * per replica (as Docker's 127.0.0.11 does), and replicas on addresses of their own (127.0.0.2,
 * 127.0.0.3, …) sharing one port (as containers share 8000). Only the template's three variables
 * differ from the compose file: the listening port, the resolver's address and the upstream name
 * and port. Not exercised: Docker's DNS itself, the image's envsubst step, compose's healthchecks.
 */

const haveNginx = fs.existsSync(NGINX);
if (!haveNginx) {
  console.warn(
    `\n${'!'.repeat(78)}\n!! SKIPPED: the load balancer tests need nginx at ${NGINX}.\n` +
      `!! Install it (apt-get install nginx) or set NGINX_PATH.\n${'!'.repeat(78)}\n`,
  );
}

jest.setTimeout(120_000);

const compose = parse(fs.readFileSync(path.join(projectRoot, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, { environment: Record<string, string> }>;
};
const template = fs.readFileSync(LOAD_BALANCER_TEMPLATE, 'utf8');

const REPLICAS = ['127.0.0.2', '127.0.0.3'];
/** Accepts a request, reads it, and closes the connection without answering: a replica dying mid-request. */
const DROPPING = '127.0.0.4';
/** Answers every request with the headers it received. */
const ECHO = '127.0.0.5';
/** Nothing listens there: a replica that is gone. */
const GONE = '127.0.0.6';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One HTTP request, optionally from a given loopback address (a different client, as nginx sees it). */
function send(port: number, method: string, target: string, options: { headers?: Record<string, string>; body?: string; from?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: target, headers: options.headers, localAddress: options.from, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

const newRequestId = () => crypto.randomBytes(8).toString('hex');

let database: TestDatabase;
let dns: DnsServer;
let apiPort: number;
const replicas: RunningProcess[] = [];

/** Which replicas logged the request with this id (each logs one JSON line per request). */
const servedBy = (requestId: string) => replicas.flatMap((replica, index) => (replica.output().includes(`"requestId":"${requestId}"`) ? [index] : []));

/** Waits for the replicas' log lines of these requests: a replica writes its line just after answering. */
async function logged(requestIds: string[]): Promise<void> {
  await waitFor(async () => (requestIds.every((id) => servedBy(id).length) ? true : undefined), 10_000, 'the replicas’ log lines').catch(() => undefined);
}

/** nginx rendered from the template, resolving `name` (answered with `addresses`) through the stand-in DNS. */
async function startLoadBalancer(name: string, addresses: string[]): Promise<RunningNginx> {
  dns.answer(name, addresses);
  const port = await freePort();
  return startNginx(renderTemplate(template, { LISTEN_PORT: String(port), DNS_RESOLVER: dns.address, API_UPSTREAM: `${name}:${apiPort}` }), port);
}

async function startReplica(host: string): Promise<RunningProcess> {
  const replica = startProcess('node', ['dist/src/server.js'], {
    TRUST_PROXY: compose.services.api.environment.TRUST_PROXY,
    MIGRATE_ON_START: compose.services.api.environment.MIGRATE_ON_START,
    NODE_ENV: 'production',
    DATABASE_URL: database.url,
    JWT_SECRET: 'load-balancer-test-secret-0123456789abcdefghij',
    BCRYPT_ROUNDS: '10',
    LOGIN_RATE_LIMIT_PER_IP: '2',
    HOST: host,
    PORT: String(apiPort),
    LOG_FORMAT: 'json',
    LOG_LEVEL: 'info',
  });
  await waitFor(
    async () => ((await fetch(`http://${host}:${apiPort}/ready`)).status === 200 ? true : undefined),
    60_000,
    `the replica on ${host}:${apiPort}`,
  ).catch((error) => {
    replica.child.kill('SIGKILL');
    throw new Error(`${error.message}\n${replica.output()}`);
  });
  return replica;
}

async function countTasks(where: string): Promise<number> {
  const client = new Client({ connectionString: database.url });
  await client.connect();
  try {
    return (await client.query(`SELECT count(*)::int AS count FROM tasks WHERE ${where}`)).rows[0].count;
  } finally {
    await client.end();
  }
}

const describeWithNginx = haveNginx ? describe : describe.skip;

beforeAll(async () => {
  if (!haveNginx) return;
  database = await createTestDatabase();
  const migrator = testDataSource(database.url);
  await migrator.initialize();
  await runPendingMigrations(migrator);
  await migrator.destroy();
  dns = await startDnsServer();
  apiPort = await freePort();
  for (const host of REPLICAS) replicas.push(await startReplica(host));
});

afterAll(async () => {
  if (!haveNginx) return;
  for (const replica of replicas) {
    if (replica.child.exitCode === null && replica.child.signalCode === null) replica.child.kill('SIGTERM');
    await replica.exited;
  }
  await dns?.close();
  await database?.drop();
});

describeWithNginx('the load balancer in front of two replicas', () => {
  let lb: RunningNginx;
  beforeAll(async () => (lb = await startLoadBalancer('api', REPLICAS)));
  afterAll(() => lb?.stop());

  it('spreads requests over every address the name resolves to, keeping the caller’s X-Request-Id', async () => {
    const requestIds = Array.from({ length: 40 }, newRequestId);
    for (const requestId of requestIds) {
      const reply = await send(lb.port, 'GET', '/health', { headers: { 'X-Request-Id': requestId } });
      expect([reply.status, reply.headers['x-request-id']]).toEqual([200, requestId]);
    }
    await logged(requestIds);
    const served = requestIds.map(servedBy);
    expect(served.filter((replicas) => replicas.length !== 1)).toEqual([]);
    expect(new Set(served.flat())).toEqual(new Set([0, 1]));
  });

  it('gives a request without X-Request-Id one of its own, the same in its access log and in the replica’s log', async () => {
    const reply = await send(lb.port, 'GET', '/health');
    const requestId = reply.headers['x-request-id'] as string;
    expect(requestId).toMatch(/^[0-9a-f]{32}$/);
    await logged([requestId]);
    expect(servedBy(requestId)).toHaveLength(1);
    await waitFor(async () => (lb.accessLog().includes(`request_id=${requestId}`) ? true : undefined), 5_000, 'the access log line');
  });

  it('counts login attempts by the client’s own address (TRUST_PROXY of the compose file: one hop), not the load balancer’s', async () => {
    expect(compose.services.api.environment.TRUST_PROXY).toBe('1');
    const attempt = (from: string, requestId: string) =>
      send(lb.port, 'POST', '/api/v1/login/access-token', {
        from,
        // What a client sends to pick the address it is counted under: ignored, nginx appends the real one.
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Forwarded-For': '203.0.113.7', 'X-Request-Id': requestId },
        body: 'username=nobody&password=wrong-password',
      });
    // Until every replica has refused the first client, so none of them has room left under a shared key.
    const refusedBy = new Set<number>();
    for (let i = 0; i < 30 && refusedBy.size < replicas.length; i++) {
      const requestId = newRequestId();
      const reply = await attempt('127.0.0.9', requestId);
      if (reply.status === 429) {
        await logged([requestId]);
        servedBy(requestId).forEach((replica) => refusedBy.add(replica));
      } else expect(reply.status).toBe(400);
    }
    expect(refusedBy.size).toBe(replicas.length);
    expect((await attempt('127.0.0.10', newRequestId())).status).toBe(400);
  });

  it('lets the service answer an oversized body itself, with its own limit and request id', async () => {
    const reply = await send(lb.port, 'POST', '/api/v1/users/signup', {
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email: 'big@example.com', username: 'big', password: 'x'.repeat(200_000) }),
    });
    expect(reply.status).toBe(413);
    expect(JSON.parse(reply.body).detail).toMatch(/^Request body too large \(limit \d+ KiB\)$/);
    await logged([reply.headers['x-request-id'] as string]);
    expect(servedBy(reply.headers['x-request-id'] as string)).toHaveLength(1);
  });
});

describeWithNginx('what the load balancer sends a replica', () => {
  let lb: RunningNginx;
  let echo: http.Server;
  beforeAll(async () => {
    echo = http.createServer((req, res) => res.setHeader('Content-Type', 'application/json').end(JSON.stringify(req.headers)));
    await new Promise<void>((resolve) => echo.listen(apiPort, ECHO, resolve));
    lb = await startLoadBalancer('echo', [ECHO]);
  });
  afterAll(async () => {
    await lb?.stop();
    await new Promise((resolve) => echo?.close(resolve));
  });

  it('appends the client’s address to X-Forwarded-For, says the scheme, and keeps the Host the client asked for', async () => {
    const reply = await send(lb.port, 'GET', '/anything?x=1', { from: '127.0.0.9', headers: { Host: 'todo.example.com', 'X-Forwarded-For': '203.0.113.7' } });
    const received = JSON.parse(reply.body);
    expect(received).toMatchObject({ 'x-forwarded-for': '203.0.113.7, 127.0.0.9', 'x-forwarded-proto': 'http', host: 'todo.example.com' });
    expect(received['x-request-id']).toMatch(/^[0-9a-f]{32}$/);
  });

  it('answers a body over its own limit itself, with the contract’s JSON error, before reading it', async () => {
    const reply = await rawExchange(lb.port, [
      'POST /api/v1/tasks HTTP/1.1\r\nHost: todo.example.com\r\nContent-Type: application/json\r\nContent-Length: 2097152\r\nConnection: close\r\n\r\n',
    ]);
    expect([reply.status, reply.headers['content-type'], JSON.parse(reply.body)]).toEqual([413, 'application/json', { detail: 'Request body too large' }]);
  });
});

describeWithNginx('a replica that drops a request it has received', () => {
  const received = new Set<string>();
  let dropping: net.Server;
  let lb: RunningNginx;
  beforeAll(async () => {
    dropping = net.createServer((socket) => {
      let head = '';
      socket.on('data', (chunk) => {
        head += chunk.toString('latin1');
        if (!head.includes('\r\n\r\n')) return;
        const requestId = /^x-request-id: *(\S+)/im.exec(head)?.[1];
        if (requestId) received.add(requestId);
        socket.destroy();
      });
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => dropping.listen(apiPort, DROPPING, resolve));
    lb = await startLoadBalancer('dropping', [DROPPING, REPLICAS[0]]);
  });
  afterAll(async () => {
    await lb?.stop();
    await new Promise((resolve) => dropping?.close(resolve));
  });

  /** Every route of the route table four times (GET routes with HEAD too), from a client of its own: the replica's answer, or nginx's 502. */
  async function sendEveryRoute() {
    const sent: Array<{ method: string; requestId: string; status: number }> = [];
    const methods = listRoutes().flatMap((route) => {
      const method = route.method.toUpperCase();
      return (method === 'GET' ? ['GET', 'HEAD'] : [method]).map((each) => ({ method: each, path: route.path }));
    });
    for (const { method, path: routePath } of methods)
      for (let i = 0; i < 4; i++) {
        const requestId = newRequestId();
        const target = routePath.replace(/:\w+/g, () => crypto.randomUUID());
        const reply = await send(lb.port, method, target, {
          from: '127.0.0.11',
          headers: { 'X-Request-Id': requestId, 'Content-Type': 'application/json' },
          body: method === 'GET' || method === 'HEAD' ? undefined : '{}',
        });
        sent.push({ method, requestId, status: reply.status });
      }
    return sent;
  }

  it('passes GET, HEAD, PUT and DELETE on to the other replica, but answers a POST or PATCH it sent there 502, never sending it twice', async () => {
    const sent = await sendEveryRoute();
    const nonIdempotent = (method: string) => method === 'POST' || method === 'PATCH';
    // The healthy replica logs in order, so once the last of them is there, a request it never logged it never saw.
    await logged(sent.filter(({ status }) => status !== 502).map(({ requestId }) => requestId));
    for (const { method, requestId, status } of sent) {
      const answered = status === 502 ? 'by nginx: 502' : 'by the replica';
      const actual = { method, answered, servedBy: servedBy(requestId) };
      const expected =
        received.has(requestId) && nonIdempotent(method) ? { answered: 'by nginx: 502', servedBy: [] } : { answered: 'by the replica', servedBy: [0] };
      expect(actual).toEqual({ method, ...expected });
    }
    // Both kinds did reach the replica that drops them, so the rule was exercised for each.
    const dropped = sent.filter(({ requestId }) => received.has(requestId));
    expect(new Set(dropped.map(({ method }) => nonIdempotent(method)))).toEqual(new Set([true, false]));
  });
});

describeWithNginx('a replica that is gone', () => {
  let lb: RunningNginx;
  beforeAll(async () => (lb = await startLoadBalancer('gone', [GONE, REPLICAS[0]])));
  afterAll(() => lb?.stop());

  it('is passed over for every request, writes too: a refused connection carried nothing', async () => {
    await send(lb.port, 'POST', '/api/v1/users/signup', {
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email: 'gone@example.com', username: 'gone', password: 'correct horse battery' }),
    });
    const login = await send(lb.port, 'POST', '/api/v1/login/access-token', {
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'username=gone&password=correct horse battery',
    });
    expect(login.status).toBe(200);
    const auth = { Authorization: `Bearer ${JSON.parse(login.body).access_token}`, 'Content-Type': 'application/json' };
    for (let i = 0; i < 10; i++) {
      expect((await send(lb.port, 'POST', '/api/v1/tasks', { headers: auth, body: JSON.stringify({ title: `task ${i}` }) })).status).toBe(201);
      expect((await send(lb.port, 'GET', '/api/v1/tasks', { headers: auth })).status).toBe(200);
    }
    expect(await countTasks("title LIKE 'task %'")).toBe(10);
    expect(lb.accessLog()).toContain(`upstream=${GONE}:${apiPort}, ${REPLICAS[0]}:${apiPort}`);
  });

  it('answers 502 with the contract’s JSON error when no replica is left', async () => {
    const none = await startLoadBalancer('none', [GONE]);
    try {
      const reply = await send(none.port, 'GET', '/api/v1/tasks');
      expect([reply.status, reply.headers['content-type'], JSON.parse(reply.body)]).toEqual([502, 'application/json', { detail: 'No API replica answered' }]);
      expect(reply.headers['retry-after']).toBe('1');
    } finally {
      await none.stop();
    }
  });
});

describeWithNginx('a replica stopped while the load balancer runs', () => {
  let lb: RunningNginx;
  beforeAll(async () => (lb = await startLoadBalancer('scaled', REPLICAS)));
  afterAll(() => lb?.stop());

  it('costs no request: the ones that pick it are passed on to the replica still running', async () => {
    const stopped = replicas[1];
    stopped.child.kill('SIGTERM');
    expect(await stopped.exited).toEqual({ code: 0, signal: null });
    const requestIds = Array.from({ length: 20 }, newRequestId);
    for (const requestId of requestIds) expect((await send(lb.port, 'GET', '/ready', { headers: { 'X-Request-Id': requestId } })).status).toBe(200);
    await logged(requestIds);
    expect(requestIds.map(servedBy)).toEqual(requestIds.map(() => [0]));
    expect(lb.accessLog()).toContain(`upstream=${REPLICAS[1]}:${apiPort}, ${REPLICAS[0]}:${apiPort}`);
  });
});
