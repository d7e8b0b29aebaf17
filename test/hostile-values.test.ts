import fc from 'fast-check';
import type { BodyFormat } from '../src/http/route';
import { createTestApp, type TestApp } from './support/app';
import { dateTimeParts, dateTimeText, expectedAnswer } from './support/date-times';
import {
  databaseFingerprint,
  describeField,
  inputFields,
  listRoutes,
  nestedArrays,
  nestedObjects,
  send,
  validInput,
  type Caller,
  type InputField,
} from './support/routes';
import { signUpAndLogIn } from './support/users';

/**
 * Values that once answered 500 (or were silently changed), sent in every declared field of every
 * route, one field at a time in an otherwise valid request. Routes and fields come from the route
 * table and the classes' metadata, so a new one is covered without being listed here.
 */
const ROUTES = listRoutes();
const FIELDS = ROUTES.flatMap(inputFields);

/** Every field, with each body format its route accepts. */
const CASES = FIELDS.flatMap((field) => (field.location === 'body' ? (field.route.bodyFormats ?? ['json']) : [undefined]).map((format) => ({ field, format })));
const named = <T extends { field: InputField; format?: BodyFormat }>(cases: T[]) =>
  cases.map((testCase) => [`${describeField(testCase.field)}${testCase.format ? ` (${testCase.format})` : ''}`, testCase] as const);

let testApp: TestApp;
let caller: Caller;

beforeAll(async () => {
  testApp = await createTestApp({ LOGIN_RATE_LIMIT: '0', LOGIN_RATE_LIMIT_PER_IP: '0' });
  const user = await signUpAndLogIn(testApp.app);
  const task = await send(
    testApp.app,
    ROUTES.find((route) => route.method === 'post' && route.path === '/api/v1/tasks')!,
    { params: {}, query: {}, body: { title: 'target' } },
    { auth: user.auth },
  );
  caller = { auth: user.auth, taskId: task.body.id };
});

afterAll(() => testApp.close());

function sendWith(field: InputField, value: unknown, format?: BodyFormat) {
  const input = validInput(field.route, caller, { [field.location]: { [field.name]: value } });
  return send(testApp.app, field.route, input, { auth: field.route.auth ? caller.auth : undefined, format });
}

/** The one entry a 422 must have for this field, and the database as it was. */
async function expectRefused(field: InputField, value: unknown, format: BodyFormat | undefined, expected: { msg?: RegExp; type?: string } = {}) {
  const before = await databaseFingerprint(testApp.dataSource);
  const response = await sendWith(field, value, format);
  expect({ status: response.status, body: response.body }).toEqual({
    status: 422,
    body: {
      detail: [
        {
          loc: [field.location, field.name],
          msg: expected.msg ? expect.stringMatching(expected.msg) : expect.any(String),
          type: expected.type ?? expect.any(String),
        },
      ],
    },
  });
  expect(await databaseFingerprint(testApp.dataSource)).toBe(before);
}

describe('U+0000 in any field', () => {
  it(`covers every field of every route (${CASES.length} cases)`, () => {
    expect(CASES.map(({ field }) => describeField(field))).toEqual(
      expect.arrayContaining([
        'POST /api/v1/tasks body.title',
        'GET /api/v1/tasks query.q',
        'POST /api/v1/login/access-token body.password',
        'PATCH /api/v1/users/me body.email',
      ]),
    );
  });

  it.each(named(CASES))('%s: 422 "must not contain U+0000", nothing written', async (_name, { field, format }) => {
    for (const value of ['\u0000', 'a\u0000b', `${'x'.repeat(8)}\u0000`])
      await expectRefused(field, value, format, { msg: /must not contain U\+0000/, type: 'string_pattern_mismatch' });
  });
});

