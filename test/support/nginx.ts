import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../../src/config';
import { waitFor } from './processes';

/** Debian's nginx (`apt-get install nginx`); .ci/run installs it. */
export const NGINX = process.env.NGINX_PATH ?? '/usr/sbin/nginx';

export const LOAD_BALANCER_TEMPLATE = path.join(projectRoot, 'deploy', 'nginx', 'templates', 'default.conf.template');

/** The `${NAME}` variables a template uses: the official nginx image substitutes these from its environment. */
export function templateVariables(template: string): string[] {
  return [...new Set([...template.matchAll(/\$\{(\w+)\}/g)].map((match) => match[1]))].sort();
}

/** What the nginx image's envsubst step writes: every `${NAME}` replaced by its value; nginx's own `$name`s left alone. */
export function renderTemplate(template: string, values: Record<string, string>): string {
  const missing = templateVariables(template).filter((name) => !(name in values));
  if (missing.length) throw new Error(`no value for ${missing.join(', ')}`);
  return template.replace(/\$\{(\w+)\}/g, (_, name: string) => values[name]);
}

export interface RunningNginx {
  port: number;
  /** What nginx wrote to its stdout: the template's access log. */
  accessLog(): string;
  stop(): Promise<void>;
}

/**
 * nginx with `serverConfig` inside `http { }`, as the official image's nginx.conf includes
 * conf.d/*.conf, and everything else it needs (pid, temp files) in a directory of its own.
 */
export async function startNginx(serverConfig: string, port: number): Promise<RunningNginx> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'todo-nginx-'));
  // Workers run as nobody when the master is root: they write request bodies into these.
  fs.chmodSync(dir, 0o777);
  fs.writeFileSync(path.join(dir, 'default.conf'), serverConfig);
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((name) => `${name}_temp_path ${path.join(dir, name)};`);
  fs.writeFileSync(
    path.join(dir, 'nginx.conf'),
    [
      'daemon off;',
      'worker_processes 1;',
      `pid ${path.join(dir, 'nginx.pid')};`,
      'error_log stderr notice;',
      'events { worker_connections 256; }',
      `http { ${temp.join(' ')} include ${path.join(dir, 'default.conf')}; }`,
    ].join('\n'),
  );
  // The template logs to /dev/stdout, which nginx opens by name: that works on the pipe Docker
  // gives it and on a file, not on the socket a child's piped stdout is in Node, so a file it is.
  const accessLog = path.join(dir, 'access.log');
  const stdout = fs.openSync(accessLog, 'a');
  const nginx = spawn(NGINX, ['-e', 'stderr', '-p', dir, '-c', path.join(dir, 'nginx.conf')], { stdio: ['ignore', stdout, 'pipe'] });
  fs.closeSync(stdout);
  let errors = '';
  nginx.stderr!.on('data', (chunk) => (errors += chunk));
  const exited = new Promise<void>((resolve) => nginx.on('exit', () => resolve()));
  const stop = async () => {
    if (nginx.exitCode === null && nginx.signalCode === null) nginx.kill('SIGTERM');
    await exited;
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const listening = waitFor(
    () =>
      new Promise<true | undefined>((resolve) => {
        const socket = net.connect(port, '127.0.0.1', () => socket.end(() => resolve(true)));
        socket.on('error', () => resolve(undefined));
      }),
    10_000,
    `nginx on port ${port}`,
  );
  const failed = exited.then(() => {
    throw new Error('nginx exited');
  });
  try {
    await Promise.race([listening, failed]);
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}\n${errors}`, { cause: error });
  }
  failed.catch(() => undefined);
  return { port, accessLog: () => fs.readFileSync(accessLog, 'utf8'), stop };
}
