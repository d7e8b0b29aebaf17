import type { Config } from '../config';
import type { Logger } from '../logger';
import { AppDataSource, dataSourceOptions, resolveDatabase } from './data-source';

/**
 * The database the service uses (DATABASE_URL, or the embedded default, started if needed), opened
 * for a maintenance CLI (backup, restore): its own statements (ANALYZE, counting every row of a
 * restored table) are slow by design, so no statement timeout and no slow-query warnings. The URL is
 * returned too, for pg_dump and pg_restore. Destroying the data source stops an embedded server it
 * started.
 */
export async function openMaintenanceConnection(config: Config, logger: Logger): Promise<{ url: string; dataSource: AppDataSource }> {
  const { url, release } = await resolveDatabase(config, logger);
  const settings = { database: { ...config.database, statementTimeoutMs: 0, slowQueryMs: 24 * 3_600_000 } };
  const dataSource = new AppDataSource(dataSourceOptions(url, settings, logger), release);
  try {
    await dataSource.initialize();
  } catch (error) {
    await dataSource.destroy().catch(() => undefined);
    throw error;
  }
  return { url, dataSource };
}
