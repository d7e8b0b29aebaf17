import crypto from 'node:crypto';
import fc from 'fast-check';
import request from 'supertest';
import { createTestApp, TEST_JWT_SECRET, type TestApp } from './support/app';
import { bearer, decodeJwt, forgeJwt, logIn, signUp, signUpAndLogIn, toFullwidth, type SignedUpUser } from './support/users';

let testApp: TestApp;

beforeAll(async () => {
  testApp = await createTestApp();
});

afterAll(() => testApp.close());

const UNAUTHORIZED = { detail: 'Not authenticated' };

async function sessionRow(sessionId: string) {
  const [row] = await testApp.dataSource.query('SELECT * FROM sessions WHERE id = $1', [sessionId]);
  return row;
}

/** Everything stored about a session: its row and the hashes of the secrets it rotated away. */
async function sessionState(sessionId: string) {
  const rotated = await testApp.dataSource.query(
    'SELECT refresh_token_hash, rotated_at FROM rotated_refresh_tokens WHERE session_id = $1 ORDER BY rotated_at, refresh_token_hash',
    [sessionId],
  );
  return { session: await sessionRow(sessionId), rotated };
}

const refresh = (refreshToken: unknown) => request(testApp.app).post('/api/v1/login/refresh').send({ refresh_token: refreshToken });

const sha256 = (text: string) => crypto.createHash('sha256').update(text).digest('hex');

/** Refresh-token secrets as we issue them: 43 base64url characters. */
const wellFormedSecret = fc.stringMatching(/^[A-Za-z0-9_-]{43}$/);

describe('POST /api/v1/login/access-token', () => {
  it('logs in with the OAuth2 password form and answers a Token', async () => {
    const user = await signUp(testApp.app);
    const response = await request(testApp.app)
      .post('/api/v1/login/access-token')
      .type('form')
      .send({ grant_type: 'password', username: user.username, password: user.password, scope: '' });

    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      access_token: expect.any(String),
      token_type: 'bearer',
      expires_in: 900,
      refresh_token: expect.stringMatching(/^[0-9a-f-]{36}\.[A-Za-z0-9_-]{43}$/),
    });
    const claims = decodeJwt(response.body.access_token);
    expect(claims).toMatchObject({ sub: user.id, sid: response.body.refresh_token.split('.')[0], typ: 'access' });
    expect((claims.exp as number) - (claims.iat as number)).toBe(900);
  });

  it('logs in with the same fields as JSON', async () => {
    const user = await signUp(testApp.app);
    const response = await request(testApp.app).post('/api/v1/login/access-token').send({ username: user.username, password: user.password });
    expect(response.status).toBe(200);
    expect(response.body.token_type).toBe('bearer');
  });

  it('accepts the email, in any case, as the username', async () => {
    const user = await signUp(testApp.app);
    const response = await request(testApp.app)
      .post('/api/v1/login/access-token')
      .type('form')
      .send({ username: user.email.toUpperCase(), password: user.password });
    expect(response.status).toBe(200);
  });

  it('accepts the username in any case', async () => {
    const user = await signUp(testApp.app);
    await expect(logIn(testApp.app, user.username.toUpperCase(), user.password)).resolves.toHaveProperty('access_token');
  });

  it('stores only a hash of the refresh token', async () => {
    const user = await signUp(testApp.app);
    const tokens = await logIn(testApp.app, user.username, user.password);
    const [sessionId, secret] = tokens.refresh_token.split('.');
    const row = await sessionRow(sessionId);
    expect(row.user_id).toBe(user.id);
    expect(row.refresh_token_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(row)).not.toContain(secret);
  });

  it('answers the same 400 for a wrong password and for an unknown user', async () => {
    const user = await signUp(testApp.app);
    const wrongPassword = await request(testApp.app)
      .post('/api/v1/login/access-token')
      .type('form')
      .send({ username: user.username, password: 'wrong password' });
    const unknownUser = await request(testApp.app)
      .post('/api/v1/login/access-token')
      .type('form')
      .send({ username: 'nobody_here', password: 'wrong password' });

    expect(wrongPassword.status).toBe(400);
    expect(wrongPassword.body).toEqual({ detail: 'Incorrect email or password' });
    expect(unknownUser.status).toBe(400);
    expect(unknownUser.text).toBe(wrongPassword.text);
  });

  it('answers 400 "Inactive user" for a deactivated account with the right password', async () => {
    const user = await signUp(testApp.app);
    await testApp.dataSource.query('UPDATE users SET is_active = false WHERE id = $1', [user.id]);
    const response = await request(testApp.app).post('/api/v1/login/access-token').type('form').send({ username: user.username, password: user.password });
    expect(response.status).toBe(400);
    expect(response.body).toEqual({ detail: 'Inactive user' });
  });

  it('answers 422 naming each missing field', async () => {
    const response = await request(testApp.app).post('/api/v1/login/access-token').type('form').send({});
    expect(response.status).toBe(422);
    expect(response.body.detail).toEqual([
      { loc: ['body', 'username'], msg: 'Field required', type: 'missing' },
      { loc: ['body', 'password'], msg: 'Field required', type: 'missing' },
    ]);
  });

  it('creates no session for a rejected login', async () => {
    const user = await signUp(testApp.app);
    await request(testApp.app).post('/api/v1/login/access-token').type('form').send({ username: user.username, password: 'wrong password' });
    const [{ count }] = await testApp.dataSource.query('SELECT count(*)::int AS count FROM sessions WHERE user_id = $1', [user.id]);
    expect(count).toBe(0);
  });
});

