import fs from 'node:fs';
import path from 'node:path';
import { AppDataSource, dataSourceOptions } from '../src/db/data-source';
import { MigrationFailedError, migrationStatus, runPendingMigrations } from '../src/db/migrations';
import { createTestDatabase, silentLogger, type TestDatabase } from './support/database';
import { projectRoot } from './support/processes';

const MIGRATION = 'NormaliseEmails1795470100000';
const MIGRATIONS_DIR = path.join(projectRoot, 'migrations');
const POOL = { database: { poolSize: 2, connectTimeoutMs: 5000, statementTimeoutMs: 0, slowQueryMs: 200 } };

let database: TestDatabase;
let dataSource: AppDataSource;

/** A database migrated up to just before the email normalisation, as a deployed service has it. */
beforeEach(async () => {
  database = await createTestDatabase();
  const earlier = fs
    .readdirSync(MIGRATIONS_DIR)
    .filter((file) => file < MIGRATION.slice(-13) && file.endsWith('.ts'))
    .map((file) => path.join(MIGRATIONS_DIR, file));
  const before = new AppDataSource({ ...dataSourceOptions(database.url, POOL, silentLogger), migrations: earlier });
  await before.initialize();
  await runPendingMigrations(before);
  await before.destroy();
  dataSource = new AppDataSource(dataSourceOptions(database.url, POOL, silentLogger));
  await dataSource.initialize();
});

afterEach(async () => {
  await dataSource.destroy();
  await database.drop();
});

async function insertUser(email: string, deleted = false): Promise<{ id: string; updated: string }> {
  const [row] = await dataSource.query(
    `INSERT INTO users (email, username, hashed_password, deleted_at) VALUES ($1, $2, 'x', $3) RETURNING id, updated_at::text AS updated`,
    [email, `user_${Math.random().toString(36).slice(2)}`, deleted ? new Date() : null],
  );
  return row;
}

async function emailOf(id: string): Promise<{ email: string; updated: string }> {
  const [row] = await dataSource.query('SELECT email, updated_at::text AS updated FROM users WHERE id = $1', [id]);
  return row;
}

describe('the email normalisation migration', () => {
  it('stores every email, live or soft-deleted, in its NFKC lower-case form, and leaves normalised ones untouched', async () => {
    const fullwidth = await insertUser('ＡＬＩＣＥ@Example.com');
    const decomposed = await insertUser('Zoe\u0308@example.com');
    const deletedTwin = await insertUser('ａｌｉｃｅ@example.com', true);
    const plain = await insertUser('bob@example.com');
    const accented = await insertUser('zoë.b@example.com');

    expect(await runPendingMigrations(dataSource)).toContain(MIGRATION);

    expect((await emailOf(fullwidth.id)).email).toBe('alice@example.com');
    expect((await emailOf(decomposed.id)).email).toBe('zoë@example.com');
    expect((await emailOf(deletedTwin.id)).email).toBe('alice@example.com');
    expect(await emailOf(plain.id)).toEqual({ email: 'bob@example.com', updated: plain.updated });
    expect(await emailOf(accented.id)).toEqual({ email: 'zoë.b@example.com', updated: accented.updated });
  });

  it('fails, naming the accounts and changing nothing, when two live accounts would share an email', async () => {
    const alice = await insertUser('alice@example.com');
    const wideAlice = await insertUser('ａｌｉｃｅ@example.com');
    const nfc = await insertUser('zoë@example.com');
    const nfd = await insertUser('Zoe\u0308@example.com');
    const innocent = await insertUser('ＢＯＢ@example.com');

    const failure = await runPendingMigrations(dataSource).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(MigrationFailedError);
    expect((failure as MigrationFailedError).migration).toBe(MIGRATION);
    const message = (failure as Error).message;
    for (const account of [alice, wideAlice, nfc, nfd]) expect(message).toContain(account.id);
    expect(message).not.toContain(innocent.id);

    expect((await emailOf(wideAlice.id)).email).toBe('ａｌｉｃｅ@example.com');
    expect((await emailOf(innocent.id)).email).toBe('ＢＯＢ@example.com');
    expect((await migrationStatus(dataSource)).find((migration) => migration.name === MIGRATION)?.applied).toBe(false);
  });

  it('lets a soft-deleted account share the normalised email of a live one', async () => {
    const live = await insertUser('carol@example.com');
    const deleted = await insertUser('ＣＡＲＯＬ@example.com', true);
    await runPendingMigrations(dataSource);
    expect((await emailOf(live.id)).email).toBe('carol@example.com');
    expect((await emailOf(deleted.id)).email).toBe('carol@example.com');
  });
});
