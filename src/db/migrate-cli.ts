import 'reflect-metadata';
import { loadConfig } from '../config';
import { createLogger } from '../logger';
import { describeDatabaseError } from './connection-errors';
import { createDataSource, type AppDataSource } from './data-source';
import { migrationStatus, revertLastMigration, runPendingMigrations } from './migrations';

const commands: Record<string, (dataSource: AppDataSource) => Promise<void>> = {
  async run(dataSource) {
    const applied = await runPendingMigrations(dataSource);
    if (applied.length === 0) console.log('No pending migrations: the database is up to date.');
    for (const name of applied) console.log(`Applied ${name}`);
  },
  async revert(dataSource) {
    const reverted = await revertLastMigration(dataSource);
    console.log(reverted ? `Reverted ${reverted}` : 'Nothing to revert: no migration is applied.');
  },
  async show(dataSource) {
    const status = await migrationStatus(dataSource);
    for (const { name, applied } of status) console.log(`${applied ? '[X]' : '[ ]'} ${name}`);
    const pending = status.filter((migration) => !migration.applied).length;
    console.log(pending === 0 ? 'All migrations are applied.' : `${pending} pending.`);
  },
};

async function main(commandName: string | undefined): Promise<void> {
  const command = commandName ? commands[commandName] : undefined;
  if (!command) {
    console.error(`usage: migrate ${Object.keys(commands).join('|')}`);
    process.exitCode = 2;
    return;
  }
  let dataSource: AppDataSource | undefined;
  try {
    const config = loadConfig(process.env, { server: false });
    dataSource = await createDataSource(config, createLogger(config.logLevel, config.logFormat));
    await dataSource.initialize();
    await command(dataSource);
  } catch (error) {
    console.error(`migration:${commandName} failed: ${describeDatabaseError(error)}`);
    process.exitCode = 1;
  } finally {
    await dataSource?.destroy().catch(() => undefined);
  }
}

void main(process.argv[2]);
