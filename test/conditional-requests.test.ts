import request from 'supertest';
import { createTestApp, type TestApp } from './support/app';
import { signUpAndLogIn } from './support/users';

let testApp: TestApp;
type Caller = Awaited<ReturnType<typeof signUpAndLogIn>>;
let alice: Caller;

beforeAll(async () => {
  testApp = await createTestApp();
  alice = await signUpAndLogIn(testApp.app);
});

afterAll(() => testApp.close());

const api = () => request(testApp.app);

async function createTask(title: string) {
  const response = await api().post('/api/v1/tasks').set(alice.auth).send({ title });
  expect(response.status).toBe(201);
  return { id: response.body.id as string, etag: response.headers.etag as string };
}

/** A 304 as RFC 9110 has it: no body, nothing describing one, the current ETag. */
function expectNotModified(response: request.Response, etag: string) {
  expect({ status: response.status, text: response.text, etag: response.headers.etag }).toEqual({ status: 304, text: '', etag });
  expect(response.headers['content-type']).toBeUndefined();
  expect(response.headers['content-length']).toBeUndefined();
}

describe('If-None-Match on GET /api/v1/tasks/{id}', () => {
  it('answers 304 with the ETag and no body when a tag matches, weak or strong, alone or in a list, or for *', async () => {
    const { id, etag } = await createTask('cached');
    const get = (ifNoneMatch: string) => api().get(`/api/v1/tasks/${id}`).set(alice.auth).set('If-None-Match', ifNoneMatch);
    for (const header of [etag, `W/${etag}`, `"1", ${etag}`, `W/"1",W/${etag} , "2"`, '*']) expectNotModified(await get(header), etag);
  });

  it('answers 200 with the task for a stale tag, a tag of another task, or a header that names no tag', async () => {
    const { id, etag: stale } = await createTask('changes');
    const other = await createTask('other');
    const changed = await api().patch(`/api/v1/tasks/${id}`).set(alice.auth).send({ completed: true });
    for (const header of [stale, other.etag, `W/${stale}`, 'nonsense', '', `"${changed.headers.etag}"`]) {
      const response = await api().get(`/api/v1/tasks/${id}`).set(alice.auth).set('If-None-Match', header);
      expect({ header, status: response.status, etag: response.headers.etag }).toEqual({ header, status: 200, etag: changed.headers.etag });
      expect(response.body).toMatchObject({ id, completed: true });
    }
  });

  it('answers 404 for * when the task does not exist (or is in the trash)', async () => {
    const { id } = await createTask('trashed');
    await api().delete(`/api/v1/tasks/${id}`).set(alice.auth).expect(204);
    expect((await api().get(`/api/v1/tasks/${id}`).set(alice.auth).set('If-None-Match', '*')).status).toBe(404);
  });

  it('does not apply to writes: a PATCH with a matching If-None-Match still writes', async () => {
    const { id, etag } = await createTask('written');
    const response = await api().patch(`/api/v1/tasks/${id}`).set(alice.auth).set('If-None-Match', etag).send({ title: 'rewritten' });
    expect(response.status).toBe(200);
    expect(response.body.title).toBe('rewritten');
  });
});

describe.each(['/api/v1/tasks', '/api/v1/tasks/trash'])('If-None-Match on GET %s', (path) => {
  it('sends a weak ETag of the page, answers 304 while the page is the same, and 200 with a new ETag once it changes', async () => {
    const { id } = await createTask(`listed on ${path}`);
    if (path.endsWith('trash')) await api().delete(`/api/v1/tasks/${id}`).set(alice.auth).expect(204);
    const first = await api().get(path).set(alice.auth);
    expect(first.status).toBe(200);
    expect(first.headers.etag).toMatch(/^W\/"[A-Za-z0-9_-]{27}"$/);
    const etag = first.headers.etag as string;

    for (const header of [etag, etag.slice(2), `"x", ${etag}`, '*'])
      expectNotModified(await api().get(path).set(alice.auth).set('If-None-Match', header), etag);
    // Another query is another page: its own ETag.
    expect((await api().get(`${path}?limit=1`).set(alice.auth).set('If-None-Match', etag)).status).toBe(200);

    const another = await createTask('a change to the list');
    if (path.endsWith('trash')) await api().delete(`/api/v1/tasks/${another.id}`).set(alice.auth).expect(204);
    const changed = await api().get(path).set(alice.auth).set('If-None-Match', etag);
    expect(changed.status).toBe(200);
    expect(changed.headers.etag).not.toBe(etag);
    expect(changed.body.data.map((task: { id: string }) => task.id)).toContain(another.id);
  });
});
