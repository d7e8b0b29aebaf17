/**
 * The ceiling: the same work per request as the service, with nothing else. Plain node:http and
 * pg, no framework, no ORM, no validation library. See bench/README.md for exactly what it does
 * and what it skips.
 */
import cluster from 'node:cluster';
import http from 'node:http';
import { Pool, type QueryResult, type QueryResultRow } from 'pg';
import { SESSION_SQL } from '../src/auth/sessions.repository';
import { TokenService } from '../src/auth/tokens';
import { statement, type Statement } from '../src/db/database';
import type { VersionedTask } from '../src/tasks/task.entity';
import { etagOf, toTaskPublic, type ListTasksQuery, type SortKey } from '../src/tasks/tasks.dto';
import { listTasksSql, TASK_SQL, updateLiveSql } from '../src/tasks/tasks.repository';

const port = Number(process.env.PORT ?? 8100);
const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.DB_POOL_SIZE ?? 10) });
const tokens = new TokenService(process.env.JWT_SECRET!, 900);

/** The service's own statements, prepared as the service prepares them; rows come keyed like its entities. */
function run<Row extends QueryResultRow>(sql: Statement, values: unknown[]): Promise<QueryResult<Row>> {
  return pool.query<Row>({ name: sql.name, text: sql.text, values });
}

async function authenticate(req: http.IncomingMessage): Promise<string | undefined> {
  const match = /^Bearer (\S+)$/i.exec(req.headers.authorization ?? '');
  const claims = match ? tokens.readAccessToken(match[1]) : undefined;
  if (!claims) return undefined;
  // The service's own statement: the session and the user, checked live; it returns their ids.
  const { rows } = await run<{ userId: string }>(SESSION_SQL.authenticate, [claims.sessionId, claims.userId]);
  return rows[0]?.userId;
}

function send(res: http.ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

async function readJson(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString() || '{}');
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://baseline');
  const userId = await authenticate(req);
  if (!userId) return send(res, 401, { detail: 'Not authenticated' });

  const one = /^\/api\/v1\/tasks\/([0-9a-f-]{36})$/.exec(url.pathname);
  if (url.pathname === '/api/v1/tasks' && req.method === 'GET') {
    const param = (name: string) => url.searchParams.get(name) ?? undefined;
    const query: ListTasksQuery = {
      skip: BigInt(param('skip') ?? 0),
      limit: Number(param('limit') ?? 100),
      sort: (param('sort') ?? '-created_at') as SortKey,
      completed: param('completed') === undefined ? undefined : param('completed') === 'true',
      due_before: param('due_before'),
      due_after: param('due_after'),
      q: param('q'),
    };
    const { page, count } = listTasksSql(userId, query);
    const [tasks, total] = await Promise.all([
      run<VersionedTask>(statement(page.text), page.values),
      run<{ count: number }>(statement(count.text), count.values),
    ]);
    return send(res, 200, { data: tasks.rows.map(toTaskPublic), count: total.rows[0].count });
  }
  if (url.pathname === '/api/v1/tasks' && req.method === 'POST') {
    const body = await readJson(req);
    const { rows } = await run<VersionedTask>(TASK_SQL.create, [userId, body.title, body.description ?? null, body.completed ?? false, body.due_date ?? null]);
    return send(res, 201, toTaskPublic(rows[0]), { Location: `/api/v1/tasks/${rows[0].id}`, ETag: etagOf(rows[0]) });
  }
  if (one && req.method === 'GET') {
    const { rows } = await run<VersionedTask>(TASK_SQL.findLive, [one[1], userId]);
    return rows[0] ? send(res, 200, toTaskPublic(rows[0]), { ETag: etagOf(rows[0]) }) : send(res, 404, { detail: 'Task not found' });
  }
  if (one && req.method === 'PUT') {
    const body = await readJson(req);
    const values = [one[1], userId, body.title, body.description ?? null, body.completed ?? false, body.due_date ?? null, null];
    const { rows } = await run<VersionedTask>(TASK_SQL.replaceLive, values);
    return rows[0] ? send(res, 200, toTaskPublic(rows[0]), { ETag: etagOf(rows[0]) }) : send(res, 404, { detail: 'Task not found' });
  }
  if (one && req.method === 'DELETE') {
    const { rows } = await run<{ id: string }>(TASK_SQL.trashLive, [one[1], userId, null]);
    return rows[0] ? send(res, 204) : send(res, 404, { detail: 'Task not found' });
  }
  if (one && req.method === 'PATCH') {
    const body = await readJson(req);
    const update = updateLiveSql(userId, one[1], body, undefined);
    const { rows } = await (update ? run<VersionedTask>(update.statement, update.values) : run<VersionedTask>(TASK_SQL.findLive, [one[1], userId]));
    return rows[0] ? send(res, 200, toTaskPublic(rows[0]), { ETag: etagOf(rows[0]) }) : send(res, 404, { detail: 'Task not found' });
  }
  send(res, 404, { detail: 'Not Found' });
}

/** WEB_CONCURRENCY > 1: that many processes share the port through node:cluster, as the service's workers do. */
const workers = Number(process.env.WEB_CONCURRENCY ?? 1);
if (cluster.isPrimary && workers > 1) {
  for (let i = 0; i < workers; i += 1) cluster.fork();
  process.on('SIGTERM', () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    cluster.on('exit', () => {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
    });
  });
} else {
  serve();
}

function serve(): void {
  const server = http.createServer((req, res) => {
    handle(req, res).catch((error) => {
      // A client that hangs up mid-body (autocannon at the end of a run) is not an error of ours.
      if ((error as NodeJS.ErrnoException).code === 'ECONNRESET') return;
      console.error(error);
      if (!res.headersSent) send(res, 500, { detail: 'Internal Server Error' });
    });
  });
  server.keepAliveTimeout = 5000;
  server.listen(port, '127.0.0.1', () => console.log(`baseline listening on ${port}`));
  process.on('SIGTERM', () => server.close(() => pool.end().then(() => process.exit(0))));
}
