import type { BodyFormat } from '../src/http/route';
import { createTestApp, type TestApp } from './support/app';
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
const CASES = FIELDS.flatMap((field) =>
  (field.location === 'body' ? (field.route.bodyFormats ?? ['json']) : [undefined]).map((format) => ({ field, format })),
);
const named = <T extends { field: InputField; format?: BodyFormat }>(cases: T[]) =>
  cases.map((testCase) => [`${describeField(testCase.field)}${testCase.format ? ` (${testCase.format})` : ''}`, testCase] as const);

let testApp: TestApp;
let caller: Caller;

beforeAll(async () => {
  testApp = await createTestApp({ LOGIN_RATE_LIMIT: '0', LOGIN_RATE_LIMIT_PER_IP: '0' });
  const user = await signUpAndLogIn(testApp.app);
  const task = await send(testApp.app, ROUTES.find((route) => route.method === 'post' && route.path === '/api/v1/tasks')!, { params: {}, query: {}, body: { title: 'target' } }, { auth: user.auth });
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
    body: { detail: [{ loc: [field.location, field.name], msg: expected.msg ? expect.stringMatching(expected.msg) : expect.any(String), type: expected.type ?? expect.any(String) }] },
  });
  expect(await databaseFingerprint(testApp.dataSource)).toBe(before);
}

describe('U+0000 in any field', () => {
  it(`covers every field of every route (${CASES.length} cases)`, () => {
    expect(CASES.map(({ field }) => describeField(field))).toEqual(
      expect.arrayContaining(['POST /api/v1/tasks body.title', 'GET /api/v1/tasks query.q', 'POST /api/v1/login/access-token body.password', 'PATCH /api/v1/users/me body.email']),
    );
  });

  it.each(named(CASES))('%s: 422 "must not contain U+0000", nothing written', async (_name, { field, format }) => {
    for (const value of ['\u0000', 'a\u0000b', `${'x'.repeat(8)}\u0000`]) await expectRefused(field, value, format, { msg: /must not contain U\+0000/, type: 'string_pattern_mismatch' });
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
