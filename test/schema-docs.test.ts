import fs from 'node:fs';
import path from 'node:path';
import type { AppDataSource } from '../src/db/data-source';
import { readSchema, type TableInfo } from '../src/db/schema-catalog';
import { DOCS_DIR, readDocFile, renderSchemaDocs, undocumented } from '../src/db/schema-docs';
import { createMigratedDatabase } from './support/database';
import { projectRoot } from './support/processes';

let dataSource: AppDataSource;
let close: () => Promise<void>;
let tables: TableInfo[];

beforeAll(async () => {
  ({ dataSource, close } = await createMigratedDatabase());
  tables = await readSchema(dataSource);
});

afterAll(() => close());

describe('the schema docs in docs/data', () => {
  it('are exactly what the migrated schema generates (otherwise: run `npm run docs:schema`)', () => {
    const expected = renderSchemaDocs(tables, readDocFile(projectRoot));
    const drifted = [...expected].filter(([file, content]) => readDocFile(projectRoot)(file) !== content).map(([file]) => file);
    if (drifted.length) {
      throw new Error(`${drifted.join(', ')} differ from the live schema: run \`npm run docs:schema\` and commit the result`);
    }
  });

  it('cover every table, and no table that is gone', () => {
    const documented = fs.readdirSync(path.join(projectRoot, DOCS_DIR, 'schemas')).map((file) => file.replace(/\.md$/, ''));
    expect(documented.sort()).toEqual(tables.map((table) => table.name).sort());
  });

  it('have a description for every table, column and index (COMMENT ON in the migrations)', () => {
    expect(undocumented(tables)).toEqual([]);
  });

  it('keep the hand-written parts while rewriting the generated blocks', () => {
    const stale = (file: string) => {
      const current = readDocFile(projectRoot)(file);
      return current?.replace(/(<!-- BEGIN GENERATED columns[^\n]*-->\n)[\s\S]*?(<!-- END GENERATED columns -->)/, '$1| stale |\n$2');
    };
    const rendered = renderSchemaDocs(tables, stale).get(path.join(DOCS_DIR, 'schemas', 'tasks.md'))!;
    expect(rendered).toBe(readDocFile(projectRoot)(path.join(DOCS_DIR, 'schemas', 'tasks.md')));
    expect(rendered).toContain('## Common queries');
    expect(rendered).not.toContain('| stale |');
  });
});
