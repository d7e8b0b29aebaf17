/**
 * CPU time a server process spends, read from /proc: the measure the bench compares first. On a
 * shared machine req/s moves with everything else that runs; the CPU a process spends per request
 * it answers moves far less, because time it waits for a core is not counted.
 */
import fs from 'node:fs';

/** Linux reports utime and stime in clock ticks of 1/USER_HZ s, and USER_HZ is 100 on every architecture Node runs on. */
const TICKS_PER_SECOND = 100;

/**
 * CPU seconds (user + system, every thread) of a process and of its descendants alive now (the
 * workers of a node:cluster primary). Zero for a process that is gone.
 */
export function cpuSeconds(pid: number): number {
  return processTree(pid).reduce((sum, member) => sum + ownCpuSeconds(member), 0);
}

function ownCpuSeconds(pid: number): number {
  const stat = readProc(`/proc/${pid}/stat`);
  if (stat === undefined) return 0;
  // The command name (field 2) may hold spaces and parentheses: count fields from its closing one.
  // After it: state is field 3, utime field 14, stime field 15 (proc(5)).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

function processTree(pid: number): number[] {
  const tree = [pid];
  for (let index = 0; index < tree.length; index += 1) tree.push(...childrenOf(tree[index]));
  return tree;
}

/** Each thread lists the children it started (proc(5), /proc/pid/task/tid/children). */
function childrenOf(pid: number): number[] {
  let threads: string[];
  try {
    threads = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  return threads.flatMap((tid) => (readProc(`/proc/${pid}/task/${tid}/children`) ?? '').split(' ').filter(Boolean).map(Number));
}

function readProc(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    // The process or thread ended between listing and reading it.
    return undefined;
  }
}
