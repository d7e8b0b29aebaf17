import type { DataSource } from 'typeorm';

/** TypeORM's own bookkeeping table; schema.md allows it to outlive a full revert. */
const BOOKKEEPING = 'migrations';

export interface Catalog {
  tables: string[];
  columns: Array<Record<string, unknown>>;
  constraints: Array<Record<string, unknown>>;
  indexes: Array<Record<string, unknown>>;
  functions: Array<Record<string, unknown>>;
  triggers: Array<Record<string, unknown>>;
  extensions: string[];
}

/** Everything our migrations can create in the public schema, as comparable data. */
export async function readCatalog(dataSource: DataSource): Promise<Catalog> {
  const rows = (sql: string) => dataSource.query(sql, [BOOKKEEPING]);
  return {
    tables: (
      await rows(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> $1 ORDER BY 1`)
    ).map((row: { table_name: string }) => row.table_name),
    columns: await rows(
      `SELECT table_name, column_name, data_type, character_maximum_length, is_nullable, column_default
         FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> $1
        ORDER BY table_name, ordinal_position`,
    ),
    constraints: await rows(
      `SELECT conrelid::regclass::text AS table_name, conname AS name, pg_get_constraintdef(oid) AS definition
         FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND conrelid::regclass::text <> $1
        ORDER BY 1, 2`,
    ),
    indexes: await rows(`SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename <> $1 ORDER BY 1, 2`),
    functions: await rows(
      `SELECT proname AS name, pg_get_functiondef(oid) AS definition FROM pg_proc
        WHERE pronamespace = 'public'::regnamespace AND proname <> $1 ORDER BY 1`,
    ),
    triggers: await rows(
      `SELECT tgrelid::regclass::text AS table_name, tgname AS name, pg_get_triggerdef(oid) AS definition
         FROM pg_trigger WHERE NOT tgisinternal AND tgrelid::regclass::text <> $1 ORDER BY 1, 2`,
    ),
    extensions: (await rows(`SELECT extname FROM pg_extension WHERE extname <> $1 ORDER BY 1`)).map((row: { extname: string }) => row.extname),
  };
}
