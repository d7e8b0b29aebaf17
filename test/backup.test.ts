import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { createApp } from '../src/app';
import { PasswordHasher } from '../src/auth/passwords';
import { loadConfig } from '../src/config';
import { serverMajor } from '../src/db/pg-client-tools';
import { tableChecksums } from '../src/db/table-checksums';
import { seedBulk, seedDevData } from '../seeds/seed';
import { DEV_USERS } from '../seeds/dev-data';
import { TEST_JWT_SECRET } from './support/app';
import { createMigratedDatabase, createTestDatabase, silentLogger, testDataSource, withAdminClient, type TestDatabase } from './support/database';
import { fakeTool, readRecording } from './support/fake-pg-tools';
import { postgresProcessesFor, runToEnd } from './support/processes';
import { realToolsForTestServer } from './support/real-pg-tools';

jest.setTimeout(120_000);

const major = serverMajor(Number(process.env.TEST_SERVER_VERSION_NUM));
const ARCHIVE = /^Wrote (todo-\d{8}T\d{6}Z(?:-\d+)?\.dump): [\d.]+ (?:B|KiB|MiB) in [\d.]+ s\.$/m;

let workDir: string;
beforeAll(() => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'todo-backup-'));
  fs.chmodSync(workDir, 0o755);
});
afterAll(() => fs.rmSync(workDir, { recursive: true, force: true }));

let scratchCount = 0;
/** A new empty directory under the test's work directory. */
/** A refusal names the first ten objects of a kind, then how many more. */
function firstTen(names: string[]): string {
  return names.slice(0, 10).join(', ') + (names.length > 10 ? `, and ${names.length - 10} more` : '');
}

/** The tables and functions a migrated schema holds, read from the catalog, in the order a refusal lists them. */
async function schemaObjectNames(dataSource: { query: (sql: string) => Promise<unknown> }): Promise<{ tables: string[]; functions: string[] }> {
  const tables = (await dataSource.query(
    `SELECT relname::text AS name FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p') ORDER BY relname`,
  )) as { name: string }[];
  const functions = (await dataSource.query(`SELECT oid::regprocedure::text AS name FROM pg_proc WHERE pronamespace = 'public'::regnamespace ORDER BY 1`)) as {
    name: string;
  }[];
  return { tables: tables.map(({ name }) => name), functions: functions.map(({ name }) => name) };
}

function scratchDir(label: string): string {
  scratchCount += 1;
  const dir = path.join(workDir, `${label}-${scratchCount}`);
  fs.mkdirSync(dir, { mode: 0o755 });
  return dir;
}

const backupCli = (env: Record<string, string>) => runToEnd('node', ['dist/src/db/backup-cli.js'], { NODE_ENV: 'development', ...env });
const restoreCli = (args: string[], env: Record<string, string>) =>
  runToEnd('node', ['dist/src/db/restore-cli.js', ...args], { NODE_ENV: 'development', ...env });

/** PG_BIN_DIR holding a stand-in pg_dump of `version`, and BACKUP_DIR to write into (not created yet). */
function standIn(version: string, behaviour: 'record' | 'fail-midway' = 'record') {
  const binDir = scratchDir('bin');
  fakeTool(binDir, 'pg_dump', { version, behaviour });
  return { PG_BIN_DIR: binDir, BACKUP_DIR: path.join(scratchDir('backups'), 'archives') };
}

/** The test database's URL with a password in it (trust authentication ignores it; the embedded server's is kept). */
function urlWithPassword(database: TestDatabase): { url: string; password: string } {
  const url = new URL(database.url);
  if (!url.password) url.password = encodeURIComponent('s3cret p@ss');
  return { url: url.toString(), password: decodeURIComponent(url.password) };
}

