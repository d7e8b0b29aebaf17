import crypto from 'node:crypto';
import { Client, type Pool, type PoolClient } from 'pg';
import { getMetadataArgsStorage, type DataSource, type EntityManager, type EntityTarget, type ObjectLiteral, type Repository } from 'typeorm';
import { pendingMigrations } from './migrations';
import { NotificationListener, type ListenerOptions, type NotificationHandlers } from './notification-listener';

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

/**
 * The one executor: the only code that reaches under TypeORM to its pg pool. Repositories run
 * their TypeORM calls through their EntityManager and their hand-written statements through
 * `rows()`, which picks the pool, or the connection of the transaction the manager belongs to.
 */
export class Database implements Transactions {
  private readonly slowQueryMs: number | undefined;

  constructor(private readonly dataSource: DataSource) {
    this.slowQueryMs = dataSource.options.maxQueryExecutionTime;
  }

  /** TypeORM's repository of an entity, the base of the custom repositories. */
  repository<E extends ObjectLiteral>(entity: EntityTarget<E>): Repository<E> {
    return this.dataSource.getRepository(entity);
  }

  /**
   * Rows of a prepared statement, as instances of `entity` when given. Inside a transaction
   * (`manager` is a transaction's) it runs on that transaction's connection, otherwise on the pool.
   * The hot paths use this rather than TypeORM's query runner (a runner object per query, and a
   * query builder per request, were a tenth of the CPU of a read); queries slower than
   * SLOW_QUERY_MS still reach TypeORM's logger, without their parameters.
   */
  async rows<E extends object>(manager: EntityManager, statement: Statement, values: unknown[], entity?: EntityClass<E>): Promise<E[]> {
    const runner = manager.queryRunner;
    const client: Pool | PoolClient = runner ? ((await runner.connect()) as PoolClient) : this.pool();
    const started = performance.now();
    const { rows } = await client.query({ name: statement.name, text: statement.text, values });
    const elapsed = performance.now() - started;
    if (this.slowQueryMs && elapsed > this.slowQueryMs) this.dataSource.logger.logQuerySlow(Math.round(elapsed), statement.text);
    if (entity) for (let i = 0; i < rows.length; i += 1) rows[i] = Object.assign(new entity(), rows[i]);
    return rows as E[];
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
   * A connection of its own (not from the pool, with the pool's settings) that LISTENs on
   * `channels` and reconnects when it breaks; not connected until its start().
   */
  listen(channels: string[], handlers: NotificationHandlers, options: ListenerOptions): NotificationListener {
    const connect = async () => {
      const client = new Client({ ...this.pool().options, application_name: 'todo-service (listen)' });
      await client.connect();
      return client;
    };
    return new NotificationListener(connect, channels, handlers, options);
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
