import fs from 'node:fs';
import type { DataSource } from 'typeorm';
import { ClientToolFailed, runClientTool } from './client-tool-process';
import { ClientToolError, libpqConnection, missingToolMessage, qualifyingTools, serverMajor, type ClientTool } from './pg-client-tools';
import { pendingMigrations } from './migrations';
import type { ServerInfo } from './server-info';

/** Every pg_dump custom-format archive starts with these bytes. */
const ARCHIVE_MAGIC = 'PGDMP';

export class RestoreRefused extends Error {}

export function checkArchiveFile(file: string): void {
  let head: Buffer;
  try {
    const descriptor = fs.openSync(file, 'r');
    head = Buffer.alloc(ARCHIVE_MAGIC.length);
    fs.readSync(descriptor, head, 0, head.length, 0);
    fs.closeSync(descriptor);
  } catch (error) {
    throw new RestoreRefused(`cannot read ${file}: ${(error as Error).message}`);
  }
  if (head.toString('latin1') !== ARCHIVE_MAGIC)
    throw new RestoreRefused(`${file} is not a pg_dump custom-format archive (it does not start with ${ARCHIVE_MAGIC})`);
}

export interface ArchiveInfo {
  /** From the archive's header: `15.18 (Debian 15.18-0+deb12u1)`. */
  dumpedFrom: string | undefined;
  dumpedBy: string | undefined;
}

/**
 * The pg_restore to use: the lowest major at or above the server's (as for pg_dump) that can read
 * this archive. pg_restore cannot read an archive written by a newer pg_dump, so a newer one is
 * tried when the lowest refuses it.
 */
export async function choosePgRestore(
  candidates: ClientTool[],
  server: ServerInfo,
  file: string,
  pgBinDir?: string,
): Promise<{ tool: ClientTool; archive: ArchiveInfo }> {
  const usable = qualifyingTools(candidates, serverMajor(server.versionNum));
  if (!usable.length) throw new ClientToolError(missingToolMessage('pg_restore', serverMajor(server.versionNum), server.version, candidates, pgBinDir));
  const refusals: string[] = [];
  for (const tool of usable) {
    try {
      const { stdout } = await runClientTool(tool.path, ['--list', file], {});
      const header = (label: string) => new RegExp(`^;\\s+${label}:\\s*(.+)$`, 'm').exec(stdout)?.[1].trim();
      return { tool, archive: { dumpedFrom: header('Dumped from database version'), dumpedBy: header('Dumped by pg_dump version') } };
    } catch (error) {
      refusals.push(`${tool.path} ${tool.version}: ${error instanceof ClientToolFailed ? error.stderr : (error as Error).message}`);
    }
  }
  throw new ClientToolError(
    `No pg_restore could read ${file} (${refusals.join('; ')}). An archive written by a newer pg_dump needs a pg_restore of that version: set PG_BIN_DIR to its directory.`,
  );
}

export interface SchemaObject {
  kind: string;
  name: string;
  drop: string;
}

/**
 * What makes a database "not empty" for a restore: any table, view, materialized view, sequence,
 * foreign table, function, procedure, aggregate, domain or type in the public schema, where the
 * service keeps everything, except what belongs to an extension. Indexes, constraints and triggers
 * belong to their tables. Each comes with the statement that drops it (and what depends on it).
 */
