import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { createRetentionService } from '../app';
import { loadConfig, type Config } from '../config';
import { describeDatabaseError } from '../db/connection-errors';
import { createDataSource, type AppDataSource } from '../db/data-source';
import { pendingMigrations } from '../db/migrations';
import { createLogger } from '../logger';
import { KIND_LABELS } from './retention-report';
import { RETENTION_KINDS, type RetentionReport } from './retention.service';

const USAGE = `usage: npm run purge [-- --dry-run]

Deletes for good what the retention settings say has been kept long enough: tasks in the trash
(TRASH_RETENTION_DAYS), ended sessions (SESSION_RETENTION_DAYS), deleted accounts with all they
still own (ACCOUNT_RETENTION_DAYS) and security events (AUDIT_RETENTION_DAYS); 0 keeps that kind
forever. The same job the service runs every RETENTION_INTERVAL_MS.
--dry-run: count what would be deleted, delete nothing.`;

class UsageError extends Error {}

const SETTING: Record<(typeof RETENTION_KINDS)[number], keyof Config['retention']> = {
  trashed_tasks: 'trashDays',
  sessions: 'sessionDays',
  deleted_account_tasks: 'accountDays',
  deleted_accounts: 'accountDays',
  security_events: 'auditDays',
};

function options(): { dryRun: boolean; help: boolean } {
  try {
    const { values } = parseArgs({ options: { 'dry-run': { type: 'boolean', default: false }, help: { type: 'boolean', default: false } } });
    // `npm run purge --dry-run` (without `--`) hands the flag to npm, which passes it on as npm_config_dry_run.
    return { dryRun: values['dry-run']! || process.env.npm_config_dry_run === 'true', help: values.help! };
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${USAGE}`);
  }
}

function print(report: RetentionReport, config: Config): void {
  const verb = report.dryRun ? 'would delete' : 'deleted';
  for (const kind of RETENTION_KINDS) {
    const cutoff = report.cutoffs[kind];
    const label = KIND_LABELS[kind].padEnd(24);
    if (!cutoff) console.log(`  ${label} kept forever (${config.retention[SETTING[kind]]} days)`);
    else console.log(`  ${label} ${verb} ${String(report.deleted[kind]).padStart(7)}   (older than ${cutoff.toISOString()})`);
  }
}

async function main(): Promise<void> {
  const args = options();
  if (args.help) {
    console.log(USAGE);
    return;
  }
  const config = loadConfig(process.env, { server: false });
  let dataSource: AppDataSource | undefined;
  try {
    dataSource = await createDataSource(config, createLogger(process.env.LOG_LEVEL ? config.logLevel : 'error', config.logFormat));
    await dataSource.initialize();
    const pending = await pendingMigrations(dataSource);
    if (pending.length) throw new UsageError(`The database is not migrated (${pending.length} pending). Run \`npm run migration:run\` first.`);
    const report = await createRetentionService({ config, dataSource }).run({ dryRun: args.dryRun });
    if (!report.ran) {
      console.log(`Another process is running the retention job (${report.heldBy ?? 'it has just finished'}): nothing deleted.`);
      return;
    }
    console.log(report.dryRun ? 'Dry run: nothing is deleted.' : 'Retention:');
    print(report, config);
    console.log(`Done in ${report.durationMs} ms.`);
  } finally {
    await dataSource?.destroy().catch(() => undefined);
  }
}

main().catch((error) => {
  console.error(error instanceof UsageError ? error.message : `purge failed: ${describeDatabaseError(error)}`);
  process.exitCode = 1;
});
