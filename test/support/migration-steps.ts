import type { MigrationInterface } from 'typeorm';
import { AppDataSource, dataSourceOptions } from '../../src/db/data-source';
import { runPendingMigrations } from '../../src/db/migrations';
import { silentLogger } from './database';

type MigrationClass = new () => MigrationInterface;

const POOL = { poolSize: 2, connectTimeoutMs: 5000, statementTimeoutMs: 0, slowQueryMs: 60_000 };

/** The migrations this build carries, in the order they apply, as classes (from an initialized data source). */
export function migrationClasses(dataSource: AppDataSource): MigrationClass[] {
  return dataSource.migrations.map((migration) => migration.constructor as MigrationClass);
}

/**
 * Applies the pending ones among the first `count` migrations, as `npm run migration:run` would
 * (same lock, same transaction mode), so a test can stop between two migrations.
 */
export async function applyFirstMigrations(url: string, classes: MigrationClass[], count: number): Promise<string[]> {
  const dataSource = new AppDataSource({ ...dataSourceOptions(url, { database: POOL }, silentLogger), migrations: classes.slice(0, count) });
  await dataSource.initialize();
  try {
    return await runPendingMigrations(dataSource);
  } finally {
    await dataSource.destroy();
  }
}
