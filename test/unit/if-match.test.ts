import fc from 'fast-check';
import { parseIfMatch } from '../../src/http/preconditions';

/** One entity tag in an If-Match list, and the version it names if it is one of ours (strong, 1-18 digits). */
const digits = (minLength: number, maxLength: number) => fc.string({ unit: fc.constantFrom(...'0123456789'), minLength, maxLength });
const blanks = fc.string({ unit: fc.constantFrom(' ', '\t'), maxLength: 2 });
const tag: fc.Arbitrary<{ text: string; version?: string }> = fc.oneof(
  digits(1, 18).map((version) => ({ text: `"${version}"`, version })),
  digits(1, 18).map((version) => ({ text: `W/"${version}"` })),
  digits(19, 25).map((version) => ({ text: `"${version}"` })),
  digits(1, 18).map((version) => ({ text: version })),
  fc
    .string({ unit: fc.constantFrom('a', 'f', '-', '.', '7'), minLength: 1, maxLength: 8 })
    .filter((text) => !/^\d+$/.test(text))
    .map((text) => ({ text: `"${text}"` })),
);

describe('parseIfMatch', () => {
  it('puts no condition for an absent header or *', () => {
    for (const header of [undefined, '*', ' * ']) expect(parseIfMatch(header)).toBeUndefined();
  });

  it('keeps the versions of our strong tags, in order, and drops weak, foreign, oversized and unquoted ones', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(blanks, tag, blanks), { minLength: 1, maxLength: 5 }), (tags) => {
        const header = tags.map(([before, { text }, after]) => `${before}${text}${after}`).join(',');
        expect(parseIfMatch(header)).toEqual(tags.map(([, { version }]) => version).filter((version) => version !== undefined));
      }),
      { numRuns: 500 },
    );
  });

  it('answers an empty list, which no task version matches, when no tag is ours', () => {
    expect(parseIfMatch('W/"1"')).toEqual([]);
    expect(parseIfMatch('"not-ours"')).toEqual([]);
  });
});
