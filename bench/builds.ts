/**
 * The builds of the service a bench run compares: the working tree as it is (already compiled by
 * `npm run bench`), and for `--against <ref>` that ref, checked out in a scratch git worktree,
 * given its dependencies and compiled with its own tsconfig.build.json.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Cleanup } from './cleanup';
import { BenchError } from './errors';

const execFileAsync = promisify(execFile);

/** Which code a build is: what `git describe` says, the commit, its subject line. */
export interface Revision {
  source: string;
  describe: string;
  commit: string;
  subject: string;
}

export interface Build {
  label: string;
  /** The directory it runs from: holds its dist/ and (or a link to) its node_modules. */
  root: string;
  revision: Revision;
}

export async function workingTreeRevision(root: string): Promise<Revision> {
  try {
    const [describe, commit, subject] = await Promise.all([
      git(root, ['describe', '--always', '--tags', '--dirty']),
      git(root, ['rev-parse', 'HEAD']),
      git(root, ['log', '-1', '--format=%s', 'HEAD']),
    ]);
    return { source: 'working tree', describe, commit, subject };
  } catch {
    // A plain run needs no git: a copy of the sources outside a checkout is benched all the same.
    return { source: 'working tree', describe: 'not a git checkout', commit: '', subject: '' };
  }
}

/** Checks out, installs and compiles `ref`; the cleanup removes the worktree again. */
export async function buildRef(root: string, ref: string, cleanup: Cleanup, log: (message: string) => void): Promise<{ root: string; revision: Revision }> {
  const revision = await refRevision(root, ref);
  const tree = fs.mkdtempSync(path.join(os.tmpdir(), 'todo-bench-ref-'));
  cleanup.defer(`remove the scratch worktree ${tree}`, () => removeWorktree(root, tree));
  log(`checking out ${ref} (${revision.describe}) in ${tree}`);
  await command('git', ['worktree', 'add', '--quiet', '--detach', tree, revision.commit], root, cleanup.signal);
  await installDependencies(root, tree, cleanup.signal, log);
  log(`compiling ${ref} with its own tsconfig.build.json`);
  await command(process.execPath, [path.join(tree, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], tree, cleanup.signal);
  return { root: tree, revision };
}

async function refRevision(root: string, ref: string): Promise<Revision> {
  let commit: string;
  try {
    commit = await git(root, ['rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`]);
  } catch {
    throw new BenchError(`--against ${ref}: no such commit in the repository at ${root}`);
  }
  const [describe, subject] = await Promise.all([git(root, ['describe', '--always', '--tags', commit]), git(root, ['log', '-1', '--format=%s', commit])]);
  return { source: ref, describe, commit, subject };
}

/** Sharing this checkout's node_modules saves an install, but only the same lock file makes it the same tree. */
async function installDependencies(root: string, tree: string, signal: AbortSignal, log: (message: string) => void): Promise<void> {
  const lock = (dir: string) => fs.readFileSync(path.join(dir, 'package-lock.json'), 'utf8');
  if (fs.existsSync(path.join(tree, 'package-lock.json')) && lock(tree) === lock(root)) {
    log('same package-lock.json: linking this checkout’s node_modules');
    fs.symlinkSync(path.join(root, 'node_modules'), path.join(tree, 'node_modules'), 'dir');
    return;
  }
  log('package-lock.json differs: npm ci in the scratch worktree');
  await command('npm', ['ci', '--no-audit', '--no-fund'], tree, signal);
}

async function removeWorktree(root: string, tree: string): Promise<void> {
  // Never let a recursive delete reach the shared node_modules through the link.
  const modules = path.join(tree, 'node_modules');
  if (fs.lstatSync(modules, { throwIfNoEntry: false })?.isSymbolicLink()) fs.unlinkSync(modules);
  try {
    await git(root, ['worktree', 'remove', '--force', '--force', tree]);
  } catch {
    // Interrupted half-way through `worktree add`: delete what is there, then git's record of it.
    fs.rmSync(tree, { recursive: true, force: true });
    await git(root, ['worktree', 'prune']);
  }
}

async function git(cwd: string, args: string[]): Promise<string> {
  return (await command('git', args, cwd)).trim();
}

/** Runs a command to completion (or until `signal` aborts it); a failure carries the end of its output. */
async function command(file: string, args: string[], cwd: string, signal?: AbortSignal): Promise<string> {
  try {
    const { stdout } = await execFileAsync(file, args, { cwd, signal, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const { stdout = '', stderr = '', message } = error as { stdout?: string; stderr?: string; message: string };
    const output = `${stdout}\n${stderr}`.trim().split('\n').slice(-20).join('\n');
    throw new BenchError(`${[file, ...args].join(' ')} failed in ${cwd}: ${output || message}`);
  }
}
