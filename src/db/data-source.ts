import path from 'node:path';
import { DataSource, type DataSourceOptions } from 'typeorm';
import type { Config } from '../config';
import type { Logger } from '../logger';
import { SecurityEvent } from '../audit/security-event.entity';
import { RotatedRefreshToken } from '../auth/rotated-refresh-token.entity';
import { Session } from '../auth/session.entity';
import { MaintenanceRun } from '../retention/maintenance-run.entity';
import { Task } from '../tasks/task.entity';
import { User } from '../users/user.entity';
import { startEmbeddedPostgres } from './embedded-postgres';
import { PinoTypeOrmLogger } from './typeorm-logger';

export const entities = [User, Task, Session, RotatedRefreshToken, SecurityEvent, MaintenanceRun];

type PostgresConnectionOptions = Extract<DataSourceOptions, { type: 'postgres' }>;

/**
 * A DataSource that also closes what was opened beside it (the read replicas' pools) and releases
 * what it was opened on (an embedded server this process started).
 */
export class AppDataSource extends DataSource {
  private readonly closers: (() => Promise<void>)[] = [];

  constructor(
    options: PostgresConnectionOptions,
    private readonly release: () => Promise<void> = async () => {},
  ) {
    super(options);
  }

  /** Runs `close` when this data source is destroyed, before its own pool closes. */
  closeWith(close: () => Promise<void>): void {
    this.closers.push(close);
  }

  override async destroy(): Promise<void> {
    try {
      await Promise.all(this.closers.splice(0).map((close) => close()));
      if (this.isInitialized) await super.destroy();
    } finally {
      await this.release();
    }
  }
}

/** The settings of the pool; the read replicas' pools take the same (src/db/database.ts). */
export type PoolSettings = Pick<Config['database'], 'poolSize' | 'connectTimeoutMs' | 'statementTimeoutMs' | 'slowQueryMs'>;

export function dataSourceOptions(url: string, config: { database: PoolSettings }, logger: Logger): PostgresConnectionOptions {
  return {
    type: 'postgres',
    url,
    entities,
    migrations: [path.join(__dirname, '..', '..', 'migrations', '*.{ts,js}')],
    migrationsTransactionMode: 'each',
    uuidExtension: 'pgcrypto',
    installExtensions: false,
    synchronize: false,
    logger: new PinoTypeOrmLogger(logger),
    maxQueryExecutionTime: config.database.slowQueryMs,
    applicationName: 'todo-service',
    extra: {
      max: config.database.poolSize,
      // pg-pool applies it to opening a connection and to waiting for a free one alike.
      connectionTimeoutMillis: config.database.connectTimeoutMs,
      ...(config.database.statementTimeoutMs ? { statement_timeout: config.database.statementTimeoutMs } : {}),
      idle_in_transaction_session_timeout: 60_000,
    },
  };
}

/**
 * The one place that decides which PostgreSQL the process talks to: `DATABASE_URL` when set,
 * otherwise the embedded server whose data lives in `EMBEDDED_DATABASE_DIR`.
 */
export async function resolveDatabase(config: Config, logger: Logger): Promise<{ url: string; release: () => Promise<void> }> {
  if (config.databaseUrl) {
    logger.info(`Database: ${redactUrl(config.databaseUrl)} (from DATABASE_URL)`);
    return { url: config.databaseUrl, release: async () => {} };
  }
  const server = await startEmbeddedPostgres(config.embeddedDatabaseDir, (message) => logger.info(message));
  const how = server.adopted
    ? 'taken over from a process that is gone; this process stops it'
    : server.owned
      ? 'started by this process'
      : 'already running, started by another process';
  logger.info(`Database: embedded PostgreSQL on 127.0.0.1:${server.port}, data in ${config.embeddedDatabaseDir} (${how})`);
  return { url: server.url, release: () => server.stop() };
}

export async function createDataSource(config: Config, logger: Logger): Promise<AppDataSource> {
  const { url, release } = await resolveDatabase(config, logger);
  return new AppDataSource(dataSourceOptions(url, config, logger), release);
}

export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable DATABASE_URL)';
  }
}
