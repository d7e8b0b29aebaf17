import crypto from 'node:crypto';
import { Client, Pool, type PoolClient, type PoolConfig, type QueryConfig } from 'pg';
import { getMetadataArgsStorage, type EntityManager, type EntityTarget, type ObjectLiteral, type Repository } from 'typeorm';
import type { Logger } from '../logger';
import { describeDatabaseError, isDatabaseUnavailable } from './connection-errors';
import type { AppDataSource } from './data-source';
import { pendingMigrations } from './migrations';
import { NotificationListener, type ListenerOptions, type NotificationHandlers } from './notification-listener';
import { chooseReplica, ReplicaHealth, walPosition, WalHistory, type ReplicaStatus } from './replicas';
import { PinoTypeOrmLogger, type SlowQueryListener } from './typeorm-logger';

/** A hand-written SQL statement and the name it is prepared under. */
export interface Statement {
  readonly name: string;
  readonly text: string;
}

const statements = new Map<string, Statement>();

/**
 * The statement for a SQL text, named after the text: each pooled connection parses and plans a
 * statement once and then only binds parameters (the hot paths run the same few statements all
 * day). Constant statements call this once, at module load; built ones (a list's filters) per use.
 */
export function statement(text: string): Statement {
  let found = statements.get(text);
  if (!found) {
    found = { name: `q_${crypto.createHash('sha1').update(text).digest('hex').slice(0, 16)}`, text };
    statements.set(text, found);
  }
  return found;
}

/**
 * What node-postgres is given for a statement: with its name (prepared once per server connection),
 * or, with `named` false (DB_PREPARED_STATEMENTS=false), the same text unnamed, parsed and planned
 * on every call but valid on any server connection, as behind a transaction-mode pooler, which
 * hands each transaction whichever server connection is free.
 */
function queryConfig(statement: Statement, values: unknown[], named: boolean): QueryConfig {
  return named ? { name: statement.name, text: statement.text, values } : { text: statement.text, values };
}

/** A class TypeORM maps to a table. */
export type EntityClass<E> = new () => E;

/**
 * `column AS "property"` for every column of an entity, from TypeORM's own column metadata (the
 * decorators), so hand-written statements return rows keyed like the entity, ready to hydrate.
 * Needs no initialised DataSource, so statements built from it can be module constants.
 */
export function selectList(entity: EntityClass<unknown>): string {
  return getMetadataArgsStorage()
    .filterColumns(entity)
    .map((column) => `${column.options.name ?? column.propertyName} AS "${column.propertyName}"`)
    .join(', ');
}

export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}

/**
 * One transaction's view of the data: repositories bound to its connection. TypeORM calls and
 * prepared statements made through them run on that connection, and commit or roll back together.
 */
export class Transaction {
  constructor(readonly manager: EntityManager) {}

  use<R extends Repository<ObjectLiteral>>(repository: R): R {
    return this.manager.withRepository(repository);
  }
}

/** What services may do with the database themselves: run work in one transaction. */
export interface Transactions {
  transaction<T>(work: (tx: Transaction) => Promise<T>): Promise<T>;
}

/** The caller a read is for: a replica may answer it only once it has replayed the caller's last write. */
export interface Reader {
  /** Where the caller's last recorded write ended in the primary's WAL (bytes since 0/0, as text); null or absent when none is recorded. */
  readonly lastWriteLsn?: string | null;
}

/** DATABASE_READ_URLS and DATABASE_READ_MAX_LAG_MS, and where to log what happens to the replicas. */
export interface ReplicaOptions {
  readUrls: readonly string[];
  readMaxLagMs: number;
  logger: Logger;
}

export interface DatabaseOptions {
  /** DB_PREPARED_STATEMENTS: false runs every statement unnamed, on the primary and the replicas alike (see queryConfig). */
  preparedStatements?: boolean;
  replicas?: ReplicaOptions;
  /** DATABASE_LISTEN_URL: the listening connection's server, when not the pool's. */
  listenUrl?: string;
}

/**
 * A database a read can be sent to: the primary, or a read replica. `Database.readTarget()` picks
 * one per read; each counts the reads it answered, for /metrics.
 */
export class ReadTarget {
  reads = 0;

  constructor(readonly name: string) {}
}