export async function objectsInPublic(dataSource: DataSource): Promise<SchemaObject[]> {
  return dataSource.query(`
    WITH extension_members AS (SELECT classid, objid FROM pg_depend WHERE deptype = 'e')
    SELECT kind, name, drop FROM (
      SELECT CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign table' ELSE 'table' END AS kind,
             c.relname::text AS name, 1 AS rank,
             format('DROP %s IF EXISTS %s CASCADE',
                    CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END,
                    c.oid::regclass) AS drop
        FROM pg_class c
       WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
         AND (c.relkind <> 'S' OR NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i')))
         AND NOT EXISTS (SELECT 1 FROM extension_members e WHERE e.classid = 'pg_class'::regclass AND e.objid = c.oid)
      UNION ALL
      SELECT CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' ELSE 'function' END, p.oid::regprocedure::text, 2,
             format('DROP %s IF EXISTS %s CASCADE', CASE p.prokind WHEN 'a' THEN 'AGGREGATE' ELSE 'ROUTINE' END, p.oid::regprocedure)
        FROM pg_proc p
       WHERE p.pronamespace = 'public'::regnamespace
         AND NOT EXISTS (SELECT 1 FROM extension_members e WHERE e.classid = 'pg_proc'::regclass AND e.objid = p.oid)
      UNION ALL
      SELECT CASE t.typtype WHEN 'd' THEN 'domain' ELSE 'type' END, format_type(t.oid, NULL), 3,
             format('DROP %s IF EXISTS %s CASCADE', CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, t.oid::regtype)
        FROM pg_type t
       WHERE t.typnamespace = 'public'::regnamespace AND t.typtype IN ('c', 'd', 'e', 'r')
         AND (t.typtype <> 'c' OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
         AND NOT EXISTS (SELECT 1 FROM extension_members e WHERE e.classid = 'pg_type'::regclass AND e.objid = t.oid)
    ) AS objects
    ORDER BY rank, name`);
}

/** "6 tables (migrations, sessions, …), 3 functions (…)": what a refusal names. */
export function describeObjects(objects: SchemaObject[]): string {
  const byKind = new Map<string, string[]>();
  for (const object of objects) byKind.set(object.kind, [...(byKind.get(object.kind) ?? []), object.name]);
  const shown = 10;
  return [...byKind]
    .map(([kind, names]) => {
      const listed = names.slice(0, shown).join(', ') + (names.length > shown ? `, and ${names.length - shown} more` : '');
      return `${names.length} ${kind}${names.length === 1 ? '' : kind.endsWith('x') ? 'es' : 's'} (${listed})`;
    })
    .join(', ');
}

/** Drops them all in one transaction: either all are gone or none is. */
export async function dropObjects(dataSource: DataSource, objects: SchemaObject[]): Promise<void> {
  await dataSource.transaction(async (manager) => {
    for (const object of objects) await manager.query(object.drop);
  });
}

/**
 * `pg_restore --single-transaction --exit-on-error`: the first error rolls everything back, so a
 * failed restore leaves the database as it was. `--no-owner` and `--no-privileges`: the objects
 * belong to the user restoring, whatever roles the original server had.
 */
export async function runPgRestore(pgRestore: ClientTool, url: string, file: string, signal?: AbortSignal): Promise<void> {
  const { conninfo, env } = libpqConnection(url);
  await runClientTool(
    pgRestore.path,
    ['--exit-on-error', '--single-transaction', '--no-owner', '--no-privileges', '--no-password', `--dbname=${conninfo}`, file],
    env,
    signal,
  );
}

export interface RestoredSchema {
  /** Migrations of this build the restored database lacks. */
  pending: string[];
  /** Migrations the restored database has that this build does not know: it was made by a newer version. */
  unknown: string[];
  /** Table name → rows, for the summary. */
  rows: Array<{ table: string; rows: number }>;
}

export async function inspectRestoredSchema(dataSource: DataSource): Promise<RestoredSchema> {
  const table = dataSource.options.migrationsTableName ?? 'migrations';
  const [{ exists }] = await dataSource.query('SELECT to_regclass($1) IS NOT NULL AS exists', [table]);
  const applied: string[] = exists ? (await dataSource.query(`SELECT name FROM "${table}" ORDER BY id`)).map((row: { name: string }) => row.name) : [];
  const known = new Set(dataSource.migrations.map((migration) => migration.name ?? migration.constructor.name));
  const tables: Array<{ quoted: string; table: string }> = await dataSource.query(
    `SELECT c.relname AS table, format('%I.%I', 'public', c.relname) AS quoted FROM pg_class c
      WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') ORDER BY c.relname`,
  );
  const rows = [];
  for (const { quoted, table: name } of tables) rows.push({ table: name, rows: Number((await dataSource.query(`SELECT count(*) AS n FROM ${quoted}`))[0].n) });
  return { pending: await pendingMigrations(dataSource), unknown: applied.filter((name) => !known.has(name)), rows };
}
