import 'reflect-metadata';
import path from 'node:path';
import { loadConfig } from '../config';
import { createLogger } from '../logger';
import { formatBytes, pruneArchives } from './backup-archives';
import { writeArchive } from './backup';
import { ClientToolError, findClientTool } from './pg-client-tools';
import { ClientToolFailed } from './client-tool-process';
import { describeDatabaseError } from './connection-errors';
import type { AppDataSource } from './data-source';
import { openMaintenanceConnection } from './maintenance-connection';
import { serverInfo } from './server-info';

/**
 * `npm run db:backup`: a pg_dump archive of the service's database (DATABASE_URL, or the embedded
 * default) in BACKUP_DIR, then the newest BACKUP_KEEP archives kept.
 */
async function main(): Promise<void> {
  const interrupted = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => interrupted.abort());
  let dataSource: AppDataSource | undefined;
  try {
    const config = loadConfig(process.env, { server: false });
    const logger = createLogger(config.logLevel, config.logFormat);
    const opened = await openMaintenanceConnection(config, logger);
    dataSource = opened.dataSource;
    const { url } = opened;
    const server = await serverInfo(dataSource);
    const pgDump = findClientTool('pg_dump', server, { pgBinDir: config.backup.pgBinDir });
    console.log(`Backing up database ${server.database} (PostgreSQL ${server.version}) with ${pgDump.path} ${pgDump.version} into ${config.backup.dir}`);

    const showProgress = process.stdout.isTTY;
    const result = await writeArchive({
      url,
      dir: config.backup.dir,
      pgDump,
      signal: interrupted.signal,
      onProgress: showProgress ? (bytes) => process.stdout.write(`\r  ${formatBytes(bytes)} written`) : undefined,
    });
    if (showProgress) process.stdout.write('\n');
    console.log(`Wrote ${path.basename(result.file)}: ${formatBytes(result.bytes)} in ${(result.ms / 1000).toFixed(1)} s.`);

    const { kept, deleted } = pruneArchives(config.backup.dir, config.backup.keep);
    console.log(
      config.backup.keep === 0
        ? `BACKUP_KEEP=0: keeping every archive (${kept.length}).`
        : `Keeping the newest ${config.backup.keep}: ${kept.length} archive${kept.length === 1 ? '' : 's'} kept, ${deleted.length ? `deleted ${deleted.join(', ')}` : 'none deleted'}.`,
    );
  } catch (error) {
    const reason =
      error instanceof ClientToolError
        ? error.message
        : error instanceof ClientToolFailed
          ? `${error.message}. No archive was written.`
          : describeDatabaseError(error);
    console.error(`db:backup failed: ${reason}`);
    process.exitCode = 1;
  } finally {
    await dataSource?.destroy().catch(() => undefined);
  }
}

void main();
