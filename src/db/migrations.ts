import { MigrationExecutor, type DataSource } from 'typeorm';

/** Any constant works; it only has to be the same in every process that migrates this database. */
const MIGRATION_LOCK_KEY = 7_204_551_093;

export interface MigrationStatus {
  name: string;
  applied: boolean;
}

/** How often a migrator waiting for another one's lock tries again. */
const LOCK_RETRY_MS = 250;

export class MigrationFailedError extends Error {
  constructor(
    readonly migration: string,
    readonly cause: unknown,
    inTransaction = true,
  ) {
    const outcome = inTransaction ? 'failed and was rolled back' : 'failed outside a transaction (transaction = false), so what it did before failing stays';
    super(`migration ${migration} ${outcome}: ${(cause as Error)?.message ?? String(cause)}`);
  }
}

/** False for a migration that declares `transaction = false` (e.g. CREATE INDEX CONCURRENTLY), which runs outside one. */
function runsInTransaction(dataSource: DataSource, name: string): boolean {
  return dataSource.migrations.find((migration) => (migration.name ?? migration.constructor.name) === name)?.transaction !== false;
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
      const failed = stillPending[0]?.name ?? pending[0].name;
      throw new MigrationFailedError(failed, error, runsInTransaction(dataSource, failed));
    }
  });
}

/** Reverts the most recently applied migration. Returns its name, or undefined when none is applied. */
export async function revertLastMigration(dataSource: DataSource): Promise<string | undefined> {
  return withMigrationLock(dataSource, async () => {
    const executed = await new MigrationExecutor(dataSource).getExecutedMigrations();
    const last = executed.sort((a, b) => b.timestamp - a.timestamp)[0];
    if (!last) return undefined;
    // TypeORM runs the up of a `transaction = false` migration outside a transaction, but with
    // 'each' wraps every down in one, where DROP INDEX CONCURRENTLY fails: its down needs 'none'.
    const inTransaction = runsInTransaction(dataSource, last.name);
    try {
      await dataSource.undoLastMigration({ transaction: inTransaction ? 'each' : 'none' });
    } catch (error) {
      throw new MigrationFailedError(last.name, error, inTransaction);
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

/**
 * Two processes migrating one database at once (two replicas starting) would apply a migration twice.
 * The waiting one polls with pg_try_advisory_lock instead of blocking in pg_advisory_lock: a statement
 * blocked there holds a snapshot, and CREATE INDEX CONCURRENTLY in the other process waits for every
 * older snapshot to go, so the two would wait for each other for good.
 */
async function withMigrationLock<T>(dataSource: DataSource, work: () => Promise<T>): Promise<T> {
  const lockRunner = dataSource.createQueryRunner();
  await lockRunner.connect();
  try {
    while (!(await lockRunner.query('SELECT pg_try_advisory_lock($1) AS locked', [MIGRATION_LOCK_KEY]))[0].locked) {
      await new Promise((resolve) => setTimeout(resolve, LOCK_RETRY_MS));
    }
    return await work();
  } finally {
    await lockRunner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await lockRunner.release();
  }
}
