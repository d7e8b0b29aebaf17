import { QueryFailedError } from 'typeorm';
import type { AppDataSource } from '../src/db/data-source';
import { Task } from '../src/tasks/task.entity';
import { User } from '../src/users/user.entity';
import { createMigratedDatabase } from './support/database';

let dataSource: AppDataSource;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ dataSource, close } = await createMigratedDatabase());
});

afterAll(() => close());

let userCounter = 0;
async function insertUser(overrides: Partial<User> = {}): Promise<User> {
  userCounter += 1;
  return dataSource.getRepository(User).save({
    email: `user${userCounter}@example.com`,
    username: `user${userCounter}`,
    hashedPassword: 'not-a-real-hash',
    ...overrides,
  });
}

async function columnsOf(table: string) {
  return dataSource.query(
    `SELECT column_name, data_type, character_maximum_length, is_nullable, column_default
       FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position`,
    [table],
  );
}

const column = (name: string, type: string, nullable: boolean, defaultValue: string | null = null, length: number | null = null) => ({
  column_name: name,
  data_type: type,
  character_maximum_length: length,
  is_nullable: nullable ? 'YES' : 'NO',
  column_default: defaultValue,
});

describe('the live schema matches schema.md', () => {
  it('users has every column with its type, nullability and default', async () => {
    expect(await columnsOf('users')).toEqual([
      column('id', 'uuid', false, 'gen_random_uuid()'),
      column('email', 'character varying', false, null, 255),
      column('username', 'character varying', false, null, 100),
      column('hashed_password', 'text', false),
      column('is_active', 'boolean', false, 'true'),
      column('created_at', 'timestamp with time zone', false, 'now()'),
      column('updated_at', 'timestamp with time zone', false, 'now()'),
      column('deleted_at', 'timestamp with time zone', true),
    ]);
  });

  it('tasks has every column with its type, nullability and default', async () => {
    expect(await columnsOf('tasks')).toEqual([
      column('id', 'uuid', false, 'gen_random_uuid()'),
      column('user_id', 'uuid', false),
      column('title', 'character varying', false, null, 200),
      column('description', 'text', true),
      column('completed', 'boolean', false, 'false'),
      column('due_date', 'timestamp with time zone', true),
      column('created_at', 'timestamp with time zone', false, 'now()'),
      column('updated_at', 'timestamp with time zone', false, 'now()'),
      column('deleted_at', 'timestamp with time zone', true),
      // The transaction that last wrote the row, for sync (0: written before sync existed).
      column('changed_xid', 'bigint', false, '0'),
    ]);
  });

  it('sessions has its columns: a hash of the refresh token, never the token, and where its last write ended in the WAL', async () => {
    expect(await columnsOf('sessions')).toEqual([
      column('id', 'uuid', false, 'gen_random_uuid()'),
      column('user_id', 'uuid', false),
      column('refresh_token_hash', 'character varying', false, null, 64),
      column('expires_at', 'timestamp with time zone', false),
      column('revoked_at', 'timestamp with time zone', true),
      column('revoked_reason', 'character varying', true, null, 32),
      column('created_at', 'timestamp with time zone', false, 'now()'),
      column('updated_at', 'timestamp with time zone', false, 'now()'),
      column('last_write_lsn', 'bigint', true),
    ]);
  });

  it('sessions.user_id references users(id) with ON DELETE CASCADE, is indexed, and has the updated_at trigger', async () => {
    const [fk] = await dataSource.query(
      `SELECT pg_get_constraintdef(oid) AS definition FROM pg_constraint WHERE conrelid = 'sessions'::regclass AND contype = 'f'`,
    );
    expect(fk.definition).toBe('FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE');
    const [index] = await dataSource.query(`SELECT indexdef FROM pg_indexes WHERE indexname = 'idx_sessions_user_id'`);
    expect(index.indexdef).toBe('CREATE INDEX idx_sessions_user_id ON public.sessions USING btree (user_id)');
    const [trigger] = await dataSource.query(`SELECT pg_get_triggerdef(oid) AS definition FROM pg_trigger WHERE tgname = 'update_sessions_updated_at'`);
    expect(trigger.definition).toBe(
      'CREATE TRIGGER update_sessions_updated_at BEFORE UPDATE ON public.sessions FOR EACH ROW EXECUTE FUNCTION update_updated_at_column()',
    );
  });

  it('rotated_refresh_tokens holds hashes keyed by session, and goes with its session (ON DELETE CASCADE)', async () => {
    expect(await columnsOf('rotated_refresh_tokens')).toEqual([
      column('session_id', 'uuid', false),
      column('refresh_token_hash', 'character varying', false, null, 64),
      column('rotated_at', 'timestamp with time zone', false, 'now()'),
    ]);
    const constraints = await dataSource.query(
      `SELECT conname, pg_get_constraintdef(oid) AS definition FROM pg_constraint WHERE conrelid = 'rotated_refresh_tokens'::regclass AND contype IN ('p', 'f') ORDER BY conname`,
    );
    expect(constraints).toEqual([
      { conname: 'rotated_refresh_tokens_pkey', definition: 'PRIMARY KEY (session_id, refresh_token_hash)' },
      { conname: 'rotated_refresh_tokens_session_id_fkey', definition: 'FOREIGN KEY (session_id) REFERENCES sessions(id) ON DELETE CASCADE' },
    ]);
  });

  it('tasks.user_id references users(id) with ON DELETE CASCADE', async () => {
    const constraints = await dataSource.query(
      `SELECT conname, pg_get_constraintdef(oid) AS definition FROM pg_constraint WHERE conrelid = 'tasks'::regclass AND contype = 'f'`,
    );
    expect(constraints).toEqual([{ conname: 'tasks_user_id_fkey', definition: 'FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE' }]);
  });

  it("has the seed's indexes, with their partial predicates and uniqueness", async () => {
    const rows: Array<{ indexname: string; indexdef: string }> = await dataSource.query(
      `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename IN ('users', 'tasks')`,
    );
    const indexes = Object.fromEntries(rows.map((row) => [row.indexname, row.indexdef]));
    expect(indexes).toMatchObject({
      users_pkey: 'CREATE UNIQUE INDEX users_pkey ON public.users USING btree (id)',
      tasks_pkey: 'CREATE UNIQUE INDEX tasks_pkey ON public.tasks USING btree (id)',
      idx_tasks_user_id: 'CREATE INDEX idx_tasks_user_id ON public.tasks USING btree (user_id)',
      idx_tasks_completed: 'CREATE INDEX idx_tasks_completed ON public.tasks USING btree (completed)',
      idx_tasks_due_date: 'CREATE INDEX idx_tasks_due_date ON public.tasks USING btree (due_date) WHERE (due_date IS NOT NULL)',
      idx_users_email: 'CREATE UNIQUE INDEX idx_users_email ON public.users USING btree (lower((email)::text)) WHERE (deleted_at IS NULL)',
      idx_users_username: 'CREATE UNIQUE INDEX idx_users_username ON public.users USING btree (lower((username)::text)) WHERE (deleted_at IS NULL)',
      idx_tasks_search:
        "CREATE INDEX idx_tasks_search ON public.tasks USING gin (to_tsvector('english'::regconfig, (((title)::text || ' '::text) || COALESCE(description, ''::text))))",
    });
  });

  it('has update_updated_at_column() and a BEFORE UPDATE trigger on users and tasks', async () => {
    const triggers = await dataSource.query(
      `SELECT tgrelid::regclass::text AS table_name, tgname, pg_get_triggerdef(oid) AS definition
         FROM pg_trigger WHERE NOT tgisinternal AND tgrelid::regclass::text IN ('users', 'tasks') AND tgname LIKE 'update\\_%' ORDER BY 1`,
    );
    expect(triggers).toEqual([
      {
        table_name: 'tasks',
        tgname: 'update_tasks_updated_at',
        definition: 'CREATE TRIGGER update_tasks_updated_at BEFORE UPDATE ON public.tasks FOR EACH ROW EXECUTE FUNCTION update_updated_at_column()',
      },
      {
        table_name: 'users',
        tgname: 'update_users_updated_at',
        definition: 'CREATE TRIGGER update_users_updated_at BEFORE UPDATE ON public.users FOR EACH ROW EXECUTE FUNCTION update_updated_at_column()',
      },
    ]);
    const [{ body }] = await dataSource.query(`SELECT prosrc AS body FROM pg_proc WHERE proname = 'update_updated_at_column'`);
    expect(body.replace(/\s+/g, ' ').trim()).toBe('BEGIN NEW.updated_at = NOW(); RETURN NEW; END;');
  });
});

