import type { DataSource } from 'typeorm';

/** TypeORM's own bookkeeping table: not part of the documented schema. */
export const BOOKKEEPING_TABLE = 'migrations';

export interface ColumnInfo {
  name: string;
  /** As PostgreSQL prints it: `character varying(255)`, `timestamp with time zone`. */
  type: string;
  /** The short type name: `varchar`, `timestamptz`. */
  shortType: string;
  nullable: boolean;
  default: string | null;
  comment: string | null;
}

export interface TableInfo {
  name: string;
  comment: string | null;
  columns: ColumnInfo[];
  constraints: Array<{ name: string; kind: 'primary key' | 'foreign key' | 'unique' | 'check' | 'exclusion'; definition: string }>;
  foreignKeys: Array<{ name: string; columns: string[]; references: string; referencedColumns: string[]; onDelete: string }>;
  indexes: Array<{ name: string; definition: string; comment: string | null }>;
  triggers: Array<{ name: string; definition: string }>;
}

/** NOT NULL constraints (kind `n`, listed since PostgreSQL 18) are left out: the columns say it, on every version. */
const CONSTRAINT_KINDS = { p: 'primary key', f: 'foreign key', u: 'unique', c: 'check', x: 'exclusion' } as const;
const ON_DELETE: Record<string, string> = { a: 'NO ACTION', r: 'RESTRICT', c: 'CASCADE', n: 'SET NULL', d: 'SET DEFAULT' };

/** Every table of the public schema as PostgreSQL's catalog describes it: the source of the schema docs. */
export async function readSchema(dataSource: DataSource): Promise<TableInfo[]> {
  const tables: Array<{ oid: number; name: string; comment: string | null }> = await dataSource.query(
    `SELECT c.oid::int AS oid, c.relname AS name, obj_description(c.oid, 'pg_class') AS comment
       FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND c.relname <> $1 ORDER BY c.relname`,
    [BOOKKEEPING_TABLE],
  );
  return Promise.all(tables.map(async (table) => readTable(dataSource, table)));
}

async function readTable(dataSource: DataSource, table: { oid: number; name: string; comment: string | null }): Promise<TableInfo> {
  const [columns, constraints, indexes, triggers] = await Promise.all([
    dataSource.query(
      `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, t.typname AS short_type, NOT a.attnotnull AS nullable,
              pg_get_expr(d.adbin, d.adrelid) AS default, col_description(a.attrelid, a.attnum) AS comment
         FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
      [table.oid],
    ),
    dataSource.query(
      `SELECT c.conname AS name, c.contype AS kind, pg_get_constraintdef(c.oid) AS definition, c.confdeltype AS on_delete,
              r.relname AS referenced_table,
              ARRAY(SELECT attname::text FROM pg_attribute WHERE attrelid = c.conrelid AND attnum = ANY (c.conkey) ORDER BY attnum) AS columns,
              ARRAY(SELECT attname::text FROM pg_attribute WHERE attrelid = c.confrelid AND attnum = ANY (c.confkey) ORDER BY attnum) AS referenced_columns
         FROM pg_constraint c LEFT JOIN pg_class r ON r.oid = c.confrelid WHERE c.conrelid = $1 AND c.contype <> 'n' ORDER BY c.contype DESC, c.conname`,
      [table.oid],
    ),
    dataSource.query(
      `SELECT i.relname AS name, pg_get_indexdef(i.oid) AS definition, obj_description(i.oid, 'pg_class') AS comment
         FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = $1 ORDER BY i.relname`,
      [table.oid],
    ),
    dataSource.query(`SELECT tgname AS name, pg_get_triggerdef(oid) AS definition FROM pg_trigger WHERE tgrelid = $1 AND NOT tgisinternal ORDER BY tgname`, [
      table.oid,
    ]),
  ]);
  return {
    name: table.name,
    comment: table.comment,
    columns: columns.map((column: ColumnInfo & { short_type: string }) => ({
      name: column.name,
      type: column.type,
      shortType: column.short_type,
      nullable: column.nullable,
      default: column.default,
      comment: column.comment,
    })),
    constraints: constraints.map((constraint: { name: string; kind: keyof typeof CONSTRAINT_KINDS; definition: string }) => ({
      name: constraint.name,
      kind: CONSTRAINT_KINDS[constraint.kind],
      definition: constraint.definition,
    })),
    foreignKeys: constraints
      .filter((constraint: { kind: string }) => constraint.kind === 'f')
      .map((constraint: { name: string; columns: string[]; referenced_table: string; referenced_columns: string[]; on_delete: string }) => ({
        name: constraint.name,
        columns: constraint.columns,
        references: constraint.referenced_table,
        referencedColumns: constraint.referenced_columns,
        onDelete: ON_DELETE[constraint.on_delete],
      })),
    indexes,
    triggers,
  };
}
