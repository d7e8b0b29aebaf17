import { Transform } from 'class-transformer';
import { ValidateBy, type ValidationOptions } from 'class-validator';

const DATE_TIME_WITH_OFFSET = /^(\d{4})-(\d{2})-(\d{2})T([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d)(?:\.(\d{1,6}))?)?(?:Z|([+-])([01]\d|2[0-3]):?([0-5]\d))$/i;

/** The instants a date-time field accepts: what timestamptz holds and `YYYY-MM-DDTHH:mm:ss.sssZ` can write back. */
export const EARLIEST_DATE_TIME = '0001-01-01T00:00:00.000000Z';
export const LATEST_DATE_TIME = '9999-12-31T23:59:59.999999Z';

/**
 * An ISO 8601 date-time with an offset (`Z` or `±hh:mm`, `±hhmm`) naming a real calendar day, as
 * the same instant in UTC with microseconds (`YYYY-MM-DDTHH:mm:ss.ffffffZ`); undefined when it is
 * not one, or when that instant's UTC year is outside 1–9999. Converting here, rather than letting
 * PostgreSQL read the offset, matters: PostgreSQL refuses offsets beyond ±15:59, which the format
 * allows, and a stored year 0 comes back as a date nobody can send again.
 */
export function canonicalDateTime(value: string): string | undefined {
  const match = DATE_TIME_WITH_OFFSET.exec(value);
  if (!match) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map((part) => Number(part ?? 0));
  const local = new Date(0);
  local.setUTCFullYear(year, month - 1, day);
  if (local.getUTCFullYear() !== year || local.getUTCMonth() !== month - 1 || local.getUTCDate() !== day) return undefined;
  local.setUTCHours(hour, minute, second);
  const offsetMinutes = match[8] ? (match[8] === '-' ? -1 : 1) * (Number(match[9]) * 60 + Number(match[10])) : 0;
  const instant = new Date(local.getTime() - offsetMinutes * 60_000);
  const utcYear = instant.getUTCFullYear();
  if (utcYear < 1 || utcYear > 9999) return undefined;
  // The fraction is kept as text: a JavaScript Date holds milliseconds, PostgreSQL microseconds.
  return `${instant.toISOString().slice(0, 19)}.${(match[7] ?? '').padEnd(6, '0')}Z`;
}

/**
 * A date-time with an offset within the range above. On a request class it also hands the handler
 * the canonical UTC form of the value, so SQL only ever sees `…Z` with a year of four digits.
 */
export function IsDateTimeWithOffset(options?: ValidationOptions): PropertyDecorator {
  return (target, property) => {
    Transform(({ value }) => (typeof value === 'string' ? (canonicalDateTime(value) ?? value) : value))(target, property);
    ValidateBy(
      {
        name: 'isDateTimeWithOffset',
        validator: {
          validate: (value) => typeof value === 'string' && canonicalDateTime(value) !== undefined,
          defaultMessage: (args) =>
            `${args?.property ?? 'value'} must be an ISO 8601 date-time with an offset, e.g. 2026-11-23T18:04:01Z, from ${EARLIEST_DATE_TIME} to ${LATEST_DATE_TIME}`,
        },
      },
      options,
    )(target, property);
  };
}

/** The largest value of a 64-bit integer (PostgreSQL's bigint): what an OFFSET can be. */
export const INT64_MAX = 2n ** 63n - 1n;

/**
 * A whole number from `min` up to INT64_MAX, kept as a BigInt: JavaScript numbers are exact only
 * up to 2^53, and pg sends a BigInt as its decimal text. Registered as three constraints so a
 * client learns which rule failed (`isInt64`, `min`, `maxInt64`); the type check is registered last
 * so the OpenAPI schema says `integer`, not `number`.
 */
export function IsInt64(min: number): PropertyDecorator {
  return (target, property) => {
    ValidateBy({
      name: 'maxInt64',
      constraints: [INT64_MAX.toString()],
      validator: {
        validate: (value) => typeof value !== 'bigint' || value <= INT64_MAX,
        defaultMessage: (args) => `${args?.property} must not be greater than ${INT64_MAX}`,
      },
    })(target, property);
    ValidateBy({
      name: 'min',
      constraints: [min],
      validator: {
        validate: (value) => typeof value !== 'bigint' || value >= BigInt(min),
        defaultMessage: (args) => `${args?.property} must not be less than ${min}`,
      },
    })(target, property);
    ValidateBy({
      name: 'isInt64',
      validator: { validate: (value) => typeof value === 'bigint', defaultMessage: (args) => `${args?.property} must be an integer` },
    })(target, property);
  };
}

/** Counts characters as PostgreSQL does (code points), not as validator.js does (which skips U+FE0E/U+FE0F). */
function characterCount(value: string): number {
  return value.length - (value.match(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g)?.length ?? 0);
}

/** class-validator's MinLength, counting what a varchar column counts. */
export function MinLength(min: number, options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'minLength',
      constraints: [min],
      validator: {
        validate: (value) => typeof value === 'string' && characterCount(value) >= min,
        defaultMessage: (args) => `${args?.property} must be longer than or equal to ${min} characters`,
      },
    },
    options,
  );
}

/** class-validator's MaxLength, counting what a varchar column counts: `varchar(200)` holds 200 code points. */
export function MaxLength(max: number, options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'maxLength',
      constraints: [max],
      validator: {
        validate: (value) => typeof value === 'string' && characterCount(value) <= max,
        defaultMessage: (args) => `${args?.property} must be shorter than or equal to ${max} characters`,
      },
    },
    options,
  );
}

/** Query-string values arrive as text: these turn the text into the type, or leave it for the validator to refuse. */
export const QueryInteger = () => Transform(({ value }) => (typeof value === 'string' && /^-?\d{1,15}$/.test(value) ? Number(value) : value));

/** Any number of digits: the length of a query string is bounded by Node's header limit, and IsInt64 bounds the value. */
export const QueryInt64 = () => Transform(({ value }) => (typeof value === 'string' && /^-?\d+$/.test(value) ? BigInt(value) : value));

export const QueryBoolean = () => Transform(({ value }) => ({ true: true, false: false })[value as string] ?? value);

export const Trimmed = () => Transform(({ value }) => (typeof value === 'string' ? value.trim() : value));
