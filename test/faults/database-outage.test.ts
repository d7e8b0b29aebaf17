import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { createApp } from '../../src/app';
import { loadConfig } from '../../src/config';
import { AppDataSource, dataSourceOptions } from '../../src/db/data-source';
import { startEmbeddedPostgres, type EmbeddedServer } from '../../src/db/embedded-postgres';
import { runPendingMigrations } from '../../src/db/migrations';
import { TEST_JWT_SECRET } from '../support/app';
import { silentLogger } from '../support/database';
import { freePort } from '../support/processes';
import { signUpAndLogIn } from '../support/users';

jest.setTimeout(120_000);

const CONNECT_TIMEOUT_MS = 1000;

let dataDir: string;
let port: number;
let postgres: EmbeddedServer;
let dataSource: AppDataSource;
let server: http.Server;
let baseUrl: string;
let app: ReturnType<typeof createApp>;

/** This test stops and starts PostgreSQL, so it has a server of its own, always on the same port. */
beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'todo-outage-'));
  fs.chmodSync(dataDir, 0o755);
  port = await freePort();
  postgres = await startEmbeddedPostgres(path.join(dataDir, 'pg'), undefined, { port });
  const config = loadConfig({
    NODE_ENV: 'test',
    BCRYPT_ROUNDS: '4',
    JWT_SECRET: TEST_JWT_SECRET,
    DB_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS),
    DB_POOL_SIZE: '5',
  });
  dataSource = new AppDataSource(dataSourceOptions(postgres.url, config, silentLogger));
  await dataSource.initialize();
  await runPendingMigrations(dataSource);
  app = createApp({ config, dataSource, logger: silentLogger });
  server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await dataSource.destroy().catch(() => undefined);
  await postgres.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

interface Outcome {
  status: number;
  ms: number;
  id?: string;
  body: unknown;
}

describe('a database outage under steady load', () => {
  it('fails fast with 503 while PostgreSQL is down, recovers without a restart, and keeps every acknowledged write', async () => {
    const caller = await signUpAndLogIn(app);
    const outcomes: Outcome[] = [];
    let running = true;
    let sequence = 0;
    const worker = async () => {
      while (running) {
        const started = performance.now();
        const title = `write ${(sequence += 1)}`;
        try {
          const response = await fetch(`${baseUrl}/api/v1/tasks`, {
            method: 'POST',
            headers: { ...caller.auth, 'Content-Type': 'application/json' },
            body: JSON.stringify({ title }),
          });
          const body = (await response.json()) as { id?: string };
          outcomes.push({ status: response.status, ms: performance.now() - started, id: body.id, body });
        } catch (error) {
          outcomes.push({ status: 0, ms: performance.now() - started, body: String(error) });
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };
    const workers = Array.from({ length: 5 }, worker);

    await new Promise((resolve) => setTimeout(resolve, 1000));
    const beforeOutage = outcomes.length;
    await postgres.stop();
    const downAt = outcomes.length;
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const ready = await request(app).get('/ready');
    expect(ready.status).toBe(503);
    expect(ready.body).toEqual({ detail: 'Database unavailable' });
    const duringOutage = outcomes.slice(downAt);

    postgres = await startEmbeddedPostgres(path.join(dataDir, 'pg'), undefined, { port });
    const recoveredAt = performance.now();
    let recovered = false;
    while (!recovered && performance.now() - recoveredAt < 15_000) {
      recovered = (await request(app).get('/ready')).status === 200;
      if (!recovered) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(recovered).toBe(true);
    const afterRecovery = outcomes.length;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    running = false;
    await Promise.all(workers);

    expect(beforeOutage).toBeGreaterThan(10);
    expect(duringOutage.length).toBeGreaterThan(10);
    // While down: every answer is the contract's 503, and none waits longer than the connect timeout.
    const unavailable = duringOutage.filter((outcome) => outcome.status === 503);
    expect(unavailable.length).toBeGreaterThan(10);
    for (const outcome of unavailable) expect(outcome.body).toEqual({ detail: 'Database unavailable' });
    expect(Math.max(...duringOutage.map((outcome) => outcome.ms))).toBeLessThan(CONNECT_TIMEOUT_MS + 1500);
    // Never anything but 201 or 503, never a dropped connection or a 500.
    expect([...new Set(outcomes.map((outcome) => outcome.status))].sort()).toEqual([201, 503]);
    // Back up: writes succeed again.
    expect(outcomes.slice(afterRecovery).filter((outcome) => outcome.status === 201).length).toBeGreaterThan(5);

    const acknowledged = outcomes.filter((outcome) => outcome.status === 201).map((outcome) => outcome.id!);
    const stored: Array<{ id: string }> = await dataSource.query('SELECT id FROM tasks WHERE id = ANY($1::uuid[])', [acknowledged]);
    expect(stored.length).toBe(acknowledged.length);
  });
});
