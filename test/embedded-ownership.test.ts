import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { anotherProcessIsStarting, claimOwnership, forgetOwners } from '../src/db/embedded-ownership';
import { projectRoot, runToEnd } from './support/processes';

let dataDir: string;
const SERVER = '4242-1795000000';

beforeEach(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'todo-ownership-'));
});

afterEach(() => fs.rmSync(dataDir, { recursive: true, force: true }));

/** The pid of a process that has already exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid!;
}

/** Runs `work` while another process is alive, and gives it that process's pid and its true start time. */
async function withLiveProcess<T>(work: (pid: number, started: string) => Promise<T> | T): Promise<T> {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)']);
  await new Promise((resolve) => child.on('spawn', resolve));
  const stat = fs.readFileSync(`/proc/${child.pid}/stat`, 'utf8');
  try {
    return await work(child.pid!, stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  } finally {
    child.kill('SIGKILL');
  }
}

const ownerFile = (generation: number) => path.join(dataDir, `todo-service-owner.${SERVER}.${generation}`);

describe('ownership of an embedded server', () => {
  it('goes to the first claimant of a server run, and not again to anyone while that process lives', async () => {
    expect(claimOwnership(dataDir, SERVER)).toBe('started');
    expect(claimOwnership(dataDir, SERVER)).toBeUndefined();
    await withLiveProcess((pid, started) => {
      fs.writeFileSync(path.join(dataDir, `todo-service-owner.other.0`), `${pid} ${started}\n`);
      expect(claimOwnership(dataDir, 'other')).toBeUndefined();
    });
  });

  it('is taken over when its owner is gone, or when its pid now belongs to a process started later', async () => {
    fs.writeFileSync(ownerFile(0), `${await deadPid()} 1\n`);
    expect(claimOwnership(dataDir, SERVER)).toBe('adopted');
    expect(fs.readFileSync(ownerFile(1), 'utf8')).toMatch(new RegExp(`^${process.pid} `));

    await withLiveProcess((pid) => {
      fs.writeFileSync(path.join(dataDir, 'todo-service-owner.reused.0'), `${pid} 1\n`);
      expect(claimOwnership(dataDir, 'reused')).toBe('adopted');
    });
  });

  it('goes to exactly one of several processes racing to take over an orphan', async () => {
    fs.writeFileSync(ownerFile(0), `${await deadPid()} 1\n`);
    const claimant = `const { claimOwnership } = require(${JSON.stringify(path.join(projectRoot, 'dist/src/db/embedded-ownership.js'))});
      console.log(String(claimOwnership(${JSON.stringify(dataDir)}, ${JSON.stringify(SERVER)})));
      setTimeout(() => {}, 1500);`;
    const results = await Promise.all(Array.from({ length: 4 }, () => runToEnd(process.execPath, ['-e', claimant], {})));
    expect(results.map((result) => result.output.trim()).sort()).toEqual(['adopted', 'undefined', 'undefined', 'undefined']);
  });

  it('is not claimed from a live process that announced it is starting the server', async () => {
    fs.writeFileSync(path.join(dataDir, `todo-service-starting.${await deadPid()}`), '1 1\n');
    expect(anotherProcessIsStarting(dataDir)).toBe(false);
    await withLiveProcess((pid, started) => {
      fs.writeFileSync(path.join(dataDir, `todo-service-starting.${pid}`), `${pid} ${started}\n`);
      expect(anotherProcessIsStarting(dataDir)).toBe(true);
      forgetOwners(dataDir);
      expect(fs.readdirSync(dataDir)).toEqual([`todo-service-starting.${pid}`]);
    });
  });
});