/** A read replica: its pool (with the primary pool's settings) and what the monitor knows of it. */
class Replica extends ReadTarget {
  /** Whether a poll is still waiting for its answer. */
  polling = false;

  constructor(
    name: string,
    readonly pool: Pool,
    /** Host and port, for the log: never the URL, which carries credentials. */
    readonly where: string,
    readonly health: ReplicaHealth,
  ) {
    super(name);
  }
}

/** How often each process asks every replica how far it has replayed, and the primary where its WAL is. */
export const REPLICA_POLL_MS = 200;
/** A poll unanswered this long fails: the replica is skipped until a poll succeeds. */
const REPLICA_POLL_TIMEOUT_MS = 1000;
/** How far back the primary's WAL positions are remembered, to tell a replica's lag (see WalHistory). */
const WAL_HISTORY_MS = 60_000;

const PRIMARY_POSITION = statement("SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::text AS position");
const STANDBY_POSITION = statement(`SELECT pg_is_in_recovery() AS standby, (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::text AS replayed,
       extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 AS "replayAgeSeconds"`);

/**
 * The read replicas: a pg pool each (with the primary pool's settings), and a monitor that polls
 * every replica's replay position (and the primary's WAL position) every REPLICA_POLL_MS. Reads
 * follow the rule in replicas.ts. Only built when DATABASE_READ_URLS names replicas.
 */
class ReadReplicas {
  readonly primary = new ReadTarget('primary');
  readonly replicas: Replica[];
  private readonly history = new WalHistory(WAL_HISTORY_MS);
  private readonly logger: Logger;
  private turn = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private ticking: Promise<void> | undefined;

  constructor(
    options: ReplicaOptions,
    poolConfig: PoolConfig,
    private readonly primaryPool: () => Pool | undefined,
    private readonly preparedStatements: boolean,
  ) {
    this.logger = options.logger;
    this.replicas = options.readUrls.map((url, index) => {
      const name = `replica-${index + 1}`;
      const pool = new Pool({ ...poolConfig, connectionString: url });
      pool.on('error', (error) => this.logger.warn(`Read replica ${name}: an idle connection failed (${error.message})`));
      return new Replica(name, pool, new URL(url).host, new ReplicaHealth(name, options.readMaxLagMs));
    });
    this.ticking = this.tick();
  }

  /** A replica that can serve a caller whose last write ended at `lastWriteLsn`, or the primary. */
  choose(lastWriteLsn: string | null | undefined): ReadTarget {
    this.turn = (this.turn + 1) % this.replicas.length;
    return chooseReplica(this.replicas, walPosition(lastWriteLsn), this.turn) ?? this.primary;
  }

  /** A read on a replica failed; the caller retries it on the primary. A lost connection takes the replica out until a poll succeeds. */
  readFailed(replica: Replica, error: unknown): void {
    if (isDatabaseUnavailable(error)) this.failed(replica, describeDatabaseError(error));
    else this.logger.warn(`A read on ${replica.name} (${replica.where}) failed (${(error as Error).message}): answered by the primary`);
  }

  statuses(): ReplicaStatus[] {
    return this.replicas.map((replica) => replica.health.status());
  }

