import fc from 'fast-check';
import pino from 'pino';
import request from 'supertest';
import { createRetentionService } from '../src/app';
import type { Config } from '../src/config';
import { RetentionScheduler } from '../src/retention/retention.scheduler';
import { RETENTION_KINDS, RetentionLeaseLost, type RetentionKind, type RetentionReport } from '../src/retention/retention.service';
import { createTestApp, type TestApp } from './support/app';
import { afterTheBuild } from './support/npm-scripts';
import { freePort, runToEnd, startProcess, waitFor } from './support/processes';
import { signUpAndLogIn } from './support/users';

/**
 * The retention job, on explicit timestamps: "now" is fixed for each run, so a row one second on
 * either side of a limit is on a known side of it.
 */

const DAY_MS = 86_400_000;
const NOW = new Date(Date.UTC(2031, 5, 15, 12, 0, 0));
const ago = (ms: number) => new Date(NOW.getTime() - ms);

let testApp: TestApp;

beforeAll(async () => {
  testApp = await createTestApp();
});

afterAll(() => testApp.close());

const sql = (text: string, values: unknown[] = []) => testApp.dataSource.query(text, values);

type Retention = Config['retention'];
const DAYS = { trashDays: 30, sessionDays: 30, accountDays: 30, auditDays: 90 };

function retention(settings: Partial<Retention> = {}, now: () => Date = () => NOW) {
  const config = { ...testApp.config, retention: { ...DAYS, intervalMs: 0, batchSize: 1000, ...settings } };
  return createRetentionService({ config, dataSource: testApp.dataSource }, now);
}

/** Every row of every kind gone, and the job's claim too: each test starts from nothing. */
beforeEach(() => sql('TRUNCATE users, maintenance_runs CASCADE'));

let userCounter = 0;
async function insertUser(deletedAt: Date | null = null): Promise<string> {
  userCounter += 1;
  const [{ id }] = await sql("INSERT INTO users (email, username, hashed_password, deleted_at) VALUES ($1, $2, 'x', $3) RETURNING id", [
    `retention${userCounter}@example.com`,
    `retention${userCounter}`,
    deletedAt,
  ]);
  return id;
}

async function insertTask(userId: string, deletedAt: Date | null, title = 'a task'): Promise<string> {
  const [{ id }] = await sql('INSERT INTO tasks (user_id, title, deleted_at) VALUES ($1, $2, $3) RETURNING id', [userId, title, deletedAt]);
  return id;
}

async function insertSession(userId: string, { expiresAt, revokedAt = null }: { expiresAt: Date; revokedAt?: Date | null }): Promise<string> {
  const [{ id }] = await sql("INSERT INTO sessions (user_id, refresh_token_hash, expires_at, revoked_at) VALUES ($1, 'h', $2, $3) RETURNING id", [
    userId,
    expiresAt,
    revokedAt,
  ]);
  await sql("INSERT INTO rotated_refresh_tokens (session_id, refresh_token_hash) VALUES ($1, 'old')", [id]);
  return id;
}

async function insertEvent(userId: string | null, createdAt: Date): Promise<string> {
  const [{ id }] = await sql("INSERT INTO security_events (user_id, type, created_at) VALUES ($1, 'login', $2) RETURNING id", [userId, createdAt]);
  return id;
}

const FAR_FUTURE = new Date(NOW.getTime() + 365 * DAY_MS);

/** One kind of row, placed at a time: where it is written, and how to tell whether it is still there. */
interface Placement {
  kind: RetentionKind;
  setting: keyof typeof DAYS;
  place(at: Date): Promise<string>;
  table: string;
}

const PLACEMENTS: Array<[string, Placement]> = [
  ['a task trashed at', { kind: 'trashed_tasks', setting: 'trashDays', table: 'tasks', place: async (at) => insertTask(await insertUser(), at) }],
  [
    'a session revoked at',
    {
      kind: 'sessions',
      setting: 'sessionDays',
      table: 'sessions',
      place: async (at) => insertSession(await insertUser(), { expiresAt: FAR_FUTURE, revokedAt: at }),
    },
  ],
  [
    'a session expired at',
    { kind: 'sessions', setting: 'sessionDays', table: 'sessions', place: async (at) => insertSession(await insertUser(), { expiresAt: at }) },
  ],
  ['an account deleted at', { kind: 'deleted_accounts', setting: 'accountDays', table: 'users', place: (at) => insertUser(at) }],
  [
    'a security event written at',
    { kind: 'security_events', setting: 'auditDays', table: 'security_events', place: async (at) => insertEvent(await insertUser(), at) },
  ],
];

