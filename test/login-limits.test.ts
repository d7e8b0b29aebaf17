import crypto from 'node:crypto';
import type { Express } from 'express';
import { Client } from 'pg';
import request from 'supertest';
import { createApp } from '../src/app';
import { PasswordHasher } from '../src/auth/passwords';
import { createLoginAttemptsRepository } from '../src/auth/login-attempts.repository';
import { LoginRateLimiter, SWEEP_BATCH } from '../src/auth/login-rate-limiter';
import { loadConfig } from '../src/config';
import { Database } from '../src/db/database';
import { createTestApp, TEST_JWT_SECRET, type TestApp } from './support/app';
import { silentLogger, testDataSource, withAdminClient } from './support/database';
import { signUp, type SignedUpUser } from './support/users';

/*
 * The login limits are counted in PostgreSQL (login_attempt_counts), so every process on one
 * database sees one count. These tests run apps in this process, each on its own pool; the
 * test/login-limits-processes.test.ts runs separate service processes.
 */

jest.setTimeout(60_000);

let testApp: TestApp;

beforeAll(async () => {
  testApp = await createTestApp({ LOGIN_RATE_LIMIT: '3', LOGIN_RATE_LIMIT_PER_IP: '0' });
});

afterAll(() => testApp.close());

/** A role that is not a superuser, so that privileges can be taken away from it; roles are per server, hence the random name. */
const LIMITED_ROLE = `todo_limited_${crypto.randomBytes(4).toString('hex')}`;

const login = (app: Express, username: string, password: string) => request(app).post('/api/v1/login/access-token').type('form').send({ username, password });

const counters = (): Promise<Array<{ kind: string; address: string; account: string; attempts: number }>> =>
  testApp.dataSource.query('SELECT kind, address, account, attempts FROM login_attempt_counts ORDER BY kind, account');

const sessionsOf = async (user: SignedUpUser): Promise<number> =>
  (await testApp.dataSource.query('SELECT count(*)::int AS count FROM sessions WHERE user_id = $1', [user.id]))[0].count;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A second app on the same database, through a pool of its own: what another process would be. */
async function secondAppOnTheSameDatabase(env: Record<string, string>): Promise<{ app: Express; close(): Promise<void> }> {
  const config = loadConfig({ NODE_ENV: 'test', BCRYPT_ROUNDS: '4', JWT_SECRET: TEST_JWT_SECRET, ...env });
  const dataSource = testDataSource(testApp.database.url, config);
  await dataSource.initialize();
  return { app: createApp({ config, dataSource, logger: silentLogger }), close: () => dataSource.destroy() };
}

describe('login failures counted in PostgreSQL', () => {
  it('are one count for two apps with their own pools: failures split between them are refused at the limit', async () => {
    const other = await secondAppOnTheSameDatabase({ LOGIN_RATE_LIMIT: '3', LOGIN_RATE_LIMIT_PER_IP: '0' });
    try {
      const user = await signUp(testApp.app);
      expect((await login(testApp.app, user.username, 'wrong')).status).toBe(400);
      expect((await login(other.app, user.email, 'wrong')).status).toBe(400);
      expect((await login(testApp.app, user.username, 'wrong')).status).toBe(400);
      for (const app of [other.app, testApp.app]) {
        const refused = await login(app, user.username, user.password);
        expect(refused.status).toBe(429);
        expect(refused.body).toEqual({ detail: 'Too many login attempts; try again later' });
      }
      expect(await sessionsOf(user)).toBe(0);
    } finally {
      await other.close();
    }
  });

  it('are cleared for the account by a success, and count again from one', async () => {
    const user = await signUp(testApp.app);
    expect((await login(testApp.app, user.username, 'wrong')).status).toBe(400);
    expect((await login(testApp.app, user.username, 'wrong')).status).toBe(400);
    expect((await counters()).filter((row) => row.account === `user:${user.id}`)).toEqual([expect.objectContaining({ kind: 'failures', attempts: 2 })]);
    expect((await login(testApp.app, user.email, user.password)).status).toBe(200);
    expect((await counters()).filter((row) => row.account === `user:${user.id}`)).toEqual([]);
    for (let i = 0; i < 3; i += 1) expect((await login(testApp.app, user.username, 'wrong')).status).toBe(400);
    expect((await login(testApp.app, user.username, user.password)).status).toBe(429);
  });

  it('last a one-minute window: Retry-After says when it ends, and the first attempt after it starts a new window', async () => {
    const user = await signUp(testApp.app);
    for (let i = 0; i < 3; i += 1) await login(testApp.app, user.username, 'wrong');
    const refused = await login(testApp.app, user.username, user.password);
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(58);
    expect(retryAfter).toBeLessThanOrEqual(60);
    const [{ window: seconds }] = await testApp.dataSource.query(
      'SELECT extract(epoch FROM window_ends_at - now())::float AS window FROM login_attempt_counts WHERE account = $1',
      [`user:${user.id}`],
    );
    expect(seconds).toBeGreaterThan(55);
    expect(seconds).toBeLessThanOrEqual(60);

    // The minute has passed (moved, rather than waited for).
    await testApp.dataSource.query("UPDATE login_attempt_counts SET window_ends_at = now() - interval '1 second' WHERE account = $1", [`user:${user.id}`]);
    expect((await login(testApp.app, user.username, 'wrong')).status).toBe(400);
    expect((await counters()).filter((row) => row.account === `user:${user.id}`)).toEqual([expect.objectContaining({ attempts: 1 })]);
    expect((await login(testApp.app, user.username, user.password)).status).toBe(200);
  });

  it('keep only a hash of a name that matches no account (it may be a password typed in the wrong field)', async () => {
    const typed = `my-secret-password-${crypto.randomBytes(4).toString('hex')}`;
    expect((await login(testApp.app, typed, 'wrong')).status).toBe(400);
    const hash = crypto.createHash('sha256').update(typed).digest('hex');
    const rows = await counters();
    expect(rows).toContainEqual(expect.objectContaining({ kind: 'failures', account: `name:${hash}`, attempts: 1 }));
    expect(JSON.stringify(rows)).not.toContain(typed);
  });

  it('write nothing when both limits are 0', async () => {
    const other = await secondAppOnTheSameDatabase({ LOGIN_RATE_LIMIT: '0', LOGIN_RATE_LIMIT_PER_IP: '0' });
    try {
      const user = await signUp(other.app);
      const before = await counters();
      for (let i = 0; i < 5; i += 1) expect((await login(other.app, user.username, 'wrong')).status).toBe(400);
      expect((await login(other.app, user.username, user.password)).status).toBe(200);
      expect(await counters()).toEqual(before);
    } finally {
      await other.close();
    }
  });
});

