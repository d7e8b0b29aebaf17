import crypto from 'node:crypto';
import { Client } from 'pg';
import { PasswordHasher } from '../../src/auth/passwords';
import type { AppDataSource } from '../../src/db/data-source';
import { revertLastMigration, runPendingMigrations } from '../../src/db/migrations';
import { tableChecksums } from '../../src/db/table-checksums';
import { seedBulk } from '../../seeds/seed';
import { readCatalog } from '../support/catalog';
import { createTestDatabase, testDataSource, type TestDatabase } from '../support/database';
import { applyFirstMigrations, migrationClasses } from '../support/migration-steps';

jest.setTimeout(600_000);

/**
 * How long each migration holds locks on `tasks` when the table has 100,000 rows: every migration
 * after the one that creates the table is applied on its own to exactly the schema before it, then
 * reverted one by one, while another connection samples pg_locks as fast as it can.
 */
const TASKS = 100_000;

/** ACCESS EXCLUSIVE blocks reads too: a rolling deploy's old version would stall on every request meanwhile. */
const ACCESS_EXCLUSIVE_BOUND_MS = 500;

/**
 * Modes that block writes (SHARE and stronger). A migration may hold one only briefly, except those
 * named here: they ran before the rule, and docs/operations.md says why they hold it and for how long.
 */
const WRITE_BLOCKING_BOUND_MS = 500;
const DOCUMENTED_WRITE_BLOCKERS_MS: Record<string, number> = {
  // Five CREATE INDEX (not CONCURRENTLY) in one transaction: SHARE until the last one is built.
  TaskListIndexes1795461046000: 5_000,
};
const WRITE_BLOCKING_MODES = new Set(['ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock']);

interface Step {
  migration: string;
  direction: 'up' | 'down';
  /** Lock mode → milliseconds from the first sample that saw it to the last. */
  held: Map<string, number>;
}

let database: TestDatabase;
let dataSource: AppDataSource;
let monitor: Client;

beforeAll(async () => {
  database = await createTestDatabase();
  dataSource = testDataSource(database.url);
  await dataSource.initialize();
  monitor = new Client({ connectionString: database.url });
  await monitor.connect();
});

afterAll(async () => {
  await monitor.end();
  await dataSource.destroy();
  await database.drop();
});

/** Samples, from another connection, the locks other sessions hold on `tasks` while `work` runs. */
async function locksOnTasksDuring(work: () => Promise<unknown>): Promise<Map<string, number>> {
  const [{ oid }] = (await monitor.query(`SELECT 'tasks'::regclass::oid AS oid`)).rows;
  const seen = new Map<string, { first: number; last: number }>();
  let done = false;
  const sampling = (async () => {
    while (!done) {
      const { rows } = await monitor.query(
        `SELECT DISTINCT mode FROM pg_locks
          WHERE locktype = 'relation' AND relation = $1 AND granted AND pid <> pg_backend_pid()
            AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
        [oid],
      );
      const now = performance.now();
      for (const { mode } of rows) {
        const span = seen.get(mode);
        if (span) span.last = now;
        else seen.set(mode, { first: now, last: now });
      }
    }
  })();
  try {
    await work();
  } finally {
    done = true;
    await sampling;
  }
  return new Map([...seen].map(([mode, { first, last }]) => [mode, Math.round(last - first)]));
}

function describeSteps(steps: Step[]): string {
  return steps
    .map(
      (step) =>
        `${step.direction.padEnd(4)} ${step.migration.padEnd(36)} ${[...step.held].map(([mode, ms]) => `${mode} ${ms} ms`).join(', ') || 'no lock on tasks'}`,
    )
    .join('\n');
}

describe(`migrations on a tasks table of ${TASKS.toLocaleString('en')} rows`, () => {
  it('never hold ACCESS EXCLUSIVE on tasks for long, block writes only where documented, and revert to the same schema and rows', async () => {
    const classes = migrationClasses(dataSource);
    const names = dataSource.migrations.map((migration) => migration.name!);
    let created = 0;
    while (!(await dataSource.query(`SELECT to_regclass('tasks') IS NOT NULL AS exists`))[0].exists) {
      created += 1;
      await applyFirstMigrations(database.url, classes, created);
    }
    const tasksPerUser = TASKS / 10;
    await seedBulk(dataSource, new PasswordHasher(4), { users: 10, tasksPerUser, tag: crypto.randomBytes(3).toString('hex'), password: 'lock-test' });
    await dataSource.query('VACUUM (ANALYZE) tasks');

    const steps: Step[] = [];
    for (let count = created + 1; count <= classes.length; count += 1) {
      steps.push({ migration: names[count - 1], direction: 'up', held: await locksOnTasksDuring(() => applyFirstMigrations(database.url, classes, count)) });
    }
    // The migrations table is left out: applying again gives its rows new ids.
    const data = async () => (await tableChecksums(dataSource)).filter((table) => table.table !== 'migrations');
    const migrated = { catalog: await readCatalog(dataSource), rows: await data() };
    for (let count = classes.length; count > created; count -= 1) {
      steps.push({ migration: names[count - 1], direction: 'down', held: await locksOnTasksDuring(() => revertLastMigration(dataSource)) });
    }
    await runPendingMigrations(dataSource);
    console.log(`Locks held on tasks (${TASKS.toLocaleString('en')} rows), as sampled from pg_locks:\n${describeSteps(steps)}`);

    expect(await readCatalog(dataSource)).toEqual(migrated.catalog);
    expect(await data()).toEqual(migrated.rows);
    expect(migrated.rows.find((table) => table.table === 'tasks')?.rows).toBe(TASKS);

    const tooLong = steps.flatMap((step) =>
      [...step.held]
        .filter(([mode, ms]) => {
          if (mode === 'AccessExclusiveLock' && ms > ACCESS_EXCLUSIVE_BOUND_MS) return true;
          const bound = step.direction === 'up' ? (DOCUMENTED_WRITE_BLOCKERS_MS[step.migration] ?? WRITE_BLOCKING_BOUND_MS) : WRITE_BLOCKING_BOUND_MS;
          return WRITE_BLOCKING_MODES.has(mode) && ms > bound;
        })
        .map(([mode, ms]) => `${step.direction} ${step.migration}: ${mode} for ${ms} ms`),
    );
    expect(tooLong).toEqual([]);
  });
});
