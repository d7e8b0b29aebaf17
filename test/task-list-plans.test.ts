import { plainToInstance } from 'class-transformer';
import type { AppDataSource } from '../src/db/data-source';
import { listTasksSql, trashSql, type Sql } from '../src/tasks/tasks.repository';
import { ListTasksQuery, PageQuery, SORT_KEYS } from '../src/tasks/tasks.dto';
import { createMigratedDatabase } from './support/database';
import { everyListQuery } from './support/task-list-queries';

jest.setTimeout(120_000);

let dataSource: AppDataSource;
let close: () => Promise<void>;
const users: string[] = [];

/** 20,000 tasks across 40 users, one of them with a tenth of the table, some done, some dated, some trashed. */
beforeAll(async () => {
  ({ dataSource, close } = await createMigratedDatabase());
  const rows: Array<{ id: string }> = await dataSource.query(
    `INSERT INTO users (email, username, hashed_password)
     SELECT 'plan' || i || '@example.com', 'plan_' || i, 'x' FROM generate_series(1, 40) AS i RETURNING id`,
  );
  users.push(...rows.map((row) => row.id));
  await dataSource.query(
    `INSERT INTO tasks (user_id, title, description, completed, due_date, created_at, deleted_at)
     SELECT CASE WHEN i % 10 = 0 THEN $1::uuid ELSE ($2::uuid[])[1 + i % 39] END,
            (ARRAY['Buy milk', 'Call the bank', 'Write the report', 'Plan the trip', 'Fix the bike'])[1 + i % 5] || ' ' || i,
            CASE WHEN i % 4 = 0 THEN NULL ELSE 'details about item ' || i END,
            i % 3 = 0,
            CASE WHEN i % 5 = 0 THEN NULL ELSE timestamptz '2027-01-01' + (i % 400) * interval '1 day' END,
            timestamptz '2026-01-01' + i * interval '1 minute',
            CASE WHEN i % 50 = 0 THEN timestamptz '2026-06-01' + i * interval '1 second' END
       FROM generate_series(1, 20000) AS i`,
    [users[0], users.slice(1)],
  );
  await dataSource.query('VACUUM ANALYZE tasks');
});

afterAll(() => close());

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

async function planOf(sql: Sql): Promise<PlanNode[]> {
  const [
    {
      'QUERY PLAN': [{ Plan }],
    },
  ] = await dataSource.query(`EXPLAIN (FORMAT JSON) ${sql.text}`, sql.values);
  return nodes(Plan);
}

function describeScans(plan: PlanNode[]): string {
  return plan
    .map(
      (node) => `${node['Node Type']}${node['Relation Name'] ? ` on ${node['Relation Name']}` : ''}${node['Index Name'] ? ` using ${node['Index Name']}` : ''}`,
    )
    .join(' > ');
}

const COMBINATIONS = everyListQuery({ completed: ['true', 'false'], due_before: '2027-06-01T00:00:00Z', due_after: '2027-03-01T00:00:00Z', q: 'report' });

describe('every task list query', () => {
  it.each(['the user with a tenth of the table', 'a user with 2% of it'])('runs on an index, never a sequential scan of tasks, for %s', async (who) => {
    const userId = who.startsWith('the user') ? users[0] : users[1];
    const failures: string[] = [];
    for (const combination of COMBINATIONS) {
      const query = plainToInstance(ListTasksQuery, { ...combination, limit: '20', skip: '0' });
      const { page, count } = listTasksSql(userId, query);
      for (const [kind, sql] of [
        ['page', page],
        ['count', count],
      ] as const) {
        const plan = await planOf(sql);
        if (plan.some((node) => node['Node Type'] === 'Seq Scan' && node['Relation Name'] === 'tasks')) {
          failures.push(`${kind} ${JSON.stringify(combination)}: ${describeScans(plan)}`);
        }
      }
    }
    expect(failures).toEqual([]);
  });

  const SORT_INDEX: Record<string, string> = {
    created_at: 'idx_tasks_user_created_at',
    updated_at: 'idx_tasks_user_updated_at',
    due_date: 'idx_tasks_user_due_date',
    title: 'idx_tasks_user_title',
  };

  it.each([...SORT_KEYS])('reads an unfiltered page under sort=%s in order from its index and stops at the page end (no Sort)', async (sort) => {
    const plan = await planOf(listTasksSql(users[0], plainToInstance(ListTasksQuery, { sort, limit: '20' })).page);
    expect(plan.map((node) => node['Node Type'])).not.toContain('Sort');
    expect(plan.map((node) => node['Index Name']).filter(Boolean)).toEqual([SORT_INDEX[sort.replace('-', '')]]);
  });

  it('reads the count of an unfiltered list from the live-task counter, one primary-key lookup', async () => {
    const plan = await planOf(listTasksSql(users[0], plainToInstance(ListTasksQuery, {})).count);
    expect(plan.filter((node) => node['Relation Name']).map((node) => [node['Relation Name'], node['Index Name']])).toEqual([
      ['user_task_counts', 'user_task_counts_pkey'],
    ]);
  });

  it('counts a filtered list from an index alone when the filters are completed and due dates', async () => {
    const plan = await planOf(listTasksSql(users[0], plainToInstance(ListTasksQuery, { completed: 'false', due_before: '2027-06-01T00:00:00Z' })).count);
    expect(plan.some((node) => node['Node Type'] === 'Index Only Scan' || node['Node Type'] === 'Bitmap Heap Scan' || node['Node Type'] === 'Index Scan')).toBe(
      true,
    );
  });

  it('includes the trash, page and count', async () => {
    const { page, count } = trashSql(users[0], plainToInstance(PageQuery, { limit: '20' }));
    for (const sql of [page, count]) {
      const plan = await planOf(sql);
      expect(plan.filter((node) => node['Node Type'] === 'Seq Scan')).toEqual([]);
    }
  });
});
