/** The servers under load, each a child process on its own free port, stopped by the cleanup. */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort } from '../src/db/embedded-postgres';
import type { Cleanup } from './cleanup';
import { BenchError } from './errors';

export interface ServerSpec {
  /** How the results name it: service, new, old or baseline. */
  label: string;
  /** The build directory it runs from (its cwd). */
  root: string;
  /** Its script, relative to `root`. */
  script: string;
  /** Answers below 500 here once it serves. */
  readyPath: string;
  /** The `node` binary it runs on (see node-runtime.ts). */
  node: string;
  /** Where to write a CPU profile (--cpu-prof), if one is wanted. */
  profileDir?: string;
}

export interface Server {
  label: string;
  port: number;
  /** The process started (a node:cluster primary when WEB_CONCURRENCY > 1). */
  pid: number;
  /** Stops it now rather than at the end of the run. */
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;

export async function startServer(spec: ServerSpec, env: Record<string, string>, cleanup: Cleanup): Promise<Server> {
  const port = await freePort();
  // Its log goes nowhere, as cheaply as possible: the bench measures the service, not a log pipe.
  const child = spawnServer(spec, env, port, ['ignore', 'ignore', 'inherit']);
  cleanup.defer(`stop ${spec.label}`, () => stopProcess(child));
  await waitReady(spec, port, child, () => outputOfSecondStart(spec, env, cleanup));
  return { label: spec.label, port, pid: child.pid!, stop: () => stopProcess(child) };
}

/** Peak resident memory (VmHWM) of a process over its life, in MB. */
export function peakRssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

function spawnServer(spec: ServerSpec, env: Record<string, string>, port: number, stdio: StdioOptions): ChildProcess {
  const profile = spec.profileDir ? ['--cpu-prof', '--cpu-prof-dir', spec.profileDir, '--cpu-prof-name', `${spec.label}-${Date.now()}.cpuprofile`] : [];
  return spawn(spec.node, [...profile, spec.script], { cwd: spec.root, env: { ...process.env, ...env, PORT: String(port) }, stdio });
}

async function waitReady(spec: ServerSpec, port: number, child: ChildProcess, whyStopped: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (hasExited(child)) throw new BenchError(`${spec.label} (${path.join(spec.root, spec.script)}) stopped before it was ready. ${await whyStopped()}`);
    const ready = await fetch(`http://127.0.0.1:${port}${spec.readyPath}`).then(
      (response) => response.status < 500,
      () => false,
    );
    if (ready) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new BenchError(`${spec.label} was not ready on port ${port} after ${READY_TIMEOUT_MS / 1000} s`);
}

/** The first start's log was discarded: start it once more, keeping the output, to say why it stops. */
async function outputOfSecondStart(spec: ServerSpec, env: Record<string, string>, cleanup: Cleanup): Promise<string> {
  const child = spawnServer({ ...spec, profileDir: undefined }, env, await freePort(), ['ignore', 'pipe', 'pipe']);
  cleanup.defer(`stop the second start of ${spec.label}`, () => stopProcess(child));
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGTERM'), READY_TIMEOUT_MS);
  await new Promise((resolve) => child.once('close', resolve));
  clearTimeout(timer);
  const lastLines = output.trim().split('\n').slice(-10).join('\n');
  return lastLines ? `Its output when started again:\n${lastLines}` : 'It printed nothing when started again.';
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (hasExited(child)) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}
