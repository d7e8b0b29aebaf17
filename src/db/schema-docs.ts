import fs from 'node:fs';
import path from 'node:path';
import type { TableInfo } from './schema-catalog';

export const DOCS_DIR = path.join('docs', 'data');

const NOTICE = 'npm run docs:schema rewrites this block from the migrated schema; edit the migrations, not this';

const begin = (name: string) => `<!-- BEGIN GENERATED ${name} (${NOTICE}) -->`;
const end = (name: string) => `<!-- END GENERATED ${name} -->`;

/**
 * The schema docs as they should be: each file's hand-written parts as they are, each generated
 * block rewritten from the catalog. Keys are paths relative to the project root.
 */
export function renderSchemaDocs(tables: TableInfo[], readExisting: (file: string) => string | undefined): Map<string, string> {
  const files = new Map<string, string>();
  const readme = path.join(DOCS_DIR, 'README.md');
  files.set(readme, fillBlocks(readme, readExisting(readme) ?? readmeTemplate(), { 'er-diagram': erDiagram(tables), tables: tableList(tables) }));
  for (const table of tables) {
    const file = path.join(DOCS_DIR, 'schemas', `${table.name}.md`);
    files.set(
      file,
      fillBlocks(file, readExisting(file) ?? tableTemplate(table.name), {
        columns: columnsBlock(table),
        relationships: relationshipsBlock(table, tables),
        indexes: indexesBlock(table),
        constraints: constraintsBlock(table),
        triggers: triggersBlock(table),
      }),
    );
  }
  return files;
}

export function readDocFile(root: string): (file: string) => string | undefined {
  return (file) => {
    try {
      return fs.readFileSync(path.join(root, file), 'utf8');
    } catch {
      return undefined;
    }
  };
}

/** Everything the catalog should say and does not: a table, column or index without a comment. */
export function undocumented(tables: TableInfo[]): string[] {
  return tables.flatMap((table) => [
    ...(table.comment ? [] : [`table ${table.name}`]),
    ...table.columns.filter((column) => !column.comment).map((column) => `column ${table.name}.${column.name}`),
    ...table.indexes.filter((index) => !index.comment).map((index) => `index ${index.name}`),
  ]);
}

function fillBlocks(file: string, content: string, blocks: Record<string, string>): string {
  let result = content;
  for (const [name, body] of Object.entries(blocks)) {
    const start = result.indexOf(begin(name));
    const stop = result.indexOf(end(name));
    if (start < 0 || stop < start) throw new Error(`${file} has no generated "${name}" block: add the lines\n${begin(name)}\n${end(name)}`);
    result = `${result.slice(0, start)}${begin(name)}\n${body.trimEnd()}\n${result.slice(stop)}`;
  }
  return result;
}

const cell = (value: string | null | undefined) => (value ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ');
const code = (value: string | null | undefined) => (value ? `\`${cell(value)}\`` : '');

function table(header: string[], rows: string[][]): string {
  if (rows.length === 0) return '_None._';
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n');
}

function columnsBlock(info: TableInfo): string {
  const primaryKey = new Set(info.constraints.filter((c) => c.kind === 'primary key').flatMap((c) => /\(([^)]*)\)/.exec(c.definition)?.[1].split(', ') ?? []));
  const foreignKey = new Map(info.foreignKeys.flatMap((fk) => fk.columns.map((column, i) => [column, `${fk.references}.${fk.referencedColumns[i]}`])));
  return table(
    ['column', 'type', 'null', 'default', 'keys', 'description'],
    info.columns.map((column) => [
      `\`${column.name}\``,
      cell(column.type),
      column.nullable ? 'yes' : 'no',
      code(column.default),
      [primaryKey.has(column.name) ? 'PK' : '', foreignKey.has(column.name) ? `FK → ${foreignKey.get(column.name)}` : ''].filter(Boolean).join(', '),
      cell(column.comment),
    ]),
  );
}

function relationshipsBlock(info: TableInfo, tables: TableInfo[]): string {
  const belongsTo = info.foreignKeys.map(
    (fk) =>
      `- **Belongs to** [\`${fk.references}\`](${fk.references}.md) via \`${fk.columns.join(', ')}\` (ON DELETE ${fk.onDelete}, constraint \`${fk.name}\`)`,
  );
  const hasMany = tables.flatMap((other) =>
    other.foreignKeys
      .filter((fk) => fk.references === info.name)
      .map((fk) => `- **Has many** [\`${other.name}\`](${other.name}.md) via \`${other.name}.${fk.columns.join(', ')}\` (ON DELETE ${fk.onDelete})`),
  );
  const lines = [...belongsTo, ...hasMany];
  return lines.length ? lines.join('\n') : '_None._';
}

function indexesBlock(info: TableInfo): string {
  return table(
    ['index', 'definition', 'why'],
    info.indexes.map((index) => [`\`${index.name}\``, code(index.definition.replace(/ ON public\./, ' ON ')), cell(index.comment) || '**undocumented**']),
  );
}

function constraintsBlock(info: TableInfo): string {
  return table(
    ['constraint', 'kind', 'definition'],
    info.constraints.map((constraint) => [`\`${constraint.name}\``, constraint.kind, code(constraint.definition)]),
  );
}

function triggersBlock(info: TableInfo): string {
  return table(
    ['trigger', 'definition'],
    info.triggers.map((trigger) => [`\`${trigger.name}\``, code(trigger.definition.replace(/ ON public\./, ' ON '))]),
  );
}

function erDiagram(tables: TableInfo[]): string {
  const lines = ['```mermaid', 'erDiagram'];
  for (const info of tables) {
    for (const fk of info.foreignKeys) lines.push(`    ${fk.references} ||--o{ ${info.name} : "${fk.columns.join(', ')} (ON DELETE ${fk.onDelete})"`);
  }
  for (const info of tables) {
    const primaryKey = new Set(
      info.constraints.filter((c) => c.kind === 'primary key').flatMap((c) => /\(([^)]*)\)/.exec(c.definition)?.[1].split(', ') ?? []),
    );
    const foreignKey = new Set(info.foreignKeys.flatMap((fk) => fk.columns));
    lines.push(`    ${info.name} {`);
    for (const column of info.columns) {
      const keys = [primaryKey.has(column.name) ? 'PK' : '', foreignKey.has(column.name) ? 'FK' : ''].filter(Boolean).join(', ');
      lines.push(`        ${column.shortType} ${column.name}${keys ? ` ${keys}` : ''}${column.nullable ? ' "nullable"' : ''}`);
    }
    lines.push('    }');
  }
  lines.push('```');
  return lines.join('\n');
}

function tableList(tables: TableInfo[]): string {
  return table(
    ['table', 'purpose', 'documentation'],
    tables.map((info) => [`\`${info.name}\``, cell(info.comment), `[schemas/${info.name}.md](schemas/${info.name}.md)`]),
  );
}

function readmeTemplate(): string {
  return [
    '# Data',
    '',
    '## Entity-relationship diagram',
    '',
    begin('er-diagram'),
    end('er-diagram'),
    '',
    '## Tables',
    '',
    begin('tables'),
    end('tables'),
    '',
  ].join('\n');
}

function tableTemplate(name: string): string {
  const sections = ['columns', 'relationships', 'indexes', 'constraints', 'triggers'];
  return [
    `# ${name}`,
    '',
    '## Purpose',
    '',
    '_Say what this table stores and why._',
    '',
    ...sections.flatMap((section) => [`## ${section[0].toUpperCase()}${section.slice(1)}`, '', begin(section), end(section), '']),
    '## Common queries',
    '',
    '## Examples',
    '',
  ].join('\n');
}
