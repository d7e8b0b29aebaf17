import pino from 'pino';
import { Database, selectList, statement } from '../src/db/database';
import { entities } from '../src/db/data-source';
import { Task } from '../src/tasks/task.entity';
import { User } from '../src/users/user.entity';
import { createMigratedDatabase, testDataSource, type TestDatabase } from './support/database';
import type { AppDataSource } from '../src/db/data-source';

let dataSource: AppDataSource;
let url: string;
let close: () => Promise<void>;
let database: Database;

beforeAll(async () => {
  let testDatabase: TestDatabase;
  ({ database: testDatabase, dataSource, close } = await createMigratedDatabase());
  url = testDatabase.url;
  database = new Database(dataSource);
});

afterAll(() => close());

const INSERT_TASK = statement(`INSERT INTO tasks (user_id, title) VALUES ($1, $2) RETURNING ${selectList(Task)}`);
const TASK_BY_TITLE = statement(`SELECT ${selectList(Task)} FROM tasks WHERE title = $1`);
const USER_BY_EMAIL = statement(`SELECT ${selectList(User)} FROM users WHERE email = $1`);

let counter = 0;
function newUser(): Pick<User, 'email' | 'username' | 'hashedPassword'> {
  counter += 1;
  return { email: `database${counter}@example.com`, username: `database_${counter}`, hashedPassword: 'not-a-hash' };
}

describe('Database.transaction', () => {
  it('rolls back a prepared statement run inside it, with the TypeORM writes of the same transaction', async () => {
    const fields = newUser();
    await expect(
      database.transaction(async (tx) => {
        const user = await tx.use(database.repository(User)).save(fields);
        const [task] = await database.rows(tx.manager, INSERT_TASK, [user.id, 'rolled back with its transaction'], Task);
        expect(task.userId).toBe(user.id);
        throw new Error('give up');
      }),
    ).rejects.toThrow('give up');
    expect(await dataSource.query("SELECT id FROM tasks WHERE title = 'rolled back with its transaction'")).toEqual([]);
    expect(await dataSource.query('SELECT id FROM users WHERE email = $1', [fields.email])).toEqual([]);
  });

  it("runs TypeORM calls and prepared statements on one connection: each sees the other's uncommitted writes, the pool sees none until commit", async () => {
    const fields = newUser();
    const title = `written by a prepared statement for ${fields.username}`;
    await database.transaction(async (tx) => {
      const user = await tx.use(database.repository(User)).save(fields);
      // The prepared statement reads the user TypeORM wrote, and its task references that user.
      expect(await database.rows(tx.manager, USER_BY_EMAIL, [fields.email], User)).toEqual([expect.objectContaining({ id: user.id })]);
      const [task] = await database.rows(tx.manager, INSERT_TASK, [user.id, title], Task);
      // TypeORM reads the task the prepared statement wrote.
      expect(await tx.manager.findOneBy(Task, { id: task.id })).toEqual(expect.objectContaining({ id: task.id, title }));
      // Outside the transaction (the pool), neither exists yet.
      expect(await database.rows(dataSource.manager, USER_BY_EMAIL, [fields.email])).toEqual([]);
      expect(await database.rows(dataSource.manager, TASK_BY_TITLE, [title])).toEqual([]);
    });
    expect(await database.rows(dataSource.manager, TASK_BY_TITLE, [title], Task)).toEqual([expect.objectContaining({ title })]);
  });
});

describe('Database.rows', () => {
  it('returns instances of the entity, keyed by its property names, with the values TypeORM itself reads', async () => {
    const user = await database.repository(User).save(newUser());
    const [task] = await database.rows(dataSource.manager, INSERT_TASK, [user.id, 'hydrated'], Task);
    expect(task).toBeInstanceOf(Task);
    const loaded = await database.repository(Task).findOneByOrFail({ id: task.id });
    expect({ ...task }).toEqual({ ...loaded });
  });

  it('logs a statement slower than SLOW_QUERY_MS through TypeORM’s logger, with its text and never its parameters', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });
    const slow = testDataSource(url, { database: { poolSize: 1, connectTimeoutMs: 5000, statementTimeoutMs: 0, slowQueryMs: 50 } }, logger);
    await slow.initialize();
    try {
      await new Database(slow).rows(slow.manager, statement('SELECT pg_sleep(0.1), $1::text AS secret'), ['parameter-that-must-not-be-logged']);
    } finally {
      await slow.destroy();
    }
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0])).toEqual(
      expect.objectContaining({ msg: expect.stringMatching(/^slow query: \d+ ms$/), query: 'SELECT pg_sleep(0.1), $1::text AS secret' }),
    );
    expect(lines[0]).not.toContain('parameter-that-must-not-be-logged');
  });
});

describe('DB_PREPARED_STATEMENTS', () => {
  const ONE_ROW = statement("SELECT 'prepared or not' AS answer");

  it.each([
    ['on: rows() prepares a statement once on its connection, under its name, and reuses it', true, [ONE_ROW.name]],
    ['off: rows() runs the same statement unnamed, so nothing stays prepared on the connection', false, []],
  ])('%s', async (_title, preparedStatements, expected) => {
    // One connection, so the catalog query below sees the session rows() ran on.
    const single = testDataSource(url, { database: { poolSize: 1, connectTimeoutMs: 5000, statementTimeoutMs: 0, slowQueryMs: 200 } });
    await single.initialize();
    try {
      const executor = new Database(single, { preparedStatements });
      for (let i = 0; i < 3; i += 1) expect(await executor.rows(single.manager, ONE_ROW, [])).toEqual([{ answer: 'prepared or not' }]);
      const prepared = await single.query('SELECT name FROM pg_prepared_statements WHERE NOT from_sql');
      expect(prepared.map((row: { name: string }) => row.name)).toEqual(expected);
    } finally {
      await single.destroy();
    }
  });
});

describe('selectList', () => {
  it.each(entities.map((entity) => [entity.name, entity] as const))('names every column of %s as TypeORM maps it', (_name, entity) => {
    const expected = dataSource
      .getMetadata(entity)
      .columns.map((column) => `${column.databaseName} AS "${column.propertyName}"`)
      .sort();
    expect(selectList(entity).split(', ').sort()).toEqual(expected);
  });
});
