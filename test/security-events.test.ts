import fc from 'fast-check';
import request from 'supertest';
import { createTestApp, type TestApp } from './support/app';
import { describeField, inputFields, listRoutes, send, validInput, type Caller } from './support/routes';
import { decodeJwt, logIn, signUp, signUpAndLogIn, type Tokens } from './support/users';

/**
 * The audit trail: each action that the contract lists writes its event exactly once, in the same
 * transaction; a refused request writes none; a user sees only their own events; no event holds a
 * secret.
 */

interface EventRow {
  id: string;
  user_id: string | null;
  type: string;
  ip: string | null;
  user_agent: string | null;
  details: Record<string, unknown>;
}

const USER_AGENT = 'security-events-test/1.0';

let testApp: TestApp;

beforeAll(async () => {
  testApp = await createTestApp({ LOGIN_RATE_LIMIT: '0', LOGIN_RATE_LIMIT_PER_IP: '0' });
});

afterAll(() => testApp.close());

const api = () => request(testApp.app);

async function allEvents(): Promise<EventRow[]> {
  return testApp.dataSource.query('SELECT id, user_id, type, ip, user_agent, details FROM security_events ORDER BY created_at, id');
}

/** The events `work` adds, in the order they were written. */
async function eventsWrittenBy(work: () => Promise<unknown>): Promise<EventRow[]> {
  const before = new Set((await allEvents()).map((event) => event.id));
  await work();
  return (await allEvents()).filter((event) => !before.has(event.id));
}

const sessionOf = (tokens: Tokens) => tokens.refresh_token.split('.')[0];

function login(username: string, password: string) {
  return api().post('/api/v1/login/access-token').set('User-Agent', USER_AGENT).type('form').send({ username, password });
}

/** What every event of a request from supertest carries: the loopback address Express saw, and our User-Agent. */
const fromTheTest = { ip: expect.stringMatching(/127\.0\.0\.1$/), user_agent: USER_AGENT };