const exists = async (table: string, id: string) => (await sql(`SELECT 1 FROM ${table} WHERE id = $1`, [id])).length === 1;

describe('what the retention job deletes', () => {
  it.each(PLACEMENTS)('%s one second before its limit goes, one second after stays, for any number of days', async (_name, placement) => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.constantFrom(1, 30, 90, 36_500), fc.integer({ min: 1, max: 3650 })), async (days) => {
        await sql('TRUNCATE users, maintenance_runs CASCADE');
        const older = await placement.place(ago(days * DAY_MS + 1000));
        const newer = await placement.place(ago(days * DAY_MS - 1000));
        const report = await retention({ [placement.setting]: days }).run();
        expect([days, await exists(placement.table, older), await exists(placement.table, newer)]).toEqual([days, false, true]);
        expect(report.deleted[placement.kind]).toBe(1);
        expect(report.cutoffs[placement.kind]).toEqual(ago(days * DAY_MS));
      }),
      { numRuns: 12 },
    );
  });

  it('leaves live rows alone however old: a live task, a live session, a live account, and their counters', async () => {
    const ancient = ago(100 * 365 * DAY_MS);
    const user = await insertUser();
    await sql('UPDATE users SET created_at = $2 WHERE id = $1', [user, ancient]);
    const task = await insertTask(user, null);
    await sql('UPDATE tasks SET created_at = $2, updated_at = $2 WHERE id = $1', [task, ancient]);
    const session = await insertSession(user, { expiresAt: FAR_FUTURE });
    await sql('UPDATE sessions SET created_at = $2 WHERE id = $1', [session, ancient]);
    const report = await retention({ trashDays: 1, sessionDays: 1, accountDays: 1 }).run();
    expect(report.deleted).toEqual({ trashed_tasks: 0, sessions: 0, deleted_account_tasks: 0, deleted_accounts: 0, security_events: 0 });
    expect([await exists('users', user), await exists('tasks', task), await exists('sessions', session)]).toEqual([true, true, true]);
    expect(await sql('SELECT live_tasks FROM user_task_counts WHERE user_id = $1', [user])).toEqual([{ live_tasks: 1 }]);
  });

  it.each(RETENTION_KINDS.map((kind) => [kind] as const))('0 days keeps %s forever, while the others are deleted', async (kept) => {
    const setting: Record<RetentionKind, keyof typeof DAYS> = {
      trashed_tasks: 'trashDays',
      sessions: 'sessionDays',
      deleted_account_tasks: 'accountDays',
      deleted_accounts: 'accountDays',
      security_events: 'auditDays',
    };
    const ancient = ago(100 * 365 * DAY_MS);
    const user = await insertUser();
    await insertTask(user, ancient);
    await insertSession(user, { expiresAt: ancient });
    await insertEvent(user, ancient);
    const gone = await insertUser(ancient);
    for (let i = 0; i < 3; i += 1) await insertTask(gone, ancient);

    const report = await retention({ [setting[kept]]: 0 }).run();
    const expected: Record<RetentionKind, number> = { trashed_tasks: 4, sessions: 1, deleted_account_tasks: 0, deleted_accounts: 1, security_events: 1 };
    // With accounts kept, their tasks (trashed long ago) are still the trash's to delete.
    if (kept === 'deleted_account_tasks' || kept === 'deleted_accounts') Object.assign(expected, { deleted_account_tasks: 0, deleted_accounts: 0 });
    if (kept === 'trashed_tasks') Object.assign(expected, { trashed_tasks: 0, deleted_account_tasks: 3 });
    expected[kept] = 0;
    expect(report.deleted).toEqual(expected);
    expect(report.cutoffs[kept]).toBeUndefined();
  });

  it('with every retention at 0, deletes nothing at all', async () => {
    const ancient = ago(100 * 365 * DAY_MS);
    const user = await insertUser(ancient);
    await insertTask(user, ancient);
    await insertSession(user, { expiresAt: ancient, revokedAt: ancient });
    await insertEvent(user, ancient);
    const report = await retention({ trashDays: 0, sessionDays: 0, accountDays: 0, auditDays: 0 }).run();
    expect([report.ran, report.cutoffs, Object.values(report.deleted)]).toEqual([true, {}, [0, 0, 0, 0, 0]]);
    const [counts] = await sql(
      'SELECT (SELECT count(*)::int FROM users) AS users, (SELECT count(*)::int FROM tasks) AS tasks, (SELECT count(*)::int FROM sessions) AS sessions, (SELECT count(*)::int FROM security_events) AS events',
    );
    expect(counts).toEqual({ users: 1, tasks: 1, sessions: 1, events: 1 });
  });

  it('deletes an account with everything it still has (tasks in batches first, then sessions, rotated hashes, events, its counter), and no other account', async () => {
    const deletedAt = ago(31 * DAY_MS);
    const gone = await insertUser(deletedAt);
    for (let i = 0; i < 5; i += 1) await insertTask(gone, deletedAt);
    await insertSession(gone, { expiresAt: FAR_FUTURE, revokedAt: deletedAt });
    await insertEvent(gone, ago(DAY_MS));
    await sql('INSERT INTO user_task_counts (user_id, live_tasks) VALUES ($1, 0) ON CONFLICT DO NOTHING', [gone]);
    const kept = await insertUser();
    await insertTask(kept, null);
    await insertTask(kept, ago(DAY_MS));
    await insertSession(kept, { expiresAt: FAR_FUTURE });
    await insertEvent(kept, ago(DAY_MS));

    const report = await retention({ trashDays: 60, sessionDays: 60, batchSize: 2 }).run();
    expect(report.deleted).toMatchObject({ deleted_account_tasks: 5, deleted_accounts: 1 });
    expect(report.batches).toMatchObject({ deleted_account_tasks: 3, deleted_accounts: 1 });
    const left = async (user: string) =>
      (
        await sql(
          `SELECT (SELECT count(*)::int FROM users WHERE id = $1) AS users, (SELECT count(*)::int FROM tasks WHERE user_id = $1) AS tasks,
                  (SELECT count(*)::int FROM sessions WHERE user_id = $1) AS sessions,
                  (SELECT count(*)::int FROM rotated_refresh_tokens r JOIN sessions s ON s.id = r.session_id WHERE s.user_id = $1) AS rotated,
                  (SELECT count(*)::int FROM security_events WHERE user_id = $1) AS events, (SELECT count(*)::int FROM user_task_counts WHERE user_id = $1) AS counters`,
          [user],
        )
      )[0];
    expect(await left(gone)).toEqual({ users: 0, tasks: 0, sessions: 0, rotated: 0, events: 0, counters: 0 });
    expect(await left(kept)).toEqual({ users: 1, tasks: 2, sessions: 1, rotated: 1, events: 1, counters: 1 });
    expect(await sql('SELECT count(*)::int AS n FROM rotated_refresh_tokens')).toEqual([{ n: 1 }]);
  });
});