describe('the login rate limit', () => {
  let limited: TestApp;

  beforeAll(async () => {
    limited = await createTestApp({ LOGIN_RATE_LIMIT: '3', LOGIN_RATE_LIMIT_PER_IP: '8' });
  });

  afterAll(() => limited.close());

  const attempt = (username: string, password: string) => request(limited.app).post('/api/v1/login/access-token').type('form').send({ username, password });

  it('refuses a username after the limit of failed attempts with 429 and Retry-After, even with the right password, and leaves other usernames alone', async () => {
    const user = await signUp(limited.app);
    const other = await signUp(limited.app);
    for (let i = 0; i < 3; i += 1) expect((await attempt(user.username, 'wrong password')).status).toBe(400);

    const refused = await attempt(user.username, user.password);
    expect(refused.status).toBe(429);
    expect(refused.body).toEqual({ detail: 'Too many login attempts; try again later' });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60);

    expect((await attempt(other.username, other.password)).status).toBe(200);
  });

  it('refuses a client address after the limit of attempts a minute, whatever the usernames', async () => {
    const fresh = await createTestApp({ LOGIN_RATE_LIMIT: '0', LOGIN_RATE_LIMIT_PER_IP: '5' });
    try {
      const user = await signUp(fresh.app);
      const statuses: number[] = [];
      for (let i = 0; i < 6; i += 1) {
        statuses.push(
          (
            await request(fresh.app)
              .post('/api/v1/login/access-token')
              .type('form')
              .send({ username: `someone${i}`, password: 'x' })
          ).status,
        );
      }
      expect(statuses).toEqual([400, 400, 400, 400, 400, 429]);
      const refused = await request(fresh.app).post('/api/v1/login/access-token').type('form').send({ username: user.username, password: user.password });
      expect(refused.status).toBe(429);
      expect(refused.headers['retry-after']).toBeDefined();
    } finally {
      await fresh.close();
    }
  });

  it('is switched off by 0', async () => {
    const unlimited = await createTestApp({ LOGIN_RATE_LIMIT: '0', LOGIN_RATE_LIMIT_PER_IP: '0' });
    try {
      const user = await signUp(unlimited.app);
      for (let i = 0; i < 15; i += 1) {
        const response = await request(unlimited.app).post('/api/v1/login/access-token').type('form').send({ username: user.username, password: 'wrong' });
        expect(response.status).toBe(400);
      }
      await expect(logIn(unlimited.app, user.username, user.password)).resolves.toHaveProperty('access_token');
    } finally {
      await unlimited.close();
    }
  });
});

