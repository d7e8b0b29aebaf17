import os from 'node:os';
import { Counter, Gauge, type Registry } from 'prom-client';
import { isDatabaseUnavailable } from '../db/connection-errors';
import type { Logger } from '../logger';
import type { Claim, Collection, DatabaseSnapshot, DatabaseStatsRepository } from './database-stats.repository';

type Sample<L extends string> = { labels: Partial<Record<L, string>>; value: number };

/**
 * A gauge whose samples are read from a cache when scraped. Unlike prom-client's own, it shows no
 * sample at all when the cache is empty (a process that does not collect), rather than a 0 that
 * would read as a real value.
 */
class CachedGauge<L extends string> extends Gauge<L> {
  constructor(
    registry: Registry,
    name: string,
    help: string,
    labelNames: L[],
    private readonly read: () => Array<Sample<L>>,
  ) {
    super({ name, help, labelNames, registers: [registry] });
  }

  override async get() {
    return { ...(await super.get()), values: this.read() };
  }
}

/** The same for a counter that PostgreSQL keeps (idx_scan), copied as it is. */
class CachedCounter<L extends string> extends Counter<L> {
  constructor(
    registry: Registry,
    name: string,
    help: string,
    labelNames: L[],
    private readonly read: () => Array<Sample<L>>,
  ) {
    super({ name, help, labelNames, registers: [registry] });
  }

  override async get() {
    return { ...(await super.get()), values: this.read() };
  }
}

/** A claim on the statistics for a scheduled turn: ours again after half an interval, another's after one and a half. */
const SCHEDULED = { ownShare: 0.5, othersShare: 1.5 };

/**
 * The database's health in /metrics: per table, per index, connections by state, replication lag
 * as the primary sees it, the database's size, and whether the database answers (`db_up`).
 *
 * One process of the fleet reads the catalog, at most every `intervalMs`, on a timer; a scrape only
 * reads what was cached, so it costs no query. Every process tries on its own timer; a
 * transaction-level advisory lock and the job's row in scheduled_jobs (see the repository) let
 * exactly one of them collect, and the same one keeps collecting while it does so on time. Another
 * takes over after one and a half intervals without a collection. Only the collector exposes
 * samples of these families (a process that finds another one collecting drops what it had), so
 * values are never counted twice or left stale when the collector changes; `db_up` is every
 * process's own: 0 when its last turn could not reach the database.
 */
export class DatabaseStats {
  private snapshot: { collectedAt: number; stats: DatabaseSnapshot } | undefined;
  private up: boolean | undefined;
  private timer: NodeJS.Timeout | undefined;
  private turn: Promise<boolean> = Promise.resolve(false);
  private busy = false;

  constructor(
    private readonly repository: DatabaseStatsRepository,
    registry: Registry,
    private readonly logger: Logger,
    private readonly intervalMs: number,
    /** How scheduled_jobs names this process; distinct per process of the fleet. */
    private readonly processName = `${os.hostname()}/${process.pid}`,
  ) {
    this.registerFamilies(registry);
  }

  /** Collects now, then every `intervalMs` (0: never). The timer does not keep the process alive. */
  start(): void {
    if (this.intervalMs === 0 || this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.intervalMs).unref();
    void this.tick();
  }

  /** Stops the timer and waits for a collection in progress, so the pool can be closed after it. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.turn;
  }

  /** A scheduled turn: collects if the statistics are due for this process. Skipped while the previous turn still runs. */
  tick(): Promise<boolean> {
    if (this.busy) return this.turn;
    return this.run({ by: this.processName, ownMinAgeMs: this.intervalMs * SCHEDULED.ownShare, othersMinAgeMs: this.intervalMs * SCHEDULED.othersShare });
  }

  /**
   * Collects now, whenever the last collection was, unless another process is collecting at this
   * very moment. Resolves to whether this process collected. Tests use it rather than waiting for
   * the timer.
   */
  collectNow(): Promise<boolean> {
    return this.run({ by: this.processName, ownMinAgeMs: 0, othersMinAgeMs: 0 });
  }

  private run(claim: Claim): Promise<boolean> {
    this.turn = this.turn.then(async () => {
      this.busy = true;
      try {
        return await this.collect(claim);
      } finally {
        this.busy = false;
      }
    });
    return this.turn;
  }

  private async collect(claim: Claim): Promise<boolean> {
    let found: Collection;
    try {
      found = await this.repository.collect(claim);
    } catch (error) {
      const unreachable = isDatabaseUnavailable(error);
      if (unreachable && this.up !== false) this.logger.warn({ err: error }, 'database statistics: the database cannot be reached; db_up is 0 until it can');
      if (!unreachable) this.logger.warn({ err: error }, 'database statistics: collecting them failed');
      this.up = !unreachable;
      this.snapshot = undefined;
      return false;
    }
    if (this.up === false) this.logger.info('database statistics: the database answers again');
    this.up = true;
    if (found.snapshot) {
      if (!this.snapshot) this.logger.info('database statistics: this process collects them for /metrics');
      this.snapshot = { collectedAt: Date.now() / 1000, stats: found.snapshot };
      return true;
    }
    // Not due yet for us, or someone is collecting right now: what we hold is still ours to show,
    // unless another process has become the collector.
    if (this.snapshot && found.collector !== undefined && found.collector !== claim.by) {
      this.logger.info(`database statistics: ${found.collector} collects them now`);
      this.snapshot = undefined;
    }
    return false;
  }

