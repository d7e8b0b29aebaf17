import request from 'supertest';
import { createTestApp, type TestApp } from './support/app';
import { logIn, signUpAndLogIn } from './support/users';

let testApp: TestApp;

beforeAll(async () => {
  testApp = await createTestApp();
  await testApp.dataSource.query(`CREATE FUNCTION refuse_writes() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$`);
});

afterAll(() => testApp.close());

/** Makes every UPDATE of `table` fail while `work` runs, as a failure midway through a transaction would. */
async function whileUpdatesOf<T>(table: string, work: () => Promise<T>): Promise<T> {
  await testApp.dataSource.query(`CREATE TRIGGER refuse BEFORE UPDATE ON ${table} FOR EACH ROW EXECUTE FUNCTION refuse_writes()`);
  try {
    return await work();
  } finally {
    await testApp.dataSource.query(`DROP TRIGGER refuse ON ${table}`);
  }
}

/** What an account is made of in the database, to compare before and after. */
async function accountState(userId: string) {
  const query = (sql: string) => testApp.dataSource.query(sql, [userId]);
  return {
    user: await query('SELECT hashed_password, deleted_at, updated_at FROM users WHERE id = $1'),
    tasks: await query('SELECT id, deleted_at, updated_at FROM tasks WHERE user_id = $1 ORDER BY id'),
    sessions: await query('SELECT id, revoked_at, revoked_reason FROM sessions WHERE user_id = $1 ORDER BY id'),
  };
}

describe('DELETE /api/v1/users/me', () => {
  it.each(['users', 'tasks', 'sessions'])('changes nothing when its write to %s fails: user, tasks and sessions are one transaction', async (table) => {
    const caller = await signUpAndLogIn(testApp.app);
    await logIn(testApp.app, caller.username, caller.password);
    expect((await request(testApp.app).post('/api/v1/tasks').set(caller.auth).send({ title: 'stays live' })).status).toBe(201);
    const before = await accountState(caller.id);

    const response = await whileUpdatesOf(table, () => request(testApp.app).delete('/api/v1/users/me').set(caller.auth));
    expect(response.status).toBe(500);
    expect(await accountState(caller.id)).toEqual(before);
    expect((await request(testApp.app).get('/api/v1/users/me').set(caller.auth)).status).toBe(200);
  });
});

describe('PATCH /api/v1/users/me/password', () => {
  it.each(['users', 'sessions'])('changes nothing when its write to %s fails: the password and the other sessions are one transaction', async (table) => {
    const caller = await signUpAndLogIn(testApp.app);
    const other = await logIn(testApp.app, caller.username, caller.password);
    const before = await accountState(caller.id);

    const response = await whileUpdatesOf(table, () =>
      request(testApp.app)
        .patch('/api/v1/users/me/password')
        .set(caller.auth)
        .send({ current_password: caller.password, new_password: 'a brand new password' }),
    );
    expect(response.status).toBe(500);
    expect(await accountState(caller.id)).toEqual(before);
    expect((await request(testApp.app).get('/api/v1/users/me').set('Authorization', `Bearer ${other.access_token}`)).status).toBe(200);
  });
});
