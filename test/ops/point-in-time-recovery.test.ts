import fs from 'node:fs';
import path from 'node:path';
import { runPendingMigrations } from '../../src/db/migrations';
import { tableChecksums } from '../../src/db/table-checksums';
import { testDataSource } from '../support/database';
import { waitFor } from '../support/processes';
import { createCluster, isInstalled, PG15_BIN, runAsPostgres, type Cluster } from '../support/postgres-cluster';

jest.setTimeout(180_000);

/**
 * The pgBackRest setup docs/operations.md describes for the compose deploy, on a PostgreSQL 15 of
 * the test's own: WAL archived by archive_command, a full backup, then a restore to a moment after
 * it, which only replaying the archived WAL can reach.
 */
const missing = [
  !fs.existsSync(path.join(PG15_BIN, 'postgres')) && `PostgreSQL 15 server binaries (${PG15_BIN})`,
  !isInstalled('pgbackrest') && 'pgbackrest',
].filter(Boolean);
if (missing.length)
  console.warn(`Skipping the point-in-time recovery test: ${missing.join(' and ')} not installed (Debian: apt-get install postgresql-15 pgbackrest).`);
const describeWithTools = missing.length ? describe.skip : describe;
const title = missing.length
  ? `point-in-time recovery with pgBackRest (skipped: ${missing.join(' and ')} not installed)`
  : 'point-in-time recovery with pgBackRest on PostgreSQL 15';

const STANZA = 'todo';
/** Tasks written before the full backup; PITR_TASKS=100000 measures the times docs/operations.md quotes. */
const TASKS_BEFORE_BACKUP = Number(process.env.PITR_TASKS ?? 100);
let cluster: Cluster;
let configFile: string;

const pgbackrest = (...args: string[]) => runAsPostgres('pgbackrest', [`--config=${configFile}`, `--stanza=${STANZA}`, ...args]);

beforeAll(async () => {
  if (missing.length) return;
  cluster = await createCluster(PG15_BIN, ({ dir }) => [
    'archive_mode = on',
    `archive_command = 'pgbackrest --config=${path.join(dir, 'pgbackrest.conf')} --stanza=${STANZA} archive-push %p'`,
  ]);
  configFile = path.join(cluster.dir, 'pgbackrest.conf');
  fs.writeFileSync(
    configFile,
    [
      '[global]',
      `repo1-path=${path.join(cluster.dir, 'repo')}`,
      'repo1-retention-full=2',
      `lock-path=${path.join(cluster.dir, 'lock')}`,
      'log-level-console=warn',
      'log-level-file=off',
      'start-fast=y',
      '',
      `[${STANZA}]`,
      `pg1-path=${cluster.dataDir}`,
      `pg1-port=${cluster.port}`,
      `pg1-socket-path=${cluster.dir}`,
      '',
    ].join('\n'),
  );
  await cluster.start();
});

afterAll(async () => {
  await cluster?.remove();
});

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return (performance.now() - started) / 1000;
}

/** Rows inserted in `transactions` commits of `perTransaction` tasks each, titled `<label> <n>`. */
async function insertTasks(url: string, userId: string, label: string, transactions: number, perTransaction: number): Promise<void> {
  const dataSource = testDataSource(url);
  await dataSource.initialize();
  try {
    for (let batch = 0; batch < transactions; batch += 1) {
      await dataSource.query(`INSERT INTO tasks (user_id, title) SELECT $1, $2 || ' ' || n FROM generate_series($3::int, $4::int) AS n`, [
        userId,
        label,
        batch * perTransaction + 1,
        (batch + 1) * perTransaction,
      ]);
    }
  } finally {
    await dataSource.destroy();
  }
}

describeWithTools(title, () => {
  it('restores to a noted time after the last full backup: exactly the rows committed by then, none after', async () => {
    await pgbackrest('stanza-create');
    await pgbackrest('check');

    const dataSource = testDataSource(cluster.url);
    await dataSource.initialize();
    let atTarget: Awaited<ReturnType<typeof tableChecksums>>;
    let target: string;
    let backupSet: string;
    const timings = { backup: 0, restore: 0, recovery: 0 };
    try {
      await runPendingMigrations(dataSource);
      const [{ id: userId }] = await dataSource.query(
        `INSERT INTO users (email, username, hashed_password) VALUES ('pitr@example.com', 'pitr', 'x') RETURNING id`,
      );
      await insertTasks(cluster.url, userId, 'before the backup', 5, TASKS_BEFORE_BACKUP / 5);
      timings.backup = await timed(() => pgbackrest('--type=full', 'backup'));
      [
        {
          backup: [{ label: backupSet }],
        },
      ] = JSON.parse(await pgbackrest('--output=json', 'info'));

      await insertTasks(cluster.url, userId, 'after the backup', 5, 20);
      await dataSource.query(`UPDATE tasks SET completed = true WHERE title = 'before the backup 1'`);
      atTarget = await tableChecksums(dataSource);
      // The server's clock, not ours: recovery compares it with the commit times in the WAL.
      [{ target }] = await dataSource.query(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00' AS target`);

      await insertTasks(cluster.url, userId, 'after the target', 5, 20);
      await dataSource.query(`UPDATE tasks SET deleted_at = now() WHERE title LIKE 'before the backup %'`);
      await dataSource.query(`DELETE FROM tasks WHERE title LIKE 'after the backup 1_'`);
      expect((await tableChecksums(dataSource)).find((table) => table.table === 'tasks')).not.toEqual(atTarget.find((table) => table.table === 'tasks'));
    } finally {
      await dataSource.destroy();
    }
    // `check` switches to a new WAL segment and waits until the one holding the last commits is archived.
    await pgbackrest('check');
    await cluster.stop();

    // Named, because pgBackRest picks a set by its stop time in whole seconds, which may be after a
    // target a few milliseconds after the backup ended.
    timings.restore = await timed(() => pgbackrest('--delta', `--set=${backupSet}`, '--type=time', `--target=${target}`, '--target-action=promote', 'restore'));
    const recoveryStarted = performance.now();
    await cluster.start();
    const restored = testDataSource(cluster.url);
    await restored.initialize();
    try {
      await waitFor(
        async () => ((await restored.query('SELECT pg_is_in_recovery() AS recovering'))[0].recovering ? undefined : true),
        60_000,
        'the end of recovery',
      );
      timings.recovery = (performance.now() - recoveryStarted) / 1000;
      console.log(
        `pgBackRest with ${TASKS_BEFORE_BACKUP.toLocaleString('en')} tasks before the full backup: backup ${timings.backup.toFixed(1)} s, ` +
          `restore --delta ${timings.restore.toFixed(1)} s, start and replay to the target ${timings.recovery.toFixed(1)} s`,
      );
      expect(await tableChecksums(restored)).toEqual(atTarget);
      const [counts] = await restored.query(
        `SELECT count(*) FILTER (WHERE title LIKE 'before the backup %')::int AS before_backup,
                count(*) FILTER (WHERE title LIKE 'after the backup %')::int AS after_backup,
                count(*) FILTER (WHERE title LIKE 'after the target %')::int AS after_target,
                count(*) FILTER (WHERE deleted_at IS NOT NULL)::int AS trashed
           FROM tasks`,
      );
      expect(counts).toEqual({ before_backup: TASKS_BEFORE_BACKUP, after_backup: 100, after_target: 0, trashed: 0 });
    } finally {
      await restored.destroy();
    }
  });
});