  async close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.ticking;
    await Promise.all(this.replicas.map((replica) => replica.pool.end()));
  }

  /** One poll of the primary, then of every replica; the next one REPLICA_POLL_MS after it ends. */
  private async tick(): Promise<void> {
    const primary = this.primaryPool();
    if (primary) {
      try {
        const [{ position }] = (await withTimeout(primary.query<{ position: string }>(queryConfig(PRIMARY_POSITION, [], this.preparedStatements)))).rows;
        this.history.record(BigInt(position), performance.now());
      } catch {
        // The primary's own outage shows in /ready and every request; the replicas are still polled.
      }
    }
    await Promise.all(this.replicas.map((replica) => this.poll(replica)));
    if (this.stopped) return;
    this.timer = setTimeout(() => (this.ticking = this.tick()), REPLICA_POLL_MS);
    this.timer.unref();
  }

  private async poll(replica: Replica): Promise<void> {
    // A poll still waiting (a replica that stopped answering) already made it count as down.
    if (replica.polling) return;
    replica.polling = true;
    const answer = replica.pool.query<{ standby: boolean; replayed: string | null; replayAgeSeconds: number | null }>(
      queryConfig(STANDBY_POSITION, [], this.preparedStatements),
    );
    answer.then(
      () => (replica.polling = false),
      () => (replica.polling = false),
    );
    try {
      const [row] = (await withTimeout(answer)).rows;
      const poll = { standby: row.standby, replayed: walPosition(row.replayed), replayAgeSeconds: row.replayAgeSeconds };
      if (replica.health.polled(poll, this.history, performance.now())) this.report(replica);
    } catch (error) {
      this.failed(replica, describeDatabaseError(error));
    }
  }

  private failed(replica: Replica, reason: string): void {
    if (replica.health.failed(reason)) this.report(replica);
  }

  /** One log line for its first state, and one each time it changes. */
  private report({ name, where, health }: Replica): void {
    if (health.state === 'ok') this.logger.info(`Read replica ${name} (${where}) serves reads`);
    else this.logger.warn(`Read replica ${name} (${where}) is ${health.state}: ${health.reason}; its reads go to the primary`);
  }
}