describe('each action writes its event exactly once', () => {
  it('signup: `signup`, for the new account', async () => {
    let id = '';
    const written = await eventsWrittenBy(async () => {
      const response = await api()
        .post('/api/v1/users/signup')
        .set('User-Agent', USER_AGENT)
        .send({ email: 'events-signup@example.com', username: 'events_signup', password: 'a long password' });
      expect(response.status).toBe(201);
      id = response.body.id;
    });
    expect(written).toEqual([expect.objectContaining({ type: 'signup', user_id: id, ...fromTheTest, details: {} })]);
  });

  it('login: `login`, naming the new session', async () => {
    const user = await signUp(testApp.app);
    let tokens: Tokens | undefined;
    const written = await eventsWrittenBy(async () => {
      const response = await login(user.email, user.password);
      expect(response.status).toBe(200);
      tokens = response.body;
    });
    expect(written).toEqual([expect.objectContaining({ type: 'login', user_id: user.id, ...fromTheTest, details: { session_id: sessionOf(tokens!) } })]);
    expect(decodeJwt(tokens!.access_token).sid).toBe(sessionOf(tokens!));
  });

  it.each([
    ['a wrong password', 'wrong_password', true],
    ['a name that matches no account', 'unknown_user', false],
  ])('login with %s: `login_failed` (400), with the account if there is one', async (_case, reason, known) => {
    const user = await signUp(testApp.app);
    const written = await eventsWrittenBy(async () => {
      const response = await login(known ? user.username : `nobody_${user.username}`, 'not the password');
      expect(response.status).toBe(400);
    });
    expect(written).toEqual([expect.objectContaining({ type: 'login_failed', user_id: known ? user.id : null, ...fromTheTest, details: { reason } })]);
  });

  it('login of a deactivated account with its password: `login_failed` (400 Inactive user)', async () => {
    const user = await signUp(testApp.app);
    await testApp.dataSource.query('UPDATE users SET is_active = false WHERE id = $1', [user.id]);
    const written = await eventsWrittenBy(async () => expect((await login(user.username, user.password)).body).toEqual({ detail: 'Inactive user' }));
    expect(written).toEqual([expect.objectContaining({ type: 'login_failed', user_id: user.id, details: { reason: 'inactive_user' } })]);
  });

  it('a refresh that rotates writes nothing; replaying the rotated token: `refresh_reuse` once, however often it is replayed', async () => {
    const user = await signUpAndLogIn(testApp.app);
    const refresh = (token: string) => api().post('/api/v1/login/refresh').set('User-Agent', USER_AGENT).send({ refresh_token: token });
    expect(await eventsWrittenBy(async () => expect((await refresh(user.tokens.refresh_token)).status).toBe(200))).toEqual([]);

    const first = await eventsWrittenBy(async () => expect((await refresh(user.tokens.refresh_token)).status).toBe(401));
    expect(first).toEqual([
      expect.objectContaining({ type: 'refresh_reuse', user_id: user.id, ...fromTheTest, details: { session_id: sessionOf(user.tokens) } }),
    ]);
    expect(await eventsWrittenBy(async () => expect((await refresh(user.tokens.refresh_token)).status).toBe(401))).toEqual([]);
  });

  it('logout: `logout`, naming the session', async () => {
    const user = await signUpAndLogIn(testApp.app);
    const written = await eventsWrittenBy(async () =>
      expect((await api().post('/api/v1/logout').set(user.auth).set('User-Agent', USER_AGENT)).status).toBe(204),
    );
    expect(written).toEqual([expect.objectContaining({ type: 'logout', user_id: user.id, ...fromTheTest, details: { session_id: sessionOf(user.tokens) } })]);
  });

  it.each([0, 1, 3])(
    'a password change with %i other sessions: `password_changed`, then `sessions_revoked` with the count when there were any',
    async (others) => {
      const user = await signUpAndLogIn(testApp.app);
      for (let i = 0; i < others; i += 1) await logIn(testApp.app, user.username, user.password);
      const written = await eventsWrittenBy(async () => {
        const response = await api()
          .patch('/api/v1/users/me/password')
          .set(user.auth)
          .set('User-Agent', USER_AGENT)
          .send({ current_password: user.password, new_password: 'another long password' });
        expect(response.status).toBe(200);
      });
      expect(written).toEqual([
        expect.objectContaining({ type: 'password_changed', user_id: user.id, ...fromTheTest, details: { session_id: sessionOf(user.tokens) } }),
        ...(others ? [expect.objectContaining({ type: 'sessions_revoked', user_id: user.id, details: { count: others, reason: 'password_changed' } })] : []),
      ]);
    },
  );

  it('account deletion: `account_deleted`, with the number of sessions it ended', async () => {
    const user = await signUpAndLogIn(testApp.app);
    await logIn(testApp.app, user.username, user.password);
    const written = await eventsWrittenBy(async () =>
      expect((await api().delete('/api/v1/users/me').set(user.auth).set('User-Agent', USER_AGENT)).status).toBe(204),
    );
    expect(written).toEqual([expect.objectContaining({ type: 'account_deleted', user_id: user.id, ...fromTheTest, details: { sessions_revoked: 2 } })]);
  });
});

