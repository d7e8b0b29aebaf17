import http from 'node:http';
import { Client } from 'pg';
import pino from 'pino';
import { Registry } from 'prom-client';
import request from 'supertest';
import { Database } from '../src/db/database';
import type { AppDataSource } from '../src/db/data-source';
import { DatabaseStats } from '../src/observability/database-stats';
import { DatabaseStatsRepository } from '../src/observability/database-stats.repository';
import { createTestApp, type TestApp } from './support/app';
import { createMigratedDatabase, silentLogger, testDataSource } from './support/database';
import { startFakeStandby } from './support/fake-standby';
import { freePort, startProcess, waitFor } from './support/processes';
import { parseExposition, samplesOf, valueOf, type Exposition } from './support/prometheus';
import { TcpProxy } from './support/tcp-proxy';
import { bearer, newUserFields } from './support/users';

jest.setTimeout(60_000);

let testApp: TestApp;
let token: string;
const started = Date.now();
const TASKS = 30;

/** The families of the database's health, and the label that tells their series apart. */
const TABLE_FAMILIES = ['db_table_live_tuples', 'db_table_dead_tuples', 'db_table_size_bytes', 'db_table_indexes_size_bytes', 'db_table_total_size_bytes'];
const INDEX_FAMILIES = ['db_index_scans_total', 'db_index_size_bytes'];
const CONNECTION_STATES = ['active', 'idle', 'idle in transaction', 'idle in transaction (aborted)', 'fastpath function call', 'disabled', 'unknown'];

beforeAll(async () => {
  // Every statement over 1 ms is "slow": the slow-statement test makes its statements wait on a lock.
  testApp = await createTestApp({ SLOW_QUERY_MS: '1' });
  const fields = newUserFields();
  await request(testApp.app).post('/api/v1/users/signup').send(fields).expect(201);
  const login = await request(testApp.app).post('/api/v1/login/access-token').type('form').send({ username: fields.username, password: fields.password });
  token = login.body.access_token;
  for (let i = 0; i < TASKS; i += 1) {
    const created = await request(testApp.app)
      .post('/api/v1/tasks')
      .set(bearer(token))
      .send({ title: `task ${i}` })
      .expect(201);
    await request(testApp.app).get(`/api/v1/tasks/${created.body.id}`).set(bearer(token)).expect(200);
  }
  await request(testApp.app).get('/api/v1/tasks').set(bearer(token)).expect(200);
  // Sets n_live_tup and last_vacuum/last_analyze at once; backends report their own counters (idx_scan) within seconds.
  await testApp.dataSource.query('VACUUM ANALYZE tasks');
});

afterAll(() => testApp.close());

async function scrape(app = testApp.app): Promise<Exposition> {
  return parseExposition((await request(app).get('/metrics').expect(200)).text);
}

/** Scans of all of a table's indexes: which index the planner picks for a 30-row table is its business. */
const indexScans = (metrics: Exposition, table: string) => samplesOf(metrics, 'db_index_scans_total', { table }).reduce((sum, sample) => sum + sample.value, 0);

/** Collects until the traffic's index scans show (PostgreSQL publishes a backend's counters up to a few seconds late). */
async function collectedAfterTraffic(): Promise<Exposition> {
  return waitFor(
    async () => {
      await testApp.databaseStats.collectNow();
      const metrics = await scrape();
      return indexScans(metrics, 'tasks') > 0 && indexScans(metrics, 'sessions') > 0 ? metrics : undefined;
    },
    20_000,
    'the index scans of the traffic in the statistics',
  );
}

async function catalog<T>(sql: string): Promise<T[]> {
  return testApp.dataSource.query(sql);
}

