import request from 'supertest';
import { createTestApp, type TestApp } from './support/app';
import { signUpAndLogIn } from './support/users';

let testApp: TestApp;
type Caller = Awaited<ReturnType<typeof signUpAndLogIn>>;
let alice: Caller;
let bob: Caller;

beforeAll(async () => {
  testApp = await createTestApp();
  alice = await signUpAndLogIn(testApp.app);
  bob = await signUpAndLogIn(testApp.app);
});

afterAll(() => testApp.close());

const ISO_MILLIS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const MISSING_ID = '00000000-0000-4000-8000-000000000000';
const NOT_FOUND = { detail: 'Task not found' };

const api = () => request(testApp.app);

async function createTask(caller: Caller, body: Record<string, unknown> = {}) {
  const response = await api()
    .post('/api/v1/tasks')
    .set(caller.auth)
    .send({ title: 'a task', ...body });
  expect(response.status).toBe(201);
  return response.body as { id: string; title: string; updated_at: string } & Record<string, unknown>;
}

async function row(id: string) {
  const [found] = await testApp.dataSource.query('SELECT * FROM tasks WHERE id = $1', [id]);
  return found;
}

async function taskCount(userId: string): Promise<number> {
  const [{ count }] = await testApp.dataSource.query('SELECT count(*)::int AS count FROM tasks WHERE user_id = $1', [userId]);
  return count;
}

describe('POST /api/v1/tasks', () => {
  it('answers 201 with the TaskPublic, its Location and ETag, and the defaults for fields not sent', async () => {
    const response = await api().post('/api/v1/tasks').set(alice.auth).send({ title: '  Buy milk  ' });
    expect(response.status).toBe(201);
    expect(response.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      user_id: alice.id,
      title: 'Buy milk',
      description: null,
      completed: false,
      due_date: null,
      created_at: expect.stringMatching(ISO_MILLIS),
      updated_at: expect.stringMatching(ISO_MILLIS),
    });
    expect(response.headers.location).toBe(`/api/v1/tasks/${response.body.id}`);
    expect(response.headers.etag).toMatch(/^"\d+"$/);
    expect((await row(response.body.id)).title).toBe('Buy milk');
  });

  it('stores every field, the due date in UTC with milliseconds', async () => {
    const task = await createTask(alice, { title: 'Call', description: 'the plumber', completed: true, due_date: '2026-12-01T09:30:00+02:00' });
    expect(task).toMatchObject({ title: 'Call', description: 'the plumber', completed: true, due_date: '2026-12-01T07:30:00.000Z' });
  });

  it('answers 422 with one entry per failing field, and writes nothing', async () => {
    const before = await taskCount(alice.id);
    const response = await api()
      .post('/api/v1/tasks')
      .set(alice.auth)
      .send({ title: '   ', description: 'd'.repeat(10001), completed: 'yes', due_date: '2026-12-01 09:30' });
    expect(response.status).toBe(422);
    expect(response.body.detail.map((issue: { loc: string[]; type: string }) => [...issue.loc, issue.type])).toEqual([
      ['body', 'title', 'string_too_short'],
      ['body', 'description', 'string_too_long'],
      ['body', 'completed', 'bool_type'],
      ['body', 'due_date', 'datetime_parsing'],
    ]);
    expect(await taskCount(alice.id)).toBe(before);
  });

  it('answers 422 for a missing or too long title, an impossible date, and unknown or read-only fields', async () => {
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{}, 'title', 'missing'],
      [{ title: 't'.repeat(201) }, 'title', 'string_too_long'],
      [{ title: null }, 'title', 'string_type'],
      [{ title: 'x', due_date: '2026-02-30T10:00:00Z' }, 'due_date', 'datetime_parsing'],
      [{ title: 'x', due_date: '2026-02-03' }, 'due_date', 'datetime_parsing'],
      [{ title: 'x', user_id: bob.id }, 'user_id', 'read_only'],
      [{ title: 'x', deleted_at: null }, 'deleted_at', 'read_only'],
      [{ title: 'x', priority: 1 }, 'priority', 'extra_forbidden'],
    ];
    for (const [body, field, type] of cases) {
      const response = await api().post('/api/v1/tasks').set(alice.auth).send(body);
      expect(response.status).toBe(422);
      expect(response.body.detail).toEqual([{ loc: ['body', field], msg: expect.any(String), type }]);
    }
  });

  it('accepts a title of exactly 200 characters and a description of exactly 10,000', async () => {
    await createTask(alice, { title: 't'.repeat(200), description: 'd'.repeat(10000) });
  });

  it('answers 401 without a token', async () => {
    expect((await api().post('/api/v1/tasks').send({ title: 'x' })).status).toBe(401);
  });
});

