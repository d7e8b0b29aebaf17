import request from 'supertest';
import { createTestApp, type TestApp } from './support/app';
import { bearer, logIn, newUserFields, signUp, signUpAndLogIn } from './support/users';

let testApp: TestApp;

beforeAll(async () => {
  testApp = await createTestApp();
});

afterAll(() => testApp.close());

const ISO_MILLIS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

async function userCount(): Promise<number> {
  const [{ count }] = await testApp.dataSource.query('SELECT count(*)::int AS count FROM users');
  return count;
}

const signup = (body: unknown) =>
  request(testApp.app)
    .post('/api/v1/users/signup')
    .send(body as object);

describe('POST /api/v1/users/signup', () => {
  it('answers 201 with the UserPublic, the email lower-cased, and stores a bcrypt hash', async () => {
    const fields = newUserFields({ email: 'Mixed.Case@Example.COM' });
    const response = await signup(fields);

    expect(response.status).toBe(201);
    expect(response.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      email: 'mixed.case@example.com',
      username: fields.username,
      is_active: true,
      created_at: expect.stringMatching(ISO_MILLIS),
      updated_at: expect.stringMatching(ISO_MILLIS),
    });
    const [row] = await testApp.dataSource.query('SELECT email, hashed_password FROM users WHERE id = $1', [response.body.id]);
    expect(row.email).toBe('mixed.case@example.com');
    expect(row.hashed_password).toMatch(/^\$2b\$04\$/);
  });

  it('answers 409 for an email already registered, whatever its case, and writes nothing', async () => {
    const existing = await signUp(testApp.app);
    const before = await userCount();
    const response = await signup(newUserFields({ email: existing.email.toUpperCase() }));
    expect(response.status).toBe(409);
    expect(response.body).toEqual({ detail: 'The email is already registered' });
    expect(await userCount()).toBe(before);
  });

  it('answers 409 for a username already taken, whatever its case', async () => {
    const existing = await signUp(testApp.app);
    const response = await signup(newUserFields({ username: existing.username.toUpperCase() }));
    expect(response.status).toBe(409);
    expect(response.body).toEqual({ detail: 'The username is already taken' });
  });

  it("accepts a deleted user's email and username again", async () => {
    const first = await signUpAndLogIn(testApp.app);
    await request(testApp.app).delete('/api/v1/users/me').set(first.auth).expect(204);
    const again = await signup({ email: first.email, username: first.username, password: 'another password' });
    expect(again.status).toBe(201);
    expect(again.body.id).not.toBe(first.id);
  });

  it('answers 422 with one entry per failing field, and writes nothing', async () => {
    const before = await userCount();
    const response = await signup({ email: 'not-an-email', username: 'a!', password: 'short' });
    expect(response.status).toBe(422);
    expect(response.body.detail).toEqual([
      { loc: ['body', 'email'], msg: 'email must be a valid email address', type: 'value_error' },
      { loc: ['body', 'username'], msg: expect.stringContaining('3-100 characters'), type: 'string_pattern_mismatch' },
      { loc: ['body', 'password'], msg: expect.stringContaining('password must be longer than or equal to 8 characters'), type: 'string_too_short' },
    ]);
    expect(await userCount()).toBe(before);
  });

  it('answers 422 for missing fields, wrong types and too-long values', async () => {
    const missing = await signup({});
    expect(missing.body.detail.map((issue: { loc: string[]; type: string }) => [issue.loc[1], issue.type])).toEqual([
      ['email', 'missing'],
      ['username', 'missing'],
      ['password', 'missing'],
    ]);
    const wrongTypes = await signup({ email: 42, username: ['x'], password: { p: 1 } });
    expect(wrongTypes.status).toBe(422);
    expect(wrongTypes.body.detail).toHaveLength(3);
    const tooLong = await signup(newUserFields({ email: `${'a'.repeat(250)}@example.com`, username: 'u'.repeat(101), password: 'p'.repeat(129) }));
    expect(tooLong.status).toBe(422);
    expect(tooLong.body.detail.map((issue: { loc: string[] }) => issue.loc[1])).toEqual(['email', 'username', 'password']);
  });

  it('answers 422 for unknown and read-only fields', async () => {
    const before = await userCount();
    const response = await signup({ ...newUserFields(), id: '00000000-0000-4000-8000-000000000000', hashed_password: 'x', is_admin: true });
    expect(response.status).toBe(422);
    expect(response.body.detail).toEqual([
      { loc: ['body', 'id'], msg: 'Field is read-only', type: 'read_only' },
      { loc: ['body', 'hashed_password'], msg: 'Field is read-only', type: 'read_only' },
      { loc: ['body', 'is_admin'], msg: 'Extra inputs are not permitted', type: 'extra_forbidden' },
    ]);
    expect(await userCount()).toBe(before);
  });

  it('accepts a password longer than bcrypt’s 72 bytes and tells apart two that share their first 72', async () => {
    const long = 'p'.repeat(72);
    const user = await signUp(testApp.app, { password: `${long}-one` });
    await expect(logIn(testApp.app, user.username, `${long}-one`)).resolves.toHaveProperty('access_token');
    const other = await request(testApp.app)
      .post('/api/v1/login/access-token')
      .type('form')
      .send({ username: user.username, password: `${long}-two` });
    expect(other.status).toBe(400);
  });
});

