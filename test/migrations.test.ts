import type { MigrationInterface, QueryRunner } from 'typeorm';
import { AppDataSource, dataSourceOptions } from '../src/db/data-source';
import { MigrationFailedError, migrationStatus, revertLastMigration, runPendingMigrations } from '../src/db/migrations';
import { readCatalog } from './support/catalog';
import { createTestDatabase, silentLogger, testDataSource, type TestDatabase } from './support/database';

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
  it('apply, revert all the way down and apply again, leaving the same catalog', async () => {
    const allMigrations = dataSource.migrations.map((migration) => migration.name);
    expect(await runPendingMigrations(dataSource)).toEqual(allMigrations);
    const first = await readCatalog(dataSource);
    expect(first.tables.map((table) => table.name)).toEqual([
      'rotated_refresh_tokens',
      'sessions',
      'task_streams',
      'task_tombstones',
      'tasks',
      'tombstone_purges',
      'user_task_counts',
      'users',
    ]);

    expect(await revertAll()).toEqual([...allMigrations].reverse());
    expect(await readCatalog(dataSource)).toEqual({ tables: [], functions: [], extensions: ['plpgsql'] });

    expect(await runPendingMigrations(dataSource)).toEqual(allMigrations);
    expect(await readCatalog(dataSource)).toEqual(first);
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