describe('the database statistics in /metrics', () => {
  it('show every table of public with its live and dead tuples and its sizes, which add up', async () => {
    const metrics = await collectedAfterTraffic();
    const tables = (await catalog<{ name: string }>("SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).map((row) => row.name);
    expect(tables).toEqual(expect.arrayContaining(['tasks', 'users', 'sessions', 'scheduled_jobs']));
    for (const family of TABLE_FAMILIES) {
      expect([
        family,
        samplesOf(metrics, family)
          .map((sample) => sample.labels.table)
          .sort(),
      ]).toEqual([family, tables]);
    }
    const [{ count }] = await catalog<{ count: number }>('SELECT count(*)::int AS count FROM tasks');
    expect(count).toBe(TASKS);
    expect(valueOf(metrics, 'db_table_live_tuples', { table: 'tasks' })).toBeGreaterThanOrEqual(TASKS);
    expect(valueOf(metrics, 'db_table_dead_tuples', { table: 'tasks' })).toBeGreaterThanOrEqual(0);
    for (const table of tables) {
      const size = (family: string) => valueOf(metrics, family, { table })!;
      expect([table, size('db_table_total_size_bytes')]).toEqual([table, size('db_table_size_bytes') + size('db_table_indexes_size_bytes')]);
      expect(size('db_table_indexes_size_bytes')).toBeGreaterThan(0);
    }
    expect(valueOf(metrics, 'db_table_size_bytes', { table: 'tasks' })).toBeGreaterThan(0);
    const totals = samplesOf(metrics, 'db_table_total_size_bytes').reduce((sum, sample) => sum + sample.value, 0);
    expect(valueOf(metrics, 'db_database_size_bytes')).toBeGreaterThan(totals);
  });

  it('show how long ago each table was vacuumed and analysed, by hand or by autovacuum, and nothing for never', async () => {
    const metrics = await collectedAfterTraffic();
    const sinceStart = (Date.now() - started) / 1000;
    for (const family of ['db_table_last_vacuum_age_seconds', 'db_table_last_analyze_age_seconds']) {
      const age = valueOf(metrics, family, { table: 'tasks', kind: 'manual' });
      expect([family, age! >= 0 && age! <= sinceStart]).toEqual([family, true]);
      // Nobody vacuums users by hand in this test.
      expect(samplesOf(metrics, family, { table: 'users', kind: 'manual' })).toEqual([]);
      for (const sample of samplesOf(metrics, family)) expect(['auto', 'manual']).toContain(sample.labels.kind);
    }
  });

  it('show the scans and size of every index, so the used ones and the unused ones stand out', async () => {
    const metrics = await collectedAfterTraffic();
    const indexes = await catalog<{ table: string; index: string }>(
      "SELECT tablename AS table, indexname AS index FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1, 2",
    );
    for (const family of INDEX_FAMILIES) {
      const exported = samplesOf(metrics, family).map((sample) => ({ table: sample.labels.table, index: sample.labels.index }));
      expect([family, exported]).toEqual([family, indexes]);
    }
    for (const { index } of indexes) expect([index, valueOf(metrics, 'db_index_size_bytes', { index })! > 0]).toEqual([index, true]);
    // PostgreSQL's counters only grow: what was collected is at most what the catalog says now.
    const now = await catalog<{ index: string; scans: number }>(
      "SELECT indexrelname AS index, idx_scan::float8 AS scans FROM pg_stat_user_indexes WHERE schemaname = 'public'",
    );
    for (const { index, scans } of now) expect([index, valueOf(metrics, 'db_index_scans_total', { index })! <= scans]).toEqual([index, true]);
    // Every authenticated request reads its session, and every GET by id its task, through an index.
    expect(indexScans(metrics, 'sessions')).toBeGreaterThan(0);
    expect(indexScans(metrics, 'tasks')).toBeGreaterThan(0);
    // Only a search (q) uses the full-text index, and there was none.
    expect(valueOf(metrics, 'db_index_scans_total', { index: 'idx_tasks_search' })).toBe(0);
    expect(metrics.families.get('db_index_scans_total')).toBe('counter');
  });

  it('show the connections to this database by state, and whether it answers', async () => {
    const metrics = await collectedAfterTraffic();
    const connections = samplesOf(metrics, 'db_connections');
    for (const sample of connections) expect(CONNECTION_STATES).toContain(sample.labels.state);
    // The collector's own transaction is active while it reads pg_stat_activity.
    expect(valueOf(metrics, 'db_connections', { state: 'active' })).toBeGreaterThanOrEqual(1);
    expect(valueOf(metrics, 'db_up')).toBe(1);
    expect(valueOf(metrics, 'db_stats_collected_timestamp_seconds')).toBeGreaterThan(started / 1000);
  });

  it("show each standby's replay lag as the primary sees it, by application_name", async () => {
    const standby = await startFakeStandby(testApp.database.url, 'fake-standby');
    try {
      await testApp.dataSource.query('CREATE TABLE wal_filler AS SELECT generate_series(1, 1000) AS n');
      const metrics = await waitFor(
        async () => {
          await testApp.databaseStats.collectNow();
          const current = await scrape();
          return (valueOf(current, 'db_replication_replay_lag_bytes', { application_name: 'fake-standby' }) ?? 0) > 0 ? current : undefined;
        },
        20_000,
        'the fake standby in pg_stat_replication',
      );
      const [{ behind }] = await catalog<{ behind: number }>(`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '${standby.startLsn}')::float8 AS behind`);
      expect(valueOf(metrics, 'db_replication_replay_lag_bytes', { application_name: 'fake-standby' })).toBeLessThanOrEqual(behind);
      expect(valueOf(metrics, 'db_replication_replay_lag_seconds', { application_name: 'fake-standby' })).toBeGreaterThanOrEqual(0);
    } finally {
      await standby.close();
      await testApp.dataSource.query('DROP TABLE IF EXISTS wal_filler');
    }
  });

  it("leave out what the role may not see: without pg_monitor, no replication lag (never a reassuring 0), and others' connections as unknown", async () => {
    const role = `observer_${Date.now()}`;
    await testApp.dataSource.query(`CREATE ROLE ${role} LOGIN PASSWORD 'observer-password'`);
    await testApp.dataSource.query(`GRANT SELECT, INSERT, UPDATE ON scheduled_jobs TO ${role}`);
    const asObserver = new URL(testApp.database.url);
    asObserver.username = role;
    asObserver.password = 'observer-password';
    const dataSource = testDataSource(asObserver.toString());
    const standby = await startFakeStandby(testApp.database.url, 'hidden-standby');
    await dataSource.initialize();
    try {
      const registry = new Registry();
      const stats = new DatabaseStats(new DatabaseStatsRepository(new Database(dataSource)), registry, silentLogger, 1000, 'observer/1');
      // The privileged collector sees the standby's position...
      await waitFor(
        async () => {
          await testApp.databaseStats.collectNow();
          return valueOf(await scrape(), 'db_replication_replay_lag_bytes', { application_name: 'hidden-standby' });
        },
        20_000,
        'the fake standby in pg_stat_replication',
      );
      // ... the observer does not, and says nothing rather than 0.
      expect(await stats.collectNow()).toBe(true);
      const metrics = parseExposition(await registry.metrics());
      expect(samplesOf(metrics, 'db_replication_replay_lag_bytes', { application_name: 'hidden-standby' })).toEqual([]);
      expect(samplesOf(metrics, 'db_replication_replay_lag_seconds', { application_name: 'hidden-standby' })).toEqual([]);
      expect(valueOf(metrics, 'db_connections', { state: 'unknown' })).toBeGreaterThan(0);
      expect(samplesOf(metrics, 'db_table_live_tuples').length).toBeGreaterThan(0);
    } finally {
      await dataSource.destroy();
      await standby.close();
      await testApp.dataSource.query(`REVOKE ALL ON scheduled_jobs FROM ${role}`);
      await testApp.dataSource.query(`DROP ROLE ${role}`);
    }
  });

  it('are served from what was collected: a scrape sends no query to PostgreSQL, and two scrapes agree', async () => {
    await collectedAfterTraffic();
    const queries = jest.spyOn(Client.prototype, 'query');
    try {
      const first = await scrape();
      const second = await scrape();
      expect(queries).not.toHaveBeenCalled();
      // Ages are computed at the scrape from cached timestamps: they move, everything else stays.
      const stable = (metrics: Exposition) =>
        metrics.samples.filter(
          (sample) => /^db_(table|index|database|connections|replication|up|stats)/.test(sample.name) && !sample.name.endsWith('_age_seconds'),
        );
      expect(stable(second)).toEqual(stable(first));
      expect(stable(first).length).toBeGreaterThan(20);
    } finally {
      queries.mockRestore();
    }
    // The spy does see queries: a collection makes some.
    const collecting = jest.spyOn(Client.prototype, 'query');
    try {
      await testApp.databaseStats.collectNow();
      expect(collecting).toHaveBeenCalled();
    } finally {
      collecting.mockRestore();
    }
  });
});

describe('slow statements in /metrics', () => {
  /** Makes the next write to `table`'s row `id` wait for `ms` on a row lock held by another session. */
  async function holdRowLock(dataSource: AppDataSource, table: 'tasks' | 'users', id: string, ms: number): Promise<void> {
    const runner = dataSource.createQueryRunner();
    await runner.startTransaction();
    await runner.query(`SELECT 1 FROM ${table} WHERE id = $1 FOR UPDATE`, [id]);
    setTimeout(() => void runner.commitTransaction().finally(() => runner.release()), ms);
  }

  const slowCount = (metrics: Exposition, route: string) => valueOf(metrics, 'db_slow_queries_total', { route }) ?? 0;

  it("are counted under the route template of the request that ran them, hand-written statements and TypeORM's alike", async () => {
    const task = (await request(testApp.app).post('/api/v1/tasks').set(bearer(token)).send({ title: 'locked' }).expect(201)).body;
    const before = await scrape();

    await holdRowLock(testApp.dataSource, 'tasks', task.id, 150);
    await request(testApp.app).patch(`/api/v1/tasks/${task.id}`).set(bearer(token)).send({ completed: true }).expect(200);
    await holdRowLock(testApp.dataSource, 'users', task.user_id, 150);
    await request(testApp.app)
      .patch('/api/v1/users/me')
      .set(bearer(token))
      .send({ username: `renamed_${Date.now()}` })
      .expect(200);

    const after = await scrape();
    expect(slowCount(after, '/api/v1/tasks/:id')).toBeGreaterThan(slowCount(before, '/api/v1/tasks/:id'));
    expect(slowCount(after, '/api/v1/users/me')).toBeGreaterThan(slowCount(before, '/api/v1/users/me'));
    for (const sample of samplesOf(after, 'db_slow_queries_total')) expect(sample.labels.route).not.toContain(task.id);
  });

  it('are counted as "background" when no request ran them', async () => {
    const before = slowCount(await scrape(), 'background');
    await testApp.dataSource.query('SELECT pg_sleep(0.01)');
    expect(slowCount(await scrape(), 'background')).toBe(before + 1);
  });
});

describe('which process collects', () => {
  /** A process of the fleet: its own registry (as each process has) on the same database. */
  function fleetProcess(dataSource: AppDataSource, name: string, intervalMs: number) {
    const registry = new Registry();
    const stats = new DatabaseStats(new DatabaseStatsRepository(new Database(dataSource)), registry, silentLogger, intervalMs, name);
    const metrics = async () => parseExposition(await registry.metrics());
    const tables = async () => samplesOf(await metrics(), 'db_table_live_tuples').length;
    return { stats, metrics, tables };
  }

  it('is one at a time: the others expose none of the statistics until the collector misses its turn, and then one takes over', async () => {
    const { dataSource, close } = await createMigratedDatabase();
    try {
      // Time passes by moving the last collection back in scheduled_jobs: the database's clock decides, and a slow machine cannot.
      const intervalMs = 60_000;
      const lastCollectionAgo = (ms: number) =>
        dataSource.query("UPDATE scheduled_jobs SET last_run_at = now() - make_interval(secs => $1::float8 / 1000) WHERE name = 'database_stats'", [ms]);
      const [a, b, c] = ['host-a/1', 'host-b/1', 'host-c/1'].map((name) => fleetProcess(dataSource, name, intervalMs));

      // Three processes whose timers fire together: exactly one collects.
      const turns = await Promise.all([a.stats.tick(), b.stats.tick(), c.stats.tick()]);
      expect(turns.filter(Boolean)).toHaveLength(1);
      const collector = [a, b, c][turns.indexOf(true)];
      const others = [a, b, c].filter((fleetMember) => fleetMember !== collector);
      expect(await collector.tables()).toBeGreaterThan(0);
      for (const other of others) {
        expect(await other.tables()).toBe(0);
        expect(valueOf(await other.metrics(), 'db_up')).toBe(1);
      }

      // A turn that comes early changes nothing: the collector keeps what it has, the others still wait.
      await lastCollectionAgo(intervalMs * 0.4);
      expect(await collector.stats.tick()).toBe(false);
      expect(await others[0].stats.tick()).toBe(false);
      expect(await collector.tables()).toBeGreaterThan(0);

      // On time, the collector collects again; the others do not.
      await lastCollectionAgo(intervalMs);
      expect(await others[0].stats.tick()).toBe(false);
      expect(await collector.stats.tick()).toBe(true);

      // The collector misses its turns: after one and a half intervals, another takes over and the first one's numbers go.
      await lastCollectionAgo(intervalMs * 1.4);
      expect(await others[0].stats.tick()).toBe(false);
      await lastCollectionAgo(intervalMs * 1.5);
      expect(await others[0].stats.tick()).toBe(true);
      expect(await others[1].stats.tick()).toBe(false);
      expect(await collector.stats.tick()).toBe(false);
      expect(await collector.tables()).toBe(0);
      expect(await others[0].tables()).toBeGreaterThan(0);
    } finally {
      await close();
    }
  });

  it('says db_up 0 and shows no statistics while the database cannot be reached, and recovers by itself', async () => {
    const { database, close } = await createMigratedDatabase();
    const target = new URL(database.url);
    const proxy = new TcpProxy(target.hostname, Number(target.port));
    await proxy.open();
    const throughProxy = new URL(database.url);
    throughProxy.port = String(proxy.port);
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
    const dataSource = testDataSource(
      throughProxy.toString(),
      { database: { poolSize: 2, connectTimeoutMs: 1000, statementTimeoutMs: 0, slowQueryMs: 200 } },
      logger,
    );
    await dataSource.initialize();
    try {
      const registry = new Registry();
      const stats = new DatabaseStats(new DatabaseStatsRepository(new Database(dataSource)), registry, logger, 1000, 'alone/1');
      const metrics = async () => parseExposition(await registry.metrics());
      expect(samplesOf(await metrics(), 'db_up')).toEqual([]);

      expect(await stats.collectNow()).toBe(true);
      expect(valueOf(await metrics(), 'db_up')).toBe(1);

      await proxy.cut();
      expect(await stats.collectNow()).toBe(false);
      expect(valueOf(await metrics(), 'db_up')).toBe(0);
      expect(samplesOf(await metrics(), 'db_table_live_tuples')).toEqual([]);
      expect(lines.join('')).toContain('the database cannot be reached');

      await proxy.open();
      expect(await stats.collectNow()).toBe(true);
      expect(valueOf(await metrics(), 'db_up')).toBe(1);
      expect(samplesOf(await metrics(), 'db_table_live_tuples').length).toBeGreaterThan(0);
      expect(lines.join('')).toContain('the database answers again');
    } finally {
      await dataSource.destroy();
      await proxy.cut();
      await close();
    }
  });
});

describe('the compiled service with WEB_CONCURRENCY=2', () => {
  /** One scrape on a new connection, so the cluster hands it to either worker. */
  const scrapeOnce = (port: number) =>
    new Promise<Exposition>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: '/metrics', agent: false }, (response) => {
          let body = '';
          response.on('data', (chunk) => (body += chunk));
          response.on('end', () => resolve(parseExposition(body)));
        })
        .on('error', reject);
    });

  it('collects in one worker on its timer: scrapes of the other show db_up but no statistics; SIGTERM still stops it cleanly', async () => {
    const { database, close } = await createMigratedDatabase();
    const port = await freePort();
    const env = {
      DATABASE_URL: database.url,
      PORT: String(port),
      WEB_CONCURRENCY: '2',
      DB_STATS_INTERVAL_MS: '1000',
      MIGRATE_ON_START: 'false',
      LOG_FORMAT: 'json',
    };
    const service = startProcess('node', ['dist/src/server.js'], env);
    try {
      const seen = await waitFor(
        async () => {
          const kinds = new Set<string>();
          for (let i = 0; i < 10; i += 1) {
            const metrics = await scrapeOnce(port);
            if (valueOf(metrics, 'db_up') !== 1) return undefined;
            kinds.add(samplesOf(metrics, 'db_table_live_tuples').length > 0 ? 'collector' : 'other');
          }
          return kinds.size === 2 ? kinds : undefined;
        },
        30_000,
        'scrapes of both workers, one of them the collector',
      );
      expect([...seen].sort()).toEqual(['collector', 'other']);
      expect(service.output().match(/this process collects them for \/metrics/g)).toHaveLength(1);

      service.child.kill('SIGTERM');
      expect(await service.exited).toEqual({ code: 0, signal: null });
    } finally {
      if (service.child.exitCode === null) service.child.kill('SIGKILL');
      await close();
    }
  });
});
