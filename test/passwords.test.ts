import fc from 'fast-check';
import request from 'supertest';
import { createTestApp, type TestApp } from './support/app';
import { logIn, newUserFields, signUp, signUpAndLogIn } from './support/users';

let testApp: TestApp;

beforeAll(async () => {
  testApp = await createTestApp();
});

afterAll(() => testApp.close());

/**
 * Passwords of 8-128 characters with at least one U+0000 somewhere: valid in every other way, so
 * the NUL is the only thing wrong with them. bcrypt reads its input as a C string and would stop at it.
 */
const passwordWithNul = fc
  .tuple(fc.string({ maxLength: 60 }), fc.string({ minLength: 1, maxLength: 8, unit: fc.constantFrom('\u0000', 'a', 'é', ' ') }), fc.string({ maxLength: 60 }))
  .map(([before, middle, after]) => `${before}\u0000${middle}${after}`.padEnd(8, '\u0000'))
  .filter((password) => password.length <= 128);

async function count(sql: string, params: unknown[] = []): Promise<number> {
  const [{ count }] = await testApp.dataSource.query(sql, params);
  return count;
}

describe('a new password containing U+0000', () => {
  it('is refused at signup with 422 on body.password, and no user is written', async () => {
    await fc.assert(
      fc.asyncProperty(passwordWithNul, async (password) => {
        const fields = newUserFields({ password });
        const response = await request(testApp.app).post('/api/v1/users/signup').send(fields);
        expect(response.status).toBe(422);
        expect(response.body.detail).toEqual([expect.objectContaining({ loc: ['body', 'password'] })]);
        expect(await count('SELECT count(*)::int AS count FROM users WHERE username = $1', [fields.username])).toBe(0);
      }),
      { numRuns: 25, examples: [['\u0000'.repeat(8)], ['pass\u0000pass']] },
    );
  });

  it('is refused as new_password with 422, and the password stays what it was', async () => {
    const user = await signUpAndLogIn(testApp.app);
    const [{ hashed_password: before }] = await testApp.dataSource.query('SELECT hashed_password FROM users WHERE id = $1', [user.id]);
    await fc.assert(
      fc.asyncProperty(passwordWithNul, async (newPassword) => {
        const response = await request(testApp.app)
          .patch('/api/v1/users/me/password')
          .set(user.auth)
          .send({ current_password: user.password, new_password: newPassword });
        expect(response.status).toBe(422);
        expect(response.body.detail).toEqual([expect.objectContaining({ loc: ['body', 'new_password'] })]);
      }),
      { numRuns: 15, examples: [[`${user.password}\u0000`]] },
    );
    const [{ hashed_password: after }] = await testApp.dataSource.query('SELECT hashed_password FROM users WHERE id = $1', [user.id]);
    expect(after).toBe(before);
    await expect(logIn(testApp.app, user.username, user.password)).resolves.toHaveProperty('access_token');
  });
});

describe('a login whose password contains U+0000', () => {
  it('fails even when the text before the NUL is the password, and starts no session', async () => {
    const user = await signUp(testApp.app, { password: 'pass-word' });
    for (const password of ['pass-word\u0000', 'pass-word\u0000anything', 'pass-word\u0000pass-word']) {
      for (const send of [
        (r: request.Test) => r.type('form').send({ username: user.username, password }),
        (r: request.Test) => r.send({ username: user.email, password }),
      ]) {
        const response = await send(request(testApp.app).post('/api/v1/login/access-token'));
        // 400 from the password check; 422 where the request layer refuses U+0000 in any string first.
        expect([400, 422]).toContain(response.status);
        if (response.status === 400) expect(response.body).toEqual({ detail: 'Incorrect email or password' });
      }
    }
    expect(await count('SELECT count(*)::int AS count FROM sessions WHERE user_id = $1', [user.id])).toBe(0);
    await expect(logIn(testApp.app, user.username, 'pass-word')).resolves.toHaveProperty('access_token');
  });
});
