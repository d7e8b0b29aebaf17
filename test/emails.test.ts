import fc from 'fast-check';
import request from 'supertest';
import { normaliseEmail } from '../src/users/email';
import { createTestApp, type TestApp } from './support/app';
import { logIn, newUserFields, signUp, signUpAndLogIn, toFullwidth } from './support/users';

jest.setTimeout(120_000);

let testApp: TestApp;

beforeAll(async () => {
  // Many logins from one address: the rate limit is not what these tests are about.
  testApp = await createTestApp({ LOGIN_RATE_LIMIT_PER_IP: '0' });
});

afterAll(() => testApp.close());

const signup = (fields: Record<string, unknown>) => request(testApp.app).post('/api/v1/users/signup').send(fields);

/** Every control, format and line/paragraph separator character: what a reader cannot see. */
const INVISIBLE_CHARACTERS = Array.from({ length: 0x110000 }, (_, code) => code)
  .filter((code) => code < 0xd800 || code > 0xdfff)
  .map((code) => String.fromCodePoint(code))
  .filter((character) => /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(character));

type Disguise = 'case' | 'fullwidth' | 'nfd' | 'invisible';
const DISGUISES: Disguise[] = ['case', 'fullwidth', 'nfd', 'invisible'];

/** Some positions of `text`, or all of them. */
const positionsIn = (text: string) =>
  fc
    .oneof(fc.constant(undefined), fc.uniqueArray(fc.nat([...text].length - 1), { minLength: 1, maxLength: 3 }))
    .map((chosen) => (index: number) => !chosen || chosen.includes(index));

function disguise(kind: Disguise): (text: string) => fc.Arbitrary<string> {
  const perCharacter = (change: (character: string) => string) => (text: string) =>
    positionsIn(text).map((chosen) => [...text].map((character, i) => (chosen(i) ? change(character) : character)).join(''));
  switch (kind) {
    case 'case':
      return perCharacter((character) => character.toUpperCase());
    case 'fullwidth':
      return perCharacter(toFullwidth);
    case 'nfd':
      return (text) => fc.constant(text.normalize('NFD'));
    case 'invisible':
      return (text) =>
        fc
          .array(fc.tuple(fc.nat([...text].length), fc.oneof(fc.constantFrom('\u200b', '\u202e', '\ufeff'), fc.constantFrom(...INVISIBLE_CHARACTERS))), {
            minLength: 1,
            maxLength: 2,
          })
          .map((insertions) => {
            const characters = [...text];
            for (const [position, character] of insertions) characters.splice(position, 0, character);
            return characters.join('');
          });
  }
}

/** `base` disguised in each of `kinds` ways at once: what a person still reads as `base`. */
function lookAlikeOf(base: string, kinds: Disguise[]): fc.Arbitrary<string> {
  return kinds.reduce<fc.Arbitrary<string>>((variants, kind) => variants.chain(disguise(kind)), fc.constant(base));
}

/** Each way of disguising an email alone, and every pair of them. */
const DISGUISE_COMBINATIONS: Disguise[][] = DISGUISES.flatMap((first, i) => [[first], ...DISGUISES.slice(i + 1).map((second) => [first, second])]);

/** Live accounts whose email, once stripped of invisible characters and normalised, is `base`. */
async function liveAccountsReadingAs(base: string): Promise<number> {
  const rows: Array<{ email: string }> = await testApp.dataSource.query('SELECT email FROM users WHERE deleted_at IS NULL');
  return rows.filter((row) => normaliseEmail(row.email.replace(/[\p{C}\p{Zl}\p{Zp}]/gu, '')) === normaliseEmail(base)).length;
}

describe('an email a person reads as an existing live account’s', () => {
  const bases = ['alice@example.com', 'zoë.renée@exämple.com'];
  let owners: Array<Awaited<ReturnType<typeof signUp>>>;

  beforeAll(async () => {
    owners = await Promise.all(bases.map((email) => signUp(testApp.app, { email })));
  });

  it('is refused at signup (409 or 422) and by PATCH /users/me, and never becomes a second live account', async () => {
    const other = await signUpAndLogIn(testApp.app);
    for (const base of bases) {
      for (const kinds of DISGUISE_COMBINATIONS) {
        await fc.assert(
          fc.asyncProperty(lookAlikeOf(base, kinds), async (variant) => {
            const created = await signup(newUserFields({ email: variant }));
            expect([409, 422]).toContain(created.status);
            if (created.status === 422) expect(created.body.detail).toEqual([expect.objectContaining({ loc: ['body', 'email'] })]);

            const patched = await request(testApp.app).patch('/api/v1/users/me').set(other.auth).send({ email: variant });
            expect([409, 422]).toContain(patched.status);
            expect(await liveAccountsReadingAs(base)).toBe(1);
          }),
          { numRuns: 8 },
        );
      }
    }
    const [row] = await testApp.dataSource.query('SELECT email FROM users WHERE id = $1', [other.id]);
    expect(row.email).toBe(other.email);
  });

  it('finds the account at login, however it is written', async () => {
    const visible = DISGUISE_COMBINATIONS.filter((kinds) => !kinds.includes('invisible'));
    for (const [i, base] of bases.entries()) {
      for (const kinds of visible) {
        await fc.assert(
          fc.asyncProperty(lookAlikeOf(base, kinds), async (variant) => {
            await expect(logIn(testApp.app, variant, owners[i].password)).resolves.toHaveProperty('access_token');
          }),
          { numRuns: 3 },
        );
      }
    }
    for (const fullwidthAlice of ['ａｌｉｃｅ@example.com', 'ＡＬＩＣＥ＠ＥＸＡＭＰＬＥ．ＣＯＭ']) {
      await expect(logIn(testApp.app, fullwidthAlice, owners[0].password)).resolves.toHaveProperty('access_token');
    }
  });
});

