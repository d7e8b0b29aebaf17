import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { startEmbeddedPostgres, type EmbeddedServer } from '../../src/db/embedded-postgres';

declare global {
  var embeddedTestServer: { server: EmbeddedServer; dataDir: string } | undefined;
}

/**
 * One PostgreSQL server for the whole run: the one TEST_DATABASE_URL names, or a throwaway
 * embedded one. Every test file then creates its own database on it.
 */
export default async function globalSetup(): Promise<void> {
  // Tests that run the CLIs as users do (node dist/…) need a current build; building once here means
  // no test rewrites dist/ while another one runs it.
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: path.resolve(__dirname, '..', '..'), stdio: 'inherit' });

  if (process.env.TEST_PGBOUNCER_URL && !process.env.TEST_DATABASE_URL) {
    throw new Error('TEST_PGBOUNCER_URL needs TEST_DATABASE_URL: the server that PgBouncer is in front of, for creating and migrating databases');
  }
  if (process.env.TEST_DATABASE_URL) {
    process.env.TEST_ADMIN_DATABASE_URL = process.env.TEST_DATABASE_URL;
  } else {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'todo-test-pg-'));
    fs.chmodSync(dataDir, 0o755);
    const server = await startEmbeddedPostgres(path.join(dataDir, 'data'));
    globalThis.embeddedTestServer = { server, dataDir };
    process.env.TEST_ADMIN_DATABASE_URL = server.url;
  }
  const client = new Client({ connectionString: process.env.TEST_ADMIN_DATABASE_URL });
  await client.connect();
  const [{ server_version: version }] = (await client.query('SHOW server_version')).rows;
  const [{ server_version_num: versionNum }] = (await client.query('SHOW server_version_num')).rows;
  await client.end();
  // Test files decide at load time what this server allows (e.g. whether a pg_dump for it exists).
  process.env.TEST_SERVER_VERSION = version;
  process.env.TEST_SERVER_VERSION_NUM = versionNum;
  const source = process.env.TEST_DATABASE_URL ? 'TEST_DATABASE_URL' : 'embedded';
  const pooler = process.env.TEST_PGBOUNCER_URL ? ', the app through PgBouncer (TEST_PGBOUNCER_URL)' : '';
  process.stdout.write(`\nTests run against PostgreSQL ${version} (${source})${pooler}\n`);
}
