import { plainToInstance } from 'class-transformer';
import { getMetadataStorage, ValidateIf, ValidationTypes, validateSync, type ValidationError } from 'class-validator';
import { instantiateIfValid, validationPlan } from './validation-plan';

export type Location = 'body' | 'query' | 'path';

/** Where a refused value was: a validated field, or a header a route reads itself. */
export type IssueLocation = Location | 'header';

export interface ValidationIssue {
  loc: [IssueLocation, ...string[]] | [IssueLocation];
  msg: string;
  type: string;
}

/** One or more request fields failed validation: answered with the contract's 422 body. */
export class RequestValidationError extends Error {
  constructor(readonly issues: ValidationIssue[]) {
    super('Request validation failed');
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Class<T = unknown> = new (...args: any[]) => T;

/** Fields the server owns; a client sending one is told so instead of "unknown field". */
const READ_ONLY_FIELDS = new Set(['id', 'user_id', 'created_at', 'updated_at', 'deleted_at', 'hashed_password']);

const nullableProperties = new WeakMap<object, Set<string>>();
const optionalProperties = new WeakMap<object, Set<string>>();

function mark(properties: WeakMap<object, Set<string>>, target: object, property: string): void {
  properties.set(target, new Set([...(properties.get(target) ?? []), property]));
}

function isMarked(properties: WeakMap<object, Set<string>>, cls: Class, property: string): boolean {
  for (let proto = cls.prototype; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    if (properties.get(proto)?.has(property)) return true;
  }
  return false;
}

/** May be absent; when present it must pass the other rules (so `null` is refused). */
export const Optional = (): PropertyDecorator => (target, property) => {
  mark(optionalProperties, target, String(property));
  ValidateIf((_object, value) => value !== undefined)(target, property);
};

/** Whether a property of a class accepts `null` (for the OpenAPI schema). */
export function isNullable(cls: Class, property: string): boolean {
  return isMarked(nullableProperties, cls, property);
}

/** Whether a property of a class is marked @Optional (in a response: not always present, for the OpenAPI schema). */
export function isOptional(cls: Class, property: string): boolean {
  return isMarked(optionalProperties, cls, property);
}

/** May be absent or `null`. */
export const OptionalOrNull = (): PropertyDecorator => (target, property) => {
  mark(nullableProperties, target, String(property));
  ValidateIf((_object, value) => value !== undefined && value !== null)(target, property);
};

/** Always present, possibly `null` (response fields such as a task without a due date). */
export const Nullable = (): PropertyDecorator => (target, property) => {
  mark(nullableProperties, target, String(property));
  ValidateIf((_object, value) => value !== null)(target, property);
};

/** class-validator's constraint names, as the error kinds a FastAPI client knows (pydantic's `type`). */
const ISSUE_TYPES: Record<string, string> = {
  isDefined: 'missing',
  isString: 'string_type',
  isBoolean: 'bool_type',
  isInt: 'int_parsing',
  isInt64: 'int_parsing',
  maxInt64: 'less_than_equal',
  min: 'greater_than_equal',
  max: 'less_than_equal',
  minLength: 'string_too_short',
  maxLength: 'string_too_long',
  isNotEmpty: 'string_too_short',
  isEmail: 'value_error',
  matches: 'string_pattern_mismatch',
  isDateTimeWithOffset: 'datetime_parsing',
  isUuid: 'uuid_parsing',
  isIn: 'enum',
};

interface ClassShape {
  /** Declared fields, in declaration order (the order of the 422's entries). */
  properties: Set<string>;
  optional: Set<string>;
  /** Fields that hold arrays or objects by design; every other field holds one scalar. */
  structured: Set<string>;
}

const shapes = new WeakMap<Class, ClassShape>();

const STRUCTURED_CONSTRAINTS = new Set(['isArray', 'isObject']);

function shapeOf(cls: Class): ClassShape {
  let shape = shapes.get(cls);
  if (!shape) {
    const metadata = getMetadataStorage().getTargetValidationMetadatas(cls, '', true, false);
    shape = {
      properties: new Set(metadata.map((entry) => entry.propertyName)),
      optional: new Set(metadata.filter((entry) => entry.type === ValidationTypes.CONDITIONAL_VALIDATION).map((entry) => entry.propertyName)),
      structured: new Set(
        metadata
          .filter((entry) => entry.each || entry.type === ValidationTypes.NESTED_VALIDATION || STRUCTURED_CONSTRAINTS.has(entry.name ?? ''))
          .map((entry) => entry.propertyName),
      ),
    };
    shapes.set(cls, shape);
  }
  return shape;
}

/** How deep a field that holds structures may nest (scalar fields take no nesting at all). */
export const MAX_NESTING_DEPTH = 32;

/** An unpaired UTF-16 surrogate: JSON can carry one (`"\ud800"`), UTF-8 (and so PostgreSQL) cannot. */
const LONE_SURROGATE = /\p{Cs}/u;

/** What PostgreSQL cannot store in text: U+0000, and (in UTF-8) a lone surrogate, which the driver would silently turn into U+FFFD. */
function textProblem(text: string): Omit<ValidationIssue, 'loc'> | undefined {
  if (text.includes('\u0000')) return { msg: 'must not contain U+0000', type: 'string_pattern_mismatch' };
  if (LONE_SURROGATE.test(text)) return { msg: 'must be valid Unicode: it holds an unpaired UTF-16 surrogate', type: 'string_unicode' };
  return undefined;
}

/**
 * The rules every field of every request class shares, checked before class-transformer sees the
 * value: text PostgreSQL can store, anywhere in the value (keys included), and no nesting past
 * MAX_NESTING_DEPTH in a field that holds structures. Iterative, so a value nested 10,000 deep costs
 * a loop, not the stack; the work is bounded by the size of the body.
 */
function sharedRuleIssue(location: Location, property: string, value: unknown): ValidationIssue | undefined {
  const pending: Array<[unknown, number]> = [[value, 1]];
  while (pending.length) {
    const [item, depth] = pending.pop()!;
    const problem =
      typeof item === 'string'
        ? textProblem(item)
        : isContainer(item) && depth > MAX_NESTING_DEPTH
          ? { msg: `must not be nested more than ${MAX_NESTING_DEPTH} levels deep`, type: 'value_error' }
          : undefined;
    if (problem) return { loc: [location, property], msg: `${property} ${problem.msg}`, type: problem.type };
    if (isContainer(item)) for (const [key, child] of Object.entries(item)) pending.push([key, depth], [child, depth + 1]);
  }
  return undefined;
}

function isContainer(value: unknown): value is object {
  return typeof value === 'object' && value !== null;
}

export interface ValidationResult<T> {
  value?: T;
  issues: ValidationIssue[];
}

/**
 * Checks `input` against a request class and returns an instance holding only declared fields.
 * Unknown fields are errors in a body and ignored in a query string (as FastAPI does); either way
 * they are never copied, so keys such as `__proto__` cannot reach an object's prototype.
 */
export function validateInput<T extends object>(cls: Class<T>, input: unknown, location: Location): ValidationResult<T> {
  const valid = validInstance(cls, input, location);
  return valid ? { value: valid, issues: [] } : validateFully(cls, input, location);
}

/**
 * The full path: class-transformer's plainToInstance, then class-validator's validateSync, with
 * the rules every field shares, each issue worded for the 422. validateInput takes it for every
 * input the cheap path below does not find plainly valid.
 */
export function validateFully<T extends object>(cls: Class<T>, input: unknown, location: Location): ValidationResult<T> {
  if (input === undefined) return { issues: [{ loc: [location], msg: 'Field required', type: 'missing' }] };
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { issues: [{ loc: [location], msg: 'Input should be an object', type: 'model_attributes_type' }] };
  }
  const shape = shapeOf(cls);
  const issues: ValidationIssue[] = [];
  const fieldIssues = new Map<string, ValidationIssue>();
  const known: Record<string, unknown> = Object.create(null);
  for (const key of Object.keys(input)) {
    if (!shape.properties.has(key)) {
      if (location === 'body') issues.push(unknownFieldIssue(location, key));
      continue;
    }
    const value = (input as Record<string, unknown>)[key];
    if (isContainer(value) && !shape.structured.has(key)) {
      // A scalar field refuses every array and object: an empty one of the same kind draws the same
      // type error from class-validator, and nothing ever walks the client's value.
      known[key] = Array.isArray(value) ? [] : {};
      continue;
    }
    const issue = sharedRuleIssue(location, key, value);
    if (issue) fieldIssues.set(key, issue);
    else known[key] = value;
  }
  const value = plainToInstance(cls, { ...known }, { exposeDefaultValues: true });
  const errors = new Map(validateSync(value, { validationError: { target: false, value: false } }).map((error) => [error.property, error]));
  for (const property of shape.properties) {
    const error = errors.get(property);
    const issue =
      fieldIssues.get(property) ??
      (known[property] === undefined && !shape.optional.has(property)
        ? { loc: [location, property] as [Location, string], msg: 'Field required', type: 'missing' }
        : error && toIssue(location, error));
    if (issue) issues.push(issue);
  }
  return issues.length ? { issues } : { value, issues };
}

/**
 * The common case, cheaply: the instance validateFully would return for a valid input, through the
 * class's validation plan (the same transforms and constraint functions, without
 * class-transformer's and class-validator's per-call walk over their metadata). Undefined at the
 * first thing that is not plainly valid (an unknown body field, a structure in a scalar field, a
 * shared-rule problem, a missing field, a failed check): validateFully then decides, and words
 * every issue, exactly as before.
 */
export function validInstance<T extends object>(cls: Class<T>, input: unknown, location: Location): T | undefined {
  const plan = validationPlan(cls);
  if (!plan || typeof input !== 'object' || input === null || Array.isArray(input)) return undefined;
  const shape = shapeOf(cls);
  const fields: Record<string, unknown> = Object.create(null);
  for (const key of Object.keys(input)) {
    if (!shape.properties.has(key)) {
      if (location === 'body') return undefined;
      continue;
    }
    const value = (input as Record<string, unknown>)[key];
    if (isContainer(value) || sharedRuleIssue(location, key, value)) return undefined;
    fields[key] = value;
  }
  for (const property of shape.properties) if (fields[property] === undefined && !shape.optional.has(property)) return undefined;
  return instantiateIfValid(cls, plan, fields);
}

function unknownFieldIssue(location: Location, key: string): ValidationIssue {
  return READ_ONLY_FIELDS.has(key)
    ? { loc: [location, key], msg: 'Field is read-only', type: 'read_only' }
    : { loc: [location, key], msg: 'Extra inputs are not permitted', type: 'extra_forbidden' };
}

/** When a value fails several rules, the wrong type is the one worth reporting. */
const TYPE_CONSTRAINTS = new Set(['isString', 'isBoolean', 'isInt', 'isInt64', 'isUuid', 'isDateTimeWithOffset']);

function toIssue(location: Location, error: ValidationError): ValidationIssue {
  const failed = Object.entries(error.constraints ?? { invalid: `${error.property} is invalid` });
  const [constraint, message] = failed.find(([name]) => TYPE_CONSTRAINTS.has(name)) ?? failed[0];
  return { loc: [location, error.property], msg: message, type: ISSUE_TYPES[constraint] ?? 'value_error' };
}