function withTimeout<T>(answer: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${REPLICA_POLL_TIMEOUT_MS} ms`)), REPLICA_POLL_TIMEOUT_MS);
  });
  return Promise.race([answer, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The one executor: the only code that reaches under TypeORM to its pg pool (and to the read
 * replicas' pools). Repositories run their TypeORM calls through their EntityManager and their
 * hand-written statements through `rows()`, which picks the pool, or the connection of the
 * transaction the manager belongs to, or, for a read given a target by `readTarget()`, a replica.
 */
export class Database implements Transactions {
  private readonly slowQueryMs: number | undefined;
  private readonly preparedStatements: boolean;
  /** Undefined without DATABASE_READ_URLS: then every replica branch below is skipped at no cost. */
  private readonly replicas: ReadReplicas | undefined;
  private readonly listenUrl: string | undefined;

  constructor(
    private readonly dataSource: AppDataSource,
    { preparedStatements = true, replicas: replicaOptions, listenUrl }: DatabaseOptions = {},
  ) {
    this.slowQueryMs = dataSource.options.maxQueryExecutionTime;
    this.preparedStatements = preparedStatements;
    this.listenUrl = listenUrl;
    if (replicaOptions?.readUrls.length) {
      const { applicationName, extra } = dataSource.options as { applicationName?: string; extra?: PoolConfig };
      const replicas = new ReadReplicas(replicaOptions, { ...extra, application_name: applicationName }, () => this.driverPool(), preparedStatements);
      this.replicas = replicas;
      dataSource.closeWith(() => replicas.close());
    }
  }

  /** True when reads may go to read replicas: writes must then be recorded for read-your-writes. */
  get hasReplicas(): boolean {
    return this.replicas !== undefined;
  }

  /** TypeORM's repository of an entity, the base of the custom repositories. */
  repository<E extends ObjectLiteral>(entity: EntityTarget<E>): Repository<E> {
    return this.dataSource.getRepository(entity);
  }

  /**
   * Where a read for `reader` may run: a replica that is up, no further behind than
   * DATABASE_READ_MAX_LAG_MS and has replayed the reader's last write, or else the primary.
   * Undefined (the primary, not counted) without replicas, and inside a transaction, whose reads
   * stay on its connection.
   */
  readTarget(manager: EntityManager, reader: Reader): ReadTarget | undefined {
    if (this.replicas === undefined || manager.queryRunner) return undefined;
    return this.replicas.choose(reader.lastWriteLsn);
  }

  /**
   * Rows of a prepared statement, as instances of `entity` when given. Inside a transaction
   * (`manager` is a transaction's) it runs on that transaction's connection, otherwise on the pool;
   * a read given a `target` runs there, and once more on the primary if a replica fails it.
   * The hot paths use this rather than TypeORM's query runner (a runner object per query, and a
   * query builder per request, were a tenth of the CPU of a read); queries slower than
   * SLOW_QUERY_MS still reach TypeORM's logger, without their parameters.
   */
  async rows<E extends object>(manager: EntityManager, statement: Statement, values: unknown[], entity?: EntityClass<E>, target?: ReadTarget): Promise<E[]> {
    const runner = manager.queryRunner;
    let rows: E[];
    let started: number;
    if (target && !runner) {
      started = performance.now();
      rows = await this.read(target, statement, values);
    } else {
      const client: Pool | PoolClient = runner ? ((await runner.connect()) as PoolClient) : this.pool();
      started = performance.now();
      ({ rows } = await client.query(queryConfig(statement, values, this.preparedStatements)));
    }
    const elapsed = performance.now() - started;
    if (this.slowQueryMs && elapsed > this.slowQueryMs) this.dataSource.logger.logQuerySlow(Math.round(elapsed), statement.text);
    if (entity) for (let i = 0; i < rows.length; i += 1) rows[i] = Object.assign(new entity(), rows[i]);
    return rows;
  }

  /** A read on its target; a replica's failure is retried once on the primary (reads only, so running one twice is harmless). */
  private async read<E>(target: ReadTarget, statement: Statement, values: unknown[]): Promise<E[]> {
    const query = queryConfig(statement, values, this.preparedStatements);
    if (target instanceof Replica) {
      try {
        const { rows } = await target.pool.query(query);
        target.reads += 1;
        return rows;
      } catch (error) {
        this.replicas!.readFailed(target, error);
      }
    }
    const { rows } = await this.pool().query(query);
    this.replicas!.primary.reads += 1;
    return rows;
  }

  /** Runs `work` in one transaction (TypeORM's EntityManager transaction): all of it commits, or none. */
  transaction<T>(work: (tx: Transaction) => Promise<T>): Promise<T> {
    return this.dataSource.transaction((manager) => work(new Transaction(manager)));
  }

  /** Resolves when the database answers a query; rejects as a query does when it cannot be reached. */
  async ready(): Promise<void> {
    await this.dataSource.query('SELECT 1');
  }

  /** Names of the migrations of this build the database lacks. */
  pendingMigrations(): Promise<string[]> {
    return pendingMigrations(this.dataSource);
  }

  /**
   * Calls `listener` for every statement slower than SLOW_QUERY_MS, the prepared ones of `rows()`
   * and TypeORM's alike (both reach the logger), in the async context of the code that ran it.
   */
  onSlowQuery(listener: SlowQueryListener): void {
    const logger = this.dataSource.logger;
    if (!(logger instanceof PinoTypeOrmLogger)) throw new Error('Slow statements are reported only by the data source dataSourceOptions() configures');
    logger.onSlowQuery(listener);
  }

  /**
   * A connection of its own (not from the pool, with the pool's settings) that LISTENs on
   * `channels` and reconnects when it breaks; not connected until its start().
   */
  listen(channels: string[], handlers: NotificationHandlers, options: ListenerOptions): NotificationListener {
    const connect = async () => {
      // A connection string wins over the pool's other settings in pg: DATABASE_LISTEN_URL replaces only where it goes.
      const server = this.listenUrl === undefined ? {} : { connectionString: this.listenUrl };
      const client = new Client({ ...this.pool().options, ...server, application_name: 'todo-service (listen)' });
      await client.connect();
      return client;
    };
    return new NotificationListener(connect, channels, handlers, options);
  }

  /** Each read replica's state and lag, for /ready and /metrics; undefined without replicas. */
  replicaStatuses(): ReplicaStatus[] | undefined {
    return this.replicas?.statuses();
  }

  /** Reads answered by each database (`primary`, `replica-1`, …) among those that could go to a replica; undefined without replicas. */
  readsByTarget(): { target: string; reads: number }[] | undefined {
    return this.replicas && [this.replicas.primary, ...this.replicas.replicas].map(({ name, reads }) => ({ target: name, reads }));
  }

  /** Connections of the pool, for /metrics; undefined before the data source is initialised. */
  poolStats(): PoolStats | undefined {
    const pool = this.driverPool();
    return pool && { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount };
  }

  private pool(): Pool {
    const pool = this.driverPool();
    if (!pool) throw new Error('The data source is not initialized');
    return pool;
  }

  /** The pg pool under TypeORM's PostgreSQL driver. */
  private driverPool(): Pool | undefined {
    return (this.dataSource.driver as unknown as { master?: Pool }).master;
  }
}
