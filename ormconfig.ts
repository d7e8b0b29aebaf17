import 'reflect-metadata';
import { loadConfig } from './src/config';
import { createDataSource } from './src/db/data-source';
import { createLogger } from './src/logger';

/**
 * The DataSource the TypeORM CLI uses (`migration:generate`). It resolves the
 * database the same way the service does: DATABASE_URL, or the embedded server, which the CLI's
 * final `destroy()` stops again if this process started (or took over) it.
 */
const config = loadConfig(process.env, { server: false });
export default createDataSource(config, createLogger(config.logLevel, config.logFormat));
