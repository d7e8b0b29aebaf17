import { Transform } from 'class-transformer';
import { ValidateBy, type ValidationOptions } from 'class-validator';

const DATE_TIME_WITH_OFFSET = /^(\d{4})-(\d{2})-(\d{2})T([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d)(?:\.\d{1,6})?)?(?:Z|[+-](?:[01]\d|2[0-3]):?[0-5]\d)$/i;

/** An ISO 8601 date-time with an offset (`Z` or `±hh:mm`) naming a real calendar day. */
export function isDateTimeWithOffset(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  const match = DATE_TIME_WITH_OFFSET.exec(value);
  if (!match) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth;
}

export function IsDateTimeWithOffset(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isDateTimeWithOffset',
      validator: {
        validate: isDateTimeWithOffset,
        defaultMessage: (args) => `${args?.property ?? "value"} must be an ISO 8601 date-time with an offset, e.g. 2026-11-23T18:04:01Z`,
      },
    },
    options,
  );
}

/** Query-string values arrive as text: these turn the text into the type, or leave it for the validator to refuse. */
export const QueryInteger = () => Transform(({ value }) => (typeof value === 'string' && /^-?\d{1,15}$/.test(value) ? Number(value) : value));

export const QueryBoolean = () => Transform(({ value }) => ({ true: true, false: false })[value as string] ?? value);

export const Trimmed = () => Transform(({ value }) => (typeof value === 'string' ? value.trim() : value));
