/**
 * npm run bench [-- --against <git ref>] [--scenarios <keys>]: the service against the baseline
 * (bench/baseline-server.ts) on the same data, alternated round by round, plus scaling, login and
 * memory. With --against, the ref's build of the service (old) takes its turn beside the working
 * tree's (new). Writes bench/results/latest.{md,json}, or ab-latest.{md,json} for an A/B run.
 */
import 'reflect-metadata';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Request as CannonRequest } from 'autocannon';
import { Client } from 'pg';
import pino from 'pino';
import { PasswordHasher } from '../src/auth/passwords';
import { projectRoot } from '../src/config';
import { AppDataSource, dataSourceOptions } from '../src/db/data-source';
import { startEmbeddedPostgres } from '../src/db/embedded-postgres';
import { runPendingMigrations } from '../src/db/migrations';
import { seedBulk } from '../seeds/seed';
import { buildRef, workingTreeRevision, type Build } from './builds';
import { Cleanup } from './cleanup';
import { measure, sequentialLatencies } from './load';
import { measureSyncScaling, SYNC_CHANGES, type SyncScaling } from './sync-scaling';
import { BenchError, UsageError } from './errors';
import { nodeRuntime, resultsBasename, type NodeRuntime } from './node-runtime';
import { parseOptions, USAGE, type BenchOptions } from './options';
import { BASELINE, writeReport, type LoginResult, type ScenarioResult, type ServiceResult } from './report';
import { runRounds } from './rounds';
import { loadScenarios, loginRequest, taskRequests, trashRequests, withWorkers, WORKERS_SCENARIO_KEYS, type PartKey } from './scenarios';
import { peakRssMb, startServer, type Server } from './servers';

const RESULTS = path.join(projectRoot, 'bench', 'results');
const SERVICE_SCRIPT = path.join('dist', 'src', 'server.js');
const BASELINE_SCRIPT = path.join('dist', 'bench', 'baseline-server.js');
const PASSWORD = 'bench-password';
/** WEB_CONCURRENCY of the `workers` part: one process per core of the machines the bench is made for. */
const WORKERS = 2;

const log = (message: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);

interface BenchData {
  url: string;
  seeded: number;
  /** The user whose tasks the load scenarios read and write. */
  caller: { username: string; taskIds: string[] };
  /** Users whose default list page the scaling measurement times, by how many tasks they have. */
  scalingUsers: Array<{ tasks: number; username: string }>;
  /** The user whose tasks the DELETE scenario moves to the trash (and the bench restores after each turn). */
  trasher: { id: string; username: string; taskIds: string[] };
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2), process.env);
  if (options.help) return console.log(USAGE);
  const began = Date.now();
  const cleanup = new Cleanup(log);
  cleanup.runOnSignals();
  try {
    const node = nodeRuntime(options.node, log);
    const builds = await prepareBuilds(options, cleanup);
    const data = await prepareDatabase(options, cleanup);
    const env = serverEnvironment(data.url);
    const profileDir = options.profile ? path.join(RESULTS, 'profiles') : undefined;
    const services = await Promise.all(
      builds.map((build) =>
        startServer({ label: build.label, root: build.root, script: SERVICE_SCRIPT, readyPath: '/ready', node: node.path, profileDir }, env, cleanup),
      ),
    );
    const baseline = await startServer(
      { label: BASELINE, root: projectRoot, script: BASELINE_SCRIPT, readyPath: '/', node: node.path, profileDir },
      env,
      cleanup,
    );
    const { results, serviceResults } = await measureAll(options, data, { services, baseline, builds, env, node, cleanup });
    const report = {
      date: new Date().toISOString(),
      machine: machine(node),
      durationSeconds: options.durationSeconds,
      rounds: options.rounds,
      connections: options.connections,
      seeded: data.seeded,
      services: serviceResults.map((result, index) => ({ ...result, revision: builds[index].revision })),
      results,
    };
    const basename = resultsBasename(node, { abRun: options.against !== undefined, profiled: options.profile });
    console.log(`\n${writeReport(report, RESULTS, basename)}`);
    log(`done in ${((Date.now() - began) / 1000).toFixed(0)} s; results in bench/results/${basename}.md`);
  } finally {
    await cleanup.run();
  }
}

/** The working tree's build (npm run bench compiled it), and for --against the ref's. */
async function prepareBuilds(options: BenchOptions, cleanup: Cleanup): Promise<Build[]> {
  const workingTree = { root: projectRoot, revision: await workingTreeRevision(projectRoot) };
  if (!options.against) return [{ label: 'service', ...workingTree }];
  const old = await buildRef(projectRoot, options.against, cleanup, log);
  log(`new: working tree at ${workingTree.revision.describe}; old: ${options.against} at ${old.revision.describe}`);
  return [
    { label: 'new', ...workingTree },
    { label: 'old', ...old },
  ];
}

