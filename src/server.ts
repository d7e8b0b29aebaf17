import 'reflect-metadata';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from './app';
import { loadConfig, type Config } from './config';
import { describeDatabaseError } from './db/connection-errors';
import { createDataSource, type AppDataSource } from './db/data-source';
import { runPendingMigrations } from './db/migrations';
import { createLogger, type Logger } from './logger';

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    console.error((error as Error).message);
    process.exit(1);
  }
  const logger = createLogger(config.logLevel, config.logFormat);
  if (config.auth.jwtSecretGenerated) {
    logger.warn('JWT_SECRET is not set: using a random secret for this run only; tokens will not survive a restart');
  }

  let dataSource: AppDataSource | undefined;
  try {
    dataSource = await createDataSource(config, logger);
    await dataSource.initialize();
    if (config.migrateOnStart) {
      const applied = await runPendingMigrations(dataSource);
      logger.info(applied.length ? `Applied migrations: ${applied.join(', ')}` : 'Database schema is up to date');
    }
    const server = http.createServer(createApp({ config, dataSource, logger }));
    await listen(server, config);
    const { address, port } = server.address() as AddressInfo;
    logger.info(`Listening on http://${address === '0.0.0.0' ? 'localhost' : address}:${port}`);
    stopOnSignals(server, dataSource, config, logger);
  } catch (error) {
    logger.fatal(`Could not start: ${describeDatabaseError(error)}`);
    await dataSource?.destroy().catch(() => undefined);
    process.exitCode = 1;
  }
}

function listen(server: http.Server, config: Config): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new Error(`port ${config.port} is already in use (set PORT to another one)`) : error),
    );
    server.listen(config.port, config.host, () => resolve());
  });
}

/** Stop accepting, let in-flight requests finish (up to SHUTDOWN_TIMEOUT_MS), close the pool, stop an embedded server. */
function stopOnSignals(server: http.Server, dataSource: AppDataSource, config: Config, logger: Logger): void {
  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    // npm forwards a terminal's Ctrl-C to us on top of the one the terminal sends: one stop is enough.
    if (stopping) return;
    stopping = true;
    logger.info(`${signal} received: finishing in-flight requests, then stopping`);
    const deadline = setTimeout(() => {
      logger.warn(`Requests still open after ${config.shutdownTimeoutMs} ms (SHUTDOWN_TIMEOUT_MS): closing them`);
      server.closeAllConnections();
    }, config.shutdownTimeoutMs);
    deadline.unref();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    clearTimeout(deadline);
    await dataSource.destroy().catch((error) => logger.error({ err: error }, 'error while closing the database'));
    logger.info('Stopped');
    process.exitCode = 0;
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

void main();
