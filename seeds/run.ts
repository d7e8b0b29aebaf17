import 'reflect-metadata';
import crypto from 'node:crypto';
import { parseArgs } from 'node:util';
import { PasswordHasher } from '../src/auth/passwords';
import { loadConfig } from '../src/config';
import { describeDatabaseError } from '../src/db/connection-errors';
import { createDataSource, type AppDataSource } from '../src/db/data-source';
import { pendingMigrations } from '../src/db/migrations';
import { createLogger } from '../src/logger';
import { seedBulk, seedDevData } from './seed';

const USAGE = `usage: npm run seed [-- --users N --tasks-per-user M [--password P]] [--force]

Without options: loads development users and tasks (idempotent) and prints their credentials.
With --users and --tasks-per-user: loads bulk data for benchmarks.
--force: allow NODE_ENV=production.`;

class UsageError extends Error {}

function options() {
  const { values } = parseArgs({
    options: {
      users: { type: 'string' },
      'tasks-per-user': { type: 'string' },
      password: { type: 'string', default: 'bulk-password' },
      force: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  const count = (name: 'users' | 'tasks-per-user') => {
    const value = values[name];
    if (value === undefined) return undefined;
    if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 10_000_000) throw new UsageError(`--${name} must be a whole number from 1 to 10000000`);
    return Number(value);
  };
  const users = count('users');
  const tasksPerUser = count('tasks-per-user');
  if ((users === undefined) !== (tasksPerUser === undefined)) throw new UsageError('--users and --tasks-per-user go together');
  return { users, tasksPerUser, password: values.password!, force: values.force!, help: values.help! };
}

async function main(): Promise<void> {
  const args = options();
  if (args.help) {
    console.log(USAGE);
    return;
  }
  const config = loadConfig(process.env, { server: false });
  if (config.env === 'production' && !args.force) {
    throw new UsageError('Refusing to seed with NODE_ENV=production: this loads test users with known passwords. Add --force if you mean it.');
  }
  let dataSource: AppDataSource | undefined;
  try {
    // Quiet by default: the seed prints its own summary, and bulk statements are slow queries by design.
    dataSource = await createDataSource(config, createLogger(process.env.LOG_LEVEL ? config.logLevel : 'error', config.logFormat));
    await dataSource.initialize();
    const pending = await pendingMigrations(dataSource);
    if (pending.length) {
      throw new UsageError(`The database is not migrated (${pending.length} pending: ${pending.join(', ')}). Run \`npm run migration:run\` first.`);
    }
    const passwords = new PasswordHasher(config.auth.bcryptRounds);
    if (args.users !== undefined && args.tasksPerUser !== undefined)
      await bulk(dataSource, passwords, { ...args, users: args.users, tasksPerUser: args.tasksPerUser });
    else await development(dataSource, passwords);
  } finally {
    await dataSource?.destroy().catch(() => undefined);
  }
}

async function development(dataSource: AppDataSource, passwords: PasswordHasher): Promise<void> {
  const result = await seedDevData(dataSource, passwords);
  console.log(
    result.usersCreated || result.tasksCreated
      ? `Seeded ${result.usersCreated} user(s) and ${result.tasksCreated} task(s).`
      : 'Nothing to do: the development data is already there.',
  );
  console.log('\nLog in with (username or email / password):');
  for (const user of result.users) console.log(`  ${user.username.padEnd(8)} ${user.email.padEnd(20)} ${user.password.padEnd(16)} (${describeTasks(user)})`);
}

/** "7 tasks + 1 in the trash": the first number is what the user's task list shows. */
function describeTasks({ tasks, trashed }: { tasks: number; trashed: number }): string {
  const live = `${tasks} task${tasks === 1 ? '' : 's'}`;
  return trashed ? `${live} + ${trashed} in the trash` : live;
}

async function bulk(dataSource: AppDataSource, passwords: PasswordHasher, args: { users: number; tasksPerUser: number; password: string }): Promise<void> {
  const tag = crypto.randomBytes(3).toString('hex');
  const started = performance.now();
  const showProgress = process.stdout.isTTY;
  const result = await seedBulk(dataSource, passwords, {
    users: args.users,
    tasksPerUser: args.tasksPerUser,
    tag,
    password: args.password,
    onProgress: (done, total) => {
      if (showProgress) process.stdout.write(`\r  ${done.toLocaleString('en')} / ${total.toLocaleString('en')} tasks (${Math.floor((100 * done) / total)}%)`);
    },
  });
  const seconds = (performance.now() - started) / 1000;
  if (showProgress) process.stdout.write('\n');
  console.log(
    `Loaded ${result.users.length.toLocaleString('en')} users and ${result.tasks.toLocaleString('en')} tasks in ${seconds.toFixed(1)} s ` +
      `(${Math.round(result.tasks / seconds).toLocaleString('en')} tasks/s).`,
  );
  if (result.rebuiltIndexes) console.log('(The load was at least as big as the table: its indexes were built once at the end.)');
  console.log('Updating planner statistics (VACUUM ANALYZE)…');
  await dataSource.query('VACUUM (ANALYZE) users');
  await dataSource.query('VACUUM (ANALYZE) tasks');
  console.log(`Users: bulk_${tag}_1 … bulk_${tag}_${args.users} (emails @example.com), password "${args.password}".`);
}

main().catch((error) => {
  if (error instanceof UsageError) console.error(error.message);
  else console.error(`seed failed: ${describeDatabaseError(error)}`);
  process.exitCode = 1;
});