describe('the live-task counter', () => {
  /** Users whose counter differs from counting their live tasks. */
  const drifted = () =>
    sql(`SELECT u.id FROM users u LEFT JOIN user_task_counts c ON c.user_id = u.id
          WHERE coalesce(c.live_tasks, 0) <> (SELECT count(*) FROM tasks t WHERE t.user_id = u.id AND t.deleted_at IS NULL)`);

  it('stays right: purging the trash changes no live count, purging an account removes its counter row', async () => {
    const alice = await signUpAndLogIn(testApp.app);
    const bob = await signUpAndLogIn(testApp.app);
    for (const user of [alice, bob]) {
      for (let i = 0; i < 6; i += 1) {
        const task = await request(testApp.app)
          .post('/api/v1/tasks')
          .set(user.auth)
          .send({ title: `task ${i}` });
        if (i % 2) await request(testApp.app).delete(`/api/v1/tasks/${task.body.id}`).set(user.auth).expect(204);
      }
    }
    // Real time here: the sessions the API just started must stay live.
    const daysAgo = (days: number) => new Date(Date.now() - days * DAY_MS);
    await sql('UPDATE tasks SET deleted_at = $1 WHERE deleted_at IS NOT NULL', [daysAgo(40)]);
    await request(testApp.app).delete('/api/v1/users/me').set(bob.auth).expect(204);
    // Bob's account went 40 days ago, his tasks 20 days ago: the account's rule takes them, not the trash's.
    await sql('UPDATE users SET deleted_at = $2 WHERE id = $1', [bob.id, daysAgo(40)]);
    await sql('UPDATE tasks SET deleted_at = $2 WHERE user_id = $1', [bob.id, daysAgo(20)]);
    expect(await sql('SELECT user_id, live_tasks FROM user_task_counts ORDER BY user_id')).toEqual(
      expect.arrayContaining([{ user_id: alice.id, live_tasks: 3 }]),
    );

    const report = await retention({ batchSize: 2 }, () => new Date()).run();
    expect(report.deleted).toMatchObject({ trashed_tasks: 3, deleted_account_tasks: 6, deleted_accounts: 1 });
    expect(await drifted()).toEqual([]);
    expect(await sql('SELECT user_id, live_tasks FROM user_task_counts ORDER BY user_id')).toEqual([{ user_id: alice.id, live_tasks: 3 }]);
    expect((await request(testApp.app).get('/api/v1/tasks').set(alice.auth)).body.count).toBe(3);
    expect((await request(testApp.app).get('/api/v1/tasks/trash').set(alice.auth)).body).toEqual({ data: [], count: 0 });
  });
});

