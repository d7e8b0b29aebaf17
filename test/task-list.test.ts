import request from 'supertest';
import { SORT_KEYS, type SortKey } from '../src/tasks/tasks.dto';
import { createTestApp, type TestApp } from './support/app';
import { signUpAndLogIn } from './support/users';

let testApp: TestApp;
type Caller = Awaited<ReturnType<typeof signUpAndLogIn>>;

beforeAll(async () => {
  testApp = await createTestApp();
});

afterAll(() => testApp.close());

const api = () => request(testApp.app);

interface ListedTask {
  id: string;
  title: string;
  due_date: string | null;
  created_at: string;
  updated_at: string;
}

async function list(caller: Caller, query: string) {
  const response = await api().get(`/api/v1/tasks${query}`).set(caller.auth);
  return response;
}

const titles = (response: request.Response) => response.body.data.map((task: ListedTask) => task.title);

describe('GET /api/v1/tasks filters and sorting', () => {
  let caller: Caller;

  beforeAll(async () => {
    caller = await signUpAndLogIn(testApp.app);
    const tasks = [
      { title: 'Write report', description: 'quarterly numbers', completed: true, due_date: '2027-01-10T09:00:00Z' },
      { title: 'Buy groceries', description: 'milk and eggs', completed: false, due_date: '2027-01-20T09:00:00Z' },
      { title: 'Running shoes', description: null, completed: false, due_date: null },
      { title: 'Call mom', description: 'about the weekend', completed: false, due_date: '2027-01-05T09:00:00Z' },
    ];
    for (const task of tasks) await api().post('/api/v1/tasks').set(caller.auth).send(task).expect(201);
    const trashed = await api().post('/api/v1/tasks').set(caller.auth).send({ title: 'Buy a boat', description: 'milk money' });
    await api().delete(`/api/v1/tasks/${trashed.body.id}`).set(caller.auth).expect(204);
  });

  it('lists live tasks newest first by default, with the count', async () => {
    const response = await list(caller, '');
    expect(response.status).toBe(200);
    expect(titles(response)).toEqual(['Call mom', 'Running shoes', 'Buy groceries', 'Write report']);
    expect(response.body.count).toBe(4);
  });

  it('filters on completed', async () => {
    expect(titles(await list(caller, '?completed=true'))).toEqual(['Write report']);
    const open = await list(caller, '?completed=false');
    expect(open.body.count).toBe(3);
    expect(titles(open)).not.toContain('Write report');
  });

  it('filters on due_before and due_after, leaving out tasks without a due date', async () => {
    expect(titles(await list(caller, '?due_before=2027-01-15T00:00:00Z&sort=due_date'))).toEqual(['Call mom', 'Write report']);
    expect(titles(await list(caller, '?due_after=2027-01-08T00:00:00%2B00:00&sort=due_date'))).toEqual(['Write report', 'Buy groceries']);
    const both = await list(caller, '?due_after=2027-01-08T00:00:00Z&due_before=2027-01-15T00:00:00Z&completed=true');
    expect(both.body).toEqual({ data: [expect.objectContaining({ title: 'Write report' })], count: 1 });
  });

  it('searches title and description with full-text search, stemming words, and never in the trash', async () => {
    expect(titles(await list(caller, '?q=groceries'))).toEqual(['Buy groceries']);
    expect(titles(await list(caller, '?q=milk'))).toEqual(['Buy groceries']);
    expect(titles(await list(caller, '?q=run'))).toEqual(['Running shoes']);
    expect(titles(await list(caller, '?q=WEEKEND%20mom'))).toEqual(['Call mom']);
    expect((await list(caller, '?q=milk&completed=true')).body).toEqual({ data: [], count: 0 });
  });

  it('takes any text as plain words: operators and punctuation cause no error', async () => {
    for (const q of ['milk & eggs | !(', "'); DROP TABLE tasks; --", ':*', '\\', '"unbalanced', 'the']) {
      const response = await list(caller, `?q=${encodeURIComponent(q)}`);
      expect([q, response.status]).toEqual([q, 200]);
    }
    expect(titles(await list(caller, `?q=${encodeURIComponent('milk & eggs | !(')}`))).toEqual(['Buy groceries']);
    expect((await list(caller, '?q=the')).body).toEqual({ data: [], count: 0 });
  });

  it('treats an empty q as no search', async () => {
    expect((await list(caller, '?q=')).body.count).toBe(4);
  });

  it('sorts by every key, both ways; due dates without a value come last ascending and first descending', async () => {
    expect(titles(await list(caller, '?sort=title'))).toEqual(['Buy groceries', 'Call mom', 'Running shoes', 'Write report']);
    expect(titles(await list(caller, '?sort=-title'))).toEqual(['Write report', 'Running shoes', 'Call mom', 'Buy groceries']);
    expect(titles(await list(caller, '?sort=due_date'))).toEqual(['Call mom', 'Write report', 'Buy groceries', 'Running shoes']);
    expect(titles(await list(caller, '?sort=-due_date'))).toEqual(['Running shoes', 'Buy groceries', 'Write report', 'Call mom']);
    expect(titles(await list(caller, '?sort=created_at'))).toEqual(['Write report', 'Buy groceries', 'Running shoes', 'Call mom']);
    await api()
      .patch(`/api/v1/tasks/${(await list(caller, '?q=groceries')).body.data[0].id}`)
      .set(caller.auth)
      .send({ completed: true })
      .expect(200);
    expect(titles(await list(caller, '?sort=-updated_at'))[0]).toBe('Buy groceries');
    expect(titles(await list(caller, '?sort=updated_at')).at(-1)).toBe('Buy groceries');
  });

  it('answers 422 naming every invalid query parameter', async () => {
    const response = await list(caller, '?skip=-1&limit=101&completed=maybe&due_before=yesterday&due_after=2027-13-01T00:00:00Z&sort=priority');
    expect(response.status).toBe(422);
    const issues = response.body.detail.map((issue: { loc: string[]; type: string }) => [...issue.loc, issue.type]);
    expect(issues).toHaveLength(6);
    expect(issues).toEqual(
      expect.arrayContaining([
        ['query', 'skip', 'greater_than_equal'],
        ['query', 'limit', 'less_than_equal'],
        ['query', 'completed', 'bool_type'],
        ['query', 'due_before', 'datetime_parsing'],
        ['query', 'due_after', 'datetime_parsing'],
        ['query', 'sort', 'enum'],
      ]),
    );
  });

  it('answers 422 for a limit of 0, a fractional or non-numeric skip, a huge skip, and a repeated parameter', async () => {
    const cases: Array<[string, string]> = [
      ['?limit=0', 'limit'],
      ['?limit=ten', 'limit'],
      ['?skip=1.5', 'skip'],
      ['?skip=99999999999999999999', 'skip'],
      ['?limit=1&limit=2', 'limit'],
      [`?q=${'x'.repeat(501)}`, 'q'],
    ];
    for (const [query, field] of cases) {
      const response = await list(caller, query);
      expect([query, response.status, response.body.detail?.[0]?.loc]).toEqual([query, 422, ['query', field]]);
    }
  });

  it('ignores unknown query parameters, as FastAPI does', async () => {
    expect((await list(caller, '?colour=blue&__proto__=x')).body.count).toBe(4);
  });
});

