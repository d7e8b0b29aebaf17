import crypto from 'node:crypto';
import path from 'node:path';
import proxyAddr from 'proxy-addr';
import { z } from 'zod';

/** The repository (or image) root, from src/ when run by ts-node and from dist/src/ when compiled. */
export const projectRoot = path.resolve(__dirname, __dirname.includes(`${path.sep}dist${path.sep}`) ? '../..' : '..');

const integer = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);

/** Long enough for any real client on a slow link, short enough that a trickling sender cannot hold a connection for long. */
const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;

const UNIT_SECONDS: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600, d: 86400 };

/** Seconds, or a number with a unit: `900`, `15m`, `12h`, `7d`. */
const duration = z
  .string()
  .regex(/^\d+\s*[smhd]?$/, 'must be seconds or a number with a unit s, m, h or d (e.g. 15m, 7d)')
  .transform((value) => {
    const [, amount, unit] = /^(\d+)\s*([smhd]?)$/.exec(value)!;
    return Number(amount) * UNIT_SECONDS[unit];
  })
  .refine((seconds) => seconds > 0, 'must be more than zero');

/** Values people copy from examples and forget to change. */
const PLACEHOLDER_SECRETS = /^(changethis|changeme|secret|password|your[-_]?secret.*|jwt[-_]?secret|example.*|x+)$/i;

/**
 * `DATABASE_READ_URLS`: comma-separated postgres URLs of read replicas. A refusal names the entry by
 * its position, never by its text: the URLs carry passwords.
 */
const readUrls = z.string().transform((value, context): string[] => {
  const urls = value.split(',').map((url) => url.trim());
  urls.forEach((url, index) => {
    if (!isPostgresUrl(url)) context.addIssue({ code: 'custom', message: `entry ${index + 1} must be a postgres:// or postgresql:// URL` });
  });
  return urls;
});

function isPostgresUrl(text: string): boolean {
  if (!/^postgres(ql)?:\/\/./.test(text)) return false;
  try {
    return new URL(text).hostname !== '';
  } catch {
    return false;
  }
}

/** Days rows are kept before the retention job deletes them; 0 keeps them forever. At most a century. */
const retentionDays = integer(0, 36_500);

/** The longest delay Node's timers take (2^31 - 1 ms, about 24.8 days); a longer one fires at once. */
const MAX_TIMER_MS = 2_147_483_647;

const booleanFlag = z.enum(['true', 'false', '1', '0']).transform((value) => value === 'true' || value === '1');

/**
 * What Express's `trust proxy` accepts from a string: true/false, a hop count, or a comma-separated
 * list of addresses, CIDR ranges and the names loopback, linklocal, uniquelocal. The list is checked
 * with proxy-addr's `compile`, the function Express itself hands it to, so what passes here cannot
 * fail later inside Express.
 */
const trustProxy = z.string().transform((value, context): boolean | number | string => {
  if (value === 'true' || value === 'false') return value === 'true';
  if (/^\d+$/.test(value)) return Number(value);
  try {
    proxyAddr.compile(value.split(',').map((entry) => entry.trim()));
  } catch (error) {
    context.addIssue({
      code: 'custom',
      message: `must be true, false, a hop count, or comma-separated addresses, CIDR ranges or loopback/linklocal/uniquelocal (${(error as Error).message})`,
    });
    return z.NEVER;
  }
  return value;
});

const environmentSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: integer(0, 65535).default(8000),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  DATABASE_READ_URLS: readUrls.optional(),
  DATABASE_READ_MAX_LAG_MS: integer(0).default(5000),
  DATABASE_LISTEN_URL: z.string().refine(isPostgresUrl, 'must be a postgres:// or postgresql:// URL').optional(),
  EMBEDDED_DATABASE_DIR: z
    .string()
    .min(1)
    .default(path.join(projectRoot, '.data', 'postgres')),
  MIGRATE_ON_START: booleanFlag.optional(),
  DB_POOL_SIZE: integer(1, 1000).default(10),
  DB_CONNECT_TIMEOUT_MS: integer(100).default(5000),
  DB_STATEMENT_TIMEOUT_MS: integer(0).default(10000),
  DB_PREPARED_STATEMENTS: booleanFlag.default(true),
  REQUEST_TIMEOUT_MS: integer(100).default(30000),
  HEADERS_TIMEOUT_MS: integer(100).optional(),
  SHUTDOWN_TIMEOUT_MS: integer(0).default(10000),
  WEB_CONCURRENCY: integer(1, 64).default(1),
  BCRYPT_ROUNDS: integer(4, 20).default(12),
  BCRYPT_CONCURRENCY: integer(1, 64).optional(),
  JWT_SECRET: z.string().optional(),
  ACCESS_TOKEN_TTL: duration.prefault('15m'),
  REFRESH_TOKEN_TTL: duration.prefault('7d'),
  LOGIN_RATE_LIMIT: integer(0).default(10),
  LOGIN_RATE_LIMIT_PER_IP: integer(0).default(100),
  CORS_ORIGINS: z.string().optional(),
  TRUST_PROXY: trustProxy.optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
  SLOW_QUERY_MS: integer(1).default(200),
  DB_STATS_INTERVAL_MS: integer(0)
    .refine((ms) => ms === 0 || ms >= 1000, 'must be 0 (off) or at least 1000: the statistics are read from the catalog at most this often')
    .default(30000),
  SYNC_TOMBSTONE_RETENTION_DAYS: integer(1, 3650).default(30),
  STREAM_MAX_PER_USER: integer(1, 1000).default(5),
  STREAM_HEARTBEAT_MS: integer(100, 3_600_000).default(15_000),
  BACKUP_DIR: z.string().min(1).default(path.join(projectRoot, 'backups')),
  BACKUP_KEEP: integer(0, 100_000).default(14),
  PG_BIN_DIR: z.string().min(1).optional(),
  TRASH_RETENTION_DAYS: retentionDays.default(30),
  SESSION_RETENTION_DAYS: retentionDays.default(30),
  ACCOUNT_RETENTION_DAYS: retentionDays.default(30),
  AUDIT_RETENTION_DAYS: retentionDays.default(90),
  RETENTION_INTERVAL_MS: integer(0, MAX_TIMER_MS).default(3_600_000),
  RETENTION_BATCH_SIZE: integer(1, 100_000).default(1000),
});

export type Environment = z.infer<typeof environmentSchema>['NODE_ENV'];

