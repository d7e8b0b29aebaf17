import fc from 'fast-check';
import type { Express } from 'express';
import request from 'supertest';
import type { AnyRoute, BodyFormat } from '../../src/http/route';
import type { Location } from '../../src/http/validation';
import { createTestApp, type TestApp } from '../support/app';
import { dateTimeParts, dateTimeText, expectedAnswer } from '../support/date-times';
import {
  databaseFingerprint,
  inputFields,
  listRoutes,
  nestedArrays,
  readingStreamsBriefly,
  RawJson,
  routeName,
  send,
  validValue,
  type Caller,
  type InputField,
} from '../support/routes';
import { signUpAndLogIn } from '../support/users';

jest.setTimeout(600_000);

const RUNS = Number(process.env.FUZZ_RUNS ?? 200);
/** The declared-field property needs more runs: it must hit one field, one kind of value and one length at once. */
const FIELD_RUNS = 2 * RUNS;

/** Read from the route table and the request classes: a new route or field is fuzzed without being listed here. */
const ROUTES = listRoutes();
const ROUTES_WITH_INPUT = ROUTES.filter((route) => inputFields(route).length > 0);
const FIELD_NAMES = [
  ...new Set(
    ROUTES.flatMap(inputFields)
      .filter((field) => field.location === 'body')
      .map((field) => field.name),
  ),
];
const QUERY_NAMES = [
  ...new Set(
    ROUTES.flatMap(inputFields)
      .filter((field) => field.location === 'query')
      .map((field) => field.name),
  ),
];

let testApp: TestApp;

beforeAll(async () => {
  testApp = await createTestApp({ LOGIN_RATE_LIMIT: '0', LOGIN_RATE_LIMIT_PER_IP: '0' });
});

afterAll(() => testApp.close());

/** A user with a live task and a trashed one, for one route's runs. */
async function scenario(): Promise<Caller & { trashedTaskId: string; authorization: string }> {
  const owner = await signUpAndLogIn(testApp.app);
  const ownTask = await request(testApp.app).post('/api/v1/tasks').set(owner.auth).send({ title: 'fuzz target' });
  const trashed = await request(testApp.app).post('/api/v1/tasks').set(owner.auth).send({ title: 'fuzz trash' });
  await request(testApp.app).delete(`/api/v1/tasks/${trashed.body.id}`).set(owner.auth).expect(204);
  return { auth: owner.auth, taskId: ownTask.body.id, trashedTaskId: trashed.body.id, authorization: owner.auth.Authorization };
}

const READ_ONLY_KEYS = ['id', 'user_id', 'created_at', 'updated_at', 'deleted_at', 'hashed_password'];
const PROTO_KEYS = ['__proto__', 'constructor', 'prototype'];
const printable = (maxLength: number) => fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)), maxLength });

/**
 * Characters that broke, or could break, something between the client and PostgreSQL: U+0000, lone
 * surrogates, C0 and C1 controls, format characters (zero-width, bidirectional, BOM, variation
 * selectors, soft hyphen), a combining mark, astral and noncharacters, Unicode whitespace.
 */
const HOSTILE_UNITS = [
  '\u0000',
  '\ud800',
  '\udbff',
  '\udc00',
  '\udfff',
  '\u0001',
  '\u0008',
  '\u001b',
  '\u001f',
  '\u007f',
  '\u0085',
  '\u009f',
  '\u00ad',
  '\u200b',
  '\u200d',
  '\u200e',
  '\u202e',
  '\u2066',
  '\u2060',
  '\ufeff',
  '\ufe0e',
  '\ufe0f',
  '\u0301',
  '\u{1F600}',
  '\u{10FFFF}',
  '\ufffd',
  '\uffff',
  '\u00a0',
  '\u2028',
  '\u3000',
  ' ',
  '\t',
  '\n',
  'x',
  '%',
  '"',
  '\\',
];
const hostileUnit = fc.constantFrom(...HOSTILE_UNITS);

const nasty = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: hostileUnit, maxLength: 40 }),
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    '../../etc/passwd',
    "'; DROP TABLE tasks; --",
    '%00',
    '%',
    '\uD800',
    '\uFEFF',
    'null',
    'true',
    '-1',
    '1e309',
    'NaN',
    '9'.repeat(40),
  ),
);

