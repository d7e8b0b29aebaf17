import type { QueryRunner } from 'typeorm';
import type { AppDataSource } from '../src/db/data-source';
import { SYNC_SQL } from '../src/tasks/tasks.repository';
import { createMigratedDatabase } from './support/database';

jest.setTimeout(180_000);

let dataSource: AppDataSource;
let close: () => Promise<void>;
let runner: QueryRunner;
/** Users by how many tasks they have. */
const users = new Map<number, string>();
let lower: { xmin: string; xmax: string; xip: string[] };

const SIZES = [1_000, 100_000];
/** Changes per user after the token: a few created, changed, trashed and deleted for good. */
const CHANGES = 8;

/**
 * Two users, with 1,000 and 100,000 tasks (some trashed, some deleted for good before the token),
 * a token's snapshot, then the same handful of changes for each.
 */
beforeAll(async () => {
  ({ dataSource, close } = await createMigratedDatabase());
  for (const size of SIZES) {
    const [{ id }] = await dataSource.query(`INSERT INTO users (email, username, hashed_password) VALUES ($1, $1, 'x') RETURNING id`, [`sync${size}`]);
    users.set(size, id);
    await dataSource.query(
      `INSERT INTO tasks (user_id, title, deleted_at)
       SELECT $1, 'task ' || i, CASE WHEN i % 20 = 0 THEN now() END FROM generate_series(1, $2) AS i`,
      [id, size],
    );
    await dataSource.query(`DELETE FROM tasks WHERE id IN (SELECT id FROM tasks WHERE user_id = $1 LIMIT $2)`, [id, size / 10]);
  }
  await dataSource.query('VACUUM ANALYZE tasks');
  await dataSource.query('VACUUM ANALYZE task_tombstones');
  [lower] = await dataSource.query(
    `SELECT pg_snapshot_xmin(s)::text AS xmin, pg_snapshot_xmax(s)::text AS xmax, ARRAY(SELECT pg_snapshot_xip(s)::text)::text[] AS xip FROM pg_current_snapshot() AS s`,
  );
  for (const id of users.values()) {
    await dataSource.query(`INSERT INTO tasks (user_id, title) SELECT $1, 'new ' || i FROM generate_series(1, 2) AS i`, [id]);
    await dataSource.query(`UPDATE tasks SET completed = true WHERE id IN (SELECT id FROM tasks WHERE user_id = $1 AND deleted_at IS NULL LIMIT 2)`, [id]);
    await dataSource.query(
      `UPDATE tasks SET deleted_at = now() WHERE id IN (SELECT id FROM tasks WHERE user_id = $1 AND deleted_at IS NULL LIMIT 2 OFFSET 2)`,
      [id],
    );
    await dataSource.query(`DELETE FROM tasks WHERE id IN (SELECT id FROM tasks WHERE user_id = $1 LIMIT 2 OFFSET 4)`, [id]);
  }
  runner = dataSource.createQueryRunner();
  await runner.connect();
});

afterAll(async () => {
  await runner?.release();
  await close();
});

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  'Shared Hit Blocks'?: number;
  'Shared Read Blocks'?: number;
  Plans?: PlanNode[];
}

const nodes = (plan: PlanNode): PlanNode[] => [plan, ...(plan.Plans ?? []).flatMap(nodes)];