export interface Config {
  env: Environment;
  port: number;
  host: string;
  databaseUrl: string | undefined;
  embeddedDatabaseDir: string;
  migrateOnStart: boolean;
  database: {
    poolSize: number;
    /** How long to wait for a connection, new or from the pool, before answering 503. */
    connectTimeoutMs: number;
    /** PostgreSQL's statement_timeout for our sessions; 0 for none. */
    statementTimeoutMs: number;
    slowQueryMs: number;
    /**
     * Run the hot statements as named prepared statements (parsed and planned once per connection).
     * Off behind a transaction-mode pooler (PgBouncer 1.18), which hands each transaction any server
     * connection, where a statement prepared on another one does not exist.
     */
    preparedStatements: boolean;
    /** Read replicas (streaming standbys of the primary) that reads of task data may go to; empty for none. */
    readUrls: string[];
    /** A replica further behind the primary than this is not read from. */
    readMaxLagMs: number;
    /**
     * Where the change streams' listening connection goes, when not where DATABASE_URL does: the
     * primary itself when DATABASE_URL is a transaction pooler (PgBouncer), which cannot hold a LISTEN.
     */
    listenUrl: string | undefined;
  };
  /** How often one process of the fleet reads the database's statistics for /metrics; 0 for never. */
  databaseStatsIntervalMs: number;
  /** A request without a response after this long gets 503; also Node's limit on receiving one. */
  requestTimeoutMs: number;
  /** Node's limit on receiving a request's headers (slow senders); never more than requestTimeoutMs. */
  headersTimeoutMs: number;
  shutdownTimeoutMs: number;
  /** HTTP worker processes (node:cluster); 1 serves from the main process. */
  webConcurrency: number;
  logLevel: z.infer<typeof environmentSchema>['LOG_LEVEL'];
  /** `pretty` for people, `json` for machines; unset: pretty on a terminal. */
  logFormat: 'json' | 'pretty' | undefined;
  auth: {
    bcryptRounds: number;
    /** Password hashes computed at once; default: one fewer than the cores (at least one). */
    bcryptConcurrency: number | undefined;
    jwtSecret: string;
    /** True when no JWT_SECRET was given and one was generated for this process (development only). */
    jwtSecretGenerated: boolean;
    accessTokenTtlSeconds: number;
    refreshTokenTtlSeconds: number;
    loginRateLimit: number;
    loginRateLimitPerIp: number;
  };
  sync: {
    /** How long tombstones of deleted tasks are kept, and so how long a sync token lasts. */
    tombstoneRetentionDays: number;
    /** Open change streams per user, across every process. */
    streamMaxPerUser: number;
    /** A stream's heartbeat comment, session re-check and catch-up read, this often. */
    streamHeartbeatMs: number;
  };
  /** npm run db:backup / db:restore. */
  backup: {
    dir: string;
    /** Archives kept by db:backup, newest first; 0 keeps every one. */
    keep: number;
    /** Where pg_dump and pg_restore are, when set; otherwise PATH and /usr/lib/postgresql/<major>/bin are searched. */
    pgBinDir: string | undefined;
  };
  /** How long deleted or ended rows are kept, in days (0: forever), and how the retention job runs. */
  retention: {
    trashDays: number;
    sessionDays: number;
    accountDays: number;
    auditDays: number;
    /** Between two runs of the job in the service; 0: the service never runs it (npm run purge still does). */
    intervalMs: number;
    /** Rows deleted per transaction. */
    batchSize: number;
  };
  http: {
    /** Origins allowed by CORS; `'*'` for any; empty for none (same-origin only). */
    corsOrigins: string[] | '*';
    /** Express's `trust proxy` setting, so the client address behind a proxy is the real one. */
    trustProxy: boolean | number | string;
  };
}

export class ConfigError extends Error {}

