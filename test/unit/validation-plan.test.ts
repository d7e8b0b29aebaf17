import fc from 'fast-check';
import { validateFully, validInstance, type Class, type Location } from '../../src/http/validation';
import { validationPlan } from '../../src/http/validation-plan';
import { fieldsOf, listRoutes, routeName, validValue, type InputField } from '../support/routes';

/*
 * validateInput answers plainly valid input through a class's validation plan and everything else
 * through the full path (class-transformer, then class-validator). These tests generate inputs for
 * every request class of the route table and check that the two agree: the plan accepts exactly
 * what the full path accepts, and builds the same instance.
 */

interface RequestClass {
  cls: Class<object>;
  location: Location;
  fields: InputField[];
  usedBy: string;
}

function requestClasses(): RequestClass[] {
  const found = new Map<Class<object>, RequestClass>();
  for (const route of listRoutes()) {
    for (const [cls, location] of [
      [route.params, 'path'],
      [route.query, 'query'],
      [route.body, 'body'],
    ] as Array<[Class<object> | undefined, Location]>) {
      if (cls && !found.has(cls)) found.set(cls, { cls, location, fields: fieldsOf(route, cls, location), usedBy: routeName(route) });
    }
  }
  return [...found.values()];
}

const iso = (date: Date) => date.toISOString();
const dates = fc.date({ min: new Date('0001-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true });
const offsets = fc.constantFrom('Z', '+00:00', '+05:30', '-0800', '+23:59', '+24:00', '');

/** Values near what a field's constraints accept and refuse, read from its metadata. */
function valuesFor(field: InputField): fc.Arbitrary<unknown> {
  const has = (name: string) => field.constraints.has(name);
  const first = (name: string) => field.constraints.get(name)?.[0];
  const candidates: Array<fc.Arbitrary<unknown>> = [];
  if (has('isUuid'))
    candidates.push(
      fc.uuid(),
      fc.uuid().map((uuid) => uuid.toUpperCase()),
      fc.constant('not-a-uuid'),
    );
  if (has('isBoolean')) candidates.push(fc.boolean(), fc.constantFrom('true', 'false', 'TRUE', '1'));
  if (has('isDateTimeWithOffset')) {
    candidates.push(
      fc.tuple(dates, offsets).map(([date, offset]) => iso(date).replace('Z', offset)),
      fc.constantFrom('2030-02-30T00:00:00Z', '2030-01-01', '0000-12-31T23:00:00-01:00', '9999-12-31T23:59:59-00:01'),
    );
  }
  if (has('isIn')) candidates.push(fc.constantFrom(...(first('isIn') as unknown[]), 'nope', ''));
  if (has('isInt') || has('isInt64')) {
    const around = [Number(first('min') ?? 0), Number(first('max') ?? 100)].flatMap((edge) => [edge - 1, edge, edge + 1]);
    candidates.push(
      fc.constantFrom(...around),
      fc.constantFrom(...around.map(String)),
      fc.constantFrom('9223372036854775807', '9223372036854775808', '1.5', '-0', '007', ' 1'),
      fc.bigInt().map(String),
    );
  }
  if (has('isEmail')) candidates.push(fc.emailAddress(), fc.constantFrom('Ann@Example.COM', 'a@b', '@x.org'));
  if (has('isString')) {
    const lengths = [1, first('minLength'), first('maxLength')].filter((length) => length !== undefined).map(Number);
    candidates.push(
      fc.string({ maxLength: 12 }),
      fc.constantFrom(...lengths.flatMap((length) => [length - 1, length, length + 1]).filter((length) => length >= 0)).map((length) => 'x'.repeat(length)),
      fc.string({ minLength: 1, maxLength: 8 }).map((text) => `  ${text}  `),
    );
  }
  candidates.push(
    fc.constantFrom(null, '', ' ', 0, -1, 1.5, true, '\u0000', 'a\ud800', [], {}, ['x'], { a: 1 }),
    fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean()),
  );
  // A value known to pass, often enough that inputs with several required fields are valid in a fair share of runs.
  const valid = fc.constant(validValue(field, { auth: { Authorization: '' }, taskId: 'b3e1f0a2-4c5d-4e6f-8a9b-0c1d2e3f4a5b' }));
  return fc.oneof({ arbitrary: valid, weight: candidates.length }, ...candidates);
}

/** An input object as JSON.parse or the query parser makes it: own enumerable keys in the order sent, `__proto__` included. */
function inputFor({ fields, location }: RequestClass): fc.Arbitrary<Record<string, unknown>> {
  const declared = fields.map((field) => fc.option(valuesFor(field), { nil: undefined }).map((value): [string, unknown] => [field.name, value]));
  const extraKey = fc.constantFrom('__proto__', 'constructor', 'id', 'user_id', 'unknown', 'toString');
  const extras = fc.oneof(
    { arbitrary: fc.constant([]), weight: 3 },
    fc.array(fc.tuple(extraKey, fc.string()), { minLength: 1, maxLength: location === 'body' ? 2 : 1 }),
  );
  return fc
    .tuple(fc.tuple(...declared), extras)
    .map(([entries, extra]) => [...entries.filter(([, value]) => value !== undefined), ...extra])
    .chain((entries) => fc.shuffledSubarray(entries, { minLength: entries.length }))
    .map((entries) => {
      const input: Record<string, unknown> = {};
      for (const [key, value] of entries) Object.defineProperty(input, key, { value, enumerable: true, writable: true, configurable: true });
      return input;
    });
}

describe.each(requestClasses().map((entry) => [`${entry.cls.name} (${entry.location} of ${entry.usedBy})`, entry] as const))(
  'The validation plan of %s',
  (_name, entry) => {
    it('exists: every request class is covered by the cheap path', () => {
      expect(validationPlan(entry.cls)).toBeDefined();
    });

    it('accepts exactly what the full path accepts, and builds the same instance', () => {
      let accepted = 0;
      fc.assert(
        fc.property(inputFor(entry), (input) => {
          const quick = validInstance(entry.cls, input, entry.location);
          const full = validateFully(entry.cls, input, entry.location);
          if (full.issues.length) {
            expect(quick).toBeUndefined();
          } else {
            accepted += 1;
            expect(quick).toStrictEqual(full.value);
            expect(Object.keys(quick as object)).toEqual(Object.keys(full.value as object));
          }
        }),
        // Few random inputs are valid for some classes (the list query: 9 of 400 in a failed CI run): enough runs that both sides are always met.
        { numRuns: 2000 },
      );
      // Both sides of the comparison were exercised: valid inputs too, not only refusals.
      expect(accepted).toBeGreaterThanOrEqual(10);
    });
  },
);
