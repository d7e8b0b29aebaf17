import { plainToInstance } from 'class-transformer';
import { listTasksSql, trashSql, type Sql } from '../../src/tasks/tasks.repository';
import { ListTasksQuery, PageQuery, SORT_KEYS } from '../../src/tasks/tasks.dto';
import { everyListQuery, type ListFilterValues } from '../support/task-list-queries';

/**
 * The list and trash statements as text, for every filter and sort combination: what each one
 * filters on, how it orders, and that the text depends only on which filters are present (so
 * values travel as parameters, and each combination is one prepared statement).
 */

const USER = '6f1c2a4e-8d3b-4f7a-9c5e-0b1d2e3f4a5b';
const OTHER_USER = 'a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d';
const INJECTION = "report'; DROP TABLE tasks; --";

const FIRST: ListFilterValues = { completed: ['true', 'false'], due_before: '2031-01-02T03:04:05Z', due_after: '2029-05-06T07:08:09+02:00', q: INJECTION };
const SECOND: ListFilterValues = {
  completed: ['false', 'true'],
  due_before: '2040-12-31T23:59:59Z',
  due_after: '2028-02-29T00:00:00-05:00',
  q: 'quarterly $1 numbers',
};
const FIRST_QUERIES = everyListQuery(FIRST);
const SECOND_QUERIES = everyListQuery(SECOND);

const listQuery = (fields: Record<string, string>) => plainToInstance(ListTasksQuery, fields);
const FILTERS = ['completed', 'due_before', 'due_after', 'q'];
const isFiltered = (fields: Record<string, string>) => FILTERS.some((filter) => filter in fields);

/** The $n placeholders of a statement, in order of first use. */
const placeholders = (sql: Sql) => [...new Set([...sql.text.matchAll(/\$(\d+)/g)].map((match) => Number(match[1])))];

const PAGE = /^SELECT .+ FROM tasks WHERE (.+) ORDER BY (.+) LIMIT \$(\d+) OFFSET \$(\d+)$/;

describe(`the task list statement, for each of the ${FIRST_QUERIES.length} filter and sort combinations`, () => {
  const cases = FIRST_QUERIES.map((fields) => {
    const query = listQuery({ ...fields, limit: '37', skip: '4242' });
    return { fields, query, ...listTasksSql(USER, query) };
  });

  it('reads only the caller’s live tasks', () => {
    for (const { fields, page } of cases) {
      const [, where] = PAGE.exec(page.text) ?? [];
      expect([fields, where?.startsWith('user_id = $1 AND deleted_at IS NULL')]).toEqual([fields, true]);
      expect([fields, page.values[0]]).toEqual([fields, USER]);
    }
  });

  it('orders by the sort key in its direction, then by id in the same direction, so pages never overlap', () => {
    for (const { fields, page } of cases) {
      const [, , orderBy] = PAGE.exec(page.text) ?? [];
      const terms = orderBy.split(', ');
      const direction = fields.sort.startsWith('-') ? 'DESC' : 'ASC';
      expect([fields, terms[0].split(' ').slice(0, 2), terms.at(-1)]).toEqual([fields, [fields.sort.replace('-', ''), direction], `id ${direction}`]);
    }
  });

  it('numbers its parameters $1..$n with one value each, limit and skip last', () => {
    for (const { fields, query, page } of cases) {
      const [, , , limit, offset] = PAGE.exec(page.text) ?? [];
      expect([fields, placeholders(page)]).toEqual([fields, page.values.map((_value, i) => i + 1)]);
      expect([fields, page.values[Number(limit) - 1], page.values[Number(offset) - 1]]).toEqual([fields, query.limit, query.skip]);
      expect([fields, Number(offset)]).toEqual([fields, page.values.length]);
    }
  });

  it('counts with exactly the page’s WHERE and values, or reads the live-task counter when nothing is filtered', () => {
    for (const { fields, page, count } of cases) {
      if (isFiltered(fields)) {
        const [, where] = PAGE.exec(page.text) ?? [];
        expect([fields, count]).toEqual([fields, { text: `SELECT count(*)::int AS count FROM tasks WHERE ${where}`, values: page.values.slice(0, -2) }]);
      } else {
        expect([fields, count]).toEqual([
          fields,
          { text: 'SELECT coalesce((SELECT live_tasks FROM user_task_counts WHERE user_id = $1), 0) AS count', values: [USER] },
        ]);
      }
    }
  });

  it('has a text that depends only on which filters are present and the sort, never on the values', () => {
    const texts = (userId: string, queries: Array<Record<string, string>>, page: Record<string, string>) =>
      queries.map((fields) => listTasksSql(userId, listQuery({ ...fields, ...page }))).map(({ page, count }) => [page.text, count.text]);
    expect(texts(OTHER_USER, SECOND_QUERIES, { limit: '5', skip: '0' })).toEqual(texts(USER, FIRST_QUERIES, { limit: '37', skip: '4242' }));
    const shapeOf = (fields: Record<string, string>) => `${Object.keys(fields).sort().join(' ')} ${fields.sort}`;
    expect(new Set(cases.map(({ page }) => page.text)).size).toBe(new Set(cases.map(({ fields }) => shapeOf(fields))).size);
    for (const { page, count } of cases) expect([page.text, count.text].filter((text) => text.includes(USER) || text.includes('DROP TABLE'))).toEqual([]);
  });

  it('treats a search of blanks as no search', () => {
    for (const sort of SORT_KEYS) expect(listTasksSql(USER, listQuery({ sort, q: ' \t ' }))).toEqual(listTasksSql(USER, listQuery({ sort })));
  });
});

describe('the trash statement', () => {
  const { page, count } = trashSql(USER, plainToInstance(PageQuery, { limit: '37', skip: '4242' }));

  it('reads only the caller’s soft-deleted tasks, most recently deleted first, then by id', () => {
    expect(page.text).toMatch(/ FROM tasks WHERE user_id = \$1 AND deleted_at IS NOT NULL ORDER BY deleted_at DESC, id DESC LIMIT \$2 OFFSET \$3$/);
    expect(page.values).toEqual([USER, 37, 4242n]);
  });

  it('counts with the page’s WHERE', () => {
    expect(count).toEqual({ text: 'SELECT count(*)::int AS count FROM tasks WHERE user_id = $1 AND deleted_at IS NOT NULL', values: [USER] });
  });
});