describe('npm run db:backup, with stand-ins for pg_dump (on any server)', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(() => database.drop());

  it('refuses a pg_dump older than the server, naming the server’s major and what to install, and writes nothing', async () => {
    const env = standIn(`${major - 1}.3`);
    const result = await backupCli({ ...env, DATABASE_URL: database.url });
    expect(result.code).toBe(1);
    expect(result.output).toContain(`db:backup failed: No pg_dump for PostgreSQL ${major} or newer in PG_BIN_DIR=${env.PG_BIN_DIR}`);
    expect(result.output).toContain(`Found: pg_dump ${major - 1}.3 (${path.join(env.PG_BIN_DIR, 'pg_dump')})`);
    expect(result.output).toContain(`Install postgresql-client-${major} (Debian/Ubuntu: from apt.postgresql.org), or set PG_BIN_DIR`);
    expect(fs.existsSync(env.BACKUP_DIR)).toBe(false);
  });

  it('leaves no archive, not even a partial file, when pg_dump fails halfway, and says why', async () => {
    const env = standIn(`${major}.0`, 'fail-midway');
    const result = await backupCli({ ...env, DATABASE_URL: database.url });
    expect(result.code).toBe(1);
    expect(result.output).toMatch(/db:backup failed: .*pg_dump failed \(exit code 1\): pg_dump: error: connection to server lost\. No archive was written\./);
    expect(fs.readdirSync(env.BACKUP_DIR)).toEqual([]);
  });

  it('hands pg_dump the database without its password, which goes in PGPASSWORD only, and names the archive by UTC time', async () => {
    const env = standIn(`${major}.0`);
    const { url, password } = urlWithPassword(database);
    const before = new Date();
    const result = await backupCli({ ...env, DATABASE_URL: url });
    expect([result.code, result.output]).toEqual([0, expect.stringMatching(ARCHIVE)]);
    const name = ARCHIVE.exec(result.output)![1];
    const stamp = /todo-(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z/.exec(name)!.slice(1).map(Number);
    const named = Date.UTC(stamp[0], stamp[1] - 1, stamp[2], stamp[3], stamp[4], stamp[5]);
    expect(named).toBeGreaterThanOrEqual(Math.floor(before.getTime() / 1000) * 1000);
    expect(named).toBeLessThanOrEqual(Date.now());

    const recorded = readRecording(path.join(env.BACKUP_DIR, name));
    const withoutPassword = new URL(url);
    withoutPassword.password = '';
    expect(recorded.args).toEqual([
      '--format=custom',
      '--no-password',
      expect.stringMatching(/^--file=.*\/\.todo-.*\.partial$/),
      `--dbname=${withoutPassword}`,
    ]);
    expect(recorded.password).toBe(password);
    expect(fs.readdirSync(env.BACKUP_DIR)).toEqual([name]);
  });

  it('keeps exactly the newest BACKUP_KEEP archives and deletes no other file', async () => {
    const env = standIn(`${major}.0`);
    fs.mkdirSync(env.BACKUP_DIR);
    const others = ['notes.txt', 'todo-20200101T000000Z.dump.partial', 'todo-manual.dump'];
    for (const name of [...others, 'todo-20200101T000000Z.dump', 'todo-20200101T000000Z-2.dump']) fs.writeFileSync(path.join(env.BACKUP_DIR, name), '');
    const written: string[] = [];
    for (let run = 0; run < 3; run += 1) {
      const result = await backupCli({ ...env, DATABASE_URL: database.url, BACKUP_KEEP: '2' });
      expect(result.code).toBe(0);
      written.push(ARCHIVE.exec(result.output)![1]);
      expect(result.output).toContain('Keeping the newest 2: 2 archives kept, deleted ');
    }
    expect(fs.readdirSync(env.BACKUP_DIR).sort()).toEqual([...others, ...written.slice(1)].sort());
  });

  it('works on the embedded default without DATABASE_URL, and stops the server it started', async () => {
    // The embedded server's major is not the test server's: a stand-in newer than any.
    const env = standIn('99.0');
    const dataDir = path.join(scratchDir('embedded'), 'postgres');
    const result = await backupCli({ ...env, EMBEDDED_DATABASE_DIR: dataDir });
    expect([result.code, result.output]).toEqual([0, expect.stringMatching(ARCHIVE)]);
    expect(result.output).toMatch(/Database: embedded PostgreSQL on 127\.0\.0\.1:\d+/);
    const port = /embedded PostgreSQL on 127\.0\.0\.1:(\d+)/.exec(result.output)![1];
    const recorded = readRecording(path.join(env.BACKUP_DIR, ARCHIVE.exec(result.output)![1]));
    expect(recorded.args).toContain(`--dbname=postgres://postgres@127.0.0.1:${port}/postgres`);
    expect(recorded.password).toBe('postgres');
    expect(postgresProcessesFor(dataDir)).toEqual([]);
  });
});

