import { composeApp, type App } from '../../src/app';
import { loadConfig, type Config } from '../../src/config';
import type { AppDataSource } from '../../src/db/data-source';
import type { DatabaseStats } from '../../src/observability/database-stats';
import type { Logger } from '../../src/logger';
import { createMigratedDatabase, silentLogger, type TestDatabase } from './database';

export interface TestApp {
  app: App;
  config: Config;
  dataSource: AppDataSource;
  database: TestDatabase;
  /** Not started: a test collects with `collectNow()` when it wants the statistics. */
  databaseStats: DatabaseStats;
  close(): Promise<void>;
}

/** Fast bcrypt and a known secret, so tests can forge tokens; anything else as in development. */
export const TEST_JWT_SECRET = 'test-secret-0123456789abcdefghijklmnopqrstuvwxyz';

/** Set for a run behind PgBouncer (.ci/pgbouncer.sh): the app needs it to work there. */
const RUN_SETTINGS = ['DB_PREPARED_STATEMENTS'];

/**
 * The real app on its own freshly migrated database (reached through PgBouncer when
 * TEST_PGBOUNCER_URL is set); `env` overrides configuration as environment variables would.
 */
export async function createTestApp(env: Record<string, string> = {}, logger: Logger = silentLogger): Promise<TestApp> {
  const runSettings = Object.fromEntries(RUN_SETTINGS.flatMap((name) => (process.env[name] ? [[name, process.env[name]!]] : [])));
  const loaded = loadConfig({ NODE_ENV: 'test', BCRYPT_ROUNDS: '4', JWT_SECRET: TEST_JWT_SECRET, ...runSettings, ...env });
  const { database, dataSource, close } = await createMigratedDatabase(loaded, logger, { pooled: true });
  // Behind PgBouncer the change streams listen on a connection straight to PostgreSQL, as a deployment must (DATABASE_LISTEN_URL).
  const listenUrl = loaded.database.listenUrl ?? (process.env.TEST_PGBOUNCER_URL ? database.url : undefined);
  const config = { ...loaded, database: { ...loaded.database, listenUrl } };
  const { app, databaseStats } = composeApp({ config, dataSource, logger });
  return {
    app,
    config,
    dataSource,
    database,
    databaseStats,
    // Open change streams and their listening connection go first: dropping the database would cut them off.
    close: () => app.background.stop().then(close),
  };
}