describe('batches', () => {
  it('a batch size of 2 over 5 rows: three transactions of 2, 2 and 1 rows', async () => {
    await sql('CREATE TABLE IF NOT EXISTS purge_log (txid bigint, deleted int, at timestamptz DEFAULT clock_timestamp())');
    await sql(`CREATE OR REPLACE FUNCTION log_purge() RETURNS trigger LANGUAGE plpgsql AS $$
               BEGIN INSERT INTO purge_log (txid, deleted) SELECT txid_current(), count(*) FROM old_rows; RETURN NULL; END $$`);
    await sql('CREATE TRIGGER log_purge AFTER DELETE ON tasks REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION log_purge()');
    try {
      const user = await insertUser();
      for (let i = 0; i < 5; i += 1) await insertTask(user, ago(31 * DAY_MS));
      const report = await retention({ batchSize: 2 }).run();
      const log: Array<{ txid: string; deleted: number }> = await sql('SELECT txid, deleted FROM purge_log WHERE deleted > 0 ORDER BY at');
      expect(log.map((entry) => entry.deleted)).toEqual([2, 2, 1]);
      expect(new Set(log.map((entry) => entry.txid)).size).toBe(3);
      expect([report.deleted.trashed_tasks, report.batches.trashed_tasks]).toEqual([5, 3]);
    } finally {
      await sql('DROP TRIGGER log_purge ON tasks');
    }
  });

  it('a batch skips rows another transaction holds, without waiting, and never deletes a row twice', async () => {
    const user = await insertUser();
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1) ids.push(await insertTask(user, ago(31 * DAY_MS)));
    const holder = testApp.dataSource.createQueryRunner();
    await holder.connect();
    try {
      await holder.startTransaction();
      await holder.query('SELECT id FROM tasks WHERE id = ANY($1) FOR UPDATE', [ids.slice(0, 2)]);
      const started = Date.now();
      const first = await retention().run();
      expect(Date.now() - started).toBeLessThan(5000);
      expect(first.deleted.trashed_tasks).toBe(3);
      expect((await sql('SELECT id FROM tasks ORDER BY id')).map((row: { id: string }) => row.id)).toEqual(ids.slice(0, 2).sort());
      await holder.commitTransaction();
      expect((await retention().run()).deleted.trashed_tasks).toBe(2);
    } finally {
      await holder.release();
    }
  });
});