describe('a new email', () => {
  it('is stored and answered in its normalised form: NFKC, lower-cased', async () => {
    const written = 'ＭＩＸ.Zoe\u0308@Example.COM';
    const response = await signup(newUserFields({ email: written }));
    expect(response.status).toBe(201);
    expect(response.body.email).toBe('mix.zoë@example.com');
    const [row] = await testApp.dataSource.query('SELECT email FROM users WHERE id = $1', [response.body.id]);
    expect(row.email).toBe('mix.zoë@example.com');

    const user = await signUpAndLogIn(testApp.app);
    const patched = await request(testApp.app).patch('/api/v1/users/me').set(user.auth).send({ email: 'ＰＡＴＣＨＥＤ.Ame\u0301lie@Example.com' });
    expect(patched.status).toBe(200);
    expect(patched.body.email).toBe('patched.amélie@example.com');
  });

  it('with an invisible or control character anywhere is refused with 422 on body.email, at signup and by PATCH', async () => {
    const user = await signUpAndLogIn(testApp.app);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...INVISIBLE_CHARACTERS), fc.nat(), async (character, at) => {
        const email = newUserFields().email;
        const position = at % (email.length + 1);
        const withIt = `${email.slice(0, position)}${character}${email.slice(position)}`;
        const created = await signup(newUserFields({ email: withIt }));
        expect(created.status).toBe(422);
        expect(created.body.detail).toEqual([expect.objectContaining({ loc: ['body', 'email'] })]);
        const patched = await request(testApp.app).patch('/api/v1/users/me').set(user.auth).send({ email: withIt });
        expect(patched.status).toBe(422);
      }),
      {
        numRuns: 40,
        examples: [
          ['\u200b', 5],
          ['\u202e', 0],
          ['\ufeff', 1000],
          ['\u2028', 3],
          ['\u2029', 3],
        ],
      },
    );
    const [row] = await testApp.dataSource.query('SELECT email FROM users WHERE id = $1', [user.id]);
    expect(row.email).toBe(user.email);
  });

  it('that mixes scripts in its local part or in one domain label is refused with 422', async () => {
    // Cyrillic and Greek letters that look Latin, put among Latin ones.
    const impostor = fc.constantFrom('а', 'е', 'о', 'р', 'с', 'х', 'і', 'ο', 'α', 'ν');
    const latinWord = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz'), minLength: 2, maxLength: 8 });
    const mixed = fc.tuple(latinWord, impostor, fc.nat(), fc.constantFrom('local', 'domain', 'tld')).map(([word, letter, at, where]) => {
      const position = at % (word.length + 1);
      const mixedWord = `${word.slice(0, position)}${letter}${word.slice(position)}`;
      if (where === 'local') return `${mixedWord}@example.com`;
      if (where === 'domain') return `someone@${mixedWord}.com`;
      return `someone@example.${mixedWord}`;
    });
    await fc.assert(
      fc.asyncProperty(mixed, async (email) => {
        const response = await signup(newUserFields({ email }));
        expect(response.status).toBe(422);
        expect(response.body.detail).toEqual([expect.objectContaining({ loc: ['body', 'email'] })]);
      }),
      { numRuns: 30, examples: [['аlice@example.com'], ['alice@exаmple.com']] },
    );
  });

  it('in a single script per part is accepted, Latin or not (internationalised addresses)', async () => {
    for (const email of [
      'иван@пример.рф',
      'ivan@пример.рф',
      'иван2024@example.com',
      'γιάννης@παράδειγμα.ελ',
      'user@例え.jp',
      '山田たろう@例え.jp',
      'δοκιμή@example.com',
    ]) {
      const response = await signup(newUserFields({ email }));
      expect({ email, status: response.status }).toEqual({ email, status: 201 });
    }
  });
});
