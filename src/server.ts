import 'reflect-metadata';
import cluster from 'node:cluster';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { composeApp, createRetentionService, type App } from './app';
import { loadConfig, type Config } from './config';
import { describeDatabaseError } from './db/connection-errors';
import { AppDataSource, createDataSource, dataSourceOptions, resolveDatabase } from './db/data-source';
import { pendingMigrations, runPendingMigrations } from './db/migrations';
import { probePooler } from './db/pooler-probe';
import { describePendingMigrations } from './health/schema-check';
import { createHttpServer } from './http/http-server';
import { createLogger, createRequestLogger, type Logger } from './logger';
import { RetentionScheduler } from './retention/retention.scheduler';

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    console.error((error as Error).message);
    process.exit(1);
  }
  const logger = createLogger(config.logLevel, config.logFormat);
  if (cluster.isPrimary && config.auth.jwtSecretGenerated) {
    logger.warn('JWT_SECRET is not set: using a random secret for this run only; tokens will not survive a restart');
  }
  if (cluster.isPrimary && config.webConcurrency > 1) await supervise(config, logger);
  else await serve(config, logger);
}

/** One process serving HTTP: database, migrations (unless a supervisor did them), listen, stop on signals. */
async function serve(config: Config, logger: Logger): Promise<void> {
  let dataSource: AppDataSource | undefined;
  try {
    dataSource = await createDataSource(config, logger);
    await dataSource.initialize();
    await refuseNamedStatementsBehindAPooler(dataSource, config);
    if (config.migrateOnStart) await migrate(dataSource, logger);
    // Under a supervisor it has already said so, once for all workers.
    if (!cluster.isWorker) await reportPendingMigrations(dataSource, logger);
    const requestLogger = createRequestLogger(logger, config.logFormat);
    const { app, databaseStats } = composeApp({ config, dataSource, logger, requestLogger });
    const server = createHttpServer(app, config, logger);
    await listen(server, config);
    databaseStats.start();
    app.background.start();
    const { address, port } = server.address() as AddressInfo;
    logger.info(`Listening on http://${address === '0.0.0.0' ? 'localhost' : address}:${port}${cluster.isWorker ? ` (worker ${cluster.worker!.id})` : ''}`);
    const retention = new RetentionScheduler(createRetentionService({ config, dataSource }), config.retention.intervalMs, logger);
    retention.start();
    await onStopSignal(logger);
    await databaseStats.stop();
    await stopServing(server, app, dataSource, config, logger, retention);
    // A worker's channel to its supervisor would keep it alive; closing it lets the process end.
    cluster.worker?.disconnect();
  } catch (error) {
    logger.fatal(`Could not start: ${describeDatabaseError(error)}`);
    await dataSource?.destroy().catch(() => undefined);
    process.exitCode = 1;
  }
}

/**
 * WEB_CONCURRENCY > 1: this process resolves the database (starting the embedded one if needed),
 * migrates once, then runs that many workers sharing the port through node:cluster, replacing any
 * that dies. On SIGTERM/SIGINT it stops them, waits for each to finish its requests, then stops an
 * embedded database.
 */
async function supervise(config: Config, logger: Logger): Promise<void> {
  let release: () => Promise<void> = async () => {};
  try {
    const database = await resolveDatabase(config, logger);
    release = database.release;
    const dataSource = new AppDataSource(dataSourceOptions(database.url, config, logger));
    await dataSource.initialize();
    try {
      if (config.migrateOnStart) await migrate(dataSource, logger);
      await reportPendingMigrations(dataSource, logger);
    } finally {
      await dataSource.destroy();
    }
    const workerEnv = { DATABASE_URL: database.url, JWT_SECRET: config.auth.jwtSecret, MIGRATE_ON_START: 'false' };
    let stopping = false;
    const fork = () => cluster.fork(workerEnv);
    cluster.on('exit', (worker, code, signal) => {
      if (stopping) return;
      logger.error(`worker ${worker.id} exited (${signal ?? `code ${code}`}): starting another`);
      fork();
    });
    for (let i = 0; i < config.webConcurrency; i += 1) fork();
    logger.info(`Supervising ${config.webConcurrency} workers`);

    await onStopSignal(logger);
    stopping = true;
    const workers = Object.values(cluster.workers ?? {}).filter((worker) => worker !== undefined);
    await Promise.all(
      workers.map(
        (worker) =>
          new Promise<void>((resolve) => {
            if (worker.isDead()) return resolve();
            worker.once('exit', () => resolve());
            worker.process.kill('SIGTERM');
          }),
      ),
    );
    logger.info('All workers stopped');
  } catch (error) {
    logger.fatal(`Could not start: ${describeDatabaseError(error)}`);
    process.exitCode = 1;
  } finally {
    await release().catch((error) => logger.error({ err: error }, 'error while stopping the database'));
  }
}

