import type { MigrationInterface, QueryRunner } from 'typeorm';
import { AppDataSource, dataSourceOptions } from '../src/db/data-source';
import { MigrationFailedError, migrationStatus, revertLastMigration, runPendingMigrations } from '../src/db/migrations';
import { readCatalog } from './support/catalog';
import { createTestDatabase, silentLogger, testDataSource, type TestDatabase } from './support/database';
import { applyFirstMigrations, migrationClasses } from './support/migration-steps';

let database: TestDatabase;
let dataSource: AppDataSource;

beforeAll(async () => {
  database = await createTestDatabase();
  dataSource = testDataSource(database.url);
  await dataSource.initialize();
});

afterAll(async () => {
  await dataSource.destroy();
  await database.drop();
});

async function revertAll(): Promise<string[]> {
  const reverted: string[] = [];
  for (let name = await revertLastMigration(dataSource); name; name = await revertLastMigration(dataSource)) reverted.push(name);
  return reverted;
}

describe('migrations', () => {
  it('apply one at a time and revert one at a time, each down restoring exactly the catalog its up started from', async () => {
    const allMigrations = dataSource.migrations.map((migration) => migration.name);
    const classes = migrationClasses(dataSource);
    const catalogs = [await readCatalog(dataSource)];
    for (let count = 1; count <= classes.length; count += 1) {
      expect(await applyFirstMigrations(database.url, classes, count)).toEqual([allMigrations[count - 1]]);
      catalogs.push(await readCatalog(dataSource));
    }
    expect(catalogs[0]).toEqual({ tables: [], functions: [], extensions: ['plpgsql'] });
    expect(catalogs[classes.length].tables.map((table) => table.name)).toEqual([
      'login_attempt_counts',
      'maintenance_runs',
      'rotated_refresh_tokens',
      'scheduled_jobs',
      'security_events',
      'sessions',
      'task_streams',
      'task_tombstones',
      'tasks',
      'tombstone_purges',
      'user_task_counts',
      'users',
    ]);

    for (let count = classes.length; count > 0; count -= 1) {
      expect(await revertLastMigration(dataSource)).toBe(allMigrations[count - 1]);
      expect([allMigrations[count - 1], await readCatalog(dataSource)]).toEqual([allMigrations[count - 1], catalogs[count - 1]]);
    }

    expect(await runPendingMigrations(dataSource)).toEqual(allMigrations);
    expect(await readCatalog(dataSource)).toEqual(catalogs[classes.length]);
  });

  it('report nothing pending once applied, and nothing to revert once all are reverted', async () => {
    await runPendingMigrations(dataSource);
    expect(await runPendingMigrations(dataSource)).toEqual([]);
    expect((await migrationStatus(dataSource)).every((migration) => migration.applied)).toBe(true);

    await revertAll();
    expect(await revertLastMigration(dataSource)).toBeUndefined();
    expect((await migrationStatus(dataSource)).some((migration) => migration.applied)).toBe(false);
    await runPendingMigrations(dataSource);
  });

  it('describe in the entities exactly the schema the migrations build', async () => {
    await runPendingMigrations(dataSource);
    const proposed = await dataSource.driver.createSchemaBuilder().log();
    expect(proposed.upQueries.map((query) => query.query)).toEqual([]);
  });
});

class HalfWrittenMigration9999999999999 implements MigrationInterface {
  name = 'HalfWrittenMigration9999999999999';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE TABLE half_written (id int)');
    await queryRunner.query('ALTER TABLE no_such_table ADD COLUMN x int');
  }

  async down(): Promise<void> {}
}

describe('a migration that fails', () => {
  it('is rolled back, named in the error, and leaves the earlier migrations applied', async () => {
    const scratch = await createTestDatabase();
    const options = dataSourceOptions(
      scratch.url,
      { database: { poolSize: 2, connectTimeoutMs: 5000, statementTimeoutMs: 0, slowQueryMs: 200 } },
      silentLogger,
    );
    const broken = new AppDataSource({ ...options, migrations: [...(options.migrations as string[]), HalfWrittenMigration9999999999999] });
    await broken.initialize();
    try {
      const failure = await runPendingMigrations(broken).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(MigrationFailedError);
      expect((failure as MigrationFailedError).migration).toBe('HalfWrittenMigration9999999999999');
      expect((failure as Error).message).toMatch(/relation "no_such_table" does not exist/);

      const [{ exists }] = await broken.query("SELECT to_regclass('public.half_written') IS NOT NULL AS exists");
      expect(exists).toBe(false);
      const status = await migrationStatus(broken);
      expect(status.filter((migration) => migration.applied).map((migration) => migration.name)).toEqual(
        dataSource.migrations.map((migration) => migration.name),
      );
    } finally {
      await broken.destroy();
      await scratch.drop();
    }
  });
});

