import crypto from 'node:crypto';
import fc from 'fast-check';
import request from 'supertest';
import { PasswordHasher } from '../src/auth/passwords';
import { createTestApp, TEST_JWT_SECRET, type TestApp } from './support/app';
import { bearer, decodeJwt, forgeJwt, signUp, signUpAndLogIn, toFullwidth } from './support/users';

jest.setTimeout(60_000);

let testApp: TestApp;

beforeAll(async () => {
  testApp = await createTestApp();
});

afterAll(() => testApp.close());

const me = (app: TestApp, token: string) => request(app.app).get('/api/v1/users/me').set(bearer(token));

describe('an attacker', () => {
  it('cannot pass an RS256 token signed with the HMAC secret as if it were a public key (algorithm confusion)', async () => {
    const user = await signUpAndLogIn(testApp.app);
    const claims = decodeJwt(user.tokens.access_token);
    const encode = (part: unknown) => Buffer.from(JSON.stringify(part)).toString('base64url');
    const unsigned = `${encode({ alg: 'RS256', typ: 'JWT' })}.${encode(claims)}`;
    const hmacAsRsa = crypto.createHmac('sha256', TEST_JWT_SECRET).update(unsigned).digest('base64url');
    expect((await me(testApp, `${unsigned}.${hmacAsRsa}`)).status).toBe(401);

    const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const rsaSigned = crypto.sign('sha256', Buffer.from(unsigned), privateKey).toString('base64url');
    expect((await me(testApp, `${unsigned}.${rsaSigned}`)).status).toBe(401);

    const hs512 = `${encode({ alg: 'HS512', typ: 'JWT' })}.${encode(claims)}`;
    expect((await me(testApp, `${hs512}.${crypto.createHmac('sha512', TEST_JWT_SECRET).update(hs512).digest('base64url')}`)).status).toBe(401);
    expect((await me(testApp, user.tokens.access_token)).status).toBe(200);
  });

  it("cannot use a deleted user's token, even one re-signed with the right secret", async () => {
    const user = await signUpAndLogIn(testApp.app);
    await request(testApp.app).delete('/api/v1/users/me').set(user.auth).expect(204);
    expect((await me(testApp, user.tokens.access_token)).status).toBe(401);
    const resigned = forgeJwt(
      { alg: 'HS256', typ: 'JWT' },
      { ...decodeJwt(user.tokens.access_token), exp: Math.floor(Date.now() / 1000) + 600 },
      TEST_JWT_SECRET,
    );
    expect((await me(testApp, resigned)).status).toBe(401);
  });

  it('cannot reuse a refresh token, and reusing one locks out the thief and the victim alike', async () => {
    const user = await signUpAndLogIn(testApp.app);
    const victim = await request(testApp.app).post('/api/v1/login/refresh').send({ refresh_token: user.tokens.refresh_token });
    const thief = await request(testApp.app).post('/api/v1/login/refresh').send({ refresh_token: user.tokens.refresh_token });
    expect([victim.status, thief.status]).toEqual([200, 401]);
    expect((await request(testApp.app).post('/api/v1/login/refresh').send({ refresh_token: victim.body.refresh_token })).status).toBe(401);
    expect((await me(testApp, victim.body.access_token)).status).toBe(401);
  });

  it('is stopped by the rate limit in a brute-force burst, the right password included', async () => {
    const limited = await createTestApp({ LOGIN_RATE_LIMIT: '5', LOGIN_RATE_LIMIT_PER_IP: '1000' });
    try {
      const user = await signUp(limited.app);
      const guesses = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          request(limited.app)
            .post('/api/v1/login/access-token')
            .type('form')
            .send({ username: user.username, password: `guess-${i}` }),
        ),
      );
      const statuses = guesses.map((guess) => guess.status);
      expect(statuses.filter((status) => status === 429).length).toBeGreaterThanOrEqual(30);
      expect(statuses.every((status) => status === 400 || status === 429)).toBe(true);
      const right = await request(limited.app).post('/api/v1/login/access-token').type('form').send({ username: user.username, password: user.password });
      expect(right.status).toBe(429);
    } finally {
      await limited.close();
    }
  });

  it('gets at most `limit` password checks from a parallel burst of any size, and none once the limit is reached', async () => {
    const limit = 5;
    const limited = await createTestApp({ LOGIN_RATE_LIMIT: String(limit), LOGIN_RATE_LIMIT_PER_IP: '0' });
    const verify = jest.spyOn(PasswordHasher.prototype, 'verify');
    const verifyAgainstDummy = jest.spyOn(PasswordHasher.prototype, 'verifyAgainstDummy');
    const passwordChecks = () => verify.mock.calls.length + verifyAgainstDummy.mock.calls.length;
    const login = (username: string, password: string) => request(limited.app).post('/api/v1/login/access-token').type('form').send({ username, password });
    try {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: limit + 1, max: 60 }), fc.boolean(), async (burst, accountExists) => {
          const user = await signUp(limited.app);
          // An account named every way it can be, or a name that matches none (checked against the dummy hash).
          const names = accountExists ? [user.username, user.email, user.email.toUpperCase(), toFullwidth(user.email)] : [`nobody_${user.username}`];
          const before = passwordChecks();
          const guesses = await Promise.all(Array.from({ length: burst }, (_, i) => login(names[i % names.length], `guess-${i}`)));
          expect(passwordChecks() - before).toBeLessThanOrEqual(limit);
          expect(guesses.filter((guess) => guess.status === 400).length).toBeLessThanOrEqual(limit);
          expect(guesses.every((guess) => guess.status === 400 || guess.status === 429)).toBe(true);

          const afterBurst = passwordChecks();
          expect((await login(names[0], accountExists ? user.password : 'anything')).status).toBe(429);
          expect((await login(user.username, user.password)).status).toBe(accountExists ? 429 : 200);
          expect(passwordChecks() - afterBurst).toBe(accountExists ? 0 : 1);
        }),
        {
          numRuns: 8,
          examples: [
            [40, true],
            [limit + 1, false],
          ],
        },
      );
    } finally {
      jest.restoreAllMocks();
      await limited.close();
    }
  });

  it('cannot tell an unknown user from a wrong password by timing: means within 25% over 30 attempts each', async () => {
    const timed = await createTestApp({ BCRYPT_ROUNDS: '8', LOGIN_RATE_LIMIT: '0', LOGIN_RATE_LIMIT_PER_IP: '0' });
    try {
      const user = await signUp(timed.app);
      const attempt = async (username: string) => {
        const started = performance.now();
        const response = await request(timed.app).post('/api/v1/login/access-token').type('form').send({ username, password: 'not the password' });
        expect(response.status).toBe(400);
        return performance.now() - started;
      };
      await attempt('warm_up_unknown');
      await attempt(user.username);
      const unknown: number[] = [];
      const wrong: number[] = [];
      for (let i = 0; i < 30; i += 1) {
        unknown.push(await attempt(`nobody_${i}`));
        wrong.push(await attempt(user.username));
      }
      const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
      const ratio = mean(unknown) / mean(wrong);
      expect(ratio).toBeGreaterThan(0.75);
      expect(ratio).toBeLessThan(1.25);
    } finally {
      await timed.close();
    }
  });
});