describe('npm run db:restore, before any pg_restore runs (on any server)', () => {
  let target: Awaited<ReturnType<typeof createMigratedDatabase>>;
  beforeAll(async () => {
    target = await createMigratedDatabase();
  });
  afterAll(() => target.close());

  it('needs exactly one archive, and refuses a file that is not one', async () => {
    const usage = await restoreCli([], { DATABASE_URL: target.database.url });
    expect([usage.code, usage.output]).toEqual([2, expect.stringContaining('usage: npm run db:restore -- <archive> [--force]')]);
    const notAnArchive = path.join(scratchDir('files'), 'todo.sql');
    fs.writeFileSync(notAnArchive, 'SELECT 1;');
    const refused = await restoreCli([notAnArchive], { DATABASE_URL: target.database.url });
    expect(refused.code).toBe(1);
    expect(refused.output).toContain(`db:restore failed: ${notAnArchive} is not a pg_dump custom-format archive (it does not start with PGDMP)`);
  });

  it('refuses a database that is not empty, naming what it holds, and changes nothing', async () => {
    const archive = path.join(scratchDir('files'), 'todo-20261201T101500Z.dump');
    fs.writeFileSync(archive, 'PGDMP…');
    await target.dataSource.query(`INSERT INTO users (email, username, hashed_password) VALUES ('keep@example.com', 'keep', 'x')`);
    const before = await tableChecksums(target.dataSource);
    const result = await restoreCli([archive], { DATABASE_URL: target.database.url });
    expect(result.code).toBe(1);
    const { tables, functions } = await schemaObjectNames(target.dataSource);
    expect(tables.length).toBeGreaterThan(5);
    expect(result.output).toContain(
      `is not empty: its public schema holds ${tables.length} tables (${firstTen(tables)}), ${functions.length} functions (${firstTen(functions)}). Nothing was changed.`,
    );
    expect(result.output).toContain('or add --force to drop these objects first');
    expect(await tableChecksums(target.dataSource)).toEqual(before);
  });
});

const realTools = realToolsForTestServer();
if (typeof realTools === 'string') console.warn(`Skipping the backup and recovery drill: ${realTools}`);
const describeWithRealTools = typeof realTools === 'string' ? describe.skip : describe;
const drillTitle =
  typeof realTools === 'string'
    ? `backup and recovery with the real pg_dump and pg_restore (skipped: ${realTools})`
    : `backup and recovery with the real pg_dump ${realTools.pgDump.version} and pg_restore ${realTools.pgRestore.version}`;

