import 'reflect-metadata';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { loadConfig, projectRoot } from '../config';
import { createLogger } from '../logger';
import { describeDatabaseError } from './connection-errors';
import { AppDataSource, dataSourceOptions, resolveDatabase } from './data-source';
import { runPendingMigrations } from './migrations';
import { readSchema } from './schema-catalog';
import { readDocFile, renderSchemaDocs, undocumented } from './schema-docs';

/**
 * `npm run docs:schema`: migrates a scratch database on the configured server (embedded or
 * DATABASE_URL; its user must be allowed to create databases), reads the catalog and rewrites the
 * generated blocks of docs/data, keeping everything written by hand.
 */
async function main(): Promise<void> {
  const config = loadConfig(process.env, { server: false });
  const logger = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel, config.logFormat);
  const { url, release } = await resolveDatabase(config, logger);
  const scratch = `todo_docs_${crypto.randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: url });
  try {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${scratch}`);
    const scratchUrl = new URL(url);
    scratchUrl.pathname = `/${scratch}`;
    const dataSource = new AppDataSource(dataSourceOptions(scratchUrl.toString(), config, logger));
    await dataSource.initialize();
    try {
      await runPendingMigrations(dataSource);
      const tables = await readSchema(dataSource);
      let changed = 0;
      for (const [file, content] of renderSchemaDocs(tables, readDocFile(projectRoot))) {
        const target = path.join(projectRoot, file);
        if (fs.existsSync(target) && fs.readFileSync(target, 'utf8') === content) continue;
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.writeFileSync(target, content);
        console.log(`wrote ${file}`);
        changed += 1;
      }
      console.log(changed ? `${changed} file(s) updated from the schema.` : 'docs/data is up to date with the schema.');
      for (const missing of undocumented(tables)) console.warn(`warning: ${missing} has no comment: add COMMENT ON in a migration`);
    } finally {
      await dataSource.destroy();
    }
  } finally {
    // Without FORCE: PostgreSQL waits for the closed pool's backends to finish exiting.
    await admin.query(`DROP DATABASE IF EXISTS ${scratch}`).catch(() => undefined);
    await admin.end().catch(() => undefined);
    await release();
  }
}

main().catch((error) => {
  console.error(`docs:schema failed: ${describeDatabaseError(error)}`);
  process.exitCode = 1;
});
