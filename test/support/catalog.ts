import type { DataSource } from 'typeorm';
import { readSchema, type TableInfo } from '../../src/db/schema-catalog';

export interface Catalog {
  tables: TableInfo[];
  functions: Array<{ name: string; definition: string }>;
  extensions: string[];
}

/** Everything our migrations can create, as comparable data: tables with their columns, constraints, indexes, triggers and comments; functions; extensions. */
export async function readCatalog(dataSource: DataSource): Promise<Catalog> {
  return {
    tables: await readSchema(dataSource),
    functions: await dataSource.query(
      `SELECT proname AS name, pg_get_functiondef(oid) AS definition FROM pg_proc WHERE pronamespace = 'public'::regnamespace ORDER BY 1`,
    ),
    extensions: (await dataSource.query(`SELECT extname FROM pg_extension ORDER BY 1`)).map((row: { extname: string }) => row.extname),
  };
}