/**
 * Reads and validates the environment once; every problem is reported with the variable's name.
 * Tools that do not serve HTTP (migrations, seeds) pass `server: false`: they need no JWT_SECRET.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, { server = true }: { server?: boolean } = {}): Config {
  const parsed = environmentSchema.safeParse(emptyAsUnset(env));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
  }
  const e = parsed.data;
  const problems = productionProblems(e, server);
  if (problems.length) throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
  return {
    env: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    embeddedDatabaseDir: path.resolve(e.EMBEDDED_DATABASE_DIR),
    migrateOnStart: e.MIGRATE_ON_START ?? e.NODE_ENV !== 'production',
    database: {
      poolSize: e.DB_POOL_SIZE,
      connectTimeoutMs: e.DB_CONNECT_TIMEOUT_MS,
      statementTimeoutMs: e.DB_STATEMENT_TIMEOUT_MS,
      slowQueryMs: e.SLOW_QUERY_MS,
      preparedStatements: e.DB_PREPARED_STATEMENTS,
      readUrls: e.DATABASE_READ_URLS ?? [],
      readMaxLagMs: e.DATABASE_READ_MAX_LAG_MS,
      listenUrl: e.DATABASE_LISTEN_URL,
    },
    databaseStatsIntervalMs: e.DB_STATS_INTERVAL_MS,
    requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
    headersTimeoutMs: e.HEADERS_TIMEOUT_MS ?? Math.min(DEFAULT_HEADERS_TIMEOUT_MS, e.REQUEST_TIMEOUT_MS),
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    webConcurrency: e.WEB_CONCURRENCY,
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
    auth: {
      bcryptRounds: e.BCRYPT_ROUNDS,
      bcryptConcurrency: e.BCRYPT_CONCURRENCY,
      jwtSecret: e.JWT_SECRET ?? crypto.randomBytes(32).toString('base64url'),
      jwtSecretGenerated: e.JWT_SECRET === undefined,
      accessTokenTtlSeconds: e.ACCESS_TOKEN_TTL,
      refreshTokenTtlSeconds: e.REFRESH_TOKEN_TTL,
      loginRateLimit: e.LOGIN_RATE_LIMIT,
      loginRateLimitPerIp: e.LOGIN_RATE_LIMIT_PER_IP,
    },
    sync: {
      tombstoneRetentionDays: e.SYNC_TOMBSTONE_RETENTION_DAYS,
      streamMaxPerUser: e.STREAM_MAX_PER_USER,
      streamHeartbeatMs: e.STREAM_HEARTBEAT_MS,
    },
    backup: {
      dir: path.resolve(e.BACKUP_DIR),
      keep: e.BACKUP_KEEP,
      pgBinDir: e.PG_BIN_DIR === undefined ? undefined : path.resolve(e.PG_BIN_DIR),
    },
    retention: {
      trashDays: e.TRASH_RETENTION_DAYS,
      sessionDays: e.SESSION_RETENTION_DAYS,
      accountDays: e.ACCOUNT_RETENTION_DAYS,
      auditDays: e.AUDIT_RETENTION_DAYS,
      intervalMs: e.RETENTION_INTERVAL_MS,
      batchSize: e.RETENTION_BATCH_SIZE,
    },
    http: {
      corsOrigins: parseOrigins(e.CORS_ORIGINS),
      trustProxy: e.TRUST_PROXY ?? false,
    },
  };
}

type ParsedEnvironment = z.infer<typeof environmentSchema>;

/** Settings that contradict each other, and those that are fine on a laptop and dangerous in production. */
function productionProblems(e: ParsedEnvironment, server: boolean): string[] {
  const problems: string[] = [];
  if (e.DB_STATEMENT_TIMEOUT_MS > 0 && e.DB_STATEMENT_TIMEOUT_MS >= e.REQUEST_TIMEOUT_MS) {
    problems.push('DB_STATEMENT_TIMEOUT_MS: must be shorter than REQUEST_TIMEOUT_MS, or a statement could still write after its request was answered 503');
  }
  if (e.HEADERS_TIMEOUT_MS !== undefined && e.HEADERS_TIMEOUT_MS > e.REQUEST_TIMEOUT_MS) {
    problems.push('HEADERS_TIMEOUT_MS: must not be longer than REQUEST_TIMEOUT_MS (the headers are part of the request)');
  }
  if (e.DATABASE_READ_URLS !== undefined && e.DATABASE_URL === undefined) {
    problems.push('DATABASE_READ_URLS: needs DATABASE_URL (replicas stream from a primary, which the embedded development server is not)');
  }
  if (e.JWT_SECRET !== undefined) {
    if (Buffer.byteLength(e.JWT_SECRET) < 32) problems.push('JWT_SECRET: must be at least 32 bytes');
    else if (PLACEHOLDER_SECRETS.test(e.JWT_SECRET) || new Set(e.JWT_SECRET).size < 8)
      problems.push('JWT_SECRET: looks like a placeholder; use a random value (e.g. `openssl rand -base64 48`)');
  }
  if (e.NODE_ENV !== 'production') return problems;
  if (e.DATABASE_URL === undefined) problems.push('DATABASE_URL: required when NODE_ENV=production (the embedded PostgreSQL is for development only)');
  if (!server) return problems;
  if (e.JWT_SECRET === undefined) problems.push('JWT_SECRET: required when NODE_ENV=production (at least 32 random bytes)');
  if (e.BCRYPT_ROUNDS < 10) problems.push('BCRYPT_ROUNDS: must be at least 10 when NODE_ENV=production');
  return problems;
}

function parseOrigins(value: string | undefined): string[] | '*' {
  if (value === undefined) return [];
  if (value.trim() === '*') return '*';
  return value
    .split(',')
    .map((origin) => origin.trim())
    .filter(Boolean);
}

/** `FOO=` in a shell or a compose file means "not set", not "set to the empty string". */
function emptyAsUnset(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== ''));
}