describe('login attempts per address counted in PostgreSQL', () => {
  it('are one count for two apps: the address is refused at the limit on both, whatever the names', async () => {
    const env = { LOGIN_RATE_LIMIT: '0', LOGIN_RATE_LIMIT_PER_IP: '4', TRUST_PROXY: 'loopback' };
    const [first, second] = [await secondAppOnTheSameDatabase(env), await secondAppOnTheSameDatabase(env)];
    const address = `198.51.100.${crypto.randomInt(1, 255)}`;
    const from = (app: Express, username: string, password: string) => login(app, username, password).set('X-Forwarded-For', address);
    try {
      const user = await signUp(testApp.app);
      const statuses: number[] = [];
      for (let i = 0; i < 4; i += 1) statuses.push((await from(i % 2 ? second.app : first.app, `someone_${i}`, 'x')).status);
      expect(statuses).toEqual([400, 400, 400, 400]);
      expect((await from(first.app, user.username, user.password)).status).toBe(429);
      expect((await from(second.app, user.username, user.password)).status).toBe(429);
      // Another address is not affected.
      expect((await login(second.app, user.username, user.password).set('X-Forwarded-For', '203.0.113.9')).status).toBe(200);
    } finally {
      await first.close();
      await second.close();
    }
  });
});

/**
 * Ways the counter can be unreachable: each must refuse the login with 503, whatever the password,
 * and check no password. Each breaks the store, returns the app to try, and repairs it.
 */
const storeFailures: Array<{ name: string; env: Record<string, string>; breakStore(app: TestApp, user: SignedUpUser): Promise<() => Promise<void>> }> = [
  {
    name: 'the service may no longer write the table (privileges revoked)',
    env: {},
    async breakStore(app) {
      await app.dataSource.query(`REVOKE ALL ON login_attempt_counts FROM ${LIMITED_ROLE}`);
      return async () => void (await app.dataSource.query(`GRANT ALL ON login_attempt_counts TO ${LIMITED_ROLE}`));
    },
  },
  {
    name: 'the counting statement runs past DB_STATEMENT_TIMEOUT_MS (its row is locked by another session)',
    env: { DB_STATEMENT_TIMEOUT_MS: '300', REQUEST_TIMEOUT_MS: '5000' },
    async breakStore(app) {
      const locker = new Client({ connectionString: app.database.url });
      await locker.connect();
      await locker.query('BEGIN');
      // Every counter row, and the table against new ones: a concurrent upsert waits either way.
      await locker.query('LOCK TABLE login_attempt_counts IN SHARE MODE');
      return async () => {
        await locker.query('ROLLBACK');
        await locker.end();
      };
    },
  },
  {
    name: 'the database cannot be reached (its connections are ended and new ones refused)',
    env: {},
    async breakStore(app) {
      await withAdminClient(async (admin) => {
        await admin.query(`ALTER DATABASE ${app.database.name} ALLOW_CONNECTIONS false`);
        await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND usename = $2', [app.database.name, LIMITED_ROLE]);
      });
      return () => withAdminClient(async (admin) => void (await admin.query(`ALTER DATABASE ${app.database.name} ALLOW_CONNECTIONS true`)));
    },
  },
];