describe('failed logins', () => {
  let perAccount: TestApp;

  beforeAll(async () => {
    // Only the per-account limit: the per-address one is tested above and would end these tests early.
    perAccount = await createTestApp({ LOGIN_RATE_LIMIT: '5', LOGIN_RATE_LIMIT_PER_IP: '0' });
  });

  afterAll(() => perAccount.close());

  const attempt = (username: string, password: string) => request(perAccount.app).post('/api/v1/login/access-token').type('form').send({ username, password });

  /** Every way of naming one account at login. */
  const namesOf = (user: SignedUpUser) => [
    user.username,
    user.email,
    user.email.toUpperCase(),
    toFullwidth(user.email),
    user.username.toUpperCase(),
    toFullwidth(user.username),
  ];

  it('are counted per account however it was named, up to the limit, while other accounts from the same address log in', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(5), { minLength: 5, maxLength: 5 }), fc.nat(5), async (failedAs, finallyAs) => {
        const [user, other] = [await signUp(perAccount.app), await signUp(perAccount.app)];
        for (const name of failedAs) expect((await attempt(namesOf(user)[name], 'wrong password')).status).toBe(400);

        const refused = await attempt(namesOf(user)[finallyAs], user.password);
        expect(refused.status).toBe(429);
        expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
        expect((await attempt(other.username, other.password)).status).toBe(200);
      }),
      {
        numRuns: 10,
        examples: [
          [[0, 0, 0, 0, 0], 1],
          [[0, 0, 1, 2, 3], 0],
        ],
      },
    );
  });

  it('naming no account are counted by the normalised text typed', async () => {
    const unknown = `nobody_${Date.now()}@example.com`;
    for (const name of [unknown, unknown.toUpperCase(), toFullwidth(unknown), unknown, unknown.toUpperCase()]) {
      expect((await attempt(name, 'wrong password')).status).toBe(400);
    }
    expect((await attempt(toFullwidth(unknown.toUpperCase()), 'wrong password')).status).toBe(429);
  });
});