  private registerFamilies(registry: Registry): void {
    const from =
      <L extends string>(samples: (stats: DatabaseSnapshot, collectedAt: number) => Array<Sample<L>>) =>
      () =>
        this.snapshot ? samples(this.snapshot.stats, this.snapshot.collectedAt) : [];
    const perTable = (value: (table: DatabaseSnapshot['tables'][number]) => number) =>
      from((stats) => stats.tables.map((table) => ({ labels: { table: table.table }, value: value(table) })));
    /** Seconds since each table was last vacuumed (or analysed), by hand and by autovacuum, as of the scrape; nothing for never. */
    const ages = (manual: 'lastVacuum' | 'lastAnalyze', auto: 'lastAutovacuum' | 'lastAutoanalyze') =>
      from((stats) => {
        const now = Date.now() / 1000;
        return stats.tables.flatMap((table) =>
          (
            [
              ['manual', table[manual]],
              ['auto', table[auto]],
            ] as const
          ).flatMap(([kind, stamp]) => (stamp === null ? [] : [{ labels: { table: table.table, kind }, value: Math.max(0, now - stamp) }])),
        );
      });

    new CachedGauge(
      registry,
      'db_up',
      'Whether the database answered this process the last time it tried to collect its statistics (every DB_STATS_INTERVAL_MS)',
      [],
      () => (this.up === undefined ? [] : [{ labels: {}, value: this.up ? 1 : 0 }]),
    );
    new CachedGauge(
      registry,
      'db_stats_collected_timestamp_seconds',
      'When this process last collected the database statistics (only the collecting process has it)',
      [],
      from((_stats, collectedAt) => [{ labels: {}, value: collectedAt }]),
    );
    new CachedGauge(
      registry,
      'db_database_size_bytes',
      'Size of the database on disk (pg_database_size)',
      [],
      from((stats) => [{ labels: {}, value: stats.databaseBytes }]),
    );
    new CachedGauge(
      registry,
      'db_table_live_tuples',
      'Estimated live rows per table (n_live_tup)',
      ['table'],
      perTable((table) => table.liveTuples),
    );
    new CachedGauge(
      registry,
      'db_table_dead_tuples',
      'Dead rows per table awaiting vacuum (n_dead_tup)',
      ['table'],
      perTable((table) => table.deadTuples),
    );
    new CachedGauge(
      registry,
      'db_table_size_bytes',
      'Table storage without its indexes: heap, TOAST and maps (pg_table_size)',
      ['table'],
      perTable((table) => table.tableBytes),
    );
    new CachedGauge(
      registry,
      'db_table_indexes_size_bytes',
      'Size of all indexes of a table (pg_indexes_size)',
      ['table'],
      perTable((table) => table.indexesBytes),
    );
    new CachedGauge(
      registry,
      'db_table_total_size_bytes',
      'Table, TOAST and indexes together (pg_total_relation_size)',
      ['table'],
      perTable((table) => table.totalBytes),
    );
    new CachedGauge(
      registry,
      'db_table_last_vacuum_age_seconds',
      'Seconds since the table was last vacuumed, kind="auto" by autovacuum or "manual" by VACUUM; absent when never',
      ['table', 'kind'],
      ages('lastVacuum', 'lastAutovacuum'),
    );
    new CachedGauge(
      registry,
      'db_table_last_analyze_age_seconds',
      'Seconds since the table was last analysed, kind="auto" by autovacuum or "manual" by ANALYZE; absent when never',
      ['table', 'kind'],
      ages('lastAnalyze', 'lastAutoanalyze'),
    );
    new CachedCounter(
      registry,
      'db_index_scans_total',
      'Scans of each index since the statistics were reset (idx_scan); one that stays 0 is an unused index',
      ['table', 'index'],
      from((stats) => stats.indexes.map((index) => ({ labels: { table: index.table, index: index.index }, value: index.scans }))),
    );
    new CachedGauge(
      registry,
      'db_index_size_bytes',
      'Size of each index (pg_relation_size)',
      ['table', 'index'],
      from((stats) => stats.indexes.map((index) => ({ labels: { table: index.table, index: index.index }, value: index.bytes }))),
    );
    new CachedGauge(
      registry,
      'db_connections',
      'Client connections to this database by state (pg_stat_activity), from every process and client, not only this pool',
      ['state'],
      from((stats) => stats.connections.map((connection) => ({ labels: { state: connection.state }, value: connection.count }))),
    );
    new CachedGauge(
      registry,
      'db_replication_replay_lag_seconds',
      "The primary's view of each standby: replay_lag by application_name (0 once a standby has caught up and WAL stops flowing)",
      ['application_name'],
      from((stats) =>
        stats.replication.flatMap((standby) =>
          standby.lagSeconds === null ? [] : [{ labels: { application_name: standby.applicationName }, value: standby.lagSeconds }],
        ),
      ),
    );
    new CachedGauge(
      registry,
      'db_replication_replay_lag_bytes',
      "The primary's view of each standby: WAL written and not yet replayed there, by application_name",
      ['application_name'],
      from((stats) =>
        stats.replication.flatMap((standby) =>
          standby.lagBytes === null ? [] : [{ labels: { application_name: standby.applicationName }, value: standby.lagBytes }],
        ),
      ),
    );
  }
}
