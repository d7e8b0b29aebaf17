import { IsArray, IsString } from 'class-validator';
import { MAX_NESTING_DEPTH, validateInput } from '../src/http/validation';
import { PageQuery } from '../src/tasks/tasks.dto';

/** A request class with a field that holds an array by design: no route has one yet, the shared rules must still hold. */
class TaggedRequest {
  @IsArray()
  tags: unknown[];

  @IsString()
  name: string;
}

const nested = (depth: number): unknown => {
  let value: unknown = [];
  for (let level = 1; level < depth; level += 1) value = [value];
  return value;
};

describe('validateInput', () => {
  it('lets a structured field nest up to the limit and refuses one level more, without recursing over the input', () => {
    expect(validateInput(TaggedRequest, { tags: nested(MAX_NESTING_DEPTH), name: 'n' }, 'body').issues).toEqual([]);
    for (const depth of [MAX_NESTING_DEPTH + 1, 100_000]) {
      expect(validateInput(TaggedRequest, { tags: nested(depth), name: 'n' }, 'body').issues).toEqual([
        { loc: ['body', 'tags'], msg: `tags must not be nested more than ${MAX_NESTING_DEPTH} levels deep`, type: 'value_error' },
      ]);
    }
  });

  it('applies the text rules to every string inside a structured field, keys included', () => {
    for (const tags of [['ok', ['a\u0000']], [{ 'k\u0000': 1 }], [[[['\ud800']]]]]) {
      const [issue] = validateInput(TaggedRequest, { tags, name: 'n' }, 'body').issues;
      expect(issue).toMatchObject({ loc: ['body', 'tags'], type: expect.stringMatching(/^(string_pattern_mismatch|string_unicode)$/) });
    }
  });

  it('refuses an array or object in a scalar field with its type error, however deep', () => {
    for (const value of [[], {}, nested(100_000)]) {
      expect(validateInput(TaggedRequest, { tags: [], name: value }, 'body').issues).toEqual([
        { loc: ['body', 'name'], msg: 'name must be a string', type: 'string_type' },
      ]);
    }
  });

  it("reports unknown fields first, then each declared field in declaration order, the shared text rules before the class's own", () => {
    expect(validateInput(TaggedRequest, { name: '\u0000', tags: 'x', other: '\u0000' }, 'body').issues.map((issue) => [...issue.loc, issue.type])).toEqual([
      ['body', 'other', 'extra_forbidden'],
      ['body', 'tags', 'value_error'],
      ['body', 'name', 'string_pattern_mismatch'],
    ]);
  });

  it('keeps every digit of a 64-bit skip', () => {
    expect(validateInput(PageQuery, { skip: '9223372036854775807' }, 'query').value?.skip).toBe(9223372036854775807n);
    expect(validateInput(PageQuery, { skip: '9007199254740993' }, 'query').value?.skip).toBe(9007199254740993n);
  });
});