describe('POST /api/v1/login/refresh', () => {
  it('answers a new pair and kills the old refresh token', async () => {
    const { tokens } = await signUpAndLogIn(testApp.app);
    const refreshed = await request(testApp.app).post('/api/v1/login/refresh').send({ refresh_token: tokens.refresh_token });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body).toEqual({ access_token: expect.any(String), token_type: 'bearer', expires_in: 900, refresh_token: expect.any(String) });
    expect(refreshed.body.refresh_token).not.toBe(tokens.refresh_token);
    expect((await request(testApp.app).get('/api/v1/users/me').set(bearer(refreshed.body.access_token))).status).toBe(200);

    const again = await request(testApp.app).post('/api/v1/login/refresh').send({ refresh_token: refreshed.body.refresh_token });
    expect(again.status).toBe(200);
  });

  it('revokes the whole session when an already-rotated refresh token is presented', async () => {
    const { tokens } = await signUpAndLogIn(testApp.app);
    const rotated = await request(testApp.app).post('/api/v1/login/refresh').send({ refresh_token: tokens.refresh_token });
    expect(rotated.status).toBe(200);

    const replay = await request(testApp.app).post('/api/v1/login/refresh').send({ refresh_token: tokens.refresh_token });
    expect(replay.status).toBe(401);
    expect(replay.body).toEqual(UNAUTHORIZED);

    expect((await request(testApp.app).post('/api/v1/login/refresh').send({ refresh_token: rotated.body.refresh_token })).status).toBe(401);
    expect((await request(testApp.app).get('/api/v1/users/me').set(bearer(rotated.body.access_token))).status).toBe(401);
    const session = await sessionRow(tokens.refresh_token.split('.')[0]);
    expect(session.revoked_reason).toBe('refresh_token_reuse');
  });

  it('answers 401 for a malformed or unknown refresh token', async () => {
    for (const refreshToken of ['garbage', `00000000-0000-4000-8000-000000000000.${'a'.repeat(43)}`, 'a.b.c']) {
      const response = await request(testApp.app).post('/api/v1/login/refresh').send({ refresh_token: refreshToken });
      expect(response.status).toBe(401);
      expect(response.headers['www-authenticate']).toBe('Bearer');
    }
  });

  it('answers 401 once the refresh token has expired', async () => {
    const { tokens } = await signUpAndLogIn(testApp.app);
    await testApp.dataSource.query("UPDATE sessions SET expires_at = now() - interval '1 second' WHERE id = $1", [tokens.refresh_token.split('.')[0]]);
    expect((await request(testApp.app).post('/api/v1/login/refresh').send({ refresh_token: tokens.refresh_token })).status).toBe(401);
  });

  it('answers 422 without a refresh_token', async () => {
    const response = await request(testApp.app).post('/api/v1/login/refresh').send({});
    expect(response.status).toBe(422);
    expect(response.body.detail).toEqual([{ loc: ['body', 'refresh_token'], msg: 'Field required', type: 'missing' }]);
  });

  it('answers 422 for a refresh_token that is not a string', async () => {
    for (const value of [42, null, true, ['a'], { token: 'a' }]) {
      const response = await refresh(value);
      expect(response.status).toBe(422);
      expect(response.body.detail).toEqual([expect.objectContaining({ loc: ['body', 'refresh_token'] })]);
    }
  });

  it('answers 401 Not authenticated for any string that is not a refresh token of ours, whatever its length or shape', async () => {
    const { tokens } = await signUpAndLogIn(testApp.app);
    const [sessionId] = tokens.refresh_token.split('.');
    const before = await sessionState(sessionId);
    // No U+0000: the contract answers 422 for it in any string, before the token is looked at.
    const withoutNul = (text: string) => !text.includes('\u0000');
    const notOurs = fc.oneof(
      fc.constantFrom(
        '',
        ' ',
        '.',
        tokens.access_token,
        `${tokens.access_token}.${tokens.access_token}`,
        'x'.repeat(10_000),
        `${sessionId}.`,
        `.${tokens.refresh_token.split('.')[1]}`,
      ),
      fc.string({ unit: 'binary', maxLength: 300 }).filter(withoutNul),
      fc.string({ unit: 'binary', minLength: 256, maxLength: 10_000 }).filter(withoutNul),
      fc
        .uint8Array({ maxLength: 200 })
        .map((bytes) => Buffer.from(bytes).toString('latin1'))
        .filter(withoutNul),
      fc.tuple(fc.uuid(), fc.string({ maxLength: 80 })).map(([id, secret]) => `${id}.${secret}`),
      wellFormedSecret.map((secret) => `${sessionId}.${secret}.${secret}`),
    );
    await fc.assert(
      fc.asyncProperty(notOurs, async (token) => {
        const response = await refresh(token);
        expect(response.status).toBe(401);
        expect(response.body).toEqual(UNAUTHORIZED);
        expect(response.headers['www-authenticate']).toBe('Bearer');
      }),
      { numRuns: 60 },
    );
    expect(await sessionState(sessionId)).toEqual(before);
    expect((await refresh(tokens.refresh_token)).status).toBe(200);
  });
});

