import http from 'node:http';
import express from 'express';
import fc from 'fast-check';
import path from 'node:path';
import { ConfigError, loadConfig, projectRoot, type Config } from '../../src/config';

const production = { NODE_ENV: 'production', DATABASE_URL: 'postgres://todo@db/todo' };
const strongSecret = 'Zx8pQ2mV7rT4nK9wB3cH6jL1sD5fG0aY';

function configError(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected the configuration to be refused');
}

describe('the configuration', () => {
  it('has the documented defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      env: 'development',
      port: 8000,
      migrateOnStart: true,
      auth: { bcryptRounds: 12, accessTokenTtlSeconds: 900, refreshTokenTtlSeconds: 604800, loginRateLimit: 10, loginRateLimitPerIp: 100 },
      http: { corsOrigins: [], trustProxy: false },
    });
  });

  it('generates a random JWT secret per start in development and says so', () => {
    const first = loadConfig({});
    const second = loadConfig({});
    expect(first.auth.jwtSecretGenerated).toBe(true);
    expect(first.auth.jwtSecret).not.toBe(second.auth.jwtSecret);
    expect(Buffer.byteLength(first.auth.jwtSecret)).toBeGreaterThanOrEqual(32);
  });

  it('requires JWT_SECRET in production', () => {
    expect(configError(production)).toContain('JWT_SECRET: required when NODE_ENV=production');
  });

  it('refuses a JWT_SECRET shorter than 32 bytes or a placeholder', () => {
    expect(configError({ ...production, JWT_SECRET: 'changethis' })).toContain('JWT_SECRET: must be at least 32 bytes');
    expect(configError({ ...production, JWT_SECRET: 'changethis'.padEnd(32, 'x').replace(/./g, 'x') })).toContain('placeholder');
    expect(configError({ ...production, JWT_SECRET: 'your-secret-key-goes-here-please-change' })).toContain('placeholder');
  });

  it('refuses fewer than 10 bcrypt rounds in production, and allows 4 elsewhere', () => {
    expect(configError({ ...production, JWT_SECRET: strongSecret, BCRYPT_ROUNDS: '9' })).toContain('BCRYPT_ROUNDS: must be at least 10');
    expect(loadConfig({ BCRYPT_ROUNDS: '4' }).auth.bcryptRounds).toBe(4);
    expect(loadConfig({ ...production, JWT_SECRET: strongSecret }).auth).toMatchObject({
      bcryptRounds: 12,
      jwtSecret: strongSecret,
      jwtSecretGenerated: false,
    });
  });

  it('keeps backups in backups/ of the project, the newest 14, with pg_dump found on its own; BACKUP_KEEP is a whole number', () => {
    expect(loadConfig({}).backup).toEqual({ dir: path.join(projectRoot, 'backups'), keep: 14, pgBinDir: undefined });
    expect(loadConfig({ BACKUP_DIR: 'elsewhere', BACKUP_KEEP: '0', PG_BIN_DIR: '/usr/lib/postgresql/18/bin' }).backup).toEqual({
      dir: path.resolve('elsewhere'),
      keep: 0,
      pgBinDir: '/usr/lib/postgresql/18/bin',
    });
    for (const keep of ['-1', '2.5', 'all']) expect(configError({ BACKUP_KEEP: keep })).toContain('BACKUP_KEEP');
  });

  it('reads token lifetimes in seconds or with a unit', () => {
    expect(loadConfig({ ACCESS_TOKEN_TTL: '300', REFRESH_TOKEN_TTL: '30d' }).auth).toMatchObject({
      accessTokenTtlSeconds: 300,
      refreshTokenTtlSeconds: 2592000,
    });
    expect(configError({ ACCESS_TOKEN_TTL: 'soon' })).toContain('ACCESS_TOKEN_TTL');
  });

  it('names every bad variable at once', () => {
    const message = configError({ PORT: 'eighty', DATABASE_URL: 'mysql://x', LOGIN_RATE_LIMIT: '-1' });
    expect(message).toContain('PORT');
    expect(message).toContain('DATABASE_URL: must be a postgres:// or postgresql:// URL');
    expect(message).toContain('LOGIN_RATE_LIMIT');
  });

  it('refuses a statement timeout longer than the request timeout, which would let writes land after a 503', () => {
    expect(configError({ DB_STATEMENT_TIMEOUT_MS: '5000', REQUEST_TIMEOUT_MS: '1000' })).toContain(
      'DB_STATEMENT_TIMEOUT_MS: must be shorter than REQUEST_TIMEOUT_MS',
    );
  });

  it('prepares statements unless DB_PREPARED_STATEMENTS says false (behind a transaction-mode pooler), and names it when it is neither', () => {
    expect(loadConfig({}).database.preparedStatements).toBe(true);
    for (const off of ['false', '0']) expect(loadConfig({ DB_PREPARED_STATEMENTS: off }).database.preparedStatements).toBe(false);
    for (const on of ['true', '1']) expect(loadConfig({ DB_PREPARED_STATEMENTS: on }).database.preparedStatements).toBe(true);
    for (const wrong of ['no', 'off', 'TRUE', 'yes']) expect(configError({ DB_PREPARED_STATEMENTS: wrong })).toContain('DB_PREPARED_STATEMENTS');
  });

  it('has the documented retention defaults, takes 0 as "keep forever" and names any bad retention variable', () => {
    expect(loadConfig({}).retention).toEqual({ trashDays: 30, sessionDays: 30, accountDays: 30, auditDays: 90, intervalMs: 3_600_000, batchSize: 1000 });
    expect(loadConfig({ TRASH_RETENTION_DAYS: '0', RETENTION_INTERVAL_MS: '0' }).retention).toMatchObject({ trashDays: 0, intervalMs: 0 });
    const bad = {
      TRASH_RETENTION_DAYS: '-1',
      SESSION_RETENTION_DAYS: '1.5',
      ACCOUNT_RETENTION_DAYS: '36501',
      AUDIT_RETENTION_DAYS: 'ninety',
      RETENTION_INTERVAL_MS: '2147483648',
      RETENTION_BATCH_SIZE: '0',
    };
    const message = configError(bad);
    for (const name of Object.keys(bad)) expect(message).toContain(`${name}:`);
  });

  it('treats an empty variable as unset and reads CORS origins as a list', () => {
    expect(loadConfig({ PORT: '', CORS_ORIGINS: 'https://a.example, https://b.example' })).toMatchObject({
      port: 8000,
      http: { corsOrigins: ['https://a.example', 'https://b.example'] },
    });
    expect(loadConfig({ CORS_ORIGINS: '*' }).http.corsOrigins).toBe('*');
  });
});

