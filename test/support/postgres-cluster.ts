import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../src/db/embedded-postgres';

const run = promisify(execFile);

/** The machine's PostgreSQL 15 (Debian's postgresql-15): a second server version, and one pgBackRest 2.45 supports. */
export const PG15_BIN = '/usr/lib/postgresql/15/bin';

/** PostgreSQL refuses to run as root: as root, its programs (and pgBackRest, which must match) run as the postgres OS user. */
export function postgresUser(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

export async function runAsPostgres(command: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await run(command, args, { ...postgresUser(), env: { ...process.env, LC_ALL: 'C' }, cwd: os.tmpdir() });
    return stdout;
  } catch (error) {
    const { stderr, stdout } = error as { stderr?: string; stdout?: string };
    throw new Error(`${path.basename(command)} ${args.join(' ')} failed: ${(stderr || stdout || (error as Error).message).trim()}`, { cause: error });
  }
}

export function isInstalled(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export interface Cluster {
  /** A directory of the test's, owned by the postgres OS user: the data directory and anything else goes in it. */
  dir: string;
  dataDir: string;
  port: number;
  url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Stops the server if it runs and removes the directory. */
  remove(): Promise<void>;
}

/** A PostgreSQL of `binDir` on 127.0.0.1, trust authentication, with `settings` appended to postgresql.conf. */
export async function createCluster(binDir: string, settings: (cluster: { dir: string; port: number }) => string[] = () => []): Promise<Cluster> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'todo-cluster-'));
  const { uid, gid } = postgresUser();
  if (uid !== undefined && gid !== undefined) fs.chownSync(dir, uid, gid);
  fs.chmodSync(dir, 0o700);
  const dataDir = path.join(dir, 'data');
  const port = await freePort();
  await runAsPostgres(path.join(binDir, 'initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--no-locale']);
  const conf = [`listen_addresses = '127.0.0.1'`, `port = ${port}`, `unix_socket_directories = '${dir}'`, ...settings({ dir, port })];
  fs.appendFileSync(path.join(dataDir, 'postgresql.conf'), `\n${conf.join('\n')}\n`);
  const pgCtl = (...args: string[]) => runAsPostgres(path.join(binDir, 'pg_ctl'), ['-D', dataDir, ...args]);
  let running = false;
  return {
    dir,
    dataDir,
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async start() {
      await pgCtl('-l', path.join(dir, 'postgres.log'), '-w', '-t', '60', 'start');
      running = true;
    },
    async stop() {
      await pgCtl('-m', 'fast', '-w', 'stop');
      running = false;
    },
    async remove() {
      if (running || fs.existsSync(path.join(dataDir, 'postmaster.pid'))) await pgCtl('-m', 'immediate', '-w', 'stop').catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