describe('one run at a time', () => {
  it('two purgers started together: one runs, the other is told who holds the job; every row is deleted exactly once', async () => {
    const user = await insertUser();
    for (let i = 0; i < 40; i += 1) await insertTask(user, ago(31 * DAY_MS));
    for (let i = 0; i < 20; i += 1) await insertEvent(null, ago(91 * DAY_MS));
    const reports: RetentionReport[] = await Promise.all([retention({ batchSize: 1 }).run(), retention({ batchSize: 1 }).run()]);
    const [ran, skipped] = reports[0].ran ? reports : [reports[1], reports[0]];
    expect([ran.ran, skipped.ran]).toEqual([true, false]);
    expect(skipped.heldBy).toMatch(/:\d+:[0-9a-f]{8}$/);
    expect([ran.deleted.trashed_tasks, ran.deleted.security_events]).toEqual([40, 20]);
    expect(await sql('SELECT (SELECT count(*)::int FROM tasks) AS tasks, (SELECT count(*)::int FROM security_events) AS events')).toEqual([
      { tasks: 0, events: 0 },
    ]);
    const [job] = await sql("SELECT holder, lease_expires_at, last_finished_at, last_result FROM maintenance_runs WHERE job = 'retention'");
    expect(job).toMatchObject({ holder: null, lease_expires_at: null, last_result: { deleted: expect.objectContaining({ trashed_tasks: 40 }) } });
    expect(job.last_finished_at).toBeInstanceOf(Date);
  });

  it('the timer skips a run when one finished less than half an interval ago; on demand it runs anyway', async () => {
    expect((await retention().run()).ran).toBe(true);
    expect(await retention().run({ notWithinMs: 60_000 })).toMatchObject({ ran: false, heldBy: null });
    expect((await retention().run({ notWithinMs: 0 })).ran).toBe(true);
  });

  it('a crashed holder blocks the job only until its lease runs out', async () => {
    await sql("INSERT INTO maintenance_runs (job, holder, lease_expires_at) VALUES ('retention', 'crashed:1:deadbeef', now() + interval '1 hour')");
    expect(await retention().run()).toMatchObject({ ran: false, heldBy: 'crashed:1:deadbeef' });
    await sql("UPDATE maintenance_runs SET lease_expires_at = now() - interval '1 second'");
    expect((await retention().run()).ran).toBe(true);
  });

  it('a run that fails gives the job back at once, so the next run need not wait for the lease', async () => {
    await insertEvent(null, ago(91 * DAY_MS));
    await sql(`CREATE OR REPLACE FUNCTION refuse_deletes() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$`);
    await sql('CREATE TRIGGER refuse_deletes BEFORE DELETE ON security_events FOR EACH ROW EXECUTE FUNCTION refuse_deletes()');
    try {
      await expect(retention().run()).rejects.toThrow('refused by the test');
    } finally {
      await sql('DROP TRIGGER refuse_deletes ON security_events');
    }
    expect(await sql("SELECT holder, last_finished_at FROM maintenance_runs WHERE job = 'retention'")).toEqual([{ holder: null, last_finished_at: null }]);
    expect((await retention().run()).deleted.security_events).toBe(1);
  });

  it('a run whose job was taken over (it stalled past its lease) stops at its next batch', async () => {
    const user = await insertUser();
    for (let i = 0; i < 10; i += 1) await insertTask(user, ago(31 * DAY_MS));
    await sql('CREATE SEQUENCE IF NOT EXISTS purge_batches');
    await sql(`CREATE OR REPLACE FUNCTION take_over() RETURNS trigger LANGUAGE plpgsql AS $$
               BEGIN IF nextval('purge_batches') = 3 THEN UPDATE maintenance_runs SET holder = 'another:2:cafebabe' WHERE job = 'retention'; END IF; RETURN NULL; END $$`);
    await sql('CREATE TRIGGER take_over AFTER DELETE ON tasks FOR EACH STATEMENT EXECUTE FUNCTION take_over()');
    try {
      await expect(retention({ batchSize: 1 }).run()).rejects.toBeInstanceOf(RetentionLeaseLost);
      expect(await sql('SELECT count(*)::int AS n FROM tasks')).toEqual([{ n: 7 }]);
      expect(await sql("SELECT holder FROM maintenance_runs WHERE job = 'retention'")).toEqual([{ holder: 'another:2:cafebabe' }]);
    } finally {
      await sql('DROP TRIGGER take_over ON tasks');
    }
  });
});

describe('a dry run', () => {
  it('counts exactly what a run then deletes, per kind (a task two rules match counted once), and deletes nothing', async () => {
    const user = await insertUser();
    await insertTask(user, ago(61 * DAY_MS));
    await insertTask(user, ago(29 * DAY_MS));
    await insertSession(user, { expiresAt: ago(31 * DAY_MS) });
    await insertEvent(user, ago(91 * DAY_MS));
    const gone = await insertUser(ago(31 * DAY_MS));
    await insertTask(gone, ago(31 * DAY_MS));
    await insertTask(gone, ago(62 * DAY_MS));
    const settings = { trashDays: 60 };
    const dry = await retention(settings).run({ dryRun: true });
    expect(dry).toMatchObject({
      ran: true,
      dryRun: true,
      deleted: { trashed_tasks: 2, sessions: 1, deleted_account_tasks: 1, deleted_accounts: 1, security_events: 1 },
    });
    expect(await sql('SELECT (SELECT count(*)::int FROM tasks) AS tasks, (SELECT count(*)::int FROM users) AS users')).toEqual([{ tasks: 4, users: 2 }]);
    expect(await sql('SELECT * FROM maintenance_runs')).toEqual([]);
    expect((await retention(settings).run()).deleted).toEqual(dry.deleted);
  });
});