describe('a lone UTF-16 surrogate in any JSON field', () => {
  // Only JSON can carry one (`"\ud800"`): paths, query strings and forms are UTF-8 once decoded,
  // and their decoders turn such bytes into U+FFFD.
  const jsonCases = CASES.filter(({ field, format }) => field.location === 'body' && format !== 'form');

  it.each(named(jsonCases))('%s: 422 "must be valid Unicode", nothing written', async (_name, { field, format }) => {
    for (const value of ['\ud800', 'a\udc00b', '\ude00\ud83d', `${'x'.repeat(8)}\udbff@example.com`]) {
      await expectRefused(field, value, format, { msg: /valid Unicode/, type: 'string_unicode' });
    }
  });
});

describe('nesting inside a declared field', () => {
  const jsonCases = CASES.filter(({ field, format }) => field.location === 'body' && format !== 'form');

  it.each(named(jsonCases))('%s: 10,000 levels of arrays or objects get the type error, nothing written', async (_name, { field, format }) => {
    for (const value of [nestedArrays(10_000), nestedObjects(10_000), nestedArrays(1)]) await expectRefused(field, value, format);
  });

  const queryFields = FIELDS.filter((field) => field.location === 'query');
  it.each(queryFields.map((field) => [describeField(field), field] as const))('%s: a repeated parameter gets the type error', async (_name, field) => {
    const input = validInput(field.route, caller);
    const path = `${field.route.path}?${field.name}=1&${field.name}=2`;
    const response = await send(testApp.app, { ...field.route, path }, { ...input, query: {} }, { auth: caller.auth });
    expect(response.status).toBe(422);
    expect(response.body.detail).toEqual([{ loc: ['query', field.name], msg: expect.any(String), type: expect.any(String) }]);
  });
});

/**
 * Date-times at the edges of what a field holds: instants whose UTC year is 1–9999, whatever offset
 * (±00:00 to ±23:59) names them. `expected` is the instant as the response writes it.
 */
const DATE_TIMES: Array<{ input: string; expected?: string }> = [
  { input: '0001-01-01T00:00:00Z', expected: '0001-01-01T00:00:00.000Z' },
  { input: '0000-12-31T23:00:00-01:00', expected: '0001-01-01T00:00:00.000Z' },
  { input: '0001-01-01T00:00:00-23:59', expected: '0001-01-01T23:59:00.000Z' },
  { input: '9999-12-31T23:59:59.999999Z', expected: '9999-12-31T23:59:59.999Z' },
  { input: '9999-12-31T00:00:00+23:59', expected: '9999-12-30T00:01:00.000Z' },
  { input: '2024-01-01T00:00:00+2359', expected: '2023-12-31T00:01:00.000Z' },
  { input: '2024-01-01T00:00:00-2359', expected: '2024-01-01T23:59:00.000Z' },
  { input: '2024-02-29T12:00:00.5-08:00', expected: '2024-02-29T20:00:00.500Z' },
  { input: '2024-06-30T23:59+16:00', expected: '2024-06-30T07:59:00.000Z' },
  { input: '0000-01-01T00:00:00Z' },
  { input: '0001-01-01T00:00:00+01:00' },
  { input: '0001-01-01T00:00:00.000001+00:01' },
  { input: '9999-12-31T23:59:59.999999-00:01' },
  { input: '9999-12-31T23:00:00-23:59' },
  { input: '2023-02-29T00:00:00Z' },
  { input: '2024-01-01T00:00:00+24:00' },
];

