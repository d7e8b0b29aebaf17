/**
 * npm run bench: the service against the baseline (bench/baseline-server.ts) on the same data,
 * alternated round by round, plus scaling, login and memory. Writes bench/results/latest.{md,json}.
 */
import 'reflect-metadata';
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import autocannon, { type Request as CannonRequest, type Result } from 'autocannon';
import { Client } from 'pg';
import pino from 'pino';
import { PasswordHasher } from '../src/auth/passwords';
import { AppDataSource, dataSourceOptions } from '../src/db/data-source';
import { startEmbeddedPostgres, type EmbeddedServer } from '../src/db/embedded-postgres';
import { runPendingMigrations } from '../src/db/migrations';
import { seedBulk } from '../seeds/seed';

const ROOT = path.resolve(__dirname, '..', '..');
const RESULTS = path.join(ROOT, 'bench', 'results');
const DURATION = Number(process.env.BENCH_DURATION ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const JWT_SECRET = crypto.randomBytes(32).toString('base64');
const PASSWORD = 'bench-password';
const SERVICE_PORT = 8201;
const BASELINE_PORT = 8202;

const log = (message: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);

interface Measurement {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

function measurement(result: Result): Measurement {
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

function load(port: number, requests: CannonRequest[], options: { connections?: number; duration?: number } = {}): Promise<Result> {
  return autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: options.connections ?? CONNECTIONS,
    duration: options.duration ?? DURATION,
    requests,
  });
}

async function waitReady(port: number, child: ChildProcess, name: string): Promise<void> {
  for (let i = 0; i < 100; i += 1) {
    if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode}`);
    const ok = await fetch(`http://127.0.0.1:${port}${name === 'service' ? '/ready' : '/'}`).then(
      (response) => response.status < 500,
      () => false,
    );
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${name} did not become ready`);
}

/** BENCH_PROFILE=1 runs the service under --cpu-prof; the profile lands in bench/results/profiles (open it in Chrome DevTools). */
function start(script: string, port: number, env: Record<string, string>, profile = false): ChildProcess {
  const flags = profile ? ['--cpu-prof', '--cpu-prof-dir', path.join(RESULTS, 'profiles')] : [];
  return spawn(process.execPath, [...flags, script], { cwd: ROOT, env: { ...process.env, ...env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'inherit'] });
}

function peakRssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

async function main(): Promise<void> {
  const began = Date.now();
  let embedded: EmbeddedServer | undefined;
  let scratchDir: string | undefined;
  let adminUrl = process.env.BENCH_DATABASE_URL;
  if (!adminUrl) {
    scratchDir = fs.mkdtempSync(path.join(os.tmpdir(), 'todo-bench-'));
    fs.chmodSync(scratchDir, 0o755);
    embedded = await startEmbeddedPostgres(path.join(scratchDir, 'pg'));
    adminUrl = embedded.url;
  }
  const database = `bench_${crypto.randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  const url = Object.assign(new URL(adminUrl), { pathname: `/${database}` }).toString();
  const children: ChildProcess[] = [];
  try {
    log(`database ${database} (${embedded ? 'embedded PostgreSQL' : 'BENCH_DATABASE_URL'})`);
    const dataSource = new AppDataSource(dataSourceOptions(url, { database: { poolSize: 4, connectTimeoutMs: 5000, statementTimeoutMs: 0, slowQueryMs: 60_000 } }, pino({ level: 'silent' })));
    await dataSource.initialize();
    await runPendingMigrations(dataSource);
    const passwords = new PasswordHasher(4);
    const seedStarted = Date.now();
    const big = await seedBulk(dataSource, passwords, { users: 1, tasksPerUser: 100_000, tag: 'big', password: PASSWORD });
    const standard = await seedBulk(dataSource, passwords, { users: 100, tasksPerUser: 1_000, tag: 'std', password: PASSWORD });
    const medium = await seedBulk(dataSource, passwords, { users: 1, tasksPerUser: 10_000, tag: 'mid', password: PASSWORD });
    await dataSource.query('VACUUM (ANALYZE) tasks');
    await dataSource.query('VACUUM (ANALYZE) users');
    const seeded = big.tasks + standard.tasks + medium.tasks;
    log(`seeded ${seeded} tasks in ${((Date.now() - seedStarted) / 1000).toFixed(1)} s`);
    // Bench users log in with cost 12 like everybody else: re-hash their password at the production cost.
    await dataSource.query('UPDATE users SET hashed_password = $1', [await new PasswordHasher(12).hash(PASSWORD)]);

    const env = {
      NODE_ENV: 'production',
      DATABASE_URL: url,
      JWT_SECRET,
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
      MIGRATE_ON_START: 'false',
      LOGIN_RATE_LIMIT: '0',
      LOGIN_RATE_LIMIT_PER_IP: '0',
      BCRYPT_ROUNDS: '12',
      WEB_CONCURRENCY: '1',
      // As the Dockerfile runs it.
      NODE_OPTIONS: '--max-old-space-size=160',
    };
    const service = start('dist/src/server.js', SERVICE_PORT, env, process.env.BENCH_PROFILE === '1');
    const baseline = start('dist/bench/baseline-server.js', BASELINE_PORT, env);
    children.push(service, baseline);
    await Promise.all([waitReady(SERVICE_PORT, service, 'service'), waitReady(BASELINE_PORT, baseline, 'baseline')]);

    const login = async (username: string) => {
      const response = await fetch(`http://127.0.0.1:${SERVICE_PORT}/api/v1/login/access-token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ username, password: PASSWORD }),
      });
      if (response.status !== 200) throw new Error(`login of ${username} failed: ${response.status}`);
      return `Bearer ${((await response.json()) as { access_token: string }).access_token}`;
    };
    const caller = standard.users[0];
    const auth = await login(caller.username);
    const ids: string[] = (await dataSource.query('SELECT id FROM tasks WHERE user_id = $1 AND deleted_at IS NULL', [caller.id])).map((row: { id: string }) => row.id);
    const randomId = () => ids[Math.floor(Math.random() * ids.length)];
    const headers = { authorization: auth, 'content-type': 'application/json' };
    const get: CannonRequest = { method: 'GET', headers, setupRequest: (request) => ({ ...request, path: `/api/v1/tasks/${randomId()}` }) };
    const list = (query: string): CannonRequest => ({ method: 'GET', headers, path: `/api/v1/tasks?${query}` });
    const create: CannonRequest = { method: 'POST', path: '/api/v1/tasks', headers, body: JSON.stringify({ title: 'Benchmark task', description: 'made under load', due_date: '2027-01-01T00:00:00Z' }) };
    const patch: CannonRequest = {
      method: 'PATCH',
      headers,
      setupRequest: (request) => ({ ...request, path: `/api/v1/tasks/${randomId()}`, body: JSON.stringify({ completed: Math.random() < 0.5 }) }),
    };
    // Each request gets its own headers object: autocannon writes Content-Length into the one it is given.
    const mix: CannonRequest = {
      setupRequest: (request) => {
        const dice = Math.random();
        const base = { ...request, headers: { ...headers } };
        if (dice < 0.45) return { ...base, method: 'GET', path: `/api/v1/tasks/${randomId()}`, body: undefined };
        if (dice < 0.9) return { ...base, method: 'GET', path: '/api/v1/tasks?limit=20', body: undefined };
        if (dice < 0.95) return { ...base, method: 'POST', path: '/api/v1/tasks', body: create.body };
        return { ...base, method: 'PATCH', path: `/api/v1/tasks/${randomId()}`, body: JSON.stringify({ completed: dice < 0.975 }) };
      },
    };
    const scenarios: Array<{ name: string; kind: 'read' | 'write' | 'mix'; requests: CannonRequest[] }> = [
      { name: 'get one task by id', kind: 'read', requests: [get] },
      { name: 'list, default page (limit=20)', kind: 'read', requests: [list('limit=20')] },
      { name: 'list completed=false&sort=due_date', kind: 'read', requests: [list('completed=false&sort=due_date&limit=20')] },
      { name: 'list q=report', kind: 'read', requests: [list('q=report&limit=20')] },
      { name: 'create', kind: 'write', requests: [create] },
      { name: 'patch', kind: 'write', requests: [patch] },
      { name: '90/10 read/write mix', kind: 'mix', requests: [mix] },
    ];

    const results: ScenarioResult[] = [];
    for (const scenario of scenarios) {
      log(`${scenario.name}: warm-up, then ${ROUNDS} rounds of service and baseline, ${DURATION} s each`);
      await load(SERVICE_PORT, scenario.requests, { duration: 2 });
      await load(BASELINE_PORT, scenario.requests, { duration: 2 });
      const rounds: Array<{ service: Measurement; baseline: Measurement }> = [];
      for (let round = 0; round < ROUNDS; round += 1) {
        const serviceRun = measurement(await load(SERVICE_PORT, scenario.requests));
        const baselineRun = measurement(await load(BASELINE_PORT, scenario.requests));
        rounds.push({ service: serviceRun, baseline: baselineRun });
      }
      results.push({ ...scenario, rounds });
    }

    log('scaling: the default list page for users with 1,000, 10,000 and 100,000 tasks (1 connection)');
    const scaling: Array<{ tasks: number; p50: number; p99: number; rps: number }> = [];
    for (const [tasks, user] of [[1_000, standard.users[1]], [10_000, medium.users[0]], [100_000, big.users[0]]] as const) {
      const token = await login(user.username);
      await sequentialLatencies(`http://127.0.0.1:${SERVICE_PORT}/api/v1/tasks?limit=20`, token, 1);
      const latencies = await sequentialLatencies(`http://127.0.0.1:${SERVICE_PORT}/api/v1/tasks?limit=20`, token, DURATION);
      scaling.push({ tasks, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), rps: latencies.length / DURATION });
    }

    log('login: throughput at bcrypt cost 12, and get-by-id p99 with and without a login flood');
    const loginRequests: CannonRequest[] = [
      { method: 'POST', path: '/api/v1/login/access-token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `username=${caller.username}&password=${PASSWORD}` },
    ];
    const loginRun = measurement(await load(SERVICE_PORT, loginRequests, { connections: 4 }));
    const quiet = measurement(await load(SERVICE_PORT, [get], { connections: 4 }));
    const [flooded, flood] = await Promise.all([load(SERVICE_PORT, [get], { connections: 4 }), load(SERVICE_PORT, loginRequests, { connections: 4 })]);
    const loginResult = { login: loginRun, quiet, flooded: measurement(flooded), flood: measurement(flood) };

    const rssMb = peakRssMb(service.pid!);
    const report = { date: new Date().toISOString(), machine: machine(), durationSeconds: DURATION, rounds: ROUNDS, connections: CONNECTIONS, seeded, results, scaling, login: loginResult, rssMb };
    fs.mkdirSync(RESULTS, { recursive: true });
    fs.writeFileSync(path.join(RESULTS, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
    fs.writeFileSync(path.join(RESULTS, 'latest.md'), markdown(report));
    console.log(`\n${markdown(report)}`);
    log(`done in ${((Date.now() - began) / 1000).toFixed(0)} s; results in bench/results/latest.md`);
    await dataSource.destroy();
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(children.map((child) => new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.on('exit', resolve)))));
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
    await embedded?.stop();
    if (scratchDir) fs.rmSync(scratchDir, { recursive: true, force: true });
  }
}

/**
 * Latencies of one request after another on one keep-alive connection, measured here with
 * microsecond resolution (autocannon rounds latencies to whole milliseconds).
 */
async function sequentialLatencies(url: string, authorization: string, seconds: number): Promise<number[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const latencies: number[] = [];
  const until = performance.now() + seconds * 1000;
  try {
    while (performance.now() < until) {
      const started = performance.now();
      const status = await new Promise<number>((resolve, reject) => {
        http
          .get(url, { agent, headers: { authorization } }, (response) => {
            response.resume();
            response.on('end', () => resolve(response.statusCode ?? 0));
          })
          .on('error', reject);
      });
      if (status !== 200) throw new Error(`list answered ${status}`);
      latencies.push(performance.now() - started);
    }
  } finally {
    agent.destroy();
  }
  return latencies;
}

function percentile(values: number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))];
}

