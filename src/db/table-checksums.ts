import type { DataSource } from 'typeorm';

export interface TableChecksum {
  table: string;
  rows: number;
  /** md5 over the md5 of each row's text, rows in primary-key order: equal exactly when every row is. */
  md5: string;
}

/**
 * A checksum of every table in the public schema, TypeORM's migrations table included, for comparing
 * a restored database with its original row for row. Rows are compared as PostgreSQL prints them
 * (`row::text`), so both sides must be read with the same session settings (TimeZone, DateStyle).
 * Hashing each row first keeps the aggregate at 32 bytes a row, far below the 1 GB limit of a text.
 */
export async function tableChecksums(dataSource: DataSource): Promise<TableChecksum[]> {
  const tables: Array<{ table: string; quoted: string; order_by: string | null }> = await dataSource.query(
    `SELECT c.relname AS table, format('%I.%I', n.nspname, c.relname) AS quoted,
            (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.ordinality)
               FROM pg_index i CROSS JOIN unnest(i.indkey) WITH ORDINALITY AS k(attnum, ordinality)
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
              WHERE i.indrelid = c.oid AND i.indisprimary) AS order_by
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
      ORDER BY c.relname`,
  );
  const checksums: TableChecksum[] = [];
  for (const { table, quoted, order_by: orderBy } of tables) {
    const [row] = await dataSource.query(
      `SELECT count(*)::int AS rows, md5(coalesce(string_agg(md5(checksummed_row::text), '' ORDER BY ${orderBy ?? 'checksummed_row::text'}), '')) AS md5 FROM ${quoted} AS checksummed_row`,
    );
    checksums.push({ table, rows: row.rows, md5: row.md5 });
  }
  return checksums;
}
