import request from 'supertest';
import { PasswordHasher } from '../src/auth/passwords';
import { readSchema } from '../src/db/schema-catalog';
import { seedBulk } from '../seeds/seed';
import { createTestApp, type TestApp } from './support/app';
import { createTestDatabase } from './support/database';
import { afterTheBuild } from './support/npm-scripts';
import { runToEnd } from './support/processes';

jest.setTimeout(120_000);

let testApp: TestApp;

beforeAll(async () => {
  testApp = await createTestApp();
});

afterAll(() => testApp.close());

const seed = (args: string[] = [], env: Record<string, string> = {}) =>
  runToEnd(...afterTheBuild('seed', ...args), { DATABASE_URL: testApp.database.url, BCRYPT_ROUNDS: '4', NODE_ENV: 'development', ...env });

async function snapshot() {
  return {
    users: await testApp.dataSource.query('SELECT id, email, username, hashed_password, updated_at FROM users ORDER BY id'),
    tasks: await testApp.dataSource.query('SELECT id, user_id, title, completed, due_date, updated_at, deleted_at FROM tasks ORDER BY id'),
  };
}

describe('npm run seed', () => {
  it('loads users whose printed credentials log in, whose list and trash hold the printed numbers of tasks, and changes nothing the second time', async () => {
    const first = await seed();
    expect(first.code).toBe(0);
    expect(first.output).toContain('Seeded 3 user(s) and 13 task(s).');
    // "(7 tasks + 1 in the trash)": the first number is what the user's list shows, the second what their trash holds.
    const printed = [...first.output.matchAll(/^ {2}(\S+)\s+(\S+@\S+)\s+(\S+)\s+\((\d+) tasks?(?: \+ (\d+) in the trash)?\)$/gm)].map(
      ([, username, email, password, live, trashed]) => ({ username, email, password, live: Number(live), trashed: Number(trashed ?? 0) }),
    );
    expect(printed.map((user) => user.username)).toEqual(['alice', 'bob', 'carol']);

    for (const user of printed) {
      const login = await request(testApp.app).post('/api/v1/login/access-token').type('form').send({ username: user.username, password: user.password });
      expect([user.username, login.status]).toEqual([user.username, 200]);
      const auth = { Authorization: `Bearer ${login.body.access_token}` };
      const list = await request(testApp.app).get('/api/v1/tasks').set(auth);
      const trash = await request(testApp.app).get('/api/v1/tasks/trash').set(auth);
      expect({ user: user.username, live: list.body.count, trashed: trash.body.count }).toEqual({
        user: user.username,
        live: user.live,
        trashed: user.trashed,
      });
    }
    expect(printed.find((user) => user.username === 'alice')).toMatchObject({ live: 7, trashed: 1 });

    const [spread] = await testApp.dataSource.query(
      `SELECT count(*) FILTER (WHERE completed)::int AS completed, count(*) FILTER (WHERE NOT completed)::int AS open,
              count(*) FILTER (WHERE due_date IS NULL)::int AS undated, count(*) FILTER (WHERE due_date < now() AND NOT completed)::int AS overdue,
              count(*) FILTER (WHERE deleted_at IS NOT NULL)::int AS trashed FROM tasks`,
    );
    for (const kind of ['completed', 'open', 'undated', 'overdue', 'trashed']) expect([kind, spread[kind] > 0]).toEqual([kind, true]);

    const before = await snapshot();
    const second = await seed();
    expect(second.code).toBe(0);
    expect(second.output).toContain('Nothing to do: the development data is already there.');
    expect(await snapshot()).toEqual(before);
  });

  it('loads exactly users × tasks-per-user bulk tasks and reports the rate', async () => {
    const result = await seed(['--users', '3', '--tasks-per-user', '1234']);
    expect(result.code).toBe(0);
    expect(result.output).toMatch(/Loaded 3 users and 3,702 tasks in [\d.]+ s \([\d,]+ tasks\/s\)/);
    const tag = /bulk_(\w+)_1/.exec(result.output)![1];
    const [{ count, users }] = await testApp.dataSource.query(
      `SELECT count(t.id)::int AS count, count(DISTINCT u.id)::int AS users FROM users u JOIN tasks t ON t.user_id = u.id WHERE u.username LIKE $1`,
      [`bulk\\_${tag}\\_%`],
    );
    expect({ count, users }).toEqual({ count: 3702, users: 3 });
    const login = await request(testApp.app)
      .post('/api/v1/login/access-token')
      .type('form')
      .send({ username: `bulk_${tag}_2`, password: 'bulk-password' });
    expect(login.status).toBe(200);
  });

  it('refuses to run with NODE_ENV=production unless --force is given', async () => {
    const before = await snapshot();
    const refused = await seed([], { NODE_ENV: 'production' });
    expect(refused.code).toBe(1);
    expect(refused.output).toContain('Refusing to seed with NODE_ENV=production');
    expect(await snapshot()).toEqual(before);

    const forced = await seed(['--force'], { NODE_ENV: 'production' });
    expect(forced.code).toBe(0);
  });

  it('refuses an unmigrated database, naming npm run migration:run', async () => {
    const empty = await createTestDatabase();
    try {
      const result = await seed([], { DATABASE_URL: empty.url });
      expect(result.code).toBe(1);
      expect(result.output).toMatch(/The database is not migrated \(\d+ pending: InitialSchema\d+.*\)\. Run `npm run migration:run` first\./);
    } finally {
      await empty.drop();
    }
  });

  it('rejects bad arguments with a usage message', async () => {
    const result = await seed(['--users', 'many', '--tasks-per-user', '3']);
    expect(result.code).toBe(1);
    expect(result.output).toContain('--users must be a whole number');
  });
});

describe('a bulk load that fails half-way', () => {
  it('leaves no user, no task and every index as it was', async () => {
    const before = await snapshot();
    const schemaBefore = await readSchema(testApp.dataSource);
    let batches = 0;
    const failure = await seedBulk(testApp.dataSource, new PasswordHasher(4), {
      users: 2,
      tasksPerUser: 500,
      batchSize: 100,
      tag: 'doomed',
      password: 'x',
      onProgress: () => {
        batches += 1;
        if (batches === 3) throw new Error('disk full (simulated)');
      },
    }).catch((error: Error) => error);
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toBe('disk full (simulated)');
    expect(await snapshot()).toEqual(before);
    expect(await readSchema(testApp.dataSource)).toEqual(schemaBefore);
  });
});
