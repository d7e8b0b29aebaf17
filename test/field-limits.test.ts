import crypto from 'node:crypto';
import type { BodyFormat } from '../src/http/route';
import { createTestApp, type TestApp } from './support/app';
import { databaseFingerprint, describeField, inputFields, isTrimmed, listRoutes, send, validInput, type Caller, type InputField } from './support/routes';
import { signUpAndLogIn } from './support/users';

/**
 * Every length and range limit of every field of every route, at the limit (accepted) and one past
 * it (422, nothing written). The fields and their limits are read from the classes' class-validator
 * metadata; the limits the contract (docs/api.md) states are written down here as well, and where
 * both exist both sets of boundaries are tried and the contract decides. So a limit changed in one
 * class (a PATCH title of 201) is caught, and so is a new limited field nobody wrote a test for.
 */
interface Limits {
  min?: bigint;
  max?: bigint;
}

const INT64_MAX = 2n ** 63n - 1n;

/** The contract's limits, by request class and field: characters for text, values for integers. */
const CONTRACT: Record<string, Limits> = {
  'TaskCreate.title': { min: 1n, max: 200n },
  'TaskUpdate.title': { min: 1n, max: 200n },
  'TaskCreate.description': { max: 10_000n },
  'TaskUpdate.description': { max: 10_000n },
  'ListTasksQuery.skip': { min: 0n, max: INT64_MAX },
  'ListTasksQuery.limit': { min: 1n, max: 100n },
  'PageQuery.skip': { min: 0n, max: INT64_MAX },
  'PageQuery.limit': { min: 1n, max: 100n },
  'SyncQuery.limit': { min: 1n, max: 1000n },
  // The contract says 255 (the column's size), but no address of 255 characters is valid: RFC 5321
  // allows 254, and so does the email check. 255 is refused as not an address.
  'SignupRequest.email': { max: 254n },
  'UpdateMeRequest.email': { max: 254n },
  'SignupRequest.username': { min: 3n, max: 100n },
  'UpdateMeRequest.username': { min: 3n, max: 100n },
  'SignupRequest.password': { min: 8n, max: 128n },
  'UpdatePasswordRequest.new_password': { min: 8n, max: 128n },
};

const isInteger = (field: InputField) => field.constraints.has('isInt') || field.constraints.has('isInt64');

/** What the class's metadata says: MinLength/MaxLength, Min/Max (and the int64 bound), or a pattern ending in `{m,n}$`. */
function metadataLimits(field: InputField): Limits {
  const first = (name: string) => field.constraints.get(name)?.[0];
  const bigint = (value: unknown) => (value === undefined ? undefined : BigInt(value as number | string));
  if (isInteger(field)) return { min: bigint(first('min')), max: bigint(first('max') ?? first('maxInt64')) };
  const pattern = first('matches');
  const quantifier = pattern instanceof RegExp ? /\{(\d+),(\d+)\}\$$/.exec(pattern.source) : null;
  return { min: bigint(first('minLength') ?? quantifier?.[1]), max: bigint(first('maxLength') ?? quantifier?.[2]) };
}

interface LimitCase {
  field: InputField;
  format?: BodyFormat;
  size: bigint;
  accepted: boolean;
}

const ROUTES = listRoutes();
const LIMITED = ROUTES.flatMap(inputFields).filter((field) => {
  const limits = metadataLimits(field);
  return limits.min !== undefined || limits.max !== undefined || CONTRACT[`${field.cls.name}.${field.name}`];
});

function casesOf(field: InputField): LimitCase[] {
  const declared = metadataLimits(field);
  const contract = CONTRACT[`${field.cls.name}.${field.name}`] ?? declared;
  const sizes = new Set<bigint>();
  for (const limits of [declared, contract]) {
    // A string cannot be shorter than empty; an integer can be below any minimum.
    if (limits.min !== undefined && (limits.min > 0n || isInteger(field))) [limits.min - 1n, limits.min].forEach((size) => sizes.add(size));
    if (limits.max !== undefined) [limits.max, limits.max + 1n].forEach((size) => sizes.add(size));
  }
  const formats = field.location === 'body' ? (field.route.bodyFormats ?? ['json']) : [undefined];
  return formats.flatMap((format) =>
    [...sizes].map((size) => ({
      field,
      format,
      size,
      accepted: (contract.min === undefined || size >= contract.min) && (contract.max === undefined || size <= contract.max),
    })),
  );
}

const CASES = LIMITED.flatMap(casesOf);

/**
 * Ways to write `length` characters as PostgreSQL counts them (code points): ASCII; astral characters
 * (two UTF-16 units each); and `x` + U+FE0F pairs, which validator.js counts as one character each.
 */