describe('GET /api/v1/tasks/{id}', () => {
  it('answers 200 with the task and its ETag', async () => {
    const task = await createTask(alice, { title: 'read me' });
    const response = await api().get(`/api/v1/tasks/${task.id}`).set(alice.auth);
    expect(response.status).toBe(200);
    expect(response.body).toEqual(task);
    expect(response.headers.etag).toMatch(/^"\d+"$/);
  });

  it('answers 404 for a missing task and for a soft-deleted one', async () => {
    expect((await api().get(`/api/v1/tasks/${MISSING_ID}`).set(alice.auth)).body).toEqual(NOT_FOUND);
    const task = await createTask(alice);
    await api().delete(`/api/v1/tasks/${task.id}`).set(alice.auth).expect(204);
    const response = await api().get(`/api/v1/tasks/${task.id}`).set(alice.auth);
    expect(response.status).toBe(404);
    expect(response.body).toEqual(NOT_FOUND);
  });

  it('answers 422 naming the path id when it is not a UUID', async () => {
    const response = await api().get('/api/v1/tasks/not-a-uuid').set(alice.auth);
    expect(response.status).toBe(422);
    expect(response.body.detail).toEqual([{ loc: ['path', 'id'], msg: 'id must be a UUID', type: 'uuid_parsing' }]);
  });
});

describe('PATCH /api/v1/tasks/{id}', () => {
  it('changes only the fields sent and moves updated_at and the ETag', async () => {
    const task = await createTask(alice, { title: 'before', description: 'keep me', due_date: '2027-01-01T00:00:00Z' });
    const before = await api().get(`/api/v1/tasks/${task.id}`).set(alice.auth);
    const response = await api().patch(`/api/v1/tasks/${task.id}`).set(alice.auth).send({ completed: true });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ ...task, completed: true, updated_at: expect.stringMatching(ISO_MILLIS) });
    expect(response.body.updated_at >= task.updated_at).toBe(true);
    expect(response.headers.etag).not.toBe(before.headers.etag);
    expect((await row(task.id)).completed).toBe(true);
  });

  it('clears description and due_date with null', async () => {
    const task = await createTask(alice, { description: 'x', due_date: '2027-01-01T00:00:00Z' });
    const response = await api().patch(`/api/v1/tasks/${task.id}`).set(alice.auth).send({ description: null, due_date: null });
    expect(response.body).toMatchObject({ description: null, due_date: null });
  });

  it('answers 422 for a null title or completed, and changes nothing', async () => {
    const task = await createTask(alice, { title: 'stays' });
    const response = await api().patch(`/api/v1/tasks/${task.id}`).set(alice.auth).send({ title: null, completed: null });
    expect(response.status).toBe(422);
    expect(response.body.detail.map((issue: { loc: string[] }) => issue.loc[1])).toEqual(['title', 'completed']);
    expect((await row(task.id)).title).toBe('stays');
  });

  it('with an empty body answers the task unchanged', async () => {
    const task = await createTask(alice);
    const response = await api().patch(`/api/v1/tasks/${task.id}`).set(alice.auth).send({});
    expect(response.status).toBe(200);
    expect(response.body).toEqual(task);
  });

  it('answers 404 for a missing or soft-deleted task', async () => {
    expect((await api().patch(`/api/v1/tasks/${MISSING_ID}`).set(alice.auth).send({ title: 'x' })).status).toBe(404);
    const task = await createTask(alice);
    await api().delete(`/api/v1/tasks/${task.id}`).set(alice.auth).expect(204);
    expect((await api().patch(`/api/v1/tasks/${task.id}`).set(alice.auth).send({ title: 'x' })).status).toBe(404);
  });
});