describe('when login attempts cannot be counted', () => {
  let limitedRole: { url: string };

  beforeAll(async () => {
    const password = crypto.randomBytes(12).toString('hex');
    await withAdminClient(async (admin) => {
      await admin.query(`CREATE ROLE ${LIMITED_ROLE} LOGIN PASSWORD '${password}'`);
    });
    await testApp.dataSource.query(`GRANT ALL ON ALL TABLES IN SCHEMA public TO ${LIMITED_ROLE}`);
    const url = new URL(testApp.database.url);
    url.username = LIMITED_ROLE;
    url.password = password;
    limitedRole = { url: url.toString() };
  });

  afterAll(async () => {
    await testApp.dataSource.query(`REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ${LIMITED_ROLE}`);
    await withAdminClient((admin) => admin.query(`DROP ROLE ${LIMITED_ROLE}`));
  });

  it.each(storeFailures)('refuses every login with 503 and checks no password: $name', async ({ env, breakStore }) => {
    const config = loadConfig({
      NODE_ENV: 'test',
      BCRYPT_ROUNDS: '4',
      JWT_SECRET: TEST_JWT_SECRET,
      LOGIN_RATE_LIMIT: '3',
      LOGIN_RATE_LIMIT_PER_IP: '50',
      ...env,
    });
    const dataSource = testDataSource(limitedRole.url, config);
    await dataSource.initialize();
    const app = createApp({ config, dataSource, logger: silentLogger });
    const user = await signUp(app);
    expect((await login(app, user.username, user.password)).status).toBe(200);
    const verify = jest.spyOn(PasswordHasher.prototype, 'verify');
    const verifyAgainstDummy = jest.spyOn(PasswordHasher.prototype, 'verifyAgainstDummy');
    const sessionsBefore = await sessionsOf(user);
    const repair = await breakStore(testApp, user);
    try {
      for (const [username, password] of [
        [user.username, user.password],
        [user.email, 'wrong password'],
        [`nobody_${user.username}`, 'anything'],
      ]) {
        const refused = await login(app, username, password);
        expect(refused.status).toBe(503);
        expect(refused.body).toEqual({ detail: 'Login attempts cannot be counted right now; try again later' });
        expect(refused.headers['retry-after']).toBe('1');
      }
      expect(verify).not.toHaveBeenCalled();
      expect(verifyAgainstDummy).not.toHaveBeenCalled();
    } finally {
      jest.restoreAllMocks();
      await repair();
    }
    expect(await sessionsOf(user)).toBe(sessionsBefore);
    // Repaired, the same app logs in again without a restart.
    expect((await login(app, user.username, user.password)).status).toBe(200);
    await dataSource.destroy();
  });
});

describe('counters whose window has ended', () => {
  it('are deleted by the logins, at most a batch at a time, batch after batch while there are more, and no live counter with them', async () => {
    const database = new Database(testApp.dataSource, { preparedStatements: testApp.config.database.preparedStatements });
    const limiter = new LoginRateLimiter(createLoginAttemptsRepository(database), { failuresPerAccount: 5, attemptsPerAddress: 100 }, silentLogger, 3_600_000);
    const ended = Math.round(SWEEP_BATCH * 2.5);
    await testApp.dataSource.query('DELETE FROM login_attempt_counts');
    await testApp.dataSource.query(
      `INSERT INTO login_attempt_counts (kind, address, account, attempts, window_ends_at)
       SELECT 'failures', '192.0.2.1', 'name:' || i, 3, now() - make_interval(secs => i) FROM generate_series(1, $1) AS i
       UNION ALL
       SELECT 'failures', '192.0.2.2', 'name:' || i, 1, now() + interval '30 seconds' FROM generate_series(1, 10) AS i`,
      [ended],
    );
    const count = async (address: string) =>
      (await testApp.dataSource.query('SELECT count(*)::int AS count FROM login_attempt_counts WHERE address = $1', [address]))[0].count;
    const settled = async (expected: number) => {
      for (let waited = 0; (await count('192.0.2.1')) !== expected; waited += 50) {
        if (waited > 10_000) throw new Error(`expected ${expected} ended counters, found ${await count('192.0.2.1')}`);
        await pause(50);
      }
      // The sweep's own bookkeeping runs when its answer arrives, just after the rows are gone.
      await pause(100);
    };

    await limiter.admitAttempt('203.0.113.1');
    await settled(ended - SWEEP_BATCH);
    await limiter.admitAttempt('203.0.113.1');
    await settled(ended - 2 * SWEEP_BATCH);
    await limiter.admitAttempt('203.0.113.1');
    await settled(0);
    expect(await count('192.0.2.2')).toBe(10);

    // That sweep found less than a batch: the next one waits for its interval (an hour here).
    await testApp.dataSource.query("UPDATE login_attempt_counts SET window_ends_at = now() - interval '1 second' WHERE address = '192.0.2.2'");
    await limiter.admitAttempt('203.0.113.1');
    await pause(300);
    expect(await count('192.0.2.2')).toBe(10);
  });
});