/** The lengths worth trying for a field: at each of its limits (MinLength, MaxLength, a pattern's `{m,n}`) and one past it. */
function lengthsAtLimits(field: InputField): number[] {
  const first = (name: string) => field.constraints.get(name)?.[0];
  const pattern = first('matches');
  const quantifier = pattern instanceof RegExp ? /\{(\d+),(\d+)\}\$$/.exec(pattern.source) : null;
  const minimums = [first('minLength'), quantifier?.[1]].filter((limit) => limit !== undefined).map(Number);
  const maximums = [first('maxLength'), quantifier?.[2]].filter((limit) => limit !== undefined).map(Number);
  const lengths = [...minimums.flatMap((limit) => [limit - 1, limit]), ...maximums.flatMap((limit) => [limit, limit + 1])];
  // Without limits, long enough to matter and short enough that two such values keep a URL under
  // Node's 16 KiB header limit (a longer one is answered by Node itself, a test of its own).
  return [...new Set(lengths.length ? lengths : [0, 200])].filter((length) => length >= 0);
}

/** One value for one declared field, and what the service must do with it. */
interface Sent {
  value: unknown;
  kind: 'valid' | 'text' | 'date' | 'nested' | 'other';
  /** For a date-time field: what the response must say, or undefined when the request must be refused. */
  expectedDate?: string;
}

/**
 * Units a value of a given length is made of: each counts as one or two characters for PostgreSQL,
 * and validator.js counts `x` + U+FE0F, and a surrogate pair, as one.
 */
const LENGTH_UNITS = ['x', '\u{1F600}', 'x\ufe0f'];

/** What broke the service before, so each is tried often: U+0000 and lone surrogates of both halves. */
const CRITICAL_UNITS = ['\u0000', '\ud800', '\udfff'];