describe('a refresh token that names a session but carries a secret it never had', () => {
  it('answers 401, writes nothing, and leaves the victim signed in: knowing a session id is not enough to revoke it', async () => {
    const victim = await signUpAndLogIn(testApp.app);
    // One rotation first, so the session has a rotated-away secret the attacker's guesses are not.
    const current = (await refresh(victim.tokens.refresh_token).expect(200)).body;
    const [sessionId, currentSecret] = current.refresh_token.split('.');
    const [, rotatedSecret] = victim.tokens.refresh_token.split('.');
    expect(decodeJwt(current.access_token).sid).toBe(sessionId);
    const before = await sessionState(sessionId);

    await fc.assert(
      fc.asyncProperty(
        wellFormedSecret.filter((secret) => secret !== currentSecret && secret !== rotatedSecret),
        async (secret) => {
          const response = await refresh(`${sessionId}.${secret}`);
          expect(response.status).toBe(401);
          expect(response.body).toEqual(UNAUTHORIZED);
          expect(response.headers['www-authenticate']).toBe('Bearer');
        },
      ),
      { numRuns: 25 },
    );

    expect(await sessionState(sessionId)).toEqual(before);
    expect((await request(testApp.app).get('/api/v1/users/me').set(bearer(current.access_token))).status).toBe(200);
    const next = await refresh(current.refresh_token);
    expect(next.status).toBe(200);
    expect((await request(testApp.app).get('/api/v1/users/me').set(bearer(next.body.access_token))).status).toBe(200);
  });
});

describe('a refresh token that was rotated away', () => {
  it('is remembered by the hash of its secret only', async () => {
    const { tokens } = await signUpAndLogIn(testApp.app);
    const [sessionId, secret] = tokens.refresh_token.split('.');
    await refresh(tokens.refresh_token).expect(200);
    const { rotated } = await sessionState(sessionId);
    expect(rotated).toEqual([{ refresh_token_hash: sha256(secret), rotated_at: expect.any(Date) }]);
    const everything = await testApp.dataSource.query('SELECT * FROM rotated_refresh_tokens');
    expect(JSON.stringify(everything)).not.toContain(secret);
  });

  it('revokes the session when presented again, however many rotations ago it was replaced', async () => {
    for (const rotationsSince of [1, 2, 4]) {
      const { tokens } = await signUpAndLogIn(testApp.app);
      const [sessionId] = tokens.refresh_token.split('.');
      let latest = tokens;
      for (let i = 0; i < rotationsSince; i += 1) latest = (await refresh(latest.refresh_token).expect(200)).body;

      const replay = await refresh(tokens.refresh_token);
      expect(replay.status).toBe(401);
      expect(replay.body).toEqual(UNAUTHORIZED);
      expect((await sessionRow(sessionId)).revoked_reason).toBe('refresh_token_reuse');
      expect((await refresh(latest.refresh_token)).status).toBe(401);
      expect((await request(testApp.app).get('/api/v1/users/me').set(bearer(latest.access_token))).status).toBe(401);
    }
  });

  it('of another session revokes nothing: a secret counts as a replay only for the session that had it', async () => {
    const user = await signUpAndLogIn(testApp.app);
    const other = await logIn(testApp.app, user.username, user.password);
    const [, rotatedSecret] = user.tokens.refresh_token.split('.');
    await refresh(user.tokens.refresh_token).expect(200);
    const [otherSessionId] = other.refresh_token.split('.');
    const before = await sessionState(otherSessionId);

    expect((await refresh(`${otherSessionId}.${rotatedSecret}`)).status).toBe(401);
    expect(await sessionState(otherSessionId)).toEqual(before);
    expect((await refresh(other.refresh_token)).status).toBe(200);
  });
});

describe('POST /api/v1/login/test-token', () => {
  it('answers the UserPublic of a valid token', async () => {
    const user = await signUpAndLogIn(testApp.app);
    const response = await request(testApp.app).post('/api/v1/login/test-token').set(user.auth);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      id: user.id,
      email: user.email,
      username: user.username,
      is_active: true,
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      updated_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
  });

  it('answers 401 with WWW-Authenticate: Bearer without a token', async () => {
    const response = await request(testApp.app).post('/api/v1/login/test-token');
    expect(response.status).toBe(401);
    expect(response.headers['www-authenticate']).toBe('Bearer');
    expect(response.body).toEqual(UNAUTHORIZED);
  });
});

