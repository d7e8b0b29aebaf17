import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { redactUrl } from '../src/db/data-source';
import { revertLastMigration, runPendingMigrations } from '../src/db/migrations';
import { createTestDatabase, testDataSource, type TestDatabase } from './support/database';
import { afterTheBuild, NPM_START_WITHOUT_BUILD } from './support/npm-scripts';
import { freePort, postgresProcessesFor, runToEnd, startProcess, waitFor, type RunningProcess } from './support/processes';

jest.setTimeout(120_000);

let workDir: string;
let dataDir: string;

beforeAll(() => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'todo-cli-'));
  fs.chmodSync(workDir, 0o755);
  dataDir = path.join(workDir, 'postgres');
});

afterAll(() => fs.rmSync(workDir, { recursive: true, force: true }));

const embeddedEnv = () => ({ EMBEDDED_DATABASE_DIR: dataDir, NODE_ENV: 'development', LOG_LEVEL: 'info' });

/**
 * `npm start` by default, without its prestart build (the global setup built dist/ once, and other
 * test files run it); `node dist/src/server.js` where the test must signal the service itself, not npm.
 */
async function startService(port: number, [command, ...args]: readonly string[] = NPM_START_WITHOUT_BUILD): Promise<RunningProcess> {
  const service = startProcess(command, args, { ...embeddedEnv(), PORT: String(port) });
  await waitFor(
    async () => {
      const response = await fetch(`http://127.0.0.1:${port}/ready`);
      return response.status === 200 ? true : undefined;
    },
    60_000,
    `/ready on port ${port}`,
  ).catch((error) => {
    service.child.kill('SIGKILL');
    throw new Error(`${error.message}\n${service.output()}`);
  });
  return service;
}

describe('npm start', () => {
  it('creates, migrates and serves an embedded database on a fresh data directory, then stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const service = await startService(port);

    const ready = await fetch(`http://127.0.0.1:${port}/ready`);
    expect(await ready.json()).toEqual({ status: 'ok', database: 'ok' });
    expect(service.output()).toContain(`Creating a PostgreSQL data directory in ${dataDir}`);
    expect(service.output()).toMatch(/Database: embedded PostgreSQL on 127\.0\.0\.1:\d+/);
    expect(service.output()).toContain('Applied migrations: InitialSchema');
    expect(service.output()).not.toContain('postgres:postgres@');

    service.child.kill('SIGTERM');
    expect(await service.exited).toEqual({ code: 0, signal: null });
    expect(postgresProcessesFor(dataDir)).toEqual([]);
    expect(fs.existsSync(path.join(dataDir, 'postmaster.pid'))).toBe(false);
  });

  it('reuses the data on the next start, and a second process on the same data directory shares the running server', async () => {
    const port = await freePort();
    const service = await startService(port);
    expect(service.output()).not.toContain('Creating a PostgreSQL data directory');
    expect(service.output()).toContain('Database schema is up to date');

    const second = await runToEnd(...afterTheBuild('migration:show'), embeddedEnv());
    expect(second.code).toBe(0);
    expect(second.output).toContain('already running, started by another process');
    expect(second.output).toContain('All migrations are applied.');
    expect((await fetch(`http://127.0.0.1:${port}/ready`)).status).toBe(200);

    service.child.kill('SIGTERM');
    expect(await service.exited).toEqual({ code: 0, signal: null });
    expect(postgresProcessesFor(dataDir)).toEqual([]);
  });
});

describe('an embedded PostgreSQL left running by a service killed with kill -9', () => {
  const compiledService = ['node', 'dist/src/server.js'];
  const dbStop = () => runToEnd(...afterTheBuild('db:stop'), embeddedEnv());

  it('is taken over by the next start, which alone stops it; npm run db:stop stops one nobody took over', async () => {
    const services: RunningProcess[] = [];
    const start = async (port: number) => {
      const service = await startService(port, compiledService);
      services.push(service);
      return service;
    };
    try {
      const killed = await start(await freePort());
      killed.child.kill('SIGKILL');
      await killed.exited;
      expect(postgresProcessesFor(dataDir)).not.toEqual([]);

      const port = await freePort();
      const next = await start(port);
      expect(next.output()).toContain('was left running by a process that is gone: this process takes it over and stops it on exit');
      const attached = await runToEnd(...afterTheBuild('migration:show'), embeddedEnv());
      expect(attached.output).toContain('already running, started by another process');
      const refused = await dbStop();
      expect(refused.output).toContain(`belongs to process ${next.child.pid}, which is running`);
      expect(refused.code).toBe(1);
      expect((await fetch(`http://127.0.0.1:${port}/ready`)).status).toBe(200);
      next.child.kill('SIGTERM');
      expect(await next.exited).toEqual({ code: 0, signal: null });
      expect(postgresProcessesFor(dataDir)).toEqual([]);

      const killedAgain = await start(await freePort());
      killedAgain.child.kill('SIGKILL');
      await killedAgain.exited;
      const stopped = await dbStop();
      expect(stopped.output).toMatch(/^Stopped the embedded PostgreSQL in .* \(pid \d+\)\.$/m);
      expect(postgresProcessesFor(dataDir)).toEqual([]);
      expect((await dbStop()).output).toContain('No embedded PostgreSQL is running');
    } finally {
      for (const service of services) if (service.child.exitCode === null && service.child.signalCode === null) service.child.kill('SIGKILL');
      await dbStop();
    }
  });
});

