import crypto from 'node:crypto';
import { Client } from 'pg';
import pino from 'pino';
import { AppDataSource, dataSourceOptions, type PoolSettings } from '../../src/db/data-source';
import type { Logger } from '../../src/logger';
import { runPendingMigrations } from '../../src/db/migrations';

export const silentLogger = pino({ level: 'silent' });

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

export function adminUrl(): string {
  const url = process.env.TEST_ADMIN_DATABASE_URL;
  if (!url) throw new Error('TEST_ADMIN_DATABASE_URL is not set: run the tests through jest (its global setup starts the server)');
  return url;
}

export function urlForDatabase(name: string): string {
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * The URL of a test database as the app reaches it: through the PgBouncer TEST_PGBOUNCER_URL names
 * (transaction pooling; .ci/pgbouncer.sh starts one), or directly. Creating databases and migrating
 * always go directly: the migration runner holds a session advisory lock, which transaction pooling
 * would leave on a server connection other clients then get.
 */
export function pooledUrlForDatabase(name: string): string {
  const pooler = process.env.TEST_PGBOUNCER_URL;
  if (!pooler) return urlForDatabase(name);
  const url = new URL(pooler);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A new, empty database on the test server, for one test file. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `test_${crypto.randomBytes(6).toString('hex')}`;
  await withAdminClient((client) => client.query(`CREATE DATABASE ${name}`));
  return {
    name,
    url: urlForDatabase(name),
    drop: () => withAdminClient((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

const TEST_POOL = { poolSize: 10, connectTimeoutMs: 5000, statementTimeoutMs: 0, slowQueryMs: 200 };

export function testDataSource(url: string, config: { database: PoolSettings } = { database: TEST_POOL }, logger: Logger = silentLogger): AppDataSource {
  return new AppDataSource(dataSourceOptions(url, config, logger));
}

/**
 * A fresh database with every migration applied, and an open DataSource on it (configured as
 * `config` says, if given): for the app, `{ pooled: true }`, through PgBouncer where the run has one.
 */
export async function createMigratedDatabase(
  config?: { database: PoolSettings },
  logger?: Logger,
  { pooled = false } = {},
): Promise<{ database: TestDatabase; dataSource: AppDataSource; close(): Promise<void> }> {
  const database = await createTestDatabase();
  let dataSource = testDataSource(database.url, config, logger);
  await dataSource.initialize();
  await runPendingMigrations(dataSource);
  const appUrl = pooled ? pooledUrlForDatabase(database.name) : database.url;
  if (appUrl !== database.url) {
    await dataSource.destroy();
    dataSource = testDataSource(appUrl, config, logger);
    await dataSource.initialize();
  }
  return {
    database,
    dataSource,
    async close() {
      await dataSource.destroy();
      await database.drop();
    },
  };
}

export async function withAdminClient<T>(work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