describe('a request body', () => {
  it('that is malformed JSON answers 422 json_invalid', async () => {
    const response = await request(testApp.app).post('/api/v1/users/signup').set('Content-Type', 'application/json').send('{"email": ');
    expect(response.status).toBe(422);
    expect(response.body).toEqual({ detail: [{ loc: ['body'], msg: 'JSON decode error', type: 'json_invalid' }] });
  });

  it('of the wrong content type answers 415', async () => {
    const response = await request(testApp.app).post('/api/v1/users/signup').set('Content-Type', 'text/plain').send('email=a@b.c');
    expect(response.status).toBe(415);
    expect(response.body).toEqual({ detail: 'Unsupported Media Type: send application/json' });
    const form = await request(testApp.app).post('/api/v1/users/signup').type('form').send(newUserFields());
    expect(form.status).toBe(415);
  });

  it('over 100 KiB answers 413, and nothing is written', async () => {
    const before = await userCount();
    const response = await signup({ ...newUserFields(), padding: 'x'.repeat(101 * 1024) });
    expect(response.status).toBe(413);
    expect(response.body).toEqual({ detail: 'Request body too large (limit 100 KiB)' });
    expect(await userCount()).toBe(before);
  });

  it('that is not an object answers 422', async () => {
    const response = await request(testApp.app).post('/api/v1/users/signup').set('Content-Type', 'application/json').send('[1, 2]');
    expect(response.status).toBe(422);
    expect(response.body.detail).toEqual([{ loc: ['body'], msg: 'Input should be an object', type: 'model_attributes_type' }]);
  });

  it('that is absent answers 422 "Field required"', async () => {
    const response = await request(testApp.app).post('/api/v1/users/signup');
    expect(response.status).toBe(422);
    expect(response.body.detail).toEqual([{ loc: ['body'], msg: 'Field required', type: 'missing' }]);
  });

  it('with a __proto__ key is refused and pollutes nothing', async () => {
    const response = await request(testApp.app)
      .post('/api/v1/users/signup')
      .set('Content-Type', 'application/json')
      .send(`{"email": "proto@example.com", "username": "proto_user", "password": "long enough", "__proto__": {"polluted": true}}`);
    expect(response.status).toBe(422);
    expect(response.body.detail).toEqual([{ loc: ['body', '__proto__'], msg: 'Extra inputs are not permitted', type: 'extra_forbidden' }]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('GET /api/v1/users/me', () => {
  it('answers the caller’s UserPublic', async () => {
    const user = await signUpAndLogIn(testApp.app);
    const response = await request(testApp.app).get('/api/v1/users/me').set(user.auth);
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ id: user.id, email: user.email, username: user.username, is_active: true });
  });

  it('answers 401 without a token', async () => {
    const response = await request(testApp.app).get('/api/v1/users/me');
    expect(response.status).toBe(401);
    expect(response.body).toEqual({ detail: 'Not authenticated' });
  });
});

describe('PATCH /api/v1/users/me', () => {
  it('changes the email (lower-cased) and the username', async () => {
    const user = await signUpAndLogIn(testApp.app);
    const fields = newUserFields();
    const response = await request(testApp.app).patch('/api/v1/users/me').set(user.auth).send({ email: fields.email.toUpperCase(), username: fields.username });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ id: user.id, email: fields.email, username: fields.username });
    expect(Date.parse(response.body.updated_at)).toBeGreaterThanOrEqual(Date.parse(response.body.created_at));
    await expect(logIn(testApp.app, fields.email, user.password)).resolves.toHaveProperty('access_token');
  });

  it('leaves the user unchanged for an empty body', async () => {
    const user = await signUpAndLogIn(testApp.app);
    const before = (await request(testApp.app).get('/api/v1/users/me').set(user.auth)).body;
    const response = await request(testApp.app).patch('/api/v1/users/me').set(user.auth).send({});
    expect(response.status).toBe(200);
    expect(response.body).toEqual(before);
  });

  it('answers 409 for an email another live user has', async () => {
    const taken = await signUp(testApp.app);
    const user = await signUpAndLogIn(testApp.app);
    const response = await request(testApp.app).patch('/api/v1/users/me').set(user.auth).send({ email: taken.email });
    expect(response.status).toBe(409);
    expect(response.body).toEqual({ detail: 'The email is already registered' });
    const [row] = await testApp.dataSource.query('SELECT email FROM users WHERE id = $1', [user.id]);
    expect(row.email).toBe(user.email);
  });

  it('answers 422 for null, invalid, unknown and read-only fields', async () => {
    const user = await signUpAndLogIn(testApp.app);
    const response = await request(testApp.app).patch('/api/v1/users/me').set(user.auth).send({ username: null, email: 'nope', is_active: false });
    expect(response.status).toBe(422);
    expect(response.body.detail.map((issue: { loc: string[] }) => issue.loc[1]).sort()).toEqual(['email', 'is_active', 'username']);
  });
});

describe('PATCH /api/v1/users/me/password', () => {
  it('changes the password and revokes every other session, keeping the current one', async () => {
    const user = await signUpAndLogIn(testApp.app);
    const otherDevice = await logIn(testApp.app, user.username, user.password);
    const response = await request(testApp.app)
      .patch('/api/v1/users/me/password')
      .set(user.auth)
      .send({ current_password: user.password, new_password: 'a brand new password' });

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ message: 'Password updated successfully' });
    expect((await request(testApp.app).get('/api/v1/users/me').set(user.auth)).status).toBe(200);
    expect((await request(testApp.app).get('/api/v1/users/me').set(bearer(otherDevice.access_token))).status).toBe(401);
    expect((await request(testApp.app).post('/api/v1/login/refresh').send({ refresh_token: otherDevice.refresh_token })).status).toBe(401);
    const oldPassword = await request(testApp.app).post('/api/v1/login/access-token').type('form').send({ username: user.username, password: user.password });
    expect(oldPassword.status).toBe(400);
    await expect(logIn(testApp.app, user.username, 'a brand new password')).resolves.toHaveProperty('access_token');
  });

  it('answers 400 "Incorrect password" for a wrong current password, and changes nothing', async () => {
    const user = await signUpAndLogIn(testApp.app);
    const response = await request(testApp.app)
      .patch('/api/v1/users/me/password')
      .set(user.auth)
      .send({ current_password: 'not my password', new_password: 'a brand new password' });
    expect(response.status).toBe(400);
    expect(response.body).toEqual({ detail: 'Incorrect password' });
    await expect(logIn(testApp.app, user.username, user.password)).resolves.toHaveProperty('access_token');
  });

  it('answers 400 when the new password equals the current one', async () => {
    const user = await signUpAndLogIn(testApp.app);
    const response = await request(testApp.app)
      .patch('/api/v1/users/me/password')
      .set(user.auth)
      .send({ current_password: user.password, new_password: user.password });
    expect(response.status).toBe(400);
    expect(response.body).toEqual({ detail: 'New password cannot be the same as the current one' });
  });

  it('answers 422 for a new password that is too short', async () => {
    const user = await signUpAndLogIn(testApp.app);
    const response = await request(testApp.app)
      .patch('/api/v1/users/me/password')
      .set(user.auth)
      .send({ current_password: user.password, new_password: 'short' });
    expect(response.status).toBe(422);
    expect(response.body.detail).toEqual([{ loc: ['body', 'new_password'], msg: expect.any(String), type: 'string_too_short' }]);
  });
});