/** The executed plan of a sync statement, as a prepared statement runs it: custom (the values planned in) or generic (the plan cached for any values). */
async function executedPlan(text: string, values: unknown[], mode: 'force_custom_plan' | 'force_generic_plan'): Promise<PlanNode> {
  await runner.query(`SET plan_cache_mode = ${mode}`);
  await runner.query('DEALLOCATE ALL');
  await runner.query(`PREPARE sync_statement AS ${text}`);
  const literal = (value: unknown) => (value === null ? 'NULL' : Array.isArray(value) ? `'{${value.join(',')}}'` : `'${String(value)}'`);
  const [
    {
      'QUERY PLAN': [{ Plan }],
    },
  ] = await runner.query(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE sync_statement(${values.map(literal).join(', ')})`);
  await runner.query('DEALLOCATE sync_statement');
  return Plan;
}

/** Rows the scans of `table` looked at: those they returned and those they filtered out, over all loops. */
function rowsExamined(plan: PlanNode, table: string): number {
  return nodes(plan)
    .filter((node) => node['Relation Name'] === table)
    .reduce(
      (sum, node) =>
        sum + ((node['Actual Rows'] ?? 0) + (node['Rows Removed by Filter'] ?? 0) + (node['Rows Removed by Index Recheck'] ?? 0)) * (node['Actual Loops'] ?? 1),
      0,
    );
}

/** Every scan of the plan; a bitmap's index scan names only its index (its heap scan names the table). */
const describeScans = (plan: PlanNode) =>
  nodes(plan)
    .filter((node) => node['Relation Name'] || node['Index Name'])
    .map(
      (node) => `${node['Node Type']}${node['Relation Name'] ? ` on ${node['Relation Name']}` : ''}${node['Index Name'] ? ` using ${node['Index Name']}` : ''}`,
    );

/** As the repository sends them for a round's first page: from right before the lower snapshot's xmin. */
const changesValues = (userId: string) => [
  userId,
  lower.xmin,
  lower.xmax,
  lower.xip,
  BigInt(lower.xmin) - 1n,
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
  null,
  null,
  null,
  501,
];

describe.each(['force_custom_plan', 'force_generic_plan'] as const)('an incremental sync (%s)', (mode) => {
  it('reads the changes from idx_tasks_user_changed_xid and task_tombstones_pkey, never a sequential scan', async () => {
    for (const size of SIZES) {
      const plan = await executedPlan(SYNC_SQL.changesPage.text, changesValues(users.get(size)!), mode);
      const scans = describeScans(plan);
      expect({ size, scans }).toEqual({
        size,
        scans: expect.arrayContaining([expect.stringMatching(/^Index (Only )?Scan on tasks using idx_tasks_user_changed_xid$/)]),
      });
      const sequential = scans.filter((scan) => /^Seq Scan on (tasks|task_tombstones)$/.test(scan));
      expect({ size, sequential }).toEqual({ size, sequential: [] });
      expect(scans.some((scan) => scan.includes('task_tombstones_pkey'))).toBe(true);
    }
  });

  it('examines about as many rows and pages at 100,000 tasks as at 1,000: the changes, not the tasks', async () => {
    const cost = new Map<number, { tasks: number; tombstones: number; blocks: number }>();
    for (const size of SIZES) {
      const plan = await executedPlan(SYNC_SQL.changesPage.text, changesValues(users.get(size)!), mode);
      const blocks = (plan['Shared Hit Blocks'] ?? 0) + (plan['Shared Read Blocks'] ?? 0);
      cost.set(size, { tasks: rowsExamined(plan, 'tasks'), tombstones: rowsExamined(plan, 'task_tombstones'), blocks });
    }
    const [small, large] = SIZES.map((size) => cost.get(size)!);
    // The changed rows (each read twice: found in the index, then its columns) and the tombstones, whatever the size.
    for (const { tasks, tombstones } of [small, large]) {
      expect(tasks).toBeLessThanOrEqual(4 * CHANGES);
      expect(tombstones).toBeLessThanOrEqual(CHANGES);
    }
    expect(large.blocks).toBeLessThanOrEqual(small.blocks + 20);
  });
});

describe('a full sync page', () => {
  it('reads one page in order from idx_tasks_user_changed_xid and stops at its end, with no sort of all the tasks', async () => {
    const plan = await executedPlan(
      SYNC_SQL.fullPage.text,
      [users.get(100_000)!, -1, '00000000-0000-0000-0000-000000000000', 501, null, null, null],
      'force_generic_plan',
    );
    expect(describeScans(plan).filter((scan) => scan.includes(' on tasks'))).toEqual(['Index Scan on tasks using idx_tasks_user_changed_xid']);
    // The one Sort is of the snapshot's few running transactions, never of tasks.
    const sorts = nodes(plan).filter((node) => node['Node Type'] === 'Sort');
    expect(sorts.flatMap(nodes).filter((node) => node['Relation Name'])).toEqual([]);
    expect(rowsExamined(plan, 'tasks')).toBe(501);
  });
});
