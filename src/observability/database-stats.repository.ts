import type { Database } from '../db/database';

/*
 * All SQL of the database statistics behind /metrics: the catalog reads, and the claim that lets
 * one process of the fleet make them. Everything runs in one transaction, so it needs nothing
 * from the session and works behind PgBouncer in transaction mode: a transaction-level advisory
 * lock keeps two processes from claiming at the same moment, and the job's row in scheduled_jobs
 * says whether the statistics are due at all.
 */

/** Any constant: it only has to be the same in every process of the fleet (and differ from the migrations' lock). */
const STATS_LOCK_KEY = 7_204_551_177;

const JOB = 'database_stats';

export interface TableStats {
  table: string;
  liveTuples: number;
  deadTuples: number;
  /** The table's own storage (heap, TOAST, free-space and visibility maps), in bytes. */
  tableBytes: number;
  indexesBytes: number;
  totalBytes: number;
  /** When PostgreSQL last vacuumed or analysed it (Unix seconds), by hand or by autovacuum; null when never. */
  lastVacuum: number | null;
  lastAutovacuum: number | null;
  lastAnalyze: number | null;
  lastAutoanalyze: number | null;
}

export interface IndexStats {
  table: string;
  index: string;
  /** Index scans since the statistics were last reset. */
  scans: number;
  bytes: number;
}

export interface ReplicationStats {
  /** The standby's application_name (its cluster_name, or `walreceiver`); standbys sharing one are reported as the one furthest behind. */
  applicationName: string;
  /** replay_lag; 0 when PostgreSQL reports none (a standby that has caught up, once WAL stops flowing); null when its position is unknown. */
  lagSeconds: number | null;
  /** WAL written here and not yet replayed there; null when the standby has not reported its position or the role may not see it. */
  lagBytes: number | null;
}

export interface DatabaseSnapshot {
  databaseBytes: number;
  tables: TableStats[];
  indexes: IndexStats[];
  /** Client connections to this database, by pg_stat_activity.state. */
  connections: Array<{ state: string; count: number }>;
  replication: ReplicationStats[];
}

/** What a turn found: the statistics if this caller collected them, and which process collects them. */
export interface Collection {
  snapshot?: DatabaseSnapshot;
  /** The process that made the last collection; undefined when another one holds the lock at this moment. */
  collector: string | undefined;
}

/** Who asks, and how old the last collection must be for this caller to make the next one. */
export interface Claim {
  /** This process, as it is recorded in scheduled_jobs.last_run_by. */
  by: string;
  /** When the last collection was this process's own. */
  ownMinAgeMs: number;
  /** When another process made it: that process has missed its turn. */
  othersMinAgeMs: number;
}

const CLAIM = `INSERT INTO scheduled_jobs AS job (name, last_run_at, last_run_by) VALUES ($1, now(), $2)
ON CONFLICT (name) DO UPDATE SET last_run_at = now(), last_run_by = $2
 WHERE job.last_run_at <= now() - make_interval(secs => CASE WHEN job.last_run_by = $2 THEN $3::float8 ELSE $4::float8 END / 1000)
RETURNING name`;

/** float8 rather than bigint, which pg hands over as a string; sizes and counts stay exact up to 2^53. */
const TABLES = `SELECT s.relname AS "table",
       s.n_live_tup::float8 AS "liveTuples", s.n_dead_tup::float8 AS "deadTuples",
       pg_table_size(s.relid)::float8 AS "tableBytes",
       pg_indexes_size(s.relid)::float8 AS "indexesBytes",
       pg_total_relation_size(s.relid)::float8 AS "totalBytes",
       extract(epoch FROM s.last_vacuum)::float8 AS "lastVacuum",
       extract(epoch FROM s.last_autovacuum)::float8 AS "lastAutovacuum",
       extract(epoch FROM s.last_analyze)::float8 AS "lastAnalyze",
       extract(epoch FROM s.last_autoanalyze)::float8 AS "lastAutoanalyze"
  FROM pg_stat_user_tables s
 WHERE s.schemaname = 'public' AND pg_total_relation_size(s.relid) IS NOT NULL
 ORDER BY s.relname`;

const INDEXES = `SELECT s.relname AS "table", s.indexrelname AS "index", s.idx_scan::float8 AS scans,
       pg_relation_size(s.indexrelid)::float8 AS bytes
  FROM pg_stat_user_indexes s
 WHERE s.schemaname = 'public' AND pg_relation_size(s.indexrelid) IS NOT NULL
 ORDER BY s.relname, s.indexrelname`;

/**
 * Client backends only: autovacuum workers and the like have a database but no state. A role
 * without pg_read_all_stats sees other roles' sessions with neither state nor backend_type: they
 * count as `unknown` rather than not at all.
 */
const CONNECTIONS = `SELECT coalesce(state, 'unknown') AS state, count(*)::float8 AS count
  FROM pg_stat_activity
 WHERE datname = current_database() AND coalesce(backend_type, 'client backend') = 'client backend'
 GROUP BY 1 ORDER BY 1`;

/**
 * The primary's view of its standbys; empty on a standby or without replicas. A role without
 * pg_read_all_stats (pg_monitor) sees the standbys but not their positions: both lags are then
 * null rather than a reassuring 0.
 */
const REPLICATION = `SELECT application_name AS "applicationName",
       max(CASE WHEN replay_lsn IS NULL THEN NULL ELSE coalesce(extract(epoch FROM replay_lag), 0) END)::float8 AS "lagSeconds",
       max(CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) END)::float8 AS "lagBytes"
  FROM pg_stat_replication
 GROUP BY application_name ORDER BY 1`;

const DATABASE_SIZE = 'SELECT pg_database_size(current_database())::float8 AS bytes';

export class DatabaseStatsRepository {
  constructor(private readonly database: Database) {}

  /**
   * The statistics, read in one transaction if this caller may take them now: nobody else is
   * collecting at this moment (the advisory lock) and the last collection is old enough for it
   * (the claim). When it may not, the claim is left as it was and only its holder is returned.
   */
  collect(claim: Claim): Promise<Collection> {
    return this.database.transaction(async ({ manager }) => {
      const [{ locked }] = await manager.query('SELECT pg_try_advisory_xact_lock($1) AS locked', [STATS_LOCK_KEY]);
      if (!locked) return { collector: undefined };
      const claimed = await manager.query(CLAIM, [JOB, claim.by, claim.ownMinAgeMs, claim.othersMinAgeMs]);
      if (claimed.length === 0) {
        const [holder] = await manager.query('SELECT last_run_by AS "lastRunBy" FROM scheduled_jobs WHERE name = $1', [JOB]);
        return { collector: holder?.lastRunBy };
      }
      const [{ bytes }] = await manager.query(DATABASE_SIZE);
      const snapshot: DatabaseSnapshot = {
        databaseBytes: bytes,
        tables: await manager.query(TABLES),
        indexes: await manager.query(INDEXES),
        connections: await manager.query(CONNECTIONS),
        replication: await manager.query(REPLICATION),
      };
      return { snapshot, collector: claim.by };
    });
  }
}