describe('PUT /api/v1/tasks/{id}', () => {
  it('replaces the task, fields not sent back to their defaults', async () => {
    const task = await createTask(alice, { title: 'old', description: 'old', completed: true, due_date: '2027-01-01T00:00:00Z' });
    const response = await api().put(`/api/v1/tasks/${task.id}`).set(alice.auth).send({ title: 'new' });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ id: task.id, title: 'new', description: null, completed: false, due_date: null, created_at: task.created_at });
    expect(response.headers.etag).toMatch(/^"\d+"$/);
  });

  it('answers 422 without a title and 404 for a missing task', async () => {
    const task = await createTask(alice);
    const invalid = await api().put(`/api/v1/tasks/${task.id}`).set(alice.auth).send({ completed: true });
    expect(invalid.status).toBe(422);
    expect(invalid.body.detail).toEqual([{ loc: ['body', 'title'], msg: 'Field required', type: 'missing' }]);
    expect((await api().put(`/api/v1/tasks/${MISSING_ID}`).set(alice.auth).send({ title: 'x' })).status).toBe(404);
  });
});

describe('optimistic concurrency', () => {
  it('applies a PATCH, PUT or DELETE whose If-Match is current, and answers 412 for a stale one, changing nothing', async () => {
    const task = await createTask(alice, { title: 'v1' });
    const first = await api().get(`/api/v1/tasks/${task.id}`).set(alice.auth);
    const staleTag = first.headers.etag;

    const second = await api().patch(`/api/v1/tasks/${task.id}`).set(alice.auth).set('If-Match', staleTag).send({ title: 'v2' });
    expect(second.status).toBe(200);

    for (const attempt of [
      api().patch(`/api/v1/tasks/${task.id}`).set(alice.auth).set('If-Match', staleTag).send({ title: 'v3' }),
      api().put(`/api/v1/tasks/${task.id}`).set(alice.auth).set('If-Match', staleTag).send({ title: 'v3' }),
      api().delete(`/api/v1/tasks/${task.id}`).set(alice.auth).set('If-Match', staleTag),
      api().delete(`/api/v1/tasks/${task.id}/permanent`).set(alice.auth).set('If-Match', staleTag),
    ]) {
      const response = await attempt;
      expect(response.status).toBe(412);
      expect(response.body).toEqual({ detail: expect.stringContaining('Precondition Failed') });
    }
    const current = await row(task.id);
    expect(current).toMatchObject({ title: 'v2', deleted_at: null });

    const withCurrentTag = await api().put(`/api/v1/tasks/${task.id}`).set(alice.auth).set('If-Match', second.headers.etag).send({ title: 'v3' });
    expect(withCurrentTag.status).toBe(200);
    await api().delete(`/api/v1/tasks/${task.id}`).set(alice.auth).set('If-Match', withCurrentTag.headers.etag).expect(204);
  });

  it('treats If-Match: * as "any version", a list as "any of these", and a weak or foreign tag as never matching', async () => {
    const task = await createTask(alice);
    const { etag } = (await api().get(`/api/v1/tasks/${task.id}`).set(alice.auth)).headers;
    expect((await api().patch(`/api/v1/tasks/${task.id}`).set(alice.auth).set('If-Match', '*').send({ title: 'star' })).status).toBe(200);
    const { etag: current } = (await api().get(`/api/v1/tasks/${task.id}`).set(alice.auth)).headers;
    expect((await api().patch(`/api/v1/tasks/${task.id}`).set(alice.auth).set('If-Match', `${etag}, ${current}`).send({ title: 'list' })).status).toBe(200);
    const { etag: latest } = (await api().get(`/api/v1/tasks/${task.id}`).set(alice.auth)).headers;
    for (const tag of [`W/${latest}`, '"abc"', 'garbage', '"99999999999999999999999"']) {
      expect((await api().patch(`/api/v1/tasks/${task.id}`).set(alice.auth).set('If-Match', tag).send({ title: 'no' })).status).toBe(412);
    }
  });

  it('answers 404, not 412, for a missing task with an If-Match', async () => {
    expect((await api().patch(`/api/v1/tasks/${MISSING_ID}`).set(alice.auth).set('If-Match', '"1"').send({ title: 'x' })).status).toBe(404);
  });

  it('lets exactly one of 50 simultaneous PATCHes with the same If-Match win; the others get 412', async () => {
    const task = await createTask(alice, { title: 'contended' });
    const { etag } = (await api().get(`/api/v1/tasks/${task.id}`).set(alice.auth)).headers;
    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        api()
          .patch(`/api/v1/tasks/${task.id}`)
          .set(alice.auth)
          .set('If-Match', etag)
          .send({ title: `writer ${i}` }),
      ),
    );
    const statuses = responses.map((response) => response.status);
    expect(statuses.filter((status) => status === 200)).toHaveLength(1);
    expect(statuses.filter((status) => status === 412)).toHaveLength(49);
    const winner = responses.find((response) => response.status === 200)!;
    expect((await row(task.id)).title).toBe(winner.body.title);
  });

  it('creates exactly 100 rows for 100 simultaneous creates', async () => {
    const caller = await signUpAndLogIn(testApp.app);
    const responses = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        api()
          .post('/api/v1/tasks')
          .set(caller.auth)
          .send({ title: `parallel ${i}` }),
      ),
    );
    expect(responses.every((response) => response.status === 201)).toBe(true);
    expect(new Set(responses.map((response) => response.body.id)).size).toBe(100);
    expect(await taskCount(caller.id)).toBe(100);
  });
});