/** A fresh database, migrated by the working tree, bulk-seeded, analysed. */
async function prepareDatabase(options: BenchOptions, cleanup: Cleanup): Promise<BenchData> {
  const url = await createDatabase(options, cleanup);
  const dataSource = new AppDataSource(
    dataSourceOptions(url, { database: { poolSize: 4, connectTimeoutMs: 5000, statementTimeoutMs: 0, slowQueryMs: 60_000 } }, pino({ level: 'silent' })),
  );
  await dataSource.initialize();
  try {
    await runPendingMigrations(dataSource);
    const passwords = new PasswordHasher(4);
    const started = Date.now();
    const big = await seedBulk(dataSource, passwords, { users: 1, tasksPerUser: 100_000, tag: 'big', password: PASSWORD });
    const standard = await seedBulk(dataSource, passwords, { users: 100, tasksPerUser: 1_000, tag: 'std', password: PASSWORD });
    const medium = await seedBulk(dataSource, passwords, { users: 1, tasksPerUser: 10_000, tag: 'mid', password: PASSWORD });
    await dataSource.query('VACUUM (ANALYZE) tasks');
    await dataSource.query('VACUUM (ANALYZE) users');
    const seeded = big.tasks + standard.tasks + medium.tasks;
    log(`seeded ${seeded} tasks in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    // Bench users log in with cost 12 like everybody else: re-hash their password at the production cost.
    await dataSource.query('UPDATE users SET hashed_password = $1', [await new PasswordHasher(12).hash(PASSWORD)]);
    const [caller] = standard.users;
    const [trasher] = big.users;
    const liveTaskIds = async (userId: string): Promise<string[]> =>
      (await dataSource.query('SELECT id FROM tasks WHERE user_id = $1 AND deleted_at IS NULL', [userId])).map((row: { id: string }) => row.id);
    return {
      url,
      seeded,
      caller: { username: caller.username, taskIds: await liveTaskIds(caller.id) },
      trasher: { id: trasher.id, username: trasher.username, taskIds: await liveTaskIds(trasher.id) },
      scalingUsers: [
        { tasks: 1_000, username: standard.users[1].username },
        { tasks: 10_000, username: medium.users[0].username },
        { tasks: 100_000, username: big.users[0].username },
      ],
    };
  } finally {
    await dataSource.destroy();
  }
}

async function createDatabase(options: BenchOptions, cleanup: Cleanup): Promise<string> {
  const adminUrl = options.databaseUrl ?? (await startScratchPostgres(cleanup));
  const name = `bench_${crypto.randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  cleanup.defer('close the admin connection', () => admin.end());
  await admin.query(`CREATE DATABASE ${name}`);
  cleanup.defer(`drop the database ${name}`, () => admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  log(`database ${name} (${options.databaseUrl ? 'BENCH_DATABASE_URL' : 'embedded PostgreSQL'})`);
  return Object.assign(new URL(adminUrl), { pathname: `/${name}` }).toString();
}

async function startScratchPostgres(cleanup: Cleanup): Promise<string> {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'todo-bench-'));
  cleanup.defer(`remove ${directory}`, () => fs.rmSync(directory, { recursive: true, force: true }));
  fs.chmodSync(directory, 0o755);
  const server = await startEmbeddedPostgres(path.join(directory, 'pg'));
  cleanup.defer('stop the embedded PostgreSQL', () => server.stop());
  return server.url;
}

/** The same environment for every server: each service as the image runs it, on the bench's database. */
function serverEnvironment(databaseUrl: string): Record<string, string> {
  return {
    NODE_ENV: 'production',
    DATABASE_URL: databaseUrl,
    JWT_SECRET: crypto.randomBytes(32).toString('base64'),
    LOG_LEVEL: 'info',
    LOG_FORMAT: 'json',
    // The bench migrated with the working tree; an older build runs on that schema, as in a rolling deploy.
    MIGRATE_ON_START: 'false',
    LOGIN_RATE_LIMIT: '0',
    LOGIN_RATE_LIMIT_PER_IP: '0',
    BCRYPT_ROUNDS: '12',
    // The bench logs in once, before the load scenarios; an A/B run of them all lasts longer than the default 15 minutes.
    ACCESS_TOKEN_TTL: '6h',
    WEB_CONCURRENCY: '1',
    // As the Dockerfile runs it.
    NODE_OPTIONS: '--max-old-space-size=160 --max-semi-space-size=16',
  };
}

interface Servers {
  services: Server[];
  baseline: Server;
  /** What the `workers` part needs to start more of them. */
  builds: Build[];
  env: Record<string, string>;
  node: NodeRuntime;
  cleanup: Cleanup;
}

async function measureAll(options: BenchOptions, data: BenchData, { services, baseline, builds, env, node, cleanup }: Servers) {
  // Tokens come from the first service; sessions live in the shared database, so every server accepts them.
  const token = (username: string) => accessToken(services[0].port, username);
  const requests = taskRequests(await token(data.caller.username), data.caller.taskIds);
  const trash = trashRequests(await token(data.trasher.username), data.trasher.taskIds, await trashRestorer(data, cleanup));
  const scenarios = loadScenarios(requests, trash, options.parts);
  const results: ScenarioResult[] = [];
  for (const scenario of scenarios) results.push(await runRounds(scenario, [...services, baseline], options, log));

  if (options.parts.has('workers')) {
    const twoWorkers = { ...env, WEB_CONCURRENCY: String(WORKERS) };
    log(`workers: every side with WEB_CONCURRENCY=${WORKERS} (node:cluster), the baseline too`);
    const started = await Promise.all([
      ...builds.map((build) =>
        startServer({ label: build.label, root: build.root, script: SERVICE_SCRIPT, readyPath: '/ready', node: node.path }, twoWorkers, cleanup),
      ),
      startServer({ label: BASELINE, root: projectRoot, script: BASELINE_SCRIPT, readyPath: '/', node: node.path }, twoWorkers, cleanup),
    ]);
    const keys = new Set<PartKey>(WORKERS_SCENARIO_KEYS);
    for (const scenario of withWorkers(loadScenarios(requests, trash, keys), WORKERS)) results.push(await runRounds(scenario, started, options, log));
    await Promise.all(started.map((server) => server.stop()));
  }

  let scaling: Array<ServiceResult['scaling']> = [];
  let syncScaling: Array<SyncScaling | undefined> = [];
  if (options.parts.has('scaling') || options.parts.has('sync')) {
    const users: Array<{ tasks: number; token: string }> = [];
    for (const user of data.scalingUsers) users.push({ tasks: user.tasks, token: await token(user.username) });
    if (options.parts.has('scaling')) {
      log('scaling: the default list page for users with 1,000, 10,000 and 100,000 tasks (1 connection)');
      scaling = await eachService(services, (service) => measureScaling(service.port, users, options.durationSeconds));
    }
    if (options.parts.has('sync')) {
      log(`sync: an incremental sync of ${SYNC_CHANGES} changes for users with 1,000, 10,000 and 100,000 tasks (1 connection)`);
      syncScaling = await eachService(services, (service) => measureSyncScaling(service.port, users, options.durationSeconds));
    }
  }
  let login: LoginResult[] = [];
  if (options.parts.has('login')) {
    log('login: throughput at bcrypt cost 12, and get-by-id p99 with and without a login flood');
    login = await eachService(services, (service) =>
      measureLogin(service.port, loginRequest(data.caller.username, PASSWORD), requests.get, options.durationSeconds),
    );
  }
  const serviceResults = services.map((service, index) => ({
    label: service.label,
    scaling: scaling[index],
    syncScaling: syncScaling[index],
    login: login[index],
    rssMb: peakRssMb(service.pid),
  }));
  return { results, serviceResults };
}

/**
 * Brings back the trasher's tasks the DELETE scenario trashed (not those the seed put in the trash),
 * and vacuums, so each of its turns starts from the same table.
 */
async function trashRestorer(data: BenchData, cleanup: Cleanup): Promise<() => Promise<void>> {
  const client = new Client({ connectionString: data.url });
  await client.connect();
  cleanup.defer('close the restoring connection', () => client.end());
  const { rows } = await client.query<{ since: string }>('SELECT now()::text AS since');
  return async () => {
    await client.query('UPDATE tasks SET deleted_at = NULL WHERE user_id = $1 AND deleted_at >= $2::timestamptz', [data.trasher.id, rows[0].since]);
    await client.query('VACUUM tasks');
  };
}

async function eachService<T>(services: Server[], measureOne: (service: Server) => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  for (const service of services) results.push(await measureOne(service));
  return results;
}

async function measureScaling(port: number, users: Array<{ tasks: number; token: string }>, seconds: number) {
  const url = `http://127.0.0.1:${port}/api/v1/tasks?limit=20`;
  const rows = [];
  for (const { tasks, token } of users) {
    await sequentialLatencies(url, token, 1);
    rows.push({ tasks, ...(await sequentialLatencies(url, token, seconds)) });
  }
  return rows;
}

async function measureLogin(port: number, login: CannonRequest, get: CannonRequest, seconds: number): Promise<LoginResult> {
  const four = { connections: 4, durationSeconds: seconds };
  const alone = await measure(port, [login], four);
  const quiet = await measure(port, [get], four);
  const [flooded, flood] = await Promise.all([measure(port, [get], four), measure(port, [login], four)]);
  return { login: alone, quiet, flooded, flood };
}

async function accessToken(port: number, username: string): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}/api/v1/login/access-token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username, password: PASSWORD }),
  });
  if (response.status !== 200) throw new Error(`login of ${username} failed: ${response.status}`);
  return `Bearer ${((await response.json()) as { access_token: string }).access_token}`;
}

function machine(node: NodeRuntime): string {
  const cpus = os.cpus();
  const runtime = node.version === process.version ? `Node ${node.version}` : `servers on Node ${node.version} (load generator on ${process.version})`;
  return `${cpus.length} × ${cpus[0]?.model.trim() ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${runtime}, ${os.platform()} ${os.release()}`;
}

main().catch((error) => {
  if (error instanceof UsageError) console.error(`bench: ${error.message}\n\n${USAGE}`);
  else if (error instanceof BenchError) console.error(`bench: ${error.message}`);
  else console.error(error);
  process.exitCode = error instanceof UsageError ? 2 : 1;
});
