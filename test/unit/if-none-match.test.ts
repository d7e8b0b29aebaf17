import fc from 'fast-check';
import { noneMatchHits, parseIfNoneMatch, weakEtagOf } from '../../src/http/preconditions';

const opaque = fc.string({ unit: fc.constantFrom(...'abcXYZ019-_.,/'), maxLength: 12 }).map((text) => `"${text}"`);
const tag = fc.tuple(fc.boolean(), opaque).map(([weak, quoted]) => ({ text: `${weak ? 'W/' : ''}${quoted}`, quoted }));
const blanks = fc.string({ unit: fc.constantFrom(' ', '\t'), maxLength: 2 });

describe('parseIfNoneMatch', () => {
  it('is undefined without the header and * for a star', () => {
    expect(parseIfNoneMatch(undefined)).toBeUndefined();
    expect(parseIfNoneMatch(' * ')).toBe('*');
  });

  it('reads every tag of a list, weak or strong, commas inside quotes included, as opaque tags', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(blanks, tag, blanks), { minLength: 1, maxLength: 5 }), (tags) => {
        const header = tags.map(([before, { text }, after]) => `${before}${text}${after}`).join(',');
        expect(parseIfNoneMatch(header)).toEqual(tags.map(([, { quoted }]) => quoted));
      }),
      { numRuns: 500 },
    );
  });

  it('stops at the first thing that is not a tag, keeping the tags before it', () => {
    expect(parseIfNoneMatch('"a", b, "c"')).toEqual(['"a"']);
    expect(parseIfNoneMatch('nonsense')).toEqual([]);
    expect(parseIfNoneMatch('')).toEqual([]);
  });
});

describe('noneMatchHits', () => {
  it('compares weakly: W/"x" and "x" match each other, and * matches anything', () => {
    for (const [condition, etag, hits] of [
      [['"x"'], '"x"', true],
      [['"x"'], 'W/"x"', true],
      [parseIfNoneMatch('W/"x"')!, '"x"', true],
      [['"x"'], '"y"', false],
      ['*', 'W/"anything"', true],
      [[], '"x"', false],
    ] as const) {
      expect(noneMatchHits(condition as string[] | '*', etag)).toBe(hits);
    }
  });

  it('matches the weak ETag of a body only for that very text', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (a, b) => {
        expect(noneMatchHits(parseIfNoneMatch(weakEtagOf(a))!, weakEtagOf(b))).toBe(a === b);
      }),
    );
  });
});
