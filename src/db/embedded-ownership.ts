import fs from 'node:fs';
import path from 'node:path';

/**
 * Which process is responsible for stopping an embedded PostgreSQL server: the one that started
 * it, or, when that one is gone (kill -9, a crash), the first process that finds the server
 * orphaned. Files beside postmaster.pid record it:
 *
 * - `todo-service-starting.<pid>`: written by a process before it runs `pg_ctl start`, removed once
 *   it has claimed the server, so that a process arriving in between does not adopt a server whose
 *   starter is still busy with it.
 * - `todo-service-owner.<server>.<n>`: the owner of one run of the server (`<server>`: the
 *   postmaster's pid and start time), in generations: the starter claims 0; whoever finds the owner
 *   of generation n dead claims n + 1. A claim is a hard link of a complete file, which fails if
 *   the name exists, so of two processes racing to adopt, exactly one wins.
 *
 * A process is identified by its pid and its start time (from /proc where there is one), so a pid
 * reused by an unrelated process does not count as the owner still running.
 */

const STARTING_PREFIX = 'todo-service-starting.';
const OWNER_PREFIX = 'todo-service-owner.';

interface ProcessIdentity {
  pid: number;
  /** Start time in clock ticks since boot (Linux); empty where it cannot be read. */
  started: string;
}

function startTimeOf(pid: number): string {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22; the fields are counted after the command name, which may itself hold spaces and parentheses.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    return '';
  }
}

function thisProcess(): ProcessIdentity {
  return { pid: process.pid, started: startTimeOf(process.pid) };
}

function isRunning({ pid, started }: ProcessIdentity): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const now = startTimeOf(pid);
  return started === '' || now === '' || now === started;
}

function readIdentity(file: string): ProcessIdentity | undefined {
  try {
    const [pid, started = ''] = fs.readFileSync(file, 'utf8').trim().split(' ');
    return Number.isInteger(Number(pid)) && Number(pid) > 0 ? { pid: Number(pid), started } : undefined;
  } catch {
    return undefined;
  }
}

/** Creates `file` holding this process's identity, atomically and only if it does not exist yet. */
function createExclusively(file: string): boolean {
  const draft = `${file}.draft-${process.pid}`;
  const me = thisProcess();
  fs.writeFileSync(draft, `${me.pid} ${me.started}\n`);
  try {
    fs.linkSync(draft, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    fs.rmSync(draft, { force: true });
  }
}

/** Says "this process is starting the server"; returns the function that withdraws it. */
export function announceStarting(dataDir: string): () => void {
  const file = path.join(dataDir, `${STARTING_PREFIX}${process.pid}`);
  const me = thisProcess();
  fs.writeFileSync(file, `${me.pid} ${me.started}\n`);
  return () => fs.rmSync(file, { force: true });
}

/** True when another live process is between announcing and claiming. */
export function anotherProcessIsStarting(dataDir: string): boolean {
  return entries(dataDir)
    .filter((name) => name.startsWith(STARTING_PREFIX) && name !== `${STARTING_PREFIX}${process.pid}`)
    .some((name) => {
      const identity = readIdentity(path.join(dataDir, name));
      return identity !== undefined && isRunning(identity);
    });
}

/**
 * Claims the server run `serverKey` for this process, unless a live process holds it. Returns
 * 'started' for the first claim of a run, 'adopted' when an earlier owner was found dead, and
 * undefined when another live process owns it.
 */
export function claimOwnership(dataDir: string, serverKey: string): 'started' | 'adopted' | undefined {
  for (let generation = 0; ; generation += 1) {
    const file = path.join(dataDir, `${OWNER_PREFIX}${serverKey}.${generation}`);
    if (createExclusively(file)) return generation === 0 ? 'started' : 'adopted';
    const owner = readIdentity(file);
    if (owner === undefined || isRunning(owner)) return undefined;
  }
}

/** The live owner of the server run `serverKey`, if there is one. */
export function liveOwner(dataDir: string, serverKey: string): number | undefined {
  const generations = entries(dataDir)
    .filter((name) => name.startsWith(`${OWNER_PREFIX}${serverKey}.`))
    .map((name) => readIdentity(path.join(dataDir, name)))
    .filter((identity) => identity !== undefined && isRunning(identity));
  return generations[0]?.pid;
}

/** After the server stopped: its owner records, and announcements of processes that died while starting. */
export function forgetOwners(dataDir: string): void {
  for (const name of entries(dataDir)) {
    const file = path.join(dataDir, name);
    if (name.startsWith(OWNER_PREFIX)) fs.rmSync(file, { force: true });
    else if (name.startsWith(STARTING_PREFIX)) {
      const identity = readIdentity(file);
      if (identity === undefined || !isRunning(identity)) fs.rmSync(file, { force: true });
    }
  }
}

function entries(dataDir: string): string[] {
  try {
    return fs.readdirSync(dataDir);
  } catch {
    return [];
  }
}
