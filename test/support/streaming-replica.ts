import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { freePort } from './processes';

const run = promisify(execFile);

/**
 * PostgreSQL server binaries with pg_basebackup (the embedded package has none): Debian's
 * PostgreSQL 15 by default; TEST_POSTGRES_BIN_DIR names another directory.
 */
export const POSTGRES_BIN_DIR = process.env.TEST_POSTGRES_BIN_DIR ?? '/usr/lib/postgresql/15/bin';

/** Why a primary and a standby cannot be made here, or undefined when they can. */
export function whyNoStreamingReplica(): string | undefined {
  const missing = ['initdb', 'pg_ctl', 'pg_basebackup', 'postgres'].filter((binary) => !fs.existsSync(path.join(POSTGRES_BIN_DIR, binary)));
  if (missing.length === 0) return undefined;
  return `no ${missing.join(', ')} in ${POSTGRES_BIN_DIR} (set TEST_POSTGRES_BIN_DIR to a PostgreSQL 15+ bin directory)`;
}

/** As root, PostgreSQL refuses to run: its commands run as the `postgres` OS user, which owns the data. */
function postgresUser(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

interface Server {
  dataDir: string;
  port: number;
  running: boolean;
}

/**
 * A primary and a streaming standby on loopback, each in its own data directory under one
 * temporary directory. `stop()` stops both and removes everything; if the test process ends without
 * it (a crash, a failed hook), an exit hook stops whatever still runs.
 */
export class StreamingReplica {
  private static readonly running = new Set<StreamingReplica>();

  private constructor(
    private readonly root: string,
    readonly primary: Server,
    readonly standby: Server,
    private readonly runAs: { uid?: number; gid?: number },
  ) {}

  /** initdb, start the primary, pg_basebackup -R -X stream, start the standby (about 5 s). */
  static async start(): Promise<StreamingReplica> {
    const runAs = postgresUser();
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'todo-replica-'));
    fs.chmodSync(root, 0o755);
    if (runAs.uid !== undefined) fs.chownSync(root, runAs.uid, runAs.gid!);
    const replica = new StreamingReplica(
      root,
      { dataDir: path.join(root, 'primary'), port: await freePort(), running: false },
      { dataDir: path.join(root, 'standby'), port: await freePort(), running: false },
      runAs,
    );
    StreamingReplica.running.add(replica);
    await replica.postgres('initdb', ['-D', replica.primary.dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--no-locale']);
    await replica.startServer(replica.primary);
    // -R writes primary_conninfo and standby.signal; the copy has the primary's max_connections, as a standby needs.
    await replica.postgres('pg_basebackup', [
      '-h',
      '127.0.0.1',
      '-p',
      String(replica.primary.port),
      '-U',
      'postgres',
      '-D',
      replica.standby.dataDir,
      '-R',
      '-X',
      'stream',
    ]);
    fs.chmodSync(replica.standby.dataDir, 0o700);
    await replica.startServer(replica.standby);
    return replica;
  }

  url(server: Server, database: string, password?: string): string {
    return `postgres://postgres${password ? `:${password}` : ''}@127.0.0.1:${server.port}/${database}`;
  }

  /** One query on a server, on a connection of its own. */
  async query<R extends object>(server: Server, database: string, text: string, values: unknown[] = []): Promise<R[]> {
    const client = new Client({ connectionString: this.url(server, database) });
    await client.connect();
    try {
      return (await client.query(text, values)).rows as R[];
    } finally {
      await client.end();
    }
  }

  /** recovery_min_apply_delay on the standby: it applies each commit only this long after the primary made it. */
  async delayStandby(delay: string): Promise<void> {
    await this.query(this.standby, 'postgres', `ALTER SYSTEM SET recovery_min_apply_delay = '${delay}'`);
    await this.query(this.standby, 'postgres', 'SELECT pg_reload_conf()');
  }

  async stopStandby(): Promise<void> {
    await this.stopServer(this.standby);
  }

  async startStandby(): Promise<void> {
    await this.startServer(this.standby);
  }

  async stop(): Promise<void> {
    try {
      await this.stopServer(this.standby);
      await this.stopServer(this.primary);
    } finally {
      fs.rmSync(this.root, { recursive: true, force: true });
      StreamingReplica.running.delete(this);
    }
  }

  /** Stops, at once and synchronously, whatever still runs when the process exits. */
  static stopAllNow(): void {
    for (const replica of StreamingReplica.running) {
      for (const server of [replica.standby, replica.primary]) {
        if (!server.running) continue;
        try {
          execFileSync(path.join(POSTGRES_BIN_DIR, 'pg_ctl'), ['stop', '-m', 'immediate', '-D', server.dataDir], { ...replica.runAs, stdio: 'ignore' });
        } catch {
          // Already gone.
        }
      }
      fs.rmSync(replica.root, { recursive: true, force: true });
    }
    StreamingReplica.running.clear();
  }

  private async startServer(server: Server): Promise<void> {
    const options = `-p ${server.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''`;
    await this.postgres('pg_ctl', ['start', '-w', '-t', '60', '-D', server.dataDir, '-l', `${server.dataDir}.log`, '-o', options]);
    server.running = true;
  }

  private async stopServer(server: Server): Promise<void> {
    if (!server.running) return;
    await this.postgres('pg_ctl', ['stop', '-w', '-m', 'fast', '-D', server.dataDir]);
    server.running = false;
  }

  private async postgres(binary: string, args: string[]): Promise<void> {
    try {
      await run(path.join(POSTGRES_BIN_DIR, binary), args, {
        ...this.runAs,
        cwd: this.root,
        env: { ...process.env, HOME: this.root, LC_ALL: 'C', LC_MESSAGES: 'C' },
      });
    } catch (error) {
      const logs = [this.primary, this.standby]
        .map((server) => `${server.dataDir}.log`)
        .filter((log) => fs.existsSync(log))
        .map((log) => `${log}:\n${fs.readFileSync(log, 'utf8').split('\n').slice(-15).join('\n')}`);
      throw new Error(`${binary} failed: ${(error as Error).message}\n${logs.join('\n')}`, { cause: error });
    }
  }
}

process.on('exit', () => StreamingReplica.stopAllNow());
