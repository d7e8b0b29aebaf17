import { execFileSync, spawn, type ChildProcess } from 'node:child_process';

import { projectRoot } from '../../src/config';

export { projectRoot };
export { freePort } from '../../src/db/embedded-postgres';

export interface RunningProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `command` in the project root with a clean environment plus `env`, collecting stdout and stderr together. */
export function startProcess(command: string, args: string[], env: Record<string, string | undefined>): RunningProcess {
  const baseEnv = { ...process.env };
  delete baseEnv.DATABASE_URL;
  const child = spawn(command, args, { cwd: projectRoot, env: { ...baseEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, output: () => output, exited };
}

export async function runToEnd(command: string, args: string[], env: Record<string, string | undefined>) {
  const running = startProcess(command, args, env);
  const { code } = await running.exited;
  return { code, output: running.output() };
}

export async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** PostgreSQL server processes whose command line names this data directory. */
export function postgresProcessesFor(dataDir: string): string[] {
  const lines = execFileSync('ps', ['-eo', 'pid,stat,args'], { encoding: 'utf8' }).split('\n');
  return lines.filter((line) => line.includes(`postgres -D ${dataDir} `) && !/\sZ/.test(line));
}