describe('DELETE /api/v1/tasks/{id}, the trash and restore', () => {
  it('moves a task to the trash, lists the trash most recently deleted first, and restores a task unchanged', async () => {
    const caller = await signUpAndLogIn(testApp.app);
    const first = await createTask(caller, { title: 'first', description: 'details', due_date: '2027-03-01T12:00:00Z' });
    const second = await createTask(caller, { title: 'second' });
    const kept = await createTask(caller, { title: 'kept' });

    expect((await api().delete(`/api/v1/tasks/${first.id}`).set(caller.auth)).status).toBe(204);
    await testApp.dataSource.query("UPDATE tasks SET deleted_at = deleted_at - interval '1 minute' WHERE id = $1", [first.id]);
    await api().delete(`/api/v1/tasks/${second.id}`).set(caller.auth).expect(204);

    const list = await api().get('/api/v1/tasks').set(caller.auth);
    expect(list.body).toEqual({ data: [kept], count: 1 });
    const trash = await api().get('/api/v1/tasks/trash').set(caller.auth);
    expect(trash.status).toBe(200);
    expect(trash.body.count).toBe(2);
    expect(trash.body.data.map((task: { id: string }) => task.id)).toEqual([second.id, first.id]);
    expect((await api().get('/api/v1/tasks/trash?limit=1&skip=1').set(caller.auth)).body).toEqual({
      data: [expect.objectContaining({ id: first.id })],
      count: 2,
    });

    const restored = await api().post(`/api/v1/tasks/${first.id}/restore`).set(caller.auth);
    expect(restored.status).toBe(200);
    expect(restored.body).toEqual({ ...first, updated_at: expect.stringMatching(ISO_MILLIS) });
    expect(restored.headers.etag).toMatch(/^"\d+"$/);
    expect((await api().get(`/api/v1/tasks/${first.id}`).set(caller.auth)).status).toBe(200);
    expect((await api().get('/api/v1/tasks/trash').set(caller.auth)).body.count).toBe(1);
  });

  it('answers 404 to a second delete, and to restoring a task that is not in the trash', async () => {
    const task = await createTask(alice);
    expect((await api().post(`/api/v1/tasks/${task.id}/restore`).set(alice.auth)).body).toEqual(NOT_FOUND);
    await api().delete(`/api/v1/tasks/${task.id}`).set(alice.auth).expect(204);
    expect((await api().delete(`/api/v1/tasks/${task.id}`).set(alice.auth)).status).toBe(404);
    expect((await api().post(`/api/v1/tasks/${MISSING_ID}/restore`).set(alice.auth)).status).toBe(404);
  });

  it('validates the trash page parameters', async () => {
    const response = await api().get('/api/v1/tasks/trash?limit=0&skip=-1').set(alice.auth);
    expect(response.status).toBe(422);
    expect(response.body.detail.map((issue: { loc: string[] }) => issue.loc)).toEqual([
      ['query', 'skip'],
      ['query', 'limit'],
    ]);
  });
});