describe('the updated_at trigger', () => {
  const micros = `(extract(epoch FROM created_at) * 1000000)::bigint AS created, (extract(epoch FROM updated_at) * 1000000)::bigint AS updated`;

  it('moves updated_at and leaves created_at on an UPDATE issued as raw SQL', async () => {
    const user = await insertUser();
    const [task] = await dataSource.query(`INSERT INTO tasks (user_id, title) VALUES ($1, 'write tests') RETURNING ${micros}`, [user.id]);
    const [[after]] = await dataSource.query(`UPDATE tasks SET title = 'write more tests' WHERE user_id = $1 RETURNING ${micros}`, [user.id]);
    expect(after.created).toBe(task.created);
    expect(BigInt(after.updated)).toBeGreaterThan(BigInt(task.updated));

    const [userBefore] = await dataSource.query(`SELECT ${micros} FROM users WHERE id = $1`, [user.id]);
    const [[userAfter]] = await dataSource.query(`UPDATE users SET is_active = false WHERE id = $1 RETURNING ${micros}`, [user.id]);
    expect(userAfter.created).toBe(userBefore.created);
    expect(BigInt(userAfter.updated)).toBeGreaterThan(BigInt(userBefore.updated));
  });
});

describe('deleting', () => {
  it("a user for good removes the user's tasks and sessions through ON DELETE CASCADE", async () => {
    const user = await insertUser();
    const other = await insertUser();
    await dataSource.query(`INSERT INTO sessions (user_id, refresh_token_hash, expires_at) VALUES ($1, 'h', now())`, [user.id]);
    await dataSource.getRepository(Task).save([
      { userId: user.id, title: 'one' },
      { userId: user.id, title: 'two' },
      { userId: other.id, title: 'not mine' },
    ]);
    await dataSource.query('DELETE FROM users WHERE id = $1', [user.id]);
    expect(await dataSource.getRepository(Task).countBy({ userId: user.id })).toBe(0);
    expect(await dataSource.getRepository(Task).countBy({ userId: other.id })).toBe(1);
    expect(await dataSource.query('SELECT id FROM sessions WHERE user_id = $1', [user.id])).toEqual([]);
  });

  it('a task softly hides it from find and shows it with withDeleted', async () => {
    const user = await insertUser();
    const task = await dataSource.getRepository(Task).save({ userId: user.id, title: 'hide me' });
    await dataSource.getRepository(Task).softDelete(task.id);

    expect(await dataSource.getRepository(Task).findOneBy({ id: task.id })).toBeNull();
    const withDeleted = await dataSource.getRepository(Task).findOne({ where: { id: task.id }, withDeleted: true });
    expect(withDeleted?.deletedAt).toBeInstanceOf(Date);
    const [row] = await dataSource.query('SELECT deleted_at FROM tasks WHERE id = $1', [task.id]);
    expect(row.deleted_at).toBeInstanceOf(Date);
  });
});

