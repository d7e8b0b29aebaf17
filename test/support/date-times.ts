import fc from 'fast-check';

/**
 * Date-times as a client may write them (`YYYY-MM-DDTHH:MM[:SS[.f{1,6}]]` and `Z` or `±HH[:]MM`),
 * and an oracle for what the service must answer, computed without JavaScript's Date.
 */

/** Days from 1970-01-01 to a day of the proleptic Gregorian calendar (H. Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  return era * 146097 + yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear - 719468;
}

const isLeap = (year: number) => year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
const daysIn = (year: number, month: number) => [31, isLeap(year) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
const MICROS_PER_DAY = 86_400_000_000n;
/** The instants a date-time field holds, in microseconds since 1970: years 1 to 9999 in UTC. */
const FIRST_INSTANT = BigInt(daysFromCivil(1, 1, 1)) * MICROS_PER_DAY;
const END_INSTANT = BigInt(daysFromCivil(10000, 1, 1)) * MICROS_PER_DAY;

const pad = (value: number, width = 2) => String(value).padStart(width, '0');

/** Weighted towards the edges: years 0, 1, 9999, the last day of a month, offsets of ±15/16 h (PostgreSQL's own limit) and ±23:59. */
export const dateTimeParts = fc.record({
  year: fc.oneof(fc.constantFrom(0, 1, 2, 1969, 1970, 9998, 9999), fc.integer({ min: 0, max: 9999 })),
  month: fc.oneof(fc.constantFrom(1, 2, 12), fc.integer({ min: 1, max: 12 })),
  day: fc.oneof(fc.integer({ min: 1, max: 28 }), fc.integer({ min: 29, max: 31 })),
  hour: fc.oneof(fc.constantFrom(0, 23), fc.integer({ min: 0, max: 23 })),
  minute: fc.oneof(fc.constantFrom(0, 59), fc.integer({ min: 0, max: 59 })),
  second: fc.option(fc.oneof(fc.constantFrom(0, 59), fc.integer({ min: 0, max: 59 })), { nil: undefined }),
  fraction: fc.option(fc.oneof(fc.constantFrom('9', '999', '999999', '000001'), fc.stringMatching(/^\d{1,6}$/)), { nil: undefined }),
  offset: fc.option(
    fc.record({
      sign: fc.constantFrom(1, -1),
      hours: fc.oneof(fc.constantFrom(0, 15, 16, 23), fc.integer({ min: 0, max: 23 })),
      minutes: fc.oneof(fc.constantFrom(0, 59), fc.integer({ min: 0, max: 59 })),
      colon: fc.boolean(),
    }),
    { nil: undefined },
  ),
});

export type DateTimeParts = typeof dateTimeParts extends fc.Arbitrary<infer T> ? T : never;

export function dateTimeText(parts: DateTimeParts): string {
  const seconds = parts.second === undefined ? '' : `:${pad(parts.second)}${parts.fraction === undefined ? '' : `.${parts.fraction}`}`;
  const offset = parts.offset
    ? `${parts.offset.sign > 0 ? '+' : '-'}${pad(parts.offset.hours)}${parts.offset.colon ? ':' : ''}${pad(parts.offset.minutes)}`
    : 'Z';
  return `${pad(parts.year, 4)}-${pad(parts.month)}-${pad(parts.day)}T${pad(parts.hour)}:${pad(parts.minute)}${seconds}${offset}`;
}

/** The instant in microseconds since 1970 in UTC, or undefined for a day the calendar does not have. */
function instantOf(parts: DateTimeParts): bigint | undefined {
  if (parts.day > daysIn(parts.year, parts.month)) return undefined;
  const fraction = parts.second === undefined ? 0n : BigInt((parts.fraction ?? '').padEnd(6, '0'));
  const offsetMinutes = parts.offset ? parts.offset.sign * (parts.offset.hours * 60 + parts.offset.minutes) : 0;
  const localSeconds =
    BigInt(daysFromCivil(parts.year, parts.month, parts.day)) * 86_400n + BigInt(parts.hour * 3600 + parts.minute * 60 + (parts.second ?? 0));
  return (localSeconds - BigInt(offsetMinutes * 60)) * 1_000_000n + fraction;
}

/**
 * What a response must say for this date-time (`YYYY-MM-DDTHH:mm:ss.sssZ`), or undefined when the
 * request must be refused. The response keeps milliseconds: the digits after them are cut, which is
 * a floor of the instant, also before 1970.
 */
export function expectedAnswer(parts: DateTimeParts): string | undefined {
  const instant = instantOf(parts);
  if (instant === undefined || instant < FIRST_INSTANT || instant >= END_INSTANT) return undefined;
  const millis = instant >= 0n ? instant / 1000n : -((-instant + 999n) / 1000n);
  return new Date(Number(millis)).toISOString();
}
