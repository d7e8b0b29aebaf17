import { loadConfig } from '../config';
import { stopStrayEmbeddedPostgres } from './embedded-postgres';

/** `npm run db:stop`: stops an embedded PostgreSQL left running in EMBEDDED_DATABASE_DIR by a process that is gone. */
async function main(): Promise<void> {
  try {
    const config = loadConfig(process.env, { server: false });
    console.log(await stopStrayEmbeddedPostgres(config.embeddedDatabaseDir));
  } catch (error) {
    console.error(`db:stop failed: ${(error as Error).message}`);
    process.exitCode = 1;
  }
}

void main();
