import 'reflect-metadata';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client } from 'pg';
import pino from 'pino';
import { PasswordHasher } from '../src/auth/passwords';
import { projectRoot } from '../src/config';
import { formatBytes } from '../src/db/backup-archives';
import { AppDataSource, dataSourceOptions } from '../src/db/data-source';
import { runPendingMigrations } from '../src/db/migrations';
import { tableChecksums } from '../src/db/table-checksums';
import { seedBulk, seedDevData } from '../seeds/seed';

const USAGE = `usage: BACKUP_DRILL_DATABASE_URL=postgres://… npm run bench:backup [-- --tasks N --rounds R]

The recovery drill at size, for docs/operations.md: on the server BACKUP_DRILL_DATABASE_URL names
(its user must be allowed to create databases), loads the development seed plus N bulk tasks (100,000)
into a new database, then R times (3): npm run db:backup, and npm run db:restore of that archive into
another new database, checked table by table against the original. Prints the archive size and the
times, with the machine they were measured on. Drops what it created.`;

const silent = pino({ level: 'silent' });
const POOL = { database: { poolSize: 2, connectTimeoutMs: 10_000, statementTimeoutMs: 0, slowQueryMs: 600_000 } };

function options() {
  const { values } = parseArgs({
    options: { tasks: { type: 'string', default: '100000' }, rounds: { type: 'string', default: '3' }, help: { type: 'boolean', default: false } },
  });
  const tasks = Number(values.tasks);
  const rounds = Number(values.rounds);
  const url = process.env.BACKUP_DRILL_DATABASE_URL;
  if (values.help || !url || !Number.isInteger(tasks) || tasks < 100 || tasks % 100 !== 0 || !Number.isInteger(rounds) || rounds < 1) {
    console.error(USAGE);
    process.exit(values.help ? 0 : 2);
  }
  return { url: url!, tasks, rounds };
}

function databaseUrl(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function admin<T>(adminUrl: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A CLI as an operator runs it (compiled, its own process), timed from start to exit. */
function timedCli(script: string, args: string[], env: Record<string, string>): Promise<{ seconds: number; output: string }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn('node', [script, ...args], { cwd: projectRoot, env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve({ seconds: (performance.now() - started) / 1000, output }) : reject(new Error(`${script} exited ${code}:\n${output}`)),
    );
  });
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const range = (values: number[]) => `${Math.min(...values).toFixed(1)}–${Math.max(...values).toFixed(1)} s (median ${median(values).toFixed(1)})`;

async function main(): Promise<void> {
  const { url, tasks, rounds } = options();
  const tag = crypto.randomBytes(4).toString('hex');
  const sourceName = `backup_drill_${tag}`;
  const backupDir = fs.mkdtempSync(path.join(os.tmpdir(), 'todo-backup-drill-'));
  const created: string[] = [];
  const create = async (name: string) => {
    await admin(url, (client) => client.query(`CREATE DATABASE ${name}`));
    created.push(name);
    return databaseUrl(url, name);
  };
  try {
    const sourceUrl = await create(sourceName);
    const source = new AppDataSource(dataSourceOptions(sourceUrl, POOL, silent));
    await source.initialize();
    const [{ version }] = await source.query(`SELECT current_setting('server_version') AS version`);
    await runPendingMigrations(source);
    const passwords = new PasswordHasher(4);
    await seedDevData(source, passwords);
    console.log(`Loading ${tasks.toLocaleString('en')} bulk tasks into ${sourceName} on PostgreSQL ${version}…`);
    await seedBulk(source, passwords, { users: 100, tasksPerUser: tasks / 100, tag, password: 'bulk-password' });
    await source.query('VACUUM (ANALYZE)');
    const original = await tableChecksums(source);
    const [{ size }] = await source.query('SELECT pg_database_size(current_database())::bigint AS size');
    await source.destroy();

    const backups: number[] = [];
    const restores: number[] = [];
    let archiveBytes = 0;
    for (let round = 1; round <= rounds; round += 1) {
      const backup = await timedCli('dist/src/db/backup-cli.js', [], { DATABASE_URL: sourceUrl, BACKUP_DIR: backupDir, BACKUP_KEEP: '1' });
      const archive = path.join(backupDir, /Wrote (\S+):/.exec(backup.output)![1]);
      archiveBytes = fs.statSync(archive).size;
      const restoredUrl = await create(`backup_drill_${tag}_restored_${round}`);
      const restore = await timedCli('dist/src/db/restore-cli.js', [archive], { DATABASE_URL: restoredUrl });
      const restored = new AppDataSource(dataSourceOptions(restoredUrl, POOL, silent));
      await restored.initialize();
      const same = JSON.stringify(await tableChecksums(restored)) === JSON.stringify(original);
      await restored.destroy();
      if (!same) throw new Error(`round ${round}: the restored database differs from the original`);
      backups.push(backup.seconds);
      restores.push(restore.seconds);
      console.log(`round ${round}: db:backup ${backup.seconds.toFixed(1)} s, db:restore ${restore.seconds.toFixed(1)} s, every table identical`);
    }

    const cpus = os.cpus();
    const rows = original.reduce((sum, table) => sum + table.rows, 0);
    console.log(`
Measured ${new Date().toISOString().slice(0, 10)} on ${cpus.length} × ${cpus[0]?.model.trim() ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB,
${os.platform()} ${os.release()}, Node ${process.version}, PostgreSQL ${version} (server and client on this machine), ${rounds} rounds:

| tasks | rows in all tables | database size | archive size | npm run db:backup | npm run db:restore (into an empty database) |
|---:|---:|---:|---:|---|---|
| ${tasks.toLocaleString('en')} | ${rows.toLocaleString('en')} | ${formatBytes(Number(size))} | ${formatBytes(archiveBytes)} | ${range(backups)} | ${range(restores)} |`);
  } finally {
    for (const name of created.reverse()) await admin(url, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).catch(() => undefined);
    fs.rmSync(backupDir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(`bench:backup failed: ${(error as Error).message}`);
  process.exitCode = 1;
});