describe('GET /api/v1/tasks/trash', () => {
  it('gives each task the moment it is deleted for good: purge_at, TRASH_RETENTION_DAYS after it was trashed (null when kept forever)', async () => {
    const user = await signUpAndLogIn(testApp.app);
    const created = await request(testApp.app).post('/api/v1/tasks').set(user.auth).send({ title: 'soon gone' });
    await request(testApp.app).delete(`/api/v1/tasks/${created.body.id}`).set(user.auth).expect(204);
    const [{ deleted_at: deletedAt }] = await sql('SELECT deleted_at FROM tasks WHERE id = $1', [created.body.id]);
    const trash = (await request(testApp.app).get('/api/v1/tasks/trash').set(user.auth)).body;
    expect(trash.data).toEqual([{ ...created.body, updated_at: expect.any(String), purge_at: new Date(deletedAt.getTime() + 30 * DAY_MS).toISOString() }]);

    const forever = await createTestApp({ TRASH_RETENTION_DAYS: '0' });
    try {
      const other = await signUpAndLogIn(forever.app);
      const task = await request(forever.app).post('/api/v1/tasks').set(other.auth).send({ title: 'kept' });
      await request(forever.app).delete(`/api/v1/tasks/${task.body.id}`).set(other.auth).expect(204);
      expect((await request(forever.app).get('/api/v1/tasks/trash').set(other.auth)).body.data).toEqual([expect.objectContaining({ purge_at: null })]);
    } finally {
      await forever.close();
    }
  });
});

describe('the timer in the service', () => {
  function capturingLogger() {
    const lines: Array<{ level: number; msg: string; retention?: Record<string, number> }> = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    return { logger, lines };
  }

  it('runs shortly after start and then every interval, logs a line with the counts per run, and stops when told', async () => {
    const user = await insertUser();
    await insertTask(user, ago(31 * DAY_MS));
    const { logger, lines } = capturingLogger();
    let now = NOW;
    const config = { ...testApp.config, retention: { ...DAYS, intervalMs: 300, batchSize: 1000 } };
    const scheduler = new RetentionScheduler(
      createRetentionService({ config, dataSource: testApp.dataSource }, () => now),
      300,
      logger,
      () => 0,
    );
    scheduler.start();
    const runs = () => lines.filter((line) => line.msg.startsWith('Retention: deleted'));
    await waitFor(async () => (runs().length >= 1 ? true : undefined), 5000, 'a first run');
    expect(runs()[0]).toMatchObject({ level: 30, msg: expect.stringMatching(/^Retention: deleted 1 trashed tasks, 0 ended sessions, .* in \d+ ms$/) });
    expect(runs()[0].retention).toMatchObject({ trashed_tasks: 1 });
    // The next tick, an interval later, is more than half an interval after the first run finished: it runs.
    now = new Date(NOW.getTime() + 1000);
    await waitFor(async () => (runs().length >= 2 ? true : undefined), 5000, 'a second run');
    await scheduler.stop();
    const after = lines.length;
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(lines.length).toBe(after);
  });

  it('with RETENTION_INTERVAL_MS=0 never runs', async () => {
    const { logger, lines } = capturingLogger();
    const scheduler = new RetentionScheduler(retention(), 0, logger, () => 0);
    scheduler.start();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await scheduler.stop();
    expect(lines).toEqual([]);
    expect(await sql('SELECT * FROM maintenance_runs')).toEqual([]);
  });

  it('stopping during a run ends it after its current batch and gives the job back, unfinished', async () => {
    const user = await insertUser();
    for (let i = 0; i < 30; i += 1) await insertTask(user, ago(31 * DAY_MS));
    await sql(`CREATE OR REPLACE FUNCTION slow_delete() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.05); RETURN NULL; END $$`);
    await sql('CREATE TRIGGER slow_delete AFTER DELETE ON tasks FOR EACH STATEMENT EXECUTE FUNCTION slow_delete()');
    try {
      const { logger, lines } = capturingLogger();
      const config = { ...testApp.config, retention: { ...DAYS, intervalMs: 100, batchSize: 1 } };
      const scheduler = new RetentionScheduler(
        createRetentionService({ config, dataSource: testApp.dataSource }, () => NOW),
        100,
        logger,
        () => 0,
      );
      scheduler.start();
      await waitFor(async () => ((await sql('SELECT count(*)::int AS n FROM tasks'))[0].n < 28 ? true : undefined), 5000, 'a few batches');
      await scheduler.stop();
      const [{ n: left }] = await sql('SELECT count(*)::int AS n FROM tasks');
      expect(left).toBeGreaterThan(0);
      expect(lines.find((line) => line.msg.startsWith('Retention: deleted'))?.msg).toMatch(/\(stopped early: shutting down\)$/);
      expect(await sql("SELECT holder, last_finished_at FROM maintenance_runs WHERE job = 'retention'")).toEqual([{ holder: null, last_finished_at: null }]);
    } finally {
      await sql('DROP TRIGGER slow_delete ON tasks');
    }
  });
});

