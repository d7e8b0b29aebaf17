import { createApp, type App } from '../../src/app';
import { loadConfig, type Config } from '../../src/config';
import type { AppDataSource } from '../../src/db/data-source';
import type { Logger } from '../../src/logger';
import { createMigratedDatabase, silentLogger, type TestDatabase } from './database';

export interface TestApp {
  app: App;
  config: Config;
  dataSource: AppDataSource;
  database: TestDatabase;
  close(): Promise<void>;
}

/** Fast bcrypt and a known secret, so tests can forge tokens; anything else as in development. */
export const TEST_JWT_SECRET = 'test-secret-0123456789abcdefghijklmnopqrstuvwxyz';

/** The real app on its own freshly migrated database; `env` overrides configuration as environment variables would. */
export async function createTestApp(env: Record<string, string> = {}, logger: Logger = silentLogger): Promise<TestApp> {
  const config = loadConfig({ NODE_ENV: 'test', BCRYPT_ROUNDS: '4', JWT_SECRET: TEST_JWT_SECRET, ...env });
  const { database, dataSource, close } = await createMigratedDatabase(config, logger);
  const app = createApp({ config, dataSource, logger });
  return {
    app,
    config,
    dataSource,
    database,
    // Open change streams and their listening connection go first: dropping the database would cut them off.
    close: () => app.background.stop().then(close),
  };
}
