import 'reflect-metadata';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config';
import { createLogger } from '../logger';
import { ClientToolFailed } from './client-tool-process';
import { describeDatabaseError } from './connection-errors';
import type { AppDataSource } from './data-source';
import { openMaintenanceConnection } from './maintenance-connection';
import { ClientToolError, findCandidates } from './pg-client-tools';
import {
  checkArchiveFile,
  choosePgRestore,
  describeObjects,
  dropObjects,
  inspectRestoredSchema,
  objectsInPublic,
  RestoreRefused,
  runPgRestore,
} from './restore';
import { serverInfo } from './server-info';

const USAGE = `usage: npm run db:restore -- <archive> [--force]

Restores a pg_dump custom-format archive (npm run db:backup writes them) into the service's database
(DATABASE_URL, or the embedded default), which must be empty.
--force: first drop every table, view, sequence, function and type in its public schema.`;

class UsageError extends Error {}

function options(): { file: string; force: boolean } {
  let parsed;
  try {
    parsed = parseArgs({ allowPositionals: true, options: { force: { type: 'boolean', default: false }, help: { type: 'boolean', default: false } } });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${USAGE}`);
  }
  if (parsed.values.help) throw new UsageError(USAGE);
  if (parsed.positionals.length !== 1) throw new UsageError(USAGE);
  return { file: path.resolve(parsed.positionals[0]), force: parsed.values.force! };
}

async function main(): Promise<void> {
  const interrupted = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => interrupted.abort());
  let dataSource: AppDataSource | undefined;
  let dropped = false;
  try {
    const { file, force } = options();
    checkArchiveFile(file);
    const config = loadConfig(process.env, { server: false });
    const logger = createLogger(config.logLevel, config.logFormat);
    const opened = await openMaintenanceConnection(config, logger);
    dataSource = opened.dataSource;
    const { url } = opened;
    const server = await serverInfo(dataSource);
    const target = `database ${server.database} (PostgreSQL ${server.version})`;

    const existing = await objectsInPublic(dataSource);
    if (existing.length && !force) {
      throw new RestoreRefused(
        `${target} is not empty: its public schema holds ${describeObjects(existing)}. Nothing was changed. ` +
          'Restore into an empty database (e.g. a new one: createdb, then point DATABASE_URL at it), or add --force to drop these objects first.',
      );
    }
    const { tool, archive } = await choosePgRestore(
      findCandidates('pg_restore', { pgBinDir: config.backup.pgBinDir }).candidates,
      server,
      file,
      config.backup.pgBinDir,
    );
    console.log(
      `Restoring ${path.basename(file)} (pg_dump ${archive.dumpedBy ?? 'of unknown version'}, from PostgreSQL ${archive.dumpedFrom ?? 'of unknown version'}) ` +
        `into ${target} with ${tool.path} ${tool.version}`,
    );
    if (existing.length) {
      await dropObjects(dataSource, existing);
      dropped = true;
      console.log(`--force: dropped ${describeObjects(existing)}.`);
    }

    const started = performance.now();
    await runPgRestore(tool, url, file, interrupted.signal);
    await dataSource.query('ANALYZE');
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const schema = await inspectRestoredSchema(dataSource);
    const rows = schema.rows.reduce((sum, table) => sum + table.rows, 0);
    console.log(
      `Restored ${schema.rows.length} tables, ${rows.toLocaleString('en')} rows in ${seconds} s (then ANALYZE): ${schema.rows.map((table) => `${table.table} ${table.rows.toLocaleString('en')}`).join(', ')}.`,
    );
    reportSchema(schema, dataSource.migrations.length);
  } catch (error) {
    process.exitCode = error instanceof UsageError ? 2 : 1;
    if (error instanceof UsageError) console.error(error.message);
    else console.error(`db:restore failed: ${reason(error)}${failureAftermath(error, dropped)}`);
  } finally {
    await dataSource?.destroy().catch(() => undefined);
  }
}

function reason(error: unknown): string {
  if (error instanceof RestoreRefused || error instanceof ClientToolError || error instanceof ClientToolFailed) return error.message;
  return describeDatabaseError(error);
}

/** What the database holds after a failure: a careful operator needs to know before doing anything else. */
function failureAftermath(error: unknown, dropped: boolean): string {
  if (!(error instanceof ClientToolFailed)) return '';
  return dropped
    ? ' pg_restore ran in one transaction, so nothing of the archive was restored; the objects --force dropped are gone: the database is empty.'
    : ' pg_restore ran in one transaction, so nothing of the archive was restored: the database is as it was.';
}

function reportSchema(schema: { pending: string[]; unknown: string[] }, known: number): void {
  if (schema.unknown.length) {
    console.warn(
      `Warning: the archive has ${schema.unknown.length} migration(s) this build does not know (${schema.unknown.join(', ')}): ` +
        'it was made by a newer version of the service. Run that version on this database, not this one.',
    );
  }
  if (schema.pending.length === known) {
    console.warn(
      `Warning: the restored database has none of this build's ${known} migrations: is it a todo-service backup? \`npm run migration:run\` would build the schema from scratch.`,
    );
  } else if (schema.pending.length) {
    console.log(
      `Schema: ${schema.pending.length} migration(s) of this build pending (${schema.pending.join(', ')}): run \`npm run migration:run\` before serving with this version ` +
        '(the service also applies them at start unless MIGRATE_ON_START=false).',
    );
  } else if (!schema.unknown.length) {
    console.log(`Schema: all ${known} migrations of this build are applied.`);
  }
}

void main();