describe('npm run purge', () => {
  jest.setTimeout(120_000);
  const env = () => ({ DATABASE_URL: testApp.database.url, NODE_ENV: 'development', LOG_LEVEL: 'warn' });
  const realAgo = (days: number) => new Date(Date.now() - days * DAY_MS);

  it('-- --dry-run (or npm run purge --dry-run) counts and deletes nothing; without it, deletes and says what it deleted', async () => {
    const user = await insertUser();
    await insertTask(user, realAgo(31));
    await insertTask(user, realAgo(29));
    await insertEvent(user, realAgo(91));

    for (const [args, extra] of [
      [['--dry-run'], {}],
      [[], { npm_config_dry_run: 'true' }],
    ] as const) {
      const dry = await runToEnd(...afterTheBuild('purge', ...args), { ...env(), ...extra });
      expect([dry.code, dry.output]).toEqual([0, expect.stringContaining('Dry run: nothing is deleted.')]);
      expect(dry.output).toMatch(/trashed tasks\s+would delete\s+1\s+\(older than \d{4}-/);
      expect(dry.output).toMatch(/security events\s+would delete\s+1\s/);
      expect(await sql('SELECT count(*)::int AS n FROM tasks')).toEqual([{ n: 2 }]);
    }

    const real = await runToEnd(...afterTheBuild('purge'), { ...env(), SESSION_RETENTION_DAYS: '0' });
    expect(real.code).toBe(0);
    expect(real.output).toMatch(/trashed tasks\s+deleted\s+1\s/);
    expect(real.output).toMatch(/ended sessions\s+kept forever \(0 days\)/);
    expect(real.output).toMatch(/Done in \d+ ms\./);
    expect(await sql('SELECT count(*)::int AS n FROM tasks')).toEqual([{ n: 1 }]);
    expect(await sql('SELECT count(*)::int AS n FROM security_events')).toEqual([{ n: 0 }]);
  });

  it('says so and deletes nothing while another process holds the job', async () => {
    const user = await insertUser();
    await insertTask(user, realAgo(31));
    await sql("INSERT INTO maintenance_runs (job, holder, lease_expires_at) VALUES ('retention', 'busy:7:0badf00d', now() + interval '1 hour')");
    const result = await runToEnd(...afterTheBuild('purge'), env());
    expect([result.code, result.output.trim()]).toEqual([0, 'Another process is running the retention job (busy:7:0badf00d): nothing deleted.']);
    expect(await sql('SELECT count(*)::int AS n FROM tasks')).toEqual([{ n: 1 }]);
  });

  it('the compiled service runs the job on its timer and logs what it deleted', async () => {
    const user = await insertUser();
    await insertTask(user, realAgo(31));
    const port = await freePort();
    const service = startProcess('node', ['dist/src/server.js'], {
      ...env(),
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
      PORT: String(port),
      JWT_SECRET: 'retention-timer-test-0123456789abcdefghijklmnop',
      RETENTION_INTERVAL_MS: '500',
    });
    try {
      await waitFor(async () => (service.output().includes('Retention: deleted 1 trashed tasks') ? true : undefined), 30_000, 'the retention log line').catch(
        (error) => {
          throw new Error(`${error.message}\n${service.output()}`);
        },
      );
      expect(await sql('SELECT count(*)::int AS n FROM tasks')).toEqual([{ n: 0 }]);
    } finally {
      service.child.kill('SIGTERM');
      expect(await service.exited).toEqual({ code: 0, signal: null });
    }
  });
});
