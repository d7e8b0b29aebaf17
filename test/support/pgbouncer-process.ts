import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './processes';

/** Debian's PgBouncer (1.18 on bookworm: no prepared statements in transaction pooling). */
export const PGBOUNCER_BIN = process.env.PGBOUNCER_BIN ?? '/usr/sbin/pgbouncer';

/** Why the PgBouncer tests cannot run here, or undefined when they can. */
export function pgbouncerMissing(): string | undefined {
  return fs.existsSync(PGBOUNCER_BIN) ? undefined : `no PgBouncer at ${PGBOUNCER_BIN} (apt-get install pgbouncer, or set PGBOUNCER_BIN)`;
}

export interface RunningPgbouncer {
  /** The URL of `database` through PgBouncer: `transaction` pooling, or `session` for the databases given at start. */
  url(database: string, mode?: 'transaction' | 'session'): string;
  version: string;
  stop(): Promise<void>;
}

/**
 * A PgBouncer of this test's own in front of the server `serverUrl` names: every database in
 * transaction pooling (as deploy/ runs it), and each of `sessionDatabases` also in session pooling
 * under the name `session_<database>`. Clients log in without a password (loopback only, `auth_type
 * = any`); PgBouncer logs in to the server with the credentials of `serverUrl`.
 */
export async function startPgbouncer(serverUrl: string, sessionDatabases: string[] = []): Promise<RunningPgbouncer> {
  const server = new URL(serverUrl);
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'todo-pgbouncer-'));
  fs.chmodSync(dir, 0o755);
  const password = server.password ? ` password=${decodeURIComponent(server.password)}` : '';
  const login = `host=${server.hostname} port=${server.port || 5432} user=${decodeURIComponent(server.username)}${password}`;
  fs.writeFileSync(
    path.join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `* = ${login}`,
      ...sessionDatabases.map((name) => `session_${name} = ${login} dbname=${name} pool_mode=session`),
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = any',
      'pool_mode = transaction',
      'default_pool_size = 10',
      'max_client_conn = 500',
      // node-postgres sends these as startup parameters; PgBouncer 1.18 refuses unknown ones.
      'ignore_startup_parameters = statement_timeout, idle_in_transaction_session_timeout',
      `logfile = ${path.join(dir, 'pgbouncer.log')}`,
      '',
    ].join('\n'),
  );
  const child = spawn(PGBOUNCER_BIN, [path.join(dir, 'pgbouncer.ini')], { stdio: 'ignore', ...runAsPostgresWhenRoot(dir) });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitForPort(port, child, dir);
  const version = execFileSync(PGBOUNCER_BIN, ['--version'], { encoding: 'utf8' }).split('\n')[0];
  return {
    url(database, mode = 'transaction') {
      return `postgres://${encodeURIComponent(decodeURIComponent(server.username))}@127.0.0.1:${port}/${mode === 'session' ? `session_${database}` : database}`;
    },
    version,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** PgBouncer refuses to run as root: as root, it runs as the postgres OS user (who can read `dir`). */
function runAsPostgresWhenRoot(dir: string): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  for (const file of fs.readdirSync(dir)) fs.chownSync(path.join(dir, file), uid, gid);
  fs.chownSync(dir, uid, gid);
  return { uid, gid };
}

async function waitForPort(port: number, child: ChildProcess, dir: string): Promise<void> {
  for (let waited = 0; waited < 10_000; waited += 100) {
    if (child.exitCode !== null) break;
    const open = await new Promise<boolean>((resolve) =>
      net
        .connect(port, '127.0.0.1')
        .once('connect', function (this: net.Socket) {
          this.destroy();
          resolve(true);
        })
        .once('error', () => resolve(false)),
    );
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const log = fs.readFileSync(path.join(dir, 'pgbouncer.log'), { encoding: 'utf8', flag: 'a+' });
  child.kill('SIGKILL');
  throw new Error(`PgBouncer did not listen on 127.0.0.1:${port}:\n${log}`);
}