/** A hostile value for one declared field, weighted towards what that field can break: its text, its limits, or its date-times. */
function hostileValue(field: InputField): fc.Arbitrary<Sent> {
  const atLimit = fc.tuple(fc.constantFrom(...lengthsAtLimits(field)), fc.constantFrom(...LENGTH_UNITS), fc.boolean()).map(([length, unit, padded]) => {
    const text = unit.repeat(length);
    // Padded with whitespace, which a trimmed field drops before counting.
    return padded ? ` ${text}\t` : text;
  });
  const withCritical = fc
    .tuple(printable(12), fc.constantFrom(...CRITICAL_UNITS), fc.nat())
    .map(([text, unit, at]) => `${text.slice(0, at % (text.length + 1))}${unit}${text.slice(at % (text.length + 1))}`);
  const text = fc.oneof(
    { weight: 3, arbitrary: withCritical },
    { weight: 2, arbitrary: fc.string({ unit: hostileUnit, maxLength: 30 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
    { weight: 6, arbitrary: atLimit },
  );
  const isDateField = field.constraints.has('isDateTimeWithOffset');
  return fc.oneof(
    { weight: isDateField ? 2 : 6, arbitrary: text.map((value): Sent => ({ value, kind: 'text' })) },
    {
      weight: isDateField ? 6 : 1,
      arbitrary: dateTimeParts.map((parts): Sent => ({ value: dateTimeText(parts), kind: 'date', expectedDate: expectedAnswer(parts) })),
    },
    // 10,000 levels only in a body: in a URL they would pass Node's 16 KiB header limit, a test of its own.
    {
      weight: 1,
      arbitrary: fc
        .oneof(fc.integer({ min: 1, max: 100 }), fc.constant(field.location === 'body' ? 10_000 : 100))
        .map((depth): Sent => ({ value: nestedArrays(depth), kind: 'nested' })),
    },
    { weight: 1, arbitrary: fc.constantFrom<unknown>(null, true, 0, -1, 1.5, 2 ** 63, {}, [], ['a', 'b']).map((value): Sent => ({ value, kind: 'other' })) },
  );
}

/** Whether the contract says this value must be refused in this field (whatever else is wrong with the request). */
function mustRefuse(field: InputField, sent: Sent, format: BodyFormat | undefined): boolean {
  // Only a JSON body carries a value as sent: paths, query strings and forms arrive as UTF-8 text
  // (a lone surrogate becomes U+FFFD on the way), and the form and query parsers nest nothing.
  const json = field.location === 'body' && format !== 'form';
  const text = typeof sent.value === 'string' ? sent.value : undefined;
  if (text?.includes('\u0000')) return true;
  if (json && text !== undefined && /\p{Cs}/u.test(text)) return true;
  if (json && sent.kind === 'nested') return true;
  return field.constraints.has('isDateTimeWithOffset') && sent.kind === 'date' && sent.expectedDate === undefined;
}

/** On a form or in a URL every value is text. */
const asFormValue = (value: unknown) => (value instanceof RawJson ? value.text : typeof value === 'string' ? value : JSON.stringify(value));

/**
 * A request valid in every field but one or two, which get hostile values: so a value the validation
 * lets through reaches the service and the database, where it could break something. Optional
 * fields are otherwise sent valid or left out.
 */
function declaredFieldsArbitrary(route: AnyRoute, fields: InputField[], caller: Caller) {
  const format = route.body ? fc.constantFrom<BodyFormat>(...(route.bodyFormats ?? ['json'])) : fc.constant(undefined);
  // Uniform over the fields (fc.nat would favour the first ones): one, sometimes two of them.
  const index = fc.constantFrom(...fields.keys());
  const hostile = fc.tuple(index, fc.option(index, { nil: undefined, freq: 2 })).map(([one, two]) => [one, ...(two === undefined ? [] : [two])]);
  // A path always has its segment: an empty one would name another route.
  const values = fc.tuple(
    ...fields.map((field) => (field.location === 'path' ? hostileValue(field).filter((sent) => sent.value !== '') : hostileValue(field))),
  );
  const present = fc.tuple(...fields.map((field) => (field.optional ? fc.boolean() : fc.constant(true))));
  return fc.record({ format, hostile, values, present }).map(({ format: bodyFormat, hostile: chosen, values: hostileValues, present: sentOptional }) => ({
    format: bodyFormat,
    sent: fields.map((field, index): Sent | undefined => {
      if (chosen.includes(index)) return hostileValues[index];
      return sentOptional[index] ? { value: validValue(field, caller), kind: 'valid' } : undefined;
    }),
  }));
}

function isContractError(status: number, body: unknown): boolean {
  if (typeof body !== 'object' || body === null) return false;
  const { detail } = body as { detail: unknown };
  if (status !== 422) return typeof detail === 'string' && detail.length > 0;
  return (
    Array.isArray(detail) &&
    detail.length > 0 &&
    detail.every(
      (issue) =>
        Array.isArray(issue.loc) &&
        ['body', 'query', 'path', 'header'].includes(issue.loc[0]) &&
        typeof issue.msg === 'string' &&
        typeof issue.type === 'string',
    )
  );
}

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
}

function servedRoutes(app: Express): string[] {
  const stack = (app as unknown as { router: { stack: Layer[] } }).router.stack;
  return stack
    .filter((layer) => layer.route)
    .flatMap((layer) => Object.keys(layer.route!.methods).map((method) => `${method.toUpperCase()} ${layer.route!.path}`));
}

describe('hostile input on every route', () => {
  it('fuzzes every route of the table, and the table is every route Express serves', () => {
    expect(ROUTES.map(routeName).sort()).toEqual(servedRoutes(testApp.app).sort());
    expect(ROUTES_WITH_INPUT.length).toBeGreaterThan(0);
  });

  function requestArbitrary({ taskId, trashedTaskId, authorization }: Awaited<ReturnType<typeof scenario>>) {
    const fields = [...FIELD_NAMES, ...READ_ONLY_KEYS, ...PROTO_KEYS];
    const queryKeys = [...QUERY_NAMES, ...PROTO_KEYS];
    // Path segments as a client would put them on the wire: percent-encoded, and sometimes broken escapes.
    const id = fc.oneof(
      fc.constantFrom(taskId, trashedTaskId, '00000000-0000-4000-8000-000000000000'),
      fc.uuid(),
      nasty.map((text) => encodeURIComponent(text.replace(/[\uD800-\uDFFF]/g, '\uFFFD'))),
      fc.constantFrom('%', '%E0%A4%A', '%C0%AF', '%2e%2e%2f', '%FF%FE', 'a%00b', '%ED%A0%80'),
    );
    const query = fc.dictionary(fc.oneof(fc.constantFrom(...queryKeys), printable(10)), fc.oneof(nasty, fc.array(printable(10), { maxLength: 3 })), {
      maxKeys: 5,
    });
    const jsonValue = fc.jsonValue({ maxDepth: 4 });
    const objectBody = fc
      .dictionary(fc.oneof(fc.constantFrom(...fields), fc.string({ maxLength: 10 })), jsonValue, { maxKeys: 6 })
      .map((body) => JSON.stringify(body));
    const protoBody = fc
      .tuple(fc.constantFrom(...PROTO_KEYS), jsonValue)
      .map(([key, value]) => `{"title": "x", "${key}": ${JSON.stringify(value ?? null)}, "polluted": {"__proto__": {"isAdmin": true}}}`);
    const body = fc.oneof(
      objectBody,
      protoBody,
      jsonValue.map((value) => JSON.stringify(value)),
      fc.integer({ min: 50, max: 2000 }).map((depth) => '['.repeat(depth) + ']'.repeat(depth)),
      nasty,
      fc.constant(`{"title": "${'x'.repeat(120 * 1024)}"}`),
      fc.constant(undefined),
    );
    const contentType = fc.constantFrom(
      'application/json',
      'application/json; charset=utf-8',
      'application/x-www-form-urlencoded',
      'text/plain',
      'application/json; charset=latin1',
      undefined,
    );
    const auth = fc.oneof(
      fc.constant(authorization),
      fc.constant(undefined),
      printable(80),
      printable(60).map((token) => `Bearer ${token}`),
    );
    const ifMatch = fc.option(printable(30), { nil: undefined });
    return fc.record({ id, query, body, contentType, auth, ifMatch, requestId: fc.option(printable(200), { nil: undefined }) });
  }

  it.each(ROUTES.map(routeName))(`%s: ${RUNS} random requests, never a 500, always the contract's error shape, nothing written when rejected`, async (name) => {
    const route = ROUTES.find((candidate) => routeName(candidate) === name)!;
    const caller = await scenario();

    await fc.assert(
      fc.asyncProperty(requestArbitrary(caller), async (input) => {
        const path = route.path.replace(':id', input.id);
        const search = new URLSearchParams();
        for (const [key, value] of Object.entries(input.query)) for (const item of [value].flat()) search.append(key, item);
        const before = await databaseFingerprint(testApp.dataSource);
        let pending = readingStreamsBriefly(route, request(testApp.app)[route.method](`${path}${search.size ? `?${search}` : ''}`));
        if (input.auth !== undefined) pending = pending.set('Authorization', input.auth);
        if (input.ifMatch !== undefined) pending = pending.set('If-Match', input.ifMatch);
        if (input.requestId !== undefined) pending = pending.set('X-Request-Id', input.requestId);
        if (input.contentType !== undefined) pending = pending.set('Content-Type', input.contentType);
        const response = input.body === undefined ? await pending : await pending.send(input.body);

        expect(response.status).toBeLessThan(500);
        if (response.status >= 400) {
          expect(isContractError(response.status, response.body) ? 'shaped' : { status: response.status, body: response.body }).toBe('shaped');
          expect(await databaseFingerprint(testApp.dataSource)).toBe(before);
        }
        expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
        expect(Object.prototype).not.toHaveProperty('polluted');
      }),
      { numRuns: RUNS },
    );
  });

  it.each(ROUTES_WITH_INPUT.map(routeName))(
    `%s: ${FIELD_RUNS} requests with hostile text, extreme date-times and nesting in its declared fields: never a 500, each such value refused with a 422 naming its field, nothing written, and every date answered can be sent back`,
    async (name) => {
      const route = ROUTES.find((candidate) => routeName(candidate) === name)!;
      const caller = await scenario();
      const replace = ROUTES.find((candidate) => candidate.method === 'put' && candidate.path === '/api/v1/tasks/:id')!;
      const fields = inputFields(route);

      await fc.assert(
        // Counterexamples list one value per field, in this order.
        fc.asyncProperty(declaredFieldsArbitrary(route, fields, caller), async ({ format, sent }) => {
          const input: Record<Location, Record<string, unknown>> = { path: {}, query: {}, body: {} };
          fields.forEach((field, index) => {
            const value = sent[index]?.value;
            if (value === undefined) return;
            input[field.location][field.name] = field.location === 'body' && format !== 'form' ? value : asFormValue(value);
          });
          const before = await databaseFingerprint(testApp.dataSource);
          const response = await send(
            testApp.app,
            route,
            { params: input.path, query: input.query, body: route.body ? input.body : undefined },
            { auth: route.auth ? caller.auth : undefined, format },
          );
          const seen = { status: response.status, body: response.body };

          expect(seen.status).toBeLessThan(500);
          if (seen.status >= 400) {
            expect(isContractError(seen.status, seen.body) ? 'shaped' : seen).toBe('shaped');
            expect(await databaseFingerprint(testApp.dataSource)).toBe(before);
          }
          const refusedFields = fields.filter((field, index) => sent[index] !== undefined && mustRefuse(field, sent[index]!, format));
          // 413 (a body over 100 KiB) is the one answer that comes before validation.
          if (refusedFields.length && seen.status !== 413) {
            const locs = refusedFields.map((field) => [field.location, field.name]);
            expect({ ...seen, mustRefuse: locs }).toMatchObject({
              status: 422,
              body: { detail: expect.arrayContaining(locs.map((loc) => expect.objectContaining({ loc }))) },
            });
          }
          if (seen.status >= 300) return;
          for (const [index, field] of fields.entries()) {
            const date = sent[index];
            if (field.location !== 'body' || date?.kind !== 'date' || !field.constraints.has('isDateTimeWithOffset') || typeof seen.body?.id !== 'string')
              continue;
            expect({ sent: date.value, answered: seen.body[field.name] }).toEqual({ sent: date.value, answered: date.expectedDate });
            const back = await send(
              testApp.app,
              replace,
              { params: { id: seen.body.id }, query: {}, body: { title: seen.body.title, [field.name]: seen.body[field.name] } },
              { auth: caller.auth },
            );
            expect({ status: back.status, answered: back.body[field.name] }).toEqual({ status: 200, answered: date.expectedDate });
          }
        }),
        { numRuns: FIELD_RUNS },
      );
    },
  );
});