describeWithRealTools(drillTitle, () => {
  let source: Awaited<ReturnType<typeof createMigratedDatabase>>;
  let archive: string;
  const config = loadConfig({ NODE_ENV: 'test', BCRYPT_ROUNDS: '4', JWT_SECRET: TEST_JWT_SECRET });

  /** The dev seed, bulk tasks, a login whose refresh fills sessions and rotated_refresh_tokens, and a task deleted for good (its tombstone). */
  beforeAll(async () => {
    source = await createMigratedDatabase();
    const passwords = new PasswordHasher(4);
    await seedDevData(source.dataSource, passwords);
    await seedBulk(source.dataSource, passwords, { users: 3, tasksPerUser: 1500, tag: 'drill', password: 'bulk-password' });
    const app = createApp({ config, dataSource: source.dataSource, logger: silentLogger });
    const login = await request(app).post('/api/v1/login/access-token').type('form').send({ username: 'bob', password: 'bob-password' });
    expect((await request(app).post('/api/v1/login/refresh').send({ refresh_token: login.body.refresh_token })).status).toBe(200);
    await source.dataSource.query(
      `DELETE FROM tasks WHERE id = (SELECT t.id FROM tasks t JOIN users u ON u.id = t.user_id WHERE u.username = 'bulk_drill_1' LIMIT 1)`,
    );

    const backupDir = scratchDir('drill');
    const backup = await backupCli({ DATABASE_URL: source.database.url, BACKUP_DIR: backupDir });
    expect([backup.code, backup.output]).toEqual([0, expect.stringMatching(ARCHIVE)]);
    archive = path.join(backupDir, ARCHIVE.exec(backup.output)![1]);
  });
  afterAll(() => source?.close());

  async function withDatabase<T>(work: (database: TestDatabase, dataSource: ReturnType<typeof testDataSource>) => Promise<T>): Promise<T> {
    const database = await createTestDatabase();
    const dataSource = testDataSource(database.url);
    await dataSource.initialize();
    try {
      return await work(database, dataSource);
    } finally {
      await dataSource.destroy();
      await database.drop();
    }
  }

  it('restores into a fresh database every table row for row, and the restored database serves the seeded users and their tasks', async () => {
    const original = await tableChecksums(source.dataSource);
    // Every table of the schema, each with rows but those empty until used: the periodic jobs' (no run has claimed one yet),
    // the open streams' slots (none is open) and the record of tombstone purges (none has run).
    const emptyUntilUsed = ['maintenance_runs', 'scheduled_jobs', 'task_streams', 'tombstone_purges'];
    expect(original.map((table) => [table.table, table.rows > 0])).toEqual(
      (await schemaObjectNames(source.dataSource)).tables.map((table) => [table, !emptyUntilUsed.includes(table)]),
    );
    await withDatabase(async (database, restored) => {
      // The service's statement timeout does not cut maintenance short: ANALYZE and the row counts take longer than 1 ms.
      const result = await restoreCli([archive], { DATABASE_URL: database.url, DB_STATEMENT_TIMEOUT_MS: '1' });
      expect(result.code).toBe(0);
      expect(result.output).toMatch(new RegExp(`Restored ${original.length} tables, [\\d,]+ rows in [\\d.]+ s`));
      expect(result.output).toContain(`Schema: all ${source.dataSource.migrations.length} migrations of this build are applied.`);
      expect(await tableChecksums(restored)).toEqual(original);

      const app = createApp({ config, dataSource: restored, logger: silentLogger });
      for (const user of DEV_USERS) {
        const login = await request(app).post('/api/v1/login/access-token').type('form').send({ username: user.username, password: user.password });
        expect([user.username, login.status]).toEqual([user.username, 200]);
        const list = await request(app).get('/api/v1/tasks?limit=100').set('Authorization', `Bearer ${login.body.access_token}`);
        const live = user.tasks.filter((task) => !task.trashed).map((task) => task.title);
        expect([user.username, list.body.count, list.body.data.map((task: { title: string }) => task.title).sort()]).toEqual([
          user.username,
          live.length,
          live.sort(),
        ]);
      }
      const bulk = await request(app).post('/api/v1/login/access-token').type('form').send({ username: 'bulk_drill_2', password: 'bulk-password' });
      const bulkList = await request(app).get('/api/v1/tasks').set('Authorization', `Bearer ${bulk.body.access_token}`);
      expect(bulkList.body.count).toBe(1500 - 1500 / 50);
    });
  });

  it('with --force, drops what the database held (stray objects included) and leaves exactly the archive', async () => {
    await withDatabase(async (database, restored) => {
      expect((await restoreCli([archive], { DATABASE_URL: database.url })).code).toBe(0);
      await restored.query(`DELETE FROM tasks WHERE title LIKE 'B%'`);
      await restored.query(`CREATE TABLE stray (id int PRIMARY KEY); CREATE VIEW stray_view AS SELECT 1 AS one; CREATE TYPE stray_mood AS ENUM ('ok')`);

      const refused = await restoreCli([archive], { DATABASE_URL: database.url });
      expect(refused.code).toBe(1);
      const schema = await schemaObjectNames(source.dataSource);
      const held = [...schema.tables, 'stray'].sort();
      const tables = `${held.length} tables (${firstTen(held)})`;
      expect(refused.output).toContain(`${tables}, 1 view (stray_view)`);

      const forced = await restoreCli([archive, '--force'], { DATABASE_URL: database.url });
      expect(forced.code).toBe(0);
      expect(forced.output).toContain(`--force: dropped ${tables}, 1 view (stray_view), ${schema.functions.length} functions (${firstTen(schema.functions)})`);
      expect(forced.output).toContain('1 type (stray_mood)');
      expect(await tableChecksums(restored)).toEqual(await tableChecksums(source.dataSource));
    });
  });

  it('says which migrations are pending when the archive comes from an older schema', async () => {
    const older = await createMigratedDatabase();
    try {
      const last = source.dataSource.migrations[source.dataSource.migrations.length - 1].name;
      await older.dataSource.undoLastMigration();
      const backupDir = scratchDir('older');
      const backup = await backupCli({ DATABASE_URL: older.database.url, BACKUP_DIR: backupDir });
      expect(backup.code).toBe(0);
      await withDatabase(async (database) => {
        const result = await restoreCli([path.join(backupDir, ARCHIVE.exec(backup.output)![1])], { DATABASE_URL: database.url });
        expect(result.code).toBe(0);
        expect(result.output).toContain(`Schema: 1 migration(s) of this build pending (${last}): run \`npm run migration:run\``);
      });
    } finally {
      await older.close();
    }
  });

  it('writes no archive when the real pg_dump fails (a role that may not read tasks), and passes on its reason', async () => {
    const role = `backup_reader_${process.pid}`;
    await withAdminClient(async (client) => {
      await client.query(`CREATE ROLE ${role} LOGIN PASSWORD 'reader-password'`);
      await client.query(`GRANT CONNECT ON DATABASE ${source.database.name} TO ${role}`);
    });
    try {
      const url = new URL(source.database.url);
      url.username = role;
      url.password = 'reader-password';
      const backupDir = scratchDir('denied');
      const result = await backupCli({ DATABASE_URL: url.toString(), BACKUP_DIR: backupDir });
      expect(result.code).toBe(1);
      expect(result.output).toMatch(/db:backup failed: .*pg_dump failed \(exit code 1\): .*permission denied for table .*\. No archive was written\./s);
      expect(fs.readdirSync(backupDir)).toEqual([]);
    } finally {
      await withAdminClient(async (client) => {
        await client.query(`REVOKE ALL ON DATABASE ${source.database.name} FROM ${role}`);
        await client.query(`DROP ROLE ${role}`);
      });
    }
  });

  it('the compose backup service’s script writes archives db:restore restores, and keeps the newest BACKUP_KEEP', async () => {
    const { pgDump } = realTools as Exclude<typeof realTools, string>;
    const url = new URL(source.database.url);
    const backupDir = scratchDir('compose');
    const env = {
      // The script runs the pg_dump on PATH, as in the postgres image, whose pg_dump matches its server.
      PATH: `${path.dirname(pgDump.path)}${path.delimiter}${process.env.PATH}`,
      PGHOST: url.hostname,
      PGPORT: url.port,
      PGUSER: decodeURIComponent(url.username),
      PGPASSWORD: decodeURIComponent(url.password),
      PGDATABASE: url.pathname.slice(1),
      BACKUP_DIR: backupDir,
      BACKUP_KEEP: '2',
    };
    const runs = [];
    for (let run = 0; run < 3; run += 1) runs.push(await runToEnd('sh', ['deploy/backup/backup-loop.sh', 'once'], env));
    for (const run of runs) expect([run.code, run.output]).toEqual([0, expect.stringMatching(/ wrote todo-\d{8}T\d{6}Z(-\d+)?\.dump: \S+ in \d+ s$/m)]);
    const written = runs.map((run) => / wrote (\S+):/.exec(run.output)![1]);
    expect(fs.readdirSync(backupDir).sort()).toEqual(written.slice(1).sort());

    await withDatabase(async (database, restored) => {
      const result = await restoreCli([path.join(backupDir, written[2])], { DATABASE_URL: database.url });
      expect(result.code).toBe(0);
      expect(await tableChecksums(restored)).toEqual(await tableChecksums(source.dataSource));
    });
  });
});
