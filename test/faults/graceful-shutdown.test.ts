import http from 'node:http';
import { createMigratedDatabase } from '../support/database';
import { freePort, startProcess, waitFor } from '../support/processes';

jest.setTimeout(120_000);

const SHUTDOWN_TIMEOUT_MS = 8000;
const CLIENTS = 50;

interface Attempt {
  status?: number;
  error?: string;
}

/** One request on a connection of its own, so every connection attempt is visible. */
function get(port: number, path: string, authorization: string): Promise<Attempt> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, headers: { authorization } }, (response) => {
      response.resume();
      response.on('end', () => resolve({ status: response.statusCode }));
      response.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
  });
}

describe('SIGTERM while 50 clients are busy', () => {
  it('answers every request it accepted, refuses new connections, and exits 0 within SHUTDOWN_TIMEOUT_MS', async () => {
    const { database, close } = await createMigratedDatabase();
    const port = await freePort();
    const service = startProcess('node', ['dist/src/server.js'], {
      DATABASE_URL: database.url,
      PORT: String(port),
      NODE_ENV: 'development',
      JWT_SECRET: 'graceful-shutdown-test-secret-0123456789',
      BCRYPT_ROUNDS: '4',
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
      SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
      MIGRATE_ON_START: 'false',
    });
    try {
      await waitFor(async () => ((await fetch(`http://127.0.0.1:${port}/ready`)).ok ? true : undefined), 30_000, 'the service');
      const base = `http://127.0.0.1:${port}/api/v1`;
      await fetch(`${base}/users/signup`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ email: 'busy@example.com', username: 'busy', password: 'correct horse battery' }),
      });
      const login = await fetch(`${base}/login/access-token`, {
        method: 'POST',
        body: new URLSearchParams({ username: 'busy', password: 'correct horse battery' }),
      });
      const authorization = `Bearer ${((await login.json()) as { access_token: string }).access_token}`;

      const attempts: Attempt[] = [];
      let stopAt = Number.POSITIVE_INFINITY;
      const client = async () => {
        while (performance.now() < stopAt) {
          const attempt = await get(port, '/api/v1/tasks?limit=20', authorization);
          attempts.push(attempt);
          if (attempt.error === 'ECONNREFUSED') return;
        }
      };
      const clients = Array.from({ length: CLIENTS }, client);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const before = attempts.length;
      const signalledAt = performance.now();
      service.child.kill('SIGTERM');
      stopAt = signalledAt + SHUTDOWN_TIMEOUT_MS + 2000;
      const exit = await service.exited;
      const exitedAfterMs = performance.now() - signalledAt;
      await Promise.all(clients);

      expect(exit).toEqual({ code: 0, signal: null });
      expect(exitedAfterMs).toBeLessThan(SHUTDOWN_TIMEOUT_MS);
      expect(before).toBeGreaterThan(CLIENTS);

      // What the service says it accepted (its request log) is exactly what clients got, all 200.
      const logged = service
        .output()
        .split('\n')
        .filter((line) => line.includes('"requestId"') && line.includes('/api/v1/tasks'))
        .map((line) => JSON.parse(line) as { status: number });
      const answered = attempts.filter((attempt) => attempt.status !== undefined);
      expect(logged.every((entry) => entry.status === 200)).toBe(true);
      expect(answered.every((attempt) => attempt.status === 200)).toBe(true);
      expect(answered.length).toBe(logged.length);
      // Everything else never reached it: connections refused (or reset in the kernel's queue).
      const failures = [...new Set(attempts.filter((attempt) => attempt.error).map((attempt) => attempt.error))];
      expect(failures.every((code) => code === 'ECONNREFUSED' || code === 'ECONNRESET')).toBe(true);
      expect(failures).toContain('ECONNREFUSED');
    } finally {
      if (service.child.exitCode === null) service.child.kill('SIGKILL');
      await close();
    }
  });
});
