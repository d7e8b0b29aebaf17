import { ClientToolError, findClientTool, serverMajor, type ClientTool } from '../../src/db/pg-client-tools';

/**
 * The machine's pg_dump and pg_restore for the server the tests run against, chosen as the CLIs
 * choose them (PG_BIN_DIR, PATH, /usr/lib/postgresql/<major>/bin), or why there are none: the
 * embedded PostgreSQL 18 ships neither, and Debian bookworm's client is 15. Decided when a test file
 * loads, so a test can be skipped with the reason in its name.
 */
export function realToolsForTestServer(): { pgDump: ClientTool; pgRestore: ClientTool } | string {
  const server = { versionNum: Number(process.env.TEST_SERVER_VERSION_NUM), version: process.env.TEST_SERVER_VERSION ?? 'unknown' };
  const options = { pgBinDir: process.env.PG_BIN_DIR };
  try {
    return { pgDump: findClientTool('pg_dump', server, options), pgRestore: findClientTool('pg_restore', server, options) };
  } catch (error) {
    if (!(error instanceof ClientToolError)) throw error;
    const major = serverMajor(server.versionNum);
    return `the tests run against PostgreSQL ${server.version} and this machine has no pg_dump/pg_restore ${major} or newer (install postgresql-client-${major} or set PG_BIN_DIR)`;
  }
}