describe('TRUST_PROXY', () => {
  const tokens = [
    'loopback',
    'linklocal',
    'uniquelocal',
    '10.0.0.0/8',
    '192.168.1.7',
    '::1',
    'fe80::/10',
    '2001:db8::/129',
    '256.1.1.1',
    '10.0.0.0/33',
    'maybe',
    'yes',
    'on',
    '1.5',
    '-1',
    ' ',
    'true',
    'false',
    '2',
  ];
  const candidates = fc.oneof(
    fc.array(fc.constantFrom(...tokens), { minLength: 1, maxLength: 4 }).map((parts) => parts.join(',')),
    fc.string({ minLength: 1, maxLength: 20 }),
  );

  it('accepts exactly what Express accepts, and names TRUST_PROXY for anything else', () => {
    fc.assert(
      fc.property(candidates, (value) => {
        let trustProxy: Config['http']['trustProxy'];
        try {
          trustProxy = loadConfig({ TRUST_PROXY: value }).http.trustProxy;
        } catch (error) {
          expect((error as Error).message).toMatch(/TRUST_PROXY: must be true, false, a hop count, or comma-separated addresses/);
          expect(() => express().set('trust proxy', value)).toThrow();
          return;
        }
        expect(() => express().set('trust proxy', trustProxy)).not.toThrow();
      }),
      { numRuns: 300 },
    );
  });

  it('reads true, false and a hop count as Express does, and keeps an address list as written', () => {
    expect(loadConfig({ TRUST_PROXY: 'true' }).http.trustProxy).toBe(true);
    expect(loadConfig({ TRUST_PROXY: 'false' }).http.trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: '2' }).http.trustProxy).toBe(2);
    expect(loadConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/8' }).http.trustProxy).toBe('loopback, 10.0.0.0/8');
    expect(configError({ TRUST_PROXY: 'maybe' })).toContain('TRUST_PROXY: must be true, false, a hop count');
  });
});

describe('HEADERS_TIMEOUT_MS', () => {
  it('defaults to 10 s, or to REQUEST_TIMEOUT_MS when that is shorter', () => {
    expect(loadConfig({}).headersTimeoutMs).toBe(10_000);
    expect(loadConfig({ REQUEST_TIMEOUT_MS: '4000', DB_STATEMENT_TIMEOUT_MS: '3000' }).headersTimeoutMs).toBe(4000);
    expect(loadConfig({ HEADERS_TIMEOUT_MS: '1500' }).headersTimeoutMs).toBe(1500);
  });

  it('is accepted exactly when Node accepts it beside REQUEST_TIMEOUT_MS (from 100 ms), and a refusal names it', () => {
    const nodeAccepts = (headersTimeout: number, requestTimeout: number) => {
      try {
        http.createServer({ requestTimeout, headersTimeout });
        return true;
      } catch {
        return false;
      }
    };
    const timeout = fc.oneof(fc.integer({ min: -10, max: 70_000 }), fc.constantFrom(99, 100, 10_000, 30_000));
    fc.assert(
      fc.property(timeout, fc.option(timeout, { nil: undefined }), (headers, request) => {
        const env = {
          DB_STATEMENT_TIMEOUT_MS: '0',
          HEADERS_TIMEOUT_MS: String(headers),
          ...(request === undefined ? {} : { REQUEST_TIMEOUT_MS: String(request) }),
        };
        const inRange = headers >= 100 && (request === undefined || request >= 100);
        let config: Config;
        try {
          config = loadConfig(env);
        } catch (error) {
          expect((error as Error).message).toMatch(/HEADERS_TIMEOUT_MS|REQUEST_TIMEOUT_MS/);
          if (inRange) expect(nodeAccepts(headers, request ?? 30_000)).toBe(false);
          return;
        }
        expect(nodeAccepts(config.headersTimeoutMs, config.requestTimeoutMs)).toBe(true);
      }),
      { numRuns: 300 },
    );
    expect(configError({ HEADERS_TIMEOUT_MS: '40000' })).toContain('HEADERS_TIMEOUT_MS: must not be longer than REQUEST_TIMEOUT_MS');
  });
});