describe('requests that are refused write no event', () => {
  const ROUTES = listRoutes();
  const FIELDS = ROUTES.flatMap(inputFields);
  let caller: Caller;

  beforeAll(async () => {
    const user = await signUpAndLogIn(testApp.app);
    const task = await api().post('/api/v1/tasks').set(user.auth).send({ title: 'target' });
    caller = { auth: user.auth, taskId: task.body.id };
  });

  it.each(FIELDS.map((field) => [describeField(field), field] as const))('%s refused (422): nothing', async (_name, field) => {
    const input = validInput(field.route, caller, { [field.location]: { [field.name]: 'x\u0000' } });
    const written = await eventsWrittenBy(async () => {
      const response = await send(testApp.app, field.route, input, { auth: field.route.auth ? caller.auth : undefined });
      expect([response.status, response.body.detail?.[0]?.loc]).toEqual([422, [field.location, field.name]]);
    });
    expect(written).toEqual([]);
  });

  it('a taken email or username (409), a wrong or repeated current password (400), an invalid refresh token (401): nothing', async () => {
    const user = await signUpAndLogIn(testApp.app);
    const written = await eventsWrittenBy(async () => {
      const taken = await api().post('/api/v1/users/signup').send({ email: user.email, username: 'someone_else', password: 'a long password' });
      expect(taken.status).toBe(409);
      const change = (current: string, next: string) =>
        api().patch('/api/v1/users/me/password').set(user.auth).send({ current_password: current, new_password: next });
      expect((await change('not the password', 'another long password')).status).toBe(400);
      expect((await change(user.password, user.password)).status).toBe(400);
      const guessed = `${sessionOf(user.tokens)}.${'A'.repeat(43)}`;
      expect((await api().post('/api/v1/login/refresh').send({ refresh_token: guessed })).status).toBe(401);
    });
    expect(written).toEqual([]);
  });

  it('a login refused by the rate limit (429) checks no password and writes nothing; the failures before it wrote one each', async () => {
    const limited = await createTestApp({ LOGIN_RATE_LIMIT: '2' });
    try {
      const user = await signUp(limited.app);
      const attempt = (password: string) => request(limited.app).post('/api/v1/login/access-token').type('form').send({ username: user.username, password });
      const events = () => limited.dataSource.query("SELECT type FROM security_events WHERE type LIKE 'login%' AND user_id = $1", [user.id]);
      expect([(await attempt('wrong one')).status, (await attempt('wrong two')).status]).toEqual([400, 400]);
      expect(await events()).toEqual([{ type: 'login_failed' }, { type: 'login_failed' }]);
      expect([(await attempt('wrong three')).status, (await attempt(user.password)).status]).toEqual([429, 429]);
      expect(await events()).toHaveLength(2);
    } finally {
      await limited.close();
    }
  });
});

describe('an event is part of the transaction of what it records', () => {
  beforeAll(() =>
    testApp.dataSource.query(`CREATE FUNCTION refuse_events() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$`),
  );

  async function whileEventsAreRefused<T>(work: () => Promise<T>): Promise<T> {
    await testApp.dataSource.query('CREATE TRIGGER refuse BEFORE INSERT ON security_events FOR EACH ROW EXECUTE FUNCTION refuse_events()');
    try {
      return await work();
    } finally {
      await testApp.dataSource.query('DROP TRIGGER refuse ON security_events');
    }
  }

  /** What each action changes, to compare before and after. */
  async function accountState(userId: string) {
    const query = (sql: string) => testApp.dataSource.query(sql, [userId]);
    return {
      user: await query('SELECT hashed_password, deleted_at FROM users WHERE id = $1'),
      sessions: await query('SELECT id, revoked_at FROM sessions WHERE user_id = $1 ORDER BY id'),
    };
  }

  it('when its event cannot be written, no action happens: signup, login, logout, password change, account deletion, refresh replay', async () => {
    const user = await signUpAndLogIn(testApp.app);
    await logIn(testApp.app, user.username, user.password);
    const rotated = user.tokens.refresh_token;
    const fresh = await api().post('/api/v1/login/refresh').send({ refresh_token: rotated });
    const auth = { Authorization: `Bearer ${fresh.body.access_token}` };
    const before = await accountState(user.id);

    const answers = await whileEventsAreRefused(async () => ({
      signup: (await api().post('/api/v1/users/signup').send({ email: 'never@example.com', username: 'never_written', password: 'a long password' })).status,
      login: (await login(user.username, user.password)).status,
      logout: (await api().post('/api/v1/logout').set(auth)).status,
      password: (await api().patch('/api/v1/users/me/password').set(auth).send({ current_password: user.password, new_password: 'another long one' })).status,
      deletion: (await api().delete('/api/v1/users/me').set(auth)).status,
      replay: (await api().post('/api/v1/login/refresh').send({ refresh_token: rotated })).status,
    }));
    expect(answers).toEqual({ signup: 500, login: 500, logout: 500, password: 500, deletion: 500, replay: 500 });
    expect(await accountState(user.id)).toEqual(before);
    expect(await testApp.dataSource.query("SELECT 1 FROM users WHERE username = 'never_written'")).toEqual([]);
    expect((await api().get('/api/v1/users/me').set(auth)).status).toBe(200);
  });

  it('when the action fails, its event is not written', async () => {
    const user = await signUpAndLogIn(testApp.app);
    await testApp.dataSource.query(
      `CREATE FUNCTION refuse_updates() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$`,
    );
    await testApp.dataSource.query('CREATE TRIGGER refuse BEFORE UPDATE ON sessions FOR EACH ROW EXECUTE FUNCTION refuse_updates()');
    try {
      const written = await eventsWrittenBy(async () => {
        expect((await api().post('/api/v1/logout').set(user.auth)).status).toBe(500);
        expect((await api().delete('/api/v1/users/me').set(user.auth)).status).toBe(500);
      });
      expect(written).toEqual([]);
    } finally {
      await testApp.dataSource.query('DROP TRIGGER refuse ON sessions');
    }
  });
});

