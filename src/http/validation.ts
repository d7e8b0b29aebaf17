import { plainToInstance } from 'class-transformer';
import { getMetadataStorage, ValidateIf, ValidationTypes, validateSync, type ValidationError } from 'class-validator';

export type Location = 'body' | 'query' | 'path';

export interface ValidationIssue {
  loc: [Location, ...string[]] | [Location];
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

/** May be absent; when present it must pass the other rules (so `null` is refused). */
export const Optional = () => ValidateIf((_object, value) => value !== undefined);

const nullableProperties = new WeakMap<object, Set<string>>();

function markNullable(target: object, property: string): void {
  nullableProperties.set(target, new Set([...(nullableProperties.get(target) ?? []), property]));
}

/** Whether a property of a class accepts `null` (for the OpenAPI schema). */
export function isNullable(cls: Class, property: string): boolean {
  for (let proto = cls.prototype; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    if (nullableProperties.get(proto)?.has(property)) return true;
  }
  return false;
}

/** May be absent or `null`. */
export const OptionalOrNull = (): PropertyDecorator => (target, property) => {
  markNullable(target, String(property));
  ValidateIf((_object, value) => value !== undefined && value !== null)(target, property);
};

/** Always present, possibly `null` (response fields such as a task without a due date). */
export const Nullable = (): PropertyDecorator => (target, property) => {
  markNullable(target, String(property));
  ValidateIf((_object, value) => value !== null)(target, property);
};

/** class-validator's constraint names, as the error kinds a FastAPI client knows (pydantic's `type`). */
const ISSUE_TYPES: Record<string, string> = {
  isDefined: 'missing',
  isString: 'string_type',
  isBoolean: 'bool_type',
  isInt: 'int_parsing',
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
  properties: Set<string>;
  optional: Set<string>;
}

const shapes = new WeakMap<Class, ClassShape>();

function shapeOf(cls: Class): ClassShape {
  let shape = shapes.get(cls);
  if (!shape) {
    const metadata = getMetadataStorage().getTargetValidationMetadatas(cls, '', true, false);
    shape = {
      properties: new Set(metadata.map((entry) => entry.propertyName)),
      optional: new Set(metadata.filter((entry) => entry.type === ValidationTypes.CONDITIONAL_VALIDATION).map((entry) => entry.propertyName)),
    };
    shapes.set(cls, shape);
  }
  return shape;
}

/**
 * Checks `input` against a request class and returns an instance holding only declared fields.
 * Unknown fields are errors in a body and ignored in a query string (as FastAPI does); either way
 * they are never copied, so keys such as `__proto__` cannot reach an object's prototype.
 */
export function validateInput<T extends object>(cls: Class<T>, input: unknown, location: Location): { value?: T; issues: ValidationIssue[] } {
  if (input === undefined) return { issues: [{ loc: [location], msg: 'Field required', type: 'missing' }] };
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { issues: [{ loc: [location], msg: 'Input should be an object', type: 'model_attributes_type' }] };
  }
  const shape = shapeOf(cls);
  const issues: ValidationIssue[] = [];
  const known: Record<string, unknown> = Object.create(null);
  for (const key of Object.keys(input)) {
    if (shape.properties.has(key)) known[key] = (input as Record<string, unknown>)[key];
    else if (location === 'body') issues.push(unknownFieldIssue(location, key));
  }
  for (const property of shape.properties) {
    if (known[property] === undefined && !shape.optional.has(property)) {
      issues.push({ loc: [location, property], msg: 'Field required', type: 'missing' });
    }
  }
  const missing = new Set(issues.map((issue) => issue.loc[1]));
  const value = plainToInstance(cls, { ...known }, { exposeDefaultValues: true });
  for (const error of validateSync(value, { validationError: { target: false, value: false } })) {
    if (!missing.has(error.property)) issues.push(toIssue(location, error));
  }
  return issues.length ? { issues } : { value, issues };
}

function unknownFieldIssue(location: Location, key: string): ValidationIssue {
  return READ_ONLY_FIELDS.has(key)
    ? { loc: [location, key], msg: 'Field is read-only', type: 'read_only' }
    : { loc: [location, key], msg: 'Extra inputs are not permitted', type: 'extra_forbidden' };
}

/** When a value fails several rules, the wrong type is the one worth reporting. */
const TYPE_CONSTRAINTS = new Set(['isString', 'isBoolean', 'isInt', 'isUuid', 'isDateTimeWithOffset']);

function toIssue(location: Location, error: ValidationError): ValidationIssue {
  const failed = Object.entries(error.constraints ?? { invalid: `${error.property} is invalid` });
  const [constraint, message] = failed.find(([name]) => TYPE_CONSTRAINTS.has(name)) ?? failed[0];
  return { loc: [location, error.property], msg: message, type: ISSUE_TYPES[constraint] ?? 'value_error' };
}