describe('pagination', () => {
  const TOTAL = 250;
  let caller: Caller;
  let all: ListedTask[];

  beforeAll(async () => {
    caller = await signUpAndLogIn(testApp.app);
    // One statement, so every row has the same created_at and updated_at: ties everywhere but in id.
    await testApp.dataSource.query(
      `INSERT INTO tasks (user_id, title, due_date)
       SELECT $1, 'title ' || lpad((i % 10)::text, 2, '0'),
              CASE WHEN i % 3 = 0 THEN NULL ELSE timestamptz '2027-01-01T00:00:00Z' + (i % 7) * interval '1 day' END
         FROM generate_series(1, $2) AS i`,
      [caller.id, TOTAL],
    );
    all = (await list(caller, '?limit=100&skip=0')).body.data;
  });

  function expectedOrder(tasks: ListedTask[], sort: SortKey): string[] {
    const descending = sort.startsWith('-');
    const key = sort.replace('-', '') as keyof ListedTask;
    const compare = (a: string | null, b: string | null) => {
      if (a === b) return 0;
      if (a === null) return descending ? -1 : 1;
      if (b === null) return descending ? 1 : -1;
      return (a < b ? -1 : 1) * (descending ? -1 : 1);
    };
    return [...tasks].sort((a, b) => compare(a[key], b[key]) || compare(a.id, b.id)).map((task) => task.id);
  }

  it('answers the default page of 100 and the count of all', async () => {
    expect(all).toHaveLength(100);
    expect((await list(caller, '')).body.count).toBe(TOTAL);
  });

  it.each([...SORT_KEYS])('walks every page under sort=%s and meets each task exactly once, in order', async (sort) => {
    const seen: ListedTask[] = [];
    for (let skip = 0; skip < TOTAL + 7; skip += 7) {
      const page = await list(caller, `?sort=${encodeURIComponent(sort)}&limit=7&skip=${skip}`);
      expect(page.status).toBe(200);
      expect(page.body.count).toBe(TOTAL);
      seen.push(...page.body.data);
    }
    const ids = seen.map((task) => task.id);
    expect(new Set(ids).size).toBe(TOTAL);
    expect(ids).toEqual(expectedOrder(seen, sort));
  });

  it('answers an empty page past the end, with the count', async () => {
    expect((await list(caller, '?skip=1000')).body).toEqual({ data: [], count: TOTAL });
  });
});