describe('GET /api/v1/users/me/events', () => {
  it("answers the caller's own events only, newest first, as {id, type, ip, user_agent, created_at}, never another user's or a nameless failure", async () => {
    const users = [await signUpAndLogIn(testApp.app), await signUpAndLogIn(testApp.app), await signUpAndLogIn(testApp.app)];
    // Interleaved actions, generated: logins, failed logins (also under names matching nobody), logouts.
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(2), fc.constantFrom('login', 'wrong password', 'unknown name', 'logout')), { maxLength: 12 }),
        async (actions) => {
          for (const [who, action] of actions) {
            const user = users[who];
            if (action === 'login') await login(user.username, user.password);
            if (action === 'wrong password') await login(user.username, 'not it');
            if (action === 'unknown name') await login(`ghost_${user.username}`, user.password);
            if (action === 'logout') {
              const tokens = await logIn(testApp.app, user.username, user.password);
              await api().post('/api/v1/logout').set('Authorization', `Bearer ${tokens.access_token}`);
            }
          }
          for (const user of users) {
            const response = await api().get('/api/v1/users/me/events?limit=100').set(user.auth);
            const own: Array<{ id: string }> = await testApp.dataSource.query(
              'SELECT id FROM security_events WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT 100',
              [user.id],
            );
            const [{ count }] = await testApp.dataSource.query('SELECT count(*)::int AS count FROM security_events WHERE user_id = $1', [user.id]);
            expect(response.status).toBe(200);
            expect(response.body.count).toBe(count);
            expect(response.body.data.map((event: { id: string }) => event.id)).toEqual(own.map((row) => row.id));
            for (const event of response.body.data) expect(Object.keys(event)).toEqual(['id', 'type', 'ip', 'user_agent', 'created_at']);
          }
        },
      ),
      { numRuns: 15 },
    );
  });

  it('pages like the task list: every event exactly once across pages of any size, with the total count on each; past the end, empty', async () => {
    const user = await signUpAndLogIn(testApp.app);
    for (let i = 0; i < 6; i += 1) await login(user.username, i % 2 ? user.password : 'wrong');
    const all = (await api().get('/api/v1/users/me/events').set(user.auth)).body;
    expect(all.count).toBe(8);
    expect(all.data.map((event: { type: string }) => event.type)).toEqual([
      'login',
      'login_failed',
      'login',
      'login_failed',
      'login',
      'login_failed',
      'login',
      'signup',
    ]);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 9 }), async (limit) => {
        const seen: unknown[] = [];
        for (let skip = 0; skip < all.count + limit; skip += limit) {
          const page = (await api().get(`/api/v1/users/me/events?skip=${skip}&limit=${limit}`).set(user.auth)).body;
          expect(page.count).toBe(all.count);
          seen.push(...page.data);
        }
        expect(seen).toEqual(all.data);
      }),
      { numRuns: 9 },
    );
    expect((await api().get('/api/v1/users/me/events?skip=9223372036854775807').set(user.auth)).body).toEqual({ data: [], count: 8 });
  });

  it('needs a token: 401 without one', async () => {
    const response = await api().get('/api/v1/users/me/events');
    expect([response.status, response.body]).toEqual([401, { detail: 'Not authenticated' }]);
  });

  it('keeps the address behind a proxy and the user agent, each cut to its bound (64 and 512 characters)', async () => {
    const proxied = await createTestApp({ TRUST_PROXY: 'true' });
    try {
      const user = await signUp(proxied.app);
      const response = await request(proxied.app)
        .post('/api/v1/login/access-token')
        .set('X-Forwarded-For', `2001:db8::${'1'.repeat(100)}`)
        .set('User-Agent', 'agent '.repeat(200))
        .type('form')
        .send({ username: user.username, password: user.password });
      const [event] = (await request(proxied.app).get('/api/v1/users/me/events?limit=1').set('Authorization', `Bearer ${response.body.access_token}`)).body
        .data;
      expect(event).toMatchObject({ type: 'login', ip: `2001:db8::${'1'.repeat(54)}`, user_agent: 'agent '.repeat(200).slice(0, 512) });
    } finally {
      await proxied.close();
    }
  });
});