describe('the partial unique indexes', () => {
  async function expectUniqueViolation(promise: Promise<unknown>, index: string) {
    const error = await promise.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(QueryFailedError);
    expect((error as QueryFailedError & { driverError: { code: string; constraint: string } }).driverError).toMatchObject({
      code: '23505',
      constraint: index,
    });
  }

  it('refuse an email differing only in case while the first user is live, and accept it once that user is soft-deleted', async () => {
    const first = await insertUser({ email: 'Ann.Lee@Example.com', username: 'ann_one' });
    await expectUniqueViolation(insertUser({ email: 'ann.lee@example.COM', username: 'ann_two' }), 'idx_users_email');

    await dataSource.getRepository(User).softDelete(first.id);
    const second = await insertUser({ email: 'ann.lee@example.COM', username: 'ann_two' });
    expect(second.id).not.toBe(first.id);
  });

  it('refuse a username differing only in case while the first user is live, and accept it once that user is soft-deleted', async () => {
    const first = await insertUser({ email: 'bob1@example.com', username: 'Bob' });
    await expectUniqueViolation(insertUser({ email: 'bob2@example.com', username: 'bOB' }), 'idx_users_username');

    await dataSource.getRepository(User).softDelete(first.id);
    await expect(insertUser({ email: 'bob2@example.com', username: 'bOB' })).resolves.toMatchObject({ username: 'bOB' });
  });
});

describe('ids', () => {
  it('are UUIDs generated by the database', async () => {
    const [row] = await dataSource.query(`INSERT INTO users (email, username, hashed_password) VALUES ('raw@example.com', 'raw_sql', 'x') RETURNING id`);
    expect(row.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
