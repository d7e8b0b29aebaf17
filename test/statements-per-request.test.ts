import { Client } from 'pg';
import request from 'supertest';
import { createTestApp, type TestApp } from './support/app';
import { signUpAndLogIn } from './support/users';

/*
 * How many statements each request sends to PostgreSQL: every round trip node-postgres makes
 * (TypeORM's and the executor's alike go through Client#query), counted during the request.
 * docs/scaling.md multiplies these by the bench's request rates; a change that adds a round trip
 * to a hot route fails here first.
 */

let testApp: TestApp;
let caller: Awaited<ReturnType<typeof signUpAndLogIn>>;
let taskId: string;

beforeAll(async () => {
  testApp = await createTestApp({ LOGIN_RATE_LIMIT: '10', LOGIN_RATE_LIMIT_PER_IP: '100' });
  caller = await signUpAndLogIn(testApp.app);
  const created = await request(testApp.app).post('/api/v1/tasks').set(caller.auth).send({ title: 'a report to write', due_date: '2027-01-01T00:00:00Z' });
  taskId = created.body.id;
});

afterAll(() => testApp.close());

/** The statements sent while `send` runs, by their first words. */
async function statementsOf(send: () => Promise<{ status: number }>, expectedStatus: number): Promise<string[]> {
  const query = jest.spyOn(Client.prototype, 'query');
  try {
    expect((await send()).status).toBe(expectedStatus);
    return query.mock.calls.map(([config]) => {
      const text = typeof config === 'string' ? config : (config as { text: string }).text;
      return text.trim().split(/\s+/).slice(0, 3).join(' ');
    });
  } finally {
    query.mockRestore();
  }
}

describe('statements per request', () => {
  const app = () => testApp.app;
  const scenarios: Array<[string, number, () => Promise<{ status: number }>, number]> = [
    ['get one task by id: authenticate, then the task', 2, () => request(app()).get(`/api/v1/tasks/${taskId}`).set(caller.auth), 200],
    [
      'list, default page: authenticate, then the page and the live-task counter at once',
      3,
      () => request(app()).get('/api/v1/tasks?limit=20').set(caller.auth),
      200,
    ],
    [
      'list completed=false&sort=due_date: authenticate, then the page and its count at once',
      3,
      () => request(app()).get('/api/v1/tasks?completed=false&sort=due_date&limit=20').set(caller.auth),
      200,
    ],
    ['list q=report: authenticate, then the page and its count at once', 3, () => request(app()).get('/api/v1/tasks?q=report&limit=20').set(caller.auth), 200],
    [
      'create: authenticate, then the insert (the live-task counter is kept by its trigger)',
      2,
      () => request(app()).post('/api/v1/tasks').set(caller.auth).send({ title: 'created under count' }),
      201,
    ],
    ['patch: authenticate, then the update', 2, () => request(app()).patch(`/api/v1/tasks/${taskId}`).set(caller.auth).send({ completed: true }), 200],
    [
      'login: the address counted, the name resolved, the failure counted, the failures cleared, then the session and its login event in one transaction (4)',
      8,
      () => request(app()).post('/api/v1/login/access-token').type('form').send({ username: caller.username, password: caller.password }),
      200,
    ],
    [
      'a failed login: the address counted, the name resolved, the failure counted, the login_failed event',
      4,
      () => request(app()).post('/api/v1/login/access-token').type('form').send({ username: caller.username, password: 'wrong' }),
      400,
    ],
  ];

  it.each(scenarios)('%s: %d', async (_name, expected, send, status) => {
    expect(await statementsOf(send, status)).toHaveLength(expected);
  });

  it('opens a transaction only for a successful login (the session and its event): every other statement commits by itself', async () => {
    for (const [name, , send, status] of scenarios) {
      const sent = await statementsOf(send, status);
      const transactions = name.startsWith('login:') ? ['START TRANSACTION', 'COMMIT'] : [];
      expect([name, sent.filter((text) => /^(BEGIN|START TRANSACTION|COMMIT)/i.test(text))]).toEqual([name, transactions]);
    }
  });
});