describe('no event holds a secret', () => {
  it('no column of any event contains a password, a password hash, an access token, a refresh token or its secret', async () => {
    const secrets: string[] = [];
    const user = await signUp(testApp.app, { password: 'the secret password 1' });
    secrets.push(user.password, 'the secret password 2', 'a wrong secret password');
    const sessions = [await logIn(testApp.app, user.username, user.password), await logIn(testApp.app, user.email, user.password)];
    await login(user.username, 'a wrong secret password');
    const rotated = await api().post('/api/v1/login/refresh').send({ refresh_token: sessions[1].refresh_token });
    await api().post('/api/v1/login/refresh').send({ refresh_token: sessions[1].refresh_token });
    const auth = { Authorization: `Bearer ${sessions[0].access_token}` };
    await api().patch('/api/v1/users/me/password').set(auth).send({ current_password: user.password, new_password: 'the secret password 2' });
    await api().post('/api/v1/logout').set(auth);
    const last = await logIn(testApp.app, user.username, 'the secret password 2');
    const [{ hashed_password: hash }] = await testApp.dataSource.query('SELECT hashed_password FROM users WHERE id = $1', [user.id]);
    await api().delete('/api/v1/users/me').set('Authorization', `Bearer ${last.access_token}`);

    for (const tokens of [...sessions, rotated.body as Tokens, last]) {
      secrets.push(tokens.access_token, tokens.refresh_token, tokens.refresh_token.split('.')[1], tokens.access_token.split('.')[2]);
    }
    secrets.push(hash);
    const rows: Array<{ type: string; text: string }> = await testApp.dataSource.query(
      'SELECT type, row_to_json(e)::text AS text FROM security_events e WHERE user_id = $1 ORDER BY created_at',
      [user.id],
    );
    expect(rows.map((row) => row.type)).toEqual([
      'signup',
      'login',
      'login',
      'login_failed',
      'refresh_reuse',
      'password_changed',
      'logout',
      'login',
      'account_deleted',
    ]);
    const leaks = rows.flatMap((row) => secrets.filter((secret) => row.text.includes(secret)).map((secret) => `${row.type}: ${secret.slice(0, 12)}…`));
    expect(leaks).toEqual([]);
  });
});