const WRITINGS = [
  (length: number) => 'x'.repeat(length),
  (length: number) => '\u{1F600}'.repeat(length),
  (length: number) => 'x\uFE0F'.repeat(Math.floor(length / 2)) + 'x'.repeat(length % 2),
];

const randomLetters = (length: number) => Array.from(crypto.randomBytes(length), (byte) => 'abcdefghijklmnopqrstuvwxyz'[byte % 26]).join('');

/** A valid address of exactly `length` characters: a 64-character local part at most, domain labels of 63 at most. */
function emailOfLength(length: number): string {
  const local = randomLetters(Math.min(64, length - 6));
  let rest = length - local.length - 1 - '.com'.length;
  const labels: string[] = [];
  while (rest > 63) {
    labels.push(randomLetters(62));
    rest -= 63;
  }
  labels.push(randomLetters(rest));
  return `${local}@${labels.join('.')}.com`;
}

/** Values of `size` for a field, each written in every way the field allows (ASCII, astral, format characters, padded when trimmed). */
function valuesOfSize(field: InputField, size: bigint): string[] {
  if (isInteger(field)) return [size.toString()];
  const length = Number(size);
  if (field.constraints.has('isEmail')) return [emailOfLength(length)];
  const pattern = field.constraints.get('matches')?.[0];
  if (pattern instanceof RegExp) return [randomLetters(length)];
  const values = WRITINGS.map((write) => write(length));
  return [...new Set(isTrimmed(field) ? [...values, ` ${'x'.repeat(length)}\t`] : values)];
}

let testApp: TestApp;

beforeAll(async () => {
  testApp = await createTestApp({ LOGIN_RATE_LIMIT: '0', LOGIN_RATE_LIMIT_PER_IP: '0' });
});

afterAll(() => testApp.close());

/** A new user with a task, so no case depends on what another changed (a password, a username). */
async function newCaller(): Promise<Caller> {
  const user = await signUpAndLogIn(testApp.app);
  const task = await send(
    testApp.app,
    ROUTES.find((route) => route.method === 'post' && route.path === '/api/v1/tasks')!,
    { params: {}, query: {}, body: { title: 'limits' } },
    { auth: user.auth },
  );
  return { auth: user.auth, taskId: task.body.id };
}

describe('field limits', () => {
  it('cover every limit the contract states, on POST, PATCH and PUT of tasks and every other route with input', () => {
    const covered = new Set(LIMITED.map((field) => `${field.cls.name}.${field.name}`));
    expect(Object.keys(CONTRACT).filter((key) => !covered.has(key))).toEqual([]);
    expect(LIMITED.map(describeField)).toEqual(
      expect.arrayContaining([
        'POST /api/v1/tasks body.title',
        'PATCH /api/v1/tasks/:id body.title',
        'PUT /api/v1/tasks/:id body.title',
        'PATCH /api/v1/tasks/:id body.description',
        'POST /api/v1/users/signup body.username',
        'PATCH /api/v1/users/me body.email',
        'PATCH /api/v1/users/me/password body.new_password',
        'POST /api/v1/login/access-token body.password',
        'GET /api/v1/tasks/trash query.skip',
        'GET /api/v1/tasks/sync query.limit',
      ]),
    );
  });

  it.each(
    CASES.map(
      (testCase) =>
        [
          `${describeField(testCase.field)}${testCase.format ? ` (${testCase.format})` : ''} of ${testCase.size}${isInteger(testCase.field) ? '' : ' characters'}: ${testCase.accepted ? 'accepted' : '422, nothing written'}`,
          testCase,
        ] as const,
    ),
  )('%s', async (_name, { field, format, size, accepted }) => {
    for (const value of valuesOfSize(field, size)) {
      const caller = await newCaller();
      const input = validInput(field.route, caller, { [field.location]: { [field.name]: value } });
      const before = await databaseFingerprint(testApp.dataSource);
      const response = await send(testApp.app, field.route, input, { auth: field.route.auth ? caller.auth : undefined, format });
      const seen = { value: JSON.stringify(value).slice(0, 40), status: response.status };
      if (accepted) {
        // Other answers (400 for a login nobody has, say) still show the value passed validation.
        const refused = response.status === 422 || response.status >= 500 ? response.body : false;
        expect({ ...seen, refused }).toEqual({ ...seen, refused: false });
        if (response.status < 300 && field.location === 'body' && typeof response.body[field.name] === 'string') {
          expect(response.body[field.name]).toBe(isTrimmed(field) ? value.trim() : value);
        }
      } else {
        expect({ ...seen, detail: response.body.detail }).toEqual({
          ...seen,
          status: 422,
          detail: [expect.objectContaining({ loc: [field.location, field.name] })],
        });
        expect(await databaseFingerprint(testApp.dataSource)).toBe(before);
      }
    }
  });
});