describe('POST /api/v1/logout', () => {
  it('answers 204 and kills the access and the refresh token at once', async () => {
    const user = await signUpAndLogIn(testApp.app);
    const response = await request(testApp.app).post('/api/v1/logout').set(user.auth);
    expect(response.status).toBe(204);
    expect(response.text).toBe('');

    expect((await request(testApp.app).get('/api/v1/users/me').set(user.auth)).status).toBe(401);
    expect((await request(testApp.app).post('/api/v1/login/refresh').send({ refresh_token: user.tokens.refresh_token })).status).toBe(401);
    expect((await sessionRow(user.tokens.refresh_token.split('.')[0])).revoked_reason).toBe('logout');
  });

  it('leaves the same user’s other sessions signed in', async () => {
    const user = await signUpAndLogIn(testApp.app);
    const otherDevice = await logIn(testApp.app, user.username, user.password);
    await request(testApp.app).post('/api/v1/logout').set(user.auth).expect(204);
    expect((await request(testApp.app).get('/api/v1/users/me').set(bearer(otherDevice.access_token))).status).toBe(200);
  });

  it('answers 401 without a token', async () => {
    expect((await request(testApp.app).post('/api/v1/logout')).status).toBe(401);
  });
});

describe('an access token', () => {
  let user: Awaited<ReturnType<typeof signUpAndLogIn>>;
  let claims: Record<string, unknown>;

  beforeAll(async () => {
    user = await signUpAndLogIn(testApp.app);
    claims = decodeJwt(user.tokens.access_token);
  });

  const me = (token: string) => request(testApp.app).get('/api/v1/users/me').set(bearer(token));

  it('that is valid is accepted (the control for the cases below)', async () => {
    expect((await me(user.tokens.access_token)).status).toBe(200);
    expect((await me(forgeJwt({ alg: 'HS256', typ: 'JWT' }, claims, TEST_JWT_SECRET))).status).toBe(200);
  });

  it('whose payload was tampered with is refused', async () => {
    const [header, , signature] = user.tokens.access_token.split('.');
    const payload = Buffer.from(JSON.stringify({ ...claims, sub: '00000000-0000-4000-8000-000000000000' })).toString('base64url');
    const response = await me(`${header}.${payload}.${signature}`);
    expect(response.status).toBe(401);
    expect(response.body).toEqual(UNAUTHORIZED);
  });

  it('signed with another secret is refused', async () => {
    expect((await me(forgeJwt({ alg: 'HS256', typ: 'JWT' }, claims, 'another-secret-another-secret-another'))).status).toBe(401);
  });

  it('with alg "none" is refused', async () => {
    expect((await me(forgeJwt({ alg: 'none', typ: 'JWT' }, claims))).status).toBe(401);
    expect((await me(forgeJwt({ alg: 'none', typ: 'JWT' }, claims, TEST_JWT_SECRET))).status).toBe(401);
  });

  it('that has expired is refused', async () => {
    const now = Math.floor(Date.now() / 1000);
    expect((await me(forgeJwt({ alg: 'HS256', typ: 'JWT' }, { ...claims, iat: now - 1000, exp: now - 10 }, TEST_JWT_SECRET))).status).toBe(401);
  });

  it('that is not an access token, or is malformed, is refused', async () => {
    expect((await me(forgeJwt({ alg: 'HS256', typ: 'JWT' }, { ...claims, typ: 'refresh' }, TEST_JWT_SECRET))).status).toBe(401);
    expect((await me(forgeJwt({ alg: 'HS256', typ: 'JWT' }, { ...claims, sid: 'not-a-uuid' }, TEST_JWT_SECRET))).status).toBe(401);
    expect((await me('not.a.jwt')).status).toBe(401);
    expect((await request(testApp.app).get('/api/v1/users/me').set('Authorization', `Basic ${user.tokens.access_token}`)).status).toBe(401);
  });

  it('stops working at the next request once its user is deactivated', async () => {
    const victim = await signUpAndLogIn(testApp.app);
    await testApp.dataSource.query('UPDATE users SET is_active = false WHERE id = $1', [victim.id]);
    expect((await me(victim.tokens.access_token)).status).toBe(401);
    expect((await request(testApp.app).post('/api/v1/login/refresh').send({ refresh_token: victim.tokens.refresh_token })).status).toBe(401);
  });
});
