import { MigrationExecutor, type DataSource } from 'typeorm';
import { probePooler } from './pooler-probe';

/** Any constant works; it only has to be the same in every process that migrates this database. */
const MIGRATION_LOCK_KEY = 7_204_551_093;

export interface MigrationStatus {
  name: string;
  applied: boolean;
}

export class MigrationFailedError extends Error {
  constructor(
    readonly migration: string,
    readonly cause: unknown,
  ) {
    super(`migration ${migration} failed and was rolled back: ${(cause as Error)?.message ?? String(cause)}`);
  }
}

/** Applies every pending migration, each in its own transaction. Returns the names applied. */
export async function runPendingMigrations(dataSource: DataSource): Promise<string[]> {
  return withMigrationLock(dataSource, async () => {
    const pending = await new MigrationExecutor(dataSource).getPendingMigrations();
    if (pending.length === 0) return [];
    try {
      const applied = await dataSource.runMigrations({ transaction: 'each' });
      return applied.map((migration) => migration.name);
    } catch (error) {
      const stillPending = await new MigrationExecutor(dataSource).getPendingMigrations();
      throw new MigrationFailedError(stillPending[0]?.name ?? pending[0].name, error);
    }
  });
}

/** Reverts the most recently applied migration. Returns its name, or undefined when none is applied. */
export async function revertLastMigration(dataSource: DataSource): Promise<string | undefined> {
  return withMigrationLock(dataSource, async () => {
    const executed = await new MigrationExecutor(dataSource).getExecutedMigrations();
    const last = executed.sort((a, b) => b.timestamp - a.timestamp)[0];
    if (!last) return undefined;
    try {
      await dataSource.undoLastMigration({ transaction: 'each' });
    } catch (error) {
      throw new MigrationFailedError(last.name, error);
    }
    return last.name;
  });
}

export async function migrationStatus(dataSource: DataSource): Promise<MigrationStatus[]> {
  const executor = new MigrationExecutor(dataSource);
  const applied = new Set((await executor.getExecutedMigrations()).map((migration) => migration.name));
  return dataSource.migrations.map((migration) => {
    const name = migration.name ?? migration.constructor.name;
    return { name, applied: applied.has(name) };
  });
}

/** Names of the migrations not applied yet, without creating TypeORM's bookkeeping table as a side effect. */
export async function pendingMigrations(dataSource: DataSource): Promise<string[]> {
  const table = dataSource.options.migrationsTableName ?? 'migrations';
  const [{ exists }] = await dataSource.query('SELECT to_regclass($1) IS NOT NULL AS exists', [table]);
  const applied = new Set<string>(exists ? (await dataSource.query(`SELECT name FROM "${table}"`)).map((row: { name: string }) => row.name) : []);
  return dataSource.migrations.map((migration) => migration.name ?? migration.constructor.name).filter((name) => !applied.has(name));
}

/** Migrations hold a session-level advisory lock, which a transaction-mode pooler would drop, or hand to another client, after one statement. */
export class MigrationsNeedASessionError extends Error {
  constructor() {
    super(
      'the database connection goes through a pooler in transaction mode (e.g. PgBouncer pool_mode=transaction), ' +
        'which would lose the advisory lock that keeps migrators apart: run migrations on a direct connection to PostgreSQL ' +
        '(or a session-mode pool), e.g. DATABASE_URL naming the server itself',
    );
  }
}

/**
 * Two processes migrating one database at once (two replicas starting) would apply a migration
 * twice. The lock is a session's, so migrations refuse to run where sessions are not kept.
 */
async function withMigrationLock<T>(dataSource: DataSource, work: () => Promise<T>): Promise<T> {
  if ((await probePooler(dataSource)).sharesServerConnections) throw new MigrationsNeedASessionError();
  const lockRunner = dataSource.createQueryRunner();
  await lockRunner.connect();
  try {
    await lockRunner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    return await work();
  } finally {
    await lockRunner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await lockRunner.release();
  }
}
