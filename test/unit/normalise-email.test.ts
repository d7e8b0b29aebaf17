import fc from 'fast-check';
import { normaliseEmail } from '../../src/users/email';

describe('normaliseEmail', () => {
  it('is idempotent and lands on a lower-cased NFKC form, for any text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme-composite' }), fc.string({ unit: 'binary-ascii' })), (text) => {
        const normalised = normaliseEmail(text);
        expect(normaliseEmail(normalised)).toBe(normalised);
        expect(normalised.normalize('NFKC')).toBe(normalised);
        expect(normalised.toLowerCase()).toBe(normalised);
      }),
      { numRuns: 2000 },
    );
  });

  it('composes what lower-casing makes composable (H + U+0331 becomes ẖ)', () => {
    expect(normaliseEmail('H\u0331@example.com')).toBe('\u1e96@example.com');
  });
});