describe('DELETE /api/v1/tasks/{id}/permanent', () => {
  it('removes a live task for good', async () => {
    const task = await createTask(alice);
    expect((await api().delete(`/api/v1/tasks/${task.id}/permanent`).set(alice.auth)).status).toBe(204);
    expect(await row(task.id)).toBeUndefined();
    expect((await api().delete(`/api/v1/tasks/${task.id}/permanent`).set(alice.auth)).status).toBe(404);
  });

  it('removes a trashed task for good', async () => {
    const task = await createTask(alice);
    await api().delete(`/api/v1/tasks/${task.id}`).set(alice.auth).expect(204);
    expect((await api().delete(`/api/v1/tasks/${task.id}/permanent`).set(alice.auth)).status).toBe(204);
    expect(await row(task.id)).toBeUndefined();
  });
});

describe("another user's task", () => {
  const routes = (id: string): Array<[string, () => request.Test]> => [
    ['GET', () => api().get(`/api/v1/tasks/${id}`).set(bob.auth)],
    ['PATCH', () => api().patch(`/api/v1/tasks/${id}`).set(bob.auth).send({ title: 'stolen' })],
    ['PATCH with If-Match', () => api().patch(`/api/v1/tasks/${id}`).set(bob.auth).set('If-Match', '"1"').send({ title: 'stolen' })],
    ['PUT', () => api().put(`/api/v1/tasks/${id}`).set(bob.auth).send({ title: 'stolen' })],
    ['DELETE', () => api().delete(`/api/v1/tasks/${id}`).set(bob.auth)],
    ['restore', () => api().post(`/api/v1/tasks/${id}/restore`).set(bob.auth)],
    ['permanent DELETE', () => api().delete(`/api/v1/tasks/${id}/permanent`).set(bob.auth)],
  ];

  it.each(['live', 'trashed'])('is a 404 on every route when %s, and stays unchanged', async (state) => {
    const task = await createTask(alice, { title: 'private', description: 'mine' });
    if (state === 'trashed') await api().delete(`/api/v1/tasks/${task.id}`).set(alice.auth).expect(204);
    const before = await row(task.id);
    for (const [name, send] of routes(task.id)) {
      const response = await send();
      expect([name, response.status, response.body]).toEqual([name, 404, NOT_FOUND]);
    }
    expect(await row(task.id)).toEqual(before);
  });

  it('never appears in a list, a search or the trash', async () => {
    const task = await createTask(alice, { title: 'zanzibar secret' });
    const trashed = await createTask(alice, { title: 'zanzibar trashed' });
    await api().delete(`/api/v1/tasks/${trashed.id}`).set(alice.auth).expect(204);
    const list = await api().get('/api/v1/tasks?q=zanzibar').set(bob.auth);
    expect(list.body).toEqual({ data: [], count: 0 });
    const all = await api().get('/api/v1/tasks?limit=100').set(bob.auth);
    expect(all.body.data.map((t: { id: string }) => t.id)).not.toContain(task.id);
    expect((await api().get('/api/v1/tasks/trash').set(bob.auth)).body.data.map((t: { id: string }) => t.id)).not.toContain(trashed.id);
  });
});
