import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { createTestDatabase, type TestDatabase } from './support/database';
import { projectRoot, runToEnd } from './support/processes';

jest.setTimeout(120_000);

/**
 * A copy of the project (sources, configuration and the current dist/) in a scratch folder, so
 * these tests can plant files in dist/ and migrations/ without touching what other test files run.
 */
let scratch: string;
let database: TestDatabase;

const STALE_MIGRATION = '1795999999999-StaleMigration';

beforeAll(async () => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'todo-build-'));
  for (const entry of ['src', 'migrations', 'seeds', 'bench', 'dist', 'ormconfig.ts', 'package.json', 'tsconfig.json', 'tsconfig.build.json']) {
    fs.cpSync(path.join(projectRoot, entry), path.join(scratch, entry), { recursive: true });
  }
  fs.symlinkSync(path.join(projectRoot, 'node_modules'), path.join(scratch, 'node_modules'));
  database = await createTestDatabase();
});

afterAll(async () => {
  fs.rmSync(scratch, { recursive: true, force: true });
  await database?.drop();
});

const inScratch = (command: string, args: string[]) =>
  runToEnd('sh', ['-c', `cd "${scratch}" && exec "$0" "$@"`, command, ...args], { DATABASE_URL: database.url, NODE_ENV: 'development', LOG_LEVEL: 'warn' });

async function tableExists(name: string): Promise<boolean> {
  const client = new Client({ connectionString: database.url });
  await client.connect();
  try {
    return (await client.query('SELECT to_regclass($1) IS NOT NULL AS exists', [name])).rows[0].exists;
  } finally {
    await client.end();
  }
}

/** A compiled migration, as an earlier build of a since deleted source would have left it. */
const staleMigration = `"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.StaleMigration1795999999999 = void 0;
class StaleMigration1795999999999 {
    name = 'StaleMigration1795999999999';
    async up(queryRunner) { await queryRunner.query('CREATE TABLE stale_marker (id int)'); }
    async down(queryRunner) { await queryRunner.query('DROP TABLE stale_marker'); }
}
exports.StaleMigration1795999999999 = StaleMigration1795999999999;
`;

describe('npm run build', () => {
  it('removes the output of a deleted source, so a migration deleted from migrations/ is neither listed nor applied', async () => {
    fs.writeFileSync(path.join(scratch, 'dist', 'migrations', `${STALE_MIGRATION}.js`), staleMigration);
    fs.writeFileSync(path.join(scratch, 'dist', 'migrations', `${STALE_MIGRATION}.js.map`), '{}');

    const build = await inScratch('npm', ['run', '--silent', 'build']);
    expect(build.code).toBe(0);
    const run = await inScratch('node', ['dist/src/db/migrate-cli.js', 'run']);
    expect(run.code).toBe(0);
    expect(run.output).not.toContain('StaleMigration');
    expect(await tableExists('stale_marker')).toBe(false);
    const show = await inScratch('node', ['dist/src/db/migrate-cli.js', 'show']);
    expect(show.output).not.toContain('StaleMigration');
    expect(show.output).toContain('All migrations are applied.');

    expect(build.output).toContain(`Removed dist/migrations/${STALE_MIGRATION}.js: its source is gone`);
    expect(fs.readdirSync(path.join(scratch, 'dist', 'migrations')).filter((file) => file.includes('Stale'))).toEqual([]);
  });
});

describe('npm run migration:create', () => {
  it('writes a migration that builds as it is under the project tsconfig, and that migration:show then lists as pending', async () => {
    const created = await inScratch('npm', ['run', '--silent', 'migration:create', '--', 'migrations/AddNothing']);
    expect(created.code).toBe(0);
    const file = created.output.match(/Created (migrations\/(\d{13})-AddNothing\.ts)/);
    expect(file).not.toBeNull();
    const source = fs.readFileSync(path.join(scratch, file![1]), 'utf8');
    expect(source).toContain(`export class AddNothing${file![2]} implements MigrationInterface`);

    const show = await inScratch('npm', ['run', '--silent', 'migration:show']);
    expect(show.output).toContain(`[ ] AddNothing${file![2]}`);
    expect(show.code).toBe(0);
    const run = await inScratch('node', ['dist/src/db/migrate-cli.js', 'run']);
    expect(run.output).toContain(`Applied AddNothing${file![2]}`);
  });

  it('refuses a name that cannot be a class name, and writes nothing', async () => {
    const before = fs.readdirSync(path.join(scratch, 'migrations'));
    const refused = await inScratch('npm', ['run', '--silent', 'migration:create', '--', 'migrations/add-nothing']);
    expect(refused.code).toBe(1);
    expect(refused.output).toContain('"add-nothing" is not a migration name');
    expect(fs.readdirSync(path.join(scratch, 'migrations'))).toEqual(before);
  });
});