describe('WEB_CONCURRENCY=2', () => {
  it('serves from two workers on one port, replaces a worker that dies, and stops everything on SIGTERM', async () => {
    const port = await freePort();
    const service = startProcess('node', ['dist/src/server.js'], { ...embeddedEnv(), PORT: String(port), WEB_CONCURRENCY: '2', LOG_FORMAT: 'json' });
    try {
      const workerPids = () => [...service.output().matchAll(/"pid":(\d+),[^\n]*Listening on http:\/\/[^ ]+ \(worker \d+\)/g)].map((match) => Number(match[1]));
      await waitFor(async () => (workerPids().length === 2 ? true : undefined), 30_000, 'two workers');
      expect(service.output()).toContain('Supervising 2 workers');
      expect((await fetch(`http://127.0.0.1:${port}/ready`)).status).toBe(200);

      process.kill(workerPids()[0], 'SIGKILL');
      await waitFor(async () => (workerPids().length === 3 ? true : undefined), 30_000, 'a replacement worker');
      expect(service.output()).toMatch(/worker \d+ exited \(SIGKILL\): starting another/);
      expect((await fetch(`http://127.0.0.1:${port}/ready`)).status).toBe(200);

      service.child.kill('SIGTERM');
      expect(await service.exited).toEqual({ code: 0, signal: null });
      expect(service.output()).toContain('All workers stopped');
      for (const pid of workerPids()) expect(() => process.kill(pid, 0)).toThrow();
      expect(postgresProcessesFor(dataDir)).toEqual([]);
    } finally {
      if (service.child.exitCode === null) service.child.kill('SIGKILL');
    }
  });
});

describe('the service on a database that lacks its last migration (MIGRATE_ON_START=false)', () => {
  it('logs what is pending, answers /ready 503, and turns ready without a restart once a separate job migrates', async () => {
    const database = await createTestDatabase();
    const setup = testDataSource(database.url);
    await setup.initialize();
    await runPendingMigrations(setup);
    const missing = await revertLastMigration(setup);
    await setup.destroy();

    const port = await freePort();
    const env = { DATABASE_URL: database.url, NODE_ENV: 'development', LOG_LEVEL: 'info' };
    const service = startProcess('node', ['dist/src/server.js'], { ...env, MIGRATE_ON_START: 'false', PORT: String(port) });
    try {
      await waitFor(async () => (service.output().includes('Listening on') ? true : undefined), 30_000, 'the service to listen');
      expect(service.output()).toContain(`Database schema is behind this build: 1 migration pending: run migration:run (${missing})`);
      const stale = await fetch(`http://127.0.0.1:${port}/ready`);
      expect({ status: stale.status, body: await stale.json() }).toEqual({ status: 503, body: { detail: '1 migration pending: run migration:run' } });

      const job = await runToEnd(...afterTheBuild('migration:run'), env);
      expect(job.output).toContain(`Applied ${missing}`);
      expect((await fetch(`http://127.0.0.1:${port}/ready`)).status).toBe(200);

      service.child.kill('SIGTERM');
      expect(await service.exited).toEqual({ code: 0, signal: null });
    } finally {
      if (service.child.exitCode === null) service.child.kill('SIGKILL');
      await database.drop();
    }
  });
});

async function revertAllThenRun(env: Record<string, string>) {
  const reverted: string[] = [];
  for (let round = 0; round < 20; round += 1) {
    const revert = await runToEnd(...afterTheBuild('migration:revert'), env);
    expect(revert.code).toBe(0);
    if (revert.output.includes('Nothing to revert')) break;
    reverted.push(revert.output.match(/Reverted (\S+)/)?.[1] ?? 'unnamed');
  }
  const run = await runToEnd(...afterTheBuild('migration:run'), env);
  expect(run.code).toBe(0);
  return { reverted, run: run.output };
}

describe('npm run migration:revert and migration:run', () => {
  it('revert every migration one by one and apply them all again on the embedded default', async () => {
    const { reverted, run } = await revertAllThenRun(embeddedEnv());
    expect(reverted.length).toBeGreaterThan(0);
    for (const name of reverted) expect(run).toContain(`Applied ${name}`);
    expect(postgresProcessesFor(dataDir)).toEqual([]);
  });

  it('do the same against the server DATABASE_URL names', async () => {
    let database: TestDatabase | undefined;
    try {
      database = await createTestDatabase();
      const env = { DATABASE_URL: database.url, NODE_ENV: 'development' };
      const first = await runToEnd(...afterTheBuild('migration:run'), env);
      expect(first.code).toBe(0);
      expect(first.output).toContain('(from DATABASE_URL)');
      expect(first.output).toContain(`Database: ${redactUrl(database.url)} (from DATABASE_URL)`);

      const { reverted, run } = await revertAllThenRun(env);
      expect(reverted.length).toBeGreaterThan(0);
      for (const name of reverted) expect(run).toContain(`Applied ${name}`);
    } finally {
      await database?.drop();
    }
  });

  it('exit non-zero with a one-line reason when the database cannot be reached', async () => {
    const port = await freePort();
    const result = await runToEnd(...afterTheBuild('migration:run'), {
      DATABASE_URL: `postgres://nobody:secret@127.0.0.1:${port}/nothing`,
      LOG_LEVEL: 'warn',
      DB_CONNECT_TIMEOUT_MS: '2000',
    });
    expect(result.code).toBe(1);
    expect(result.output.trim().split('\n')).toEqual([expect.stringMatching(/^migration:run failed: cannot reach the database \(.*ECONNREFUSED/)]);
  });
});