describe('DELETE /api/v1/users/me', () => {
  it('soft-deletes the user and their live tasks, revokes every session, and frees the email', async () => {
    const user = await signUpAndLogIn(testApp.app);
    const otherDevice = await logIn(testApp.app, user.username, user.password);
    await testApp.dataSource.query(
      `INSERT INTO tasks (user_id, title, deleted_at) VALUES ($1, 'live one', NULL), ($1, 'live two', NULL), ($1, 'trashed', '2026-01-01T00:00:00Z')`,
      [user.id],
    );

    const response = await request(testApp.app).delete('/api/v1/users/me').set(user.auth);
    expect(response.status).toBe(204);

    const [row] = await testApp.dataSource.query('SELECT deleted_at FROM users WHERE id = $1', [user.id]);
    expect(row.deleted_at).toBeInstanceOf(Date);
    const tasks = await testApp.dataSource.query('SELECT title, deleted_at FROM tasks WHERE user_id = $1 ORDER BY title', [user.id]);
    expect(tasks.every((task: { deleted_at: Date | null }) => task.deleted_at instanceof Date)).toBe(true);
    expect(tasks.find((task: { title: string }) => task.title === 'trashed').deleted_at.toISOString()).toBe('2026-01-01T00:00:00.000Z');
    const [{ live }] = await testApp.dataSource.query('SELECT count(*)::int AS live FROM sessions WHERE user_id = $1 AND revoked_at IS NULL', [user.id]);
    expect(live).toBe(0);

    expect((await request(testApp.app).get('/api/v1/users/me').set(user.auth)).status).toBe(401);
    expect((await request(testApp.app).get('/api/v1/users/me').set(bearer(otherDevice.access_token))).status).toBe(401);
    expect((await request(testApp.app).post('/api/v1/login/refresh').send({ refresh_token: otherDevice.refresh_token })).status).toBe(401);
    const login = await request(testApp.app).post('/api/v1/login/access-token').type('form').send({ username: user.username, password: user.password });
    expect(login.body).toEqual({ detail: 'Incorrect email or password' });
  });

  it('answers 401 without a token', async () => {
    expect((await request(testApp.app).delete('/api/v1/users/me')).status).toBe(401);
  });
});

describe('no response', () => {
  it('ever carries a password hash', async () => {
    const user = await signUpAndLogIn(testApp.app);
    const bodies = [
      (await signup(newUserFields())).text,
      (await request(testApp.app).get('/api/v1/users/me').set(user.auth)).text,
      (await request(testApp.app).post('/api/v1/login/test-token').set(user.auth)).text,
      (await request(testApp.app).patch('/api/v1/users/me').set(user.auth).send({ username: newUserFields().username })).text,
      (await request(testApp.app).post('/api/v1/login/access-token').type('form').send({ username: user.username, password: user.password })).text,
      (
        await request(testApp.app)
          .patch('/api/v1/users/me/password')
          .set(user.auth)
          .send({ current_password: user.password, new_password: 'x'.repeat(10) })
      ).text,
    ];
    for (const body of bodies) {
      expect(body).not.toMatch(/\$2[aby]\$/);
      expect(body).not.toContain('hashed_password');
    }
  });
});
