import request from 'supertest';
import { createTestApp, type TestApp } from './support/app';
import { signUpAndLogIn } from './support/users';

let testApp: TestApp;
let caller: Awaited<ReturnType<typeof signUpAndLogIn>>;

beforeAll(async () => {
  testApp = await createTestApp();
  caller = await signUpAndLogIn(testApp.app);
});

afterAll(() => testApp.close());

const INITIAL = { title: 'Initial title', description: 'initial description', completed: false, due_date: '2027-01-01T00:00:00.000Z' };

/** A new value for each field, null where the field allows it, so that every combination moves every field it sends. */
const CHANGES = [
  { title: 'Changed title', description: null, completed: true, due_date: null },
  { title: 'Other title', description: 'changed description', completed: true, due_date: '2028-02-29T12:00:00.000Z' },
];

const FIELDS = ['title', 'description', 'completed', 'due_date'] as const;

/** Every non-empty set of fields a PATCH can send. */
const COMBINATIONS = Array.from({ length: 15 }, (_, index) => FIELDS.filter((_field, bit) => (index + 1) & (1 << bit)));

async function createTask() {
  const response = await request(testApp.app).post('/api/v1/tasks').set(caller.auth).send(INITIAL);
  expect(response.status).toBe(201);
  return { id: response.body.id as string, etag: response.headers.etag as string };
}

async function storedFields(id: string) {
  const [row] = await testApp.dataSource.query('SELECT title, description, completed, due_date FROM tasks WHERE id = $1', [id]);
  return { ...row, due_date: row.due_date?.toISOString() ?? null };
}

describe('PATCH /api/v1/tasks/:id with every combination of fields', () => {
  const cases = COMBINATIONS.flatMap((fields) => CHANGES.map((values, variant) => ({ fields, values, variant })));

  it.each(cases.map((entry) => [entry.fields.join(' + '), entry.variant, entry] as const))(
    'changes exactly %s (values %d), with and without If-Match, and refuses a stale one without writing',
    async (_name, _variant, { fields, values }) => {
      const body = Object.fromEntries(fields.map((field) => [field, values[field]]));
      const expected = { ...INITIAL, ...body };

      const plain = await createTask();
      const patched = await request(testApp.app).patch(`/api/v1/tasks/${plain.id}`).set(caller.auth).send(body);
      expect(patched.status).toBe(200);
      expect(patched.body).toEqual(expect.objectContaining(expected));
      expect(patched.headers.etag).not.toBe(plain.etag);
      expect(await storedFields(plain.id)).toEqual(expected);

      const conditional = await createTask();
      const stale = await request(testApp.app).patch(`/api/v1/tasks/${conditional.id}`).set(caller.auth).set('If-Match', '"1"').send(body);
      expect(stale.status).toBe(412);
      expect(await storedFields(conditional.id)).toEqual(INITIAL);
      const matching = await request(testApp.app).patch(`/api/v1/tasks/${conditional.id}`).set(caller.auth).set('If-Match', conditional.etag).send(body);
      expect(matching.status).toBe(200);
      expect(await storedFields(conditional.id)).toEqual(expected);
    },
  );
});