describe('DATABASE_READ_URLS and DATABASE_READ_MAX_LAG_MS', () => {
  const primary = { DATABASE_URL: 'postgres://todo:primary-secret@db/todo' };

  it('default to no replicas and a maximum lag of 5 s', () => {
    expect(loadConfig({}).database).toMatchObject({ readUrls: [], readMaxLagMs: 5000 });
  });

  it('read a comma-separated list of postgres URLs, spaces around the commas allowed', () => {
    const config = loadConfig({
      ...primary,
      DATABASE_READ_URLS: 'postgres://todo:pw@replica-a:5432/todo, postgresql://todo:pw@replica-b/todo',
      DATABASE_READ_MAX_LAG_MS: '1500',
    });
    expect(config.database).toMatchObject({ readUrls: ['postgres://todo:pw@replica-a:5432/todo', 'postgresql://todo:pw@replica-b/todo'], readMaxLagMs: 1500 });
  });

  it('refuse an entry that is not a postgres URL by its position, never echoing a password (generated passwords)', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Za-z0-9]{8,24}$/),
        fc.constantFrom('mysql://u:%s@h/db', 'postgres://u:%s@', '%s', 'postgres://u:%s@h/db,,'),
        (password, shape) => {
          const bad = shape.replace('%s', password);
          const message = configError({ ...primary, DATABASE_READ_URLS: `postgres://u:${password}@good/db,${bad}` });
          expect(message).toMatch(/DATABASE_READ_URLS: entry [23] must be a postgres:\/\/ or postgresql:\/\/ URL/);
          expect(message).not.toContain(password);
        },
      ),
    );
  });

  it('need DATABASE_URL: replicas stream from a primary, which the embedded development server is not', () => {
    expect(configError({ DATABASE_READ_URLS: 'postgres://todo@replica/todo' })).toContain('DATABASE_READ_URLS: needs DATABASE_URL');
  });

  it('refuse a negative or fractional maximum lag, naming it', () => {
    expect(configError({ DATABASE_READ_MAX_LAG_MS: '-1' })).toContain('DATABASE_READ_MAX_LAG_MS');
    expect(configError({ DATABASE_READ_MAX_LAG_MS: '1.5' })).toContain('DATABASE_READ_MAX_LAG_MS');
  });
});

describe('DB_STATS_INTERVAL_MS', () => {
  it('defaults to 30 s', () => {
    expect(loadConfig({}).databaseStatsIntervalMs).toBe(30_000);
  });

  it('is 0 (no statistics) or at least 1000 ms, and a refusal names it', () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: -5, max: 100_000 }), fc.constantFrom(0, 999, 1000)), (ms) => {
        const accepted = ms === 0 || ms >= 1000;
        if (accepted) expect(loadConfig({ DB_STATS_INTERVAL_MS: String(ms) }).databaseStatsIntervalMs).toBe(ms);
        else expect(configError({ DB_STATS_INTERVAL_MS: String(ms) })).toContain('DB_STATS_INTERVAL_MS');
      }),
      { numRuns: 300 },
    );
    expect(configError({ DB_STATS_INTERVAL_MS: '500' })).toContain('DB_STATS_INTERVAL_MS: must be 0 (off) or at least 1000');
  });
});

describe('DATABASE_LISTEN_URL', () => {
  it('defaults to none (the change streams listen where DATABASE_URL goes) and is read as given', () => {
    expect(loadConfig({}).database.listenUrl).toBeUndefined();
    expect(loadConfig({ DATABASE_LISTEN_URL: 'postgres://todo:pw@db:5432/todo' }).database.listenUrl).toBe('postgres://todo:pw@db:5432/todo');
  });

  it('refuses what is not a postgres URL, naming the variable and never echoing it (generated passwords)', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9]{8,24}$/), fc.constantFrom('mysql://u:%s@h/db', 'postgres://u:%s@', '%s'), (password, shape) => {
        const message = configError({ DATABASE_LISTEN_URL: shape.replace('%s', password) });
        expect(message).toContain('DATABASE_LISTEN_URL: must be a postgres:// or postgresql:// URL');
        expect(message).not.toContain(password);
      }),
    );
  });
});