const SCRATCH_POOL = { database: { poolSize: 3, connectTimeoutMs: 5000, statementTimeoutMs: 4000, slowQueryMs: 200 } };

/** The README's example of an index on a large table: CONCURRENTLY, which PostgreSQL refuses inside a transaction. */
class ConcurrentIndex9999999999998 implements MigrationInterface {
  name = 'ConcurrentIndex9999999999998';
  transaction = false;

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('SET statement_timeout = 0');
    await queryRunner.query('DROP INDEX CONCURRENTLY IF EXISTS idx_test_tasks_title');
    await queryRunner.query('CREATE INDEX CONCURRENTLY idx_test_tasks_title ON tasks (title)');
    await queryRunner.query('RESET statement_timeout');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX CONCURRENTLY IF EXISTS idx_test_tasks_title');
  }
}

class FailingConcurrentIndex9999999999999 implements MigrationInterface {
  name = 'FailingConcurrentIndex9999999999999';
  transaction = false;

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE INDEX CONCURRENTLY idx_test_tasks_completed ON tasks (completed)');
    await queryRunner.query('CREATE INDEX CONCURRENTLY idx_test_no_such ON no_such_table (x)');
  }

  async down(): Promise<void> {}
}

async function withExtraMigrations<T>(
  extra: Array<new () => MigrationInterface>,
  work: (url: string, open: () => Promise<AppDataSource>) => Promise<T>,
): Promise<T> {
  const scratch = await createTestDatabase();
  const opened: AppDataSource[] = [];
  const open = async () => {
    const options = dataSourceOptions(scratch.url, SCRATCH_POOL, silentLogger);
    const source = new AppDataSource({ ...options, migrations: [...(options.migrations as string[]), ...extra] });
    opened.push(source);
    await source.initialize();
    return source;
  };
  try {
    return await work(scratch.url, open);
  } finally {
    for (const source of opened) await source.destroy();
    await scratch.drop();
  }
}

describe('a migration with transaction = false (CREATE INDEX CONCURRENTLY)', () => {
  it('runs outside a transaction, once, when two migrators start together, and reverts outside one too', async () => {
    await withExtraMigrations([ConcurrentIndex9999999999998], async (_url, open) => {
      const [first, second] = [await open(), await open()];
      const results = await Promise.all([runPendingMigrations(first), runPendingMigrations(second)]);
      expect(results.map((applied) => applied.length).sort()).toEqual([0, first.migrations.length]);
      const recorded = await first.query(`SELECT count(*)::int AS n FROM migrations WHERE name = 'ConcurrentIndex9999999999998'`);
      expect(recorded).toEqual([{ n: 1 }]);
      const index = () => first.query(`SELECT x.indisvalid AS valid FROM pg_index x WHERE x.indexrelid = to_regclass('idx_test_tasks_title')`);
      expect(await index()).toEqual([{ valid: true }]);

      expect(await revertLastMigration(second)).toBe('ConcurrentIndex9999999999998');
      expect(await index()).toEqual([]);
      expect(await runPendingMigrations(first)).toEqual(['ConcurrentIndex9999999999998']);
      expect(await index()).toEqual([{ valid: true }]);
      // RESET went back to the pool's DB_STATEMENT_TIMEOUT_MS on the connection that migrated: every connection has it.
      const timeouts = await Promise.all([1, 2, 3].map(() => first.query(`SELECT current_setting('statement_timeout') AS timeout, pg_sleep(0.05)`)));
      expect(timeouts.map(([row]) => row.timeout)).toEqual(['4s', '4s', '4s']);
    });
  });

  it('says when it fails that it was not rolled back: what it did before failing stays', async () => {
    await withExtraMigrations([FailingConcurrentIndex9999999999999], async (_url, open) => {
      const source = await open();
      const failure = await runPendingMigrations(source).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(MigrationFailedError);
      expect((failure as Error).message).toMatch(
        /^migration FailingConcurrentIndex9999999999999 failed outside a transaction \(transaction = false\), so what it did before failing stays: .*"no_such_table"/,
      );
      expect(await source.query(`SELECT to_regclass('idx_test_tasks_completed') IS NOT NULL AS exists`)).toEqual([{ exists: true }]);
    });
  });
});
