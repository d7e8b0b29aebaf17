import bcrypt from 'bcrypt';
import fc from 'fast-check';
import { PasswordHasher } from '../../src/auth/passwords';

afterEach(() => jest.restoreAllMocks());

describe('PasswordHasher', () => {
  const hasher = new PasswordHasher(4, 1);

  it('refuses to hash a password containing U+0000 rather than hash what comes before it', async () => {
    await expect(hasher.hash('pass\u0000word')).rejects.toThrow(/U\+0000/);
    await expect(hasher.hash('\u0000'.repeat(8))).rejects.toThrow(/U\+0000/);
  });

  it('never matches a password containing U+0000, and never gives bcrypt the truncated text, yet spends one bcrypt comparison on it', async () => {
    const hash = await hasher.hash('pass');
    const compare = jest.spyOn(bcrypt, 'compare');
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 20 }), async (after) => {
        compare.mockClear();
        expect(await hasher.verify(`pass\u0000${after}`, hash)).toBe(false);
        expect(compare).toHaveBeenCalledTimes(1);
        const [input] = compare.mock.calls[0] as unknown as [string, string];
        expect(input).not.toContain('\u0000');
        expect(input).not.toBe('pass');
      }),
      { numRuns: 20 },
    );
    expect(await hasher.verify('pass', hash)).toBe(true);
  });

  it('spends one bcrypt comparison on a password containing U+0000 against the dummy hash too', async () => {
    await hasher.verifyAgainstDummy('warm up the dummy hash');
    const compare = jest.spyOn(bcrypt, 'compare');
    expect(await hasher.verifyAgainstDummy('x\u0000y')).toBe(false);
    expect(compare).toHaveBeenCalledTimes(1);
    expect(compare.mock.calls[0][0]).not.toContain('\u0000');
  });
});
