import request from 'supertest';
import { PasswordHasher } from '../src/auth/passwords';
import { seedBulk } from '../seeds/seed';
import { createTestApp, type TestApp } from './support/app';
import { signUpAndLogIn } from './support/users';

let testApp: TestApp;

beforeAll(async () => {
  testApp = await createTestApp();
});

afterAll(() => testApp.close());

/** Users whose counter differs from counting their live tasks. */
async function driftedCounts(): Promise<unknown[]> {
  return testApp.dataSource.query(
    `SELECT u.id, c.live_tasks, (SELECT count(*)::int FROM tasks t WHERE t.user_id = u.id AND t.deleted_at IS NULL) AS actual
       FROM users u LEFT JOIN user_task_counts c ON c.user_id = u.id
      WHERE coalesce(c.live_tasks, 0) <> (SELECT count(*) FROM tasks t WHERE t.user_id = u.id AND t.deleted_at IS NULL)`,
  );
}

describe('the live-task counter behind the unfiltered list count', () => {
  it('stays equal to counting live tasks through creates, trash, restore, permanent deletes, account deletion, bulk loads, raw SQL and TRUNCATE', async () => {
    const alice = await signUpAndLogIn(testApp.app);
    const bob = await signUpAndLogIn(testApp.app);
    const api = () => request(testApp.app);
    const ids: string[] = [];
    for (let i = 0; i < 6; i += 1)
      ids.push(
        (
          await api()
            .post('/api/v1/tasks')
            .set(alice.auth)
            .send({ title: `task ${i}` })
        ).body.id,
      );
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        api()
          .post('/api/v1/tasks')
          .set(bob.auth)
          .send({ title: `parallel ${i}` }),
      ),
    );
    expect(await driftedCounts()).toEqual([]);

    await api().delete(`/api/v1/tasks/${ids[0]}`).set(alice.auth).expect(204);
    await api().delete(`/api/v1/tasks/${ids[1]}`).set(alice.auth).expect(204);
    await api().post(`/api/v1/tasks/${ids[1]}/restore`).set(alice.auth).expect(200);
    await api().delete(`/api/v1/tasks/${ids[2]}/permanent`).set(alice.auth).expect(204);
    await api().delete(`/api/v1/tasks/${ids[0]}/permanent`).set(alice.auth).expect(204);
    await api().patch(`/api/v1/tasks/${ids[3]}`).set(alice.auth).send({ completed: true }).expect(200);
    expect(await driftedCounts()).toEqual([]);
    expect((await api().get('/api/v1/tasks').set(alice.auth)).body.count).toBe(4);

    await testApp.dataSource.query('UPDATE tasks SET user_id = $1 WHERE id = $2', [bob.id, ids[4]]);
    await testApp.dataSource.query("UPDATE tasks SET deleted_at = now() WHERE user_id = $1 AND title LIKE 'parallel 1%'", [bob.id]);
    expect(await driftedCounts()).toEqual([]);

    await seedBulk(testApp.dataSource, new PasswordHasher(4), { users: 3, tasksPerUser: 700, tag: 'counts', password: 'x', batchSize: 300 });
    expect(await driftedCounts()).toEqual([]);

    await api().delete('/api/v1/users/me').set(bob.auth).expect(204);
    expect(await driftedCounts()).toEqual([]);
    await testApp.dataSource.query('DELETE FROM users WHERE id = $1', [alice.id]);
    expect(await driftedCounts()).toEqual([]);
    expect(await testApp.dataSource.query('SELECT * FROM user_task_counts WHERE user_id = $1', [alice.id])).toEqual([]);

    await testApp.dataSource.query('TRUNCATE tasks');
    expect(await driftedCounts()).toEqual([]);
  });
});