/**
 * Named prepared statements fail behind a transaction-mode pooler that does not carry them from one
 * server connection to the next (PgBouncer before 1.21): better not to start than to answer 500s.
 */
async function refuseNamedStatementsBehindAPooler(dataSource: AppDataSource, config: Config): Promise<void> {
  if (!config.database.preparedStatements || (await probePooler(dataSource)).keepsNamedStatements) return;
  throw new Error(
    'DB_PREPARED_STATEMENTS: the database connection goes through a pooler in transaction mode that loses named prepared statements ' +
      'between transactions (e.g. PgBouncer before 1.21, pool_mode=transaction): set DB_PREPARED_STATEMENTS=false',
  );
}

async function migrate(dataSource: AppDataSource, logger: Logger): Promise<void> {
  const applied = await runPendingMigrations(dataSource);
  logger.info(applied.length ? `Applied migrations: ${applied.join(', ')}` : 'Database schema is up to date');
}

/**
 * MIGRATE_ON_START=false and a database behind this build: serve anyway (a migration job may be
 * about to run), but /ready answers 503 until it has, and the log says why.
 */
async function reportPendingMigrations(dataSource: AppDataSource, logger: Logger): Promise<void> {
  const pending = await pendingMigrations(dataSource);
  if (pending.length === 0) return;
  logger.error(
    `Database schema is behind this build: ${describePendingMigrations(pending.length)} (${pending.join(', ')}); /ready answers 503 until they are applied`,
  );
}

function listen(server: http.Server, config: Config): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new Error(`port ${config.port} is already in use (set PORT to another one)`) : error),
    );
    server.listen(config.port, config.host, () => resolve());
  });
}

/**
 * Resolves at the first SIGTERM or SIGINT. Later ones are ignored: npm forwards a terminal's Ctrl-C
 * on top of the one the terminal sends, and one stop is enough.
 */
function onStopSignal(logger: Logger): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let received = false;
    const stop = (signal: NodeJS.Signals) => {
      if (received) return;
      received = true;
      logger.info(`${signal} received: finishing in-flight requests, then stopping`);
      resolve(signal);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

/**
 * Stop accepting, end the change streams (they would otherwise hold the shutdown until its
 * timeout), let in-flight requests (and a retention batch) finish (up to SHUTDOWN_TIMEOUT_MS),
 * close the pool, stop an embedded server.
 */
async function stopServing(
  server: http.Server,
  app: App,
  dataSource: AppDataSource,
  config: Config,
  logger: Logger,
  retention: RetentionScheduler,
): Promise<void> {
  const deadline = setTimeout(() => {
    logger.warn(`Requests still open after ${config.shutdownTimeoutMs} ms (SHUTDOWN_TIMEOUT_MS): closing them`);
    server.closeAllConnections();
  }, config.shutdownTimeoutMs);
  deadline.unref();
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  await app.background.stop().catch((error) => logger.error({ err: error }, 'error while stopping the change streams'));
  await Promise.all([closed, retention.stop()]);
  clearTimeout(deadline);
  await dataSource.destroy().catch((error) => logger.error({ err: error }, 'error while closing the database'));
  logger.info('Stopped');
  process.exitCode = 0;
}

void main();