interface ScenarioResult {
  name: string;
  kind: 'read' | 'write' | 'mix';
  rounds: Array<{ service: Measurement; baseline: Measurement }>;
}

function machine(): string {
  const cpus = os.cpus();
  return `${cpus.length} × ${cpus[0]?.model.trim() ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;
}

const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
const fixed = (value: number, digits = 2) => value.toFixed(digits);

function summarise(scenario: ScenarioResult) {
  const of = (side: 'service' | 'baseline') => {
    const runs = scenario.rounds.map((round) => round[side]);
    return {
      rps: mean(runs.map((run) => run.rps)),
      p50: mean(runs.map((run) => run.p50)),
      p99: mean(runs.map((run) => run.p99)),
      errors: runs.reduce((sum, run) => sum + run.errors, 0),
      non2xx: runs.reduce((sum, run) => sum + run.non2xx, 0),
    };
  };
  const ratios = scenario.rounds.map((round) => round.service.rps / round.baseline.rps);
  const p99Ratios = scenario.rounds.map((round) => round.service.p99 / round.baseline.p99);
  return { service: of('service'), baseline: of('baseline'), ratio: mean(ratios), ratioMin: Math.min(...ratios), ratioMax: Math.max(...ratios), p99Ratio: mean(p99Ratios) };
}

function markdown(report: {
  date: string;
  machine: string;
  durationSeconds: number;
  rounds: number;
  connections: number;
  seeded: number;
  results: ScenarioResult[];
  scaling: Array<{ tasks: number; p50: number; p99: number; rps: number }>;
  login: { login: Measurement; quiet: Measurement; flooded: Measurement; flood: Measurement };
  rssMb: number;
}): string {
  const lines = [
    '# Benchmark: the service against the node:http + pg baseline',
    '',
    `${report.date} · ${report.machine}`,
    '',
    `${report.seeded.toLocaleString('en')} tasks (100 users × 1,000, one user with 10,000, one with 100,000). Each scenario: a 2 s warm-up of each server, then ${report.rounds} rounds alternating service and baseline, ${report.durationSeconds} s each, ${report.connections} connections (autocannon). One service worker (WEB_CONCURRENCY=1), production build, request logging on.`,
    '',
    '| scenario | server | req/s | p50 ms | p99 ms | errors | non-2xx | service/baseline req/s (min–max) | p99 ratio |',
    '|---|---|---:|---:|---:|---:|---:|---|---:|',
  ];
  const checks: string[] = [];
  for (const scenario of report.results) {
    const s = summarise(scenario);
    lines.push(
      `| ${scenario.name} | service | ${fixed(s.service.rps, 0)} | ${fixed(s.service.p50, 1)} | ${fixed(s.service.p99, 1)} | ${s.service.errors} | ${s.service.non2xx} | **${fixed(s.ratio)}** (${fixed(s.ratioMin)}–${fixed(s.ratioMax)}) | ${fixed(s.p99Ratio)} |`,
      `| | baseline | ${fixed(s.baseline.rps, 0)} | ${fixed(s.baseline.p50, 1)} | ${fixed(s.baseline.p99, 1)} | ${s.baseline.errors} | ${s.baseline.non2xx} | | |`,
    );
    if (scenario.kind === 'read' && scenario.name !== 'list q=report') {
      checks.push(`${verdict(s.ratio >= 0.6)} ${scenario.name}: throughput ${fixed(s.ratio)} × baseline (target ≥ 0.6)`);
      checks.push(`${verdict(s.p99Ratio <= 1.5)} ${scenario.name}: p99 ${fixed(s.p99Ratio)} × baseline (target ≤ 1.5)`);
    }
    if (scenario.kind === 'write') checks.push(`${verdict(s.ratio >= 0.5)} ${scenario.name}: throughput ${fixed(s.ratio)} × baseline (target ≥ 0.5)`);
    checks.push(`${verdict(s.service.errors + s.service.non2xx === 0)} ${scenario.name}: ${s.service.errors} errors, ${s.service.non2xx} non-2xx (target 0)`);
  }
  const [small, , large] = report.scaling;
  lines.push(
    '',
    '## Scaling: default list page (limit=20), one request after another on one connection',
    '',
    '| tasks of the user | req/s | p50 ms | p99 ms |',
    '|---:|---:|---:|---:|',
  );
  for (const row of report.scaling) lines.push(`| ${row.tasks.toLocaleString('en')} | ${fixed(row.rps, 0)} | ${fixed(row.p50, 3)} | ${fixed(row.p99, 3)} |`);
  checks.push(`${verdict(large.p50 <= 3 * small.p50)} list at 100,000 tasks: p50 ${fixed(large.p50 / small.p50)} × its p50 at 1,000 (target ≤ 3)`);
  const { login } = report;
  lines.push(
    '',
    '## Login (bcrypt cost 12, rate limits off) and reads during a login flood',
    '',
    '| measurement | req/s | p50 ms | p99 ms | errors | non-2xx |',
    '|---|---:|---:|---:|---:|---:|',
    `| login/access-token alone, 4 connections | ${fixed(login.login.rps, 1)} | ${fixed(login.login.p50, 0)} | ${fixed(login.login.p99, 0)} | ${login.login.errors} | ${login.login.non2xx} |`,
    `| get by id, no flood, 4 connections | ${fixed(login.quiet.rps, 0)} | ${fixed(login.quiet.p50, 1)} | ${fixed(login.quiet.p99, 1)} | ${login.quiet.errors} | ${login.quiet.non2xx} |`,
    `| get by id during a login flood | ${fixed(login.flooded.rps, 0)} | ${fixed(login.flooded.p50, 1)} | ${fixed(login.flooded.p99, 1)} | ${login.flooded.errors} | ${login.flooded.non2xx} |`,
    `| the flood itself (logins) | ${fixed(login.flood.rps, 1)} | ${fixed(login.flood.p50, 0)} | ${fixed(login.flood.p99, 0)} | ${login.flood.errors} | ${login.flood.non2xx} |`,
  );
  checks.push(`${verdict(login.flooded.p99 <= 2 * login.quiet.p99)} get-by-id p99 during a login flood: ${fixed(login.flooded.p99 / login.quiet.p99)} × without (target ≤ 2)`);
  checks.push(`${verdict(report.rssMb <= 200)} peak RSS of the service worker: ${fixed(report.rssMb, 0)} MB (target ≤ 200)`);
  lines.push('', `Peak RSS of the service worker over the whole run: **${fixed(report.rssMb, 0)} MB**.`, '', '## Targets', '', ...checks.map((check) => `- ${check}`), '');
  return lines.join('\n');
}

function verdict(met: boolean): string {
  return met ? '✅ met —' : '❌ not met —';
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