describe('extreme date-times in every date-time field', () => {
  const dateCases = CASES.filter(({ field }) => field.constraints.has('isDateTimeWithOffset'));

  it('covers due_date on POST, PATCH and PUT and due_before and due_after', () => {
    expect(dateCases.map(({ field }) => describeField(field)).sort()).toEqual([
      'GET /api/v1/tasks query.due_after',
      'GET /api/v1/tasks query.due_before',
      'PATCH /api/v1/tasks/:id body.due_date',
      'POST /api/v1/tasks body.due_date',
      'PUT /api/v1/tasks/:id body.due_date',
    ]);
  });

  it.each(named(dateCases))('%s: accepts exactly the instants of years 1–9999 in UTC, whatever the offset', async (_name, { field, format }) => {
    for (const { input, expected } of DATE_TIMES) {
      if (!expected) {
        await expectRefused(field, input, format, { type: 'datetime_parsing' });
        continue;
      }
      const response = await sendWith(field, input, format);
      expect([input, response.status]).toEqual([input, field.location === 'body' && field.route.method === 'post' ? 201 : 200]);
      if (field.location === 'body') expect([input, response.body[field.name]]).toEqual([input, expected]);
    }
  });

  it('stores microseconds as sent, whatever the offset', async () => {
    const post = ROUTES.find((route) => route.method === 'post' && route.path === '/api/v1/tasks')!;
    const created = await send(
      testApp.app,
      post,
      { params: {}, query: {}, body: { title: 'micro', due_date: '2024-01-01T00:00:00.123456+23:59' } },
      { auth: caller.auth },
    );
    const [{ due }] = await testApp.dataSource.query(
      "SELECT to_char(due_date AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') AS due FROM tasks WHERE id = $1",
      [created.body.id],
    );
    expect(due).toBe('2023-12-31T00:01:00.123456');
  });
});

describe('a due date round trip', () => {
  it('accepts a date-time exactly when its instant is in years 1–9999 UTC, answers it in UTC, and a PUT of the answer keeps the same instant', async () => {
    const [post, put] = ['post', 'put'].map((method) => ROUTES.find((route) => route.method === method && route.path.startsWith('/api/v1/tasks'))!);
    await fc.assert(
      fc.asyncProperty(dateTimeParts, async (parts) => {
        const text = dateTimeText(parts);
        const expected = expectedAnswer(parts);
        const before = await databaseFingerprint(testApp.dataSource);
        const created = await send(testApp.app, post, { params: {}, query: {}, body: { title: 'dated', due_date: text } }, { auth: caller.auth });
        if (expected === undefined) {
          expect([text, created.status, created.body.detail?.[0]?.type]).toEqual([text, 422, 'datetime_parsing']);
          expect(await databaseFingerprint(testApp.dataSource)).toBe(before);
          return;
        }
        expect([text, created.status, created.body.due_date]).toEqual([text, 201, expected]);
        const replaced = await send(
          testApp.app,
          put,
          { params: { id: created.body.id }, query: {}, body: { title: 'dated', due_date: created.body.due_date } },
          { auth: caller.auth },
        );
        expect([text, replaced.status, replaced.body.due_date]).toEqual([text, 200, expected]);
      }),
      { numRuns: 150 },
    );
  });
});

describe('skip', () => {
  const skipFields = FIELDS.filter((field) => field.location === 'query' && field.name === 'skip');

  it('is on the task list, the trash and the security events', () => {
    expect(skipFields.map(describeField)).toEqual([
      'GET /api/v1/users/me/events query.skip',
      'GET /api/v1/tasks query.skip',
      'GET /api/v1/tasks/trash query.skip',
    ]);
  });

  it.each(skipFields.map((field) => [describeField(field), field] as const))(
    '%s: any offset up to 2^63 - 1 is a page (empty past the end, with the full count); beyond, or not a whole number, 422',
    async (_name, field) => {
      const { count } = (await send(testApp.app, field.route, validInput(field.route, caller), { auth: caller.auth })).body;
      for (const skip of ['2147483647', '2147483648', '9007199254740993', '9223372036854775807']) {
        const response = await sendWith(field, skip);
        expect([skip, response.status, response.body]).toEqual([skip, 200, { data: [], count }]);
      }
      const refused: Array<[string, string]> = [
        ['9223372036854775808', 'less_than_equal'],
        ['99999999999999999999999999', 'less_than_equal'],
        ['-1', 'greater_than_equal'],
        ['1.5', 'int_parsing'],
        ['1e3', 'int_parsing'],
        ['', 'int_parsing'],
        [' 1', 'int_parsing'],
      ];
      for (const [skip, type] of refused) await expectRefused(field, skip, undefined, { type });
    },
  );
});
