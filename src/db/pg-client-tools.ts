import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Finding a pg_dump or pg_restore that can work with a given server. The embedded PostgreSQL ships
 * none, so these come from the system: Debian's postgresql-client-<major> packages (and
 * apt.postgresql.org's) install each major's programs in /usr/lib/postgresql/<major>/bin.
 */
export type ClientToolName = 'pg_dump' | 'pg_restore';

export interface ClientTool {
  name: ClientToolName;
  path: string;
  /** As the program prints it: `15.18`, `18beta1`. */
  version: string;
  major: number;
}

export class ClientToolError extends Error {}

export const VERSIONED_ROOT = '/usr/lib/postgresql';

/** `pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)` → 15.18, major 15; `9.6.24` → major 9. */
export function parseToolVersion(output: string): { version: string; major: number } | undefined {
  const match = /\(PostgreSQL\)\s+((\d+)[^\s]*)/.exec(output);
  return match ? { version: match[1], major: Number(match[2]) } : undefined;
}

/** `SHOW server_version_num` (e.g. 150018, 180004) → its major. */
export function serverMajor(serverVersionNum: number): number {
  return Math.floor(serverVersionNum / 10_000);
}

/**
 * The tools that can work with a server of `major`, best first. pg_dump refuses a server newer than
 * itself, and pg_restore may emit statements an older server does not know, so a tool's major must be
 * at least the server's. Of those, the lowest is best: an archive is readable by pg_restore of its
 * own major and newer, so the oldest pg_dump that can dump the server writes the archive most
 * pg_restores can read. Equal majors keep the order they were found in.
 */
export function qualifyingTools(candidates: ClientTool[], major: number): ClientTool[] {
  return candidates.filter((tool) => tool.major >= major).sort((a, b) => a.major - b.major);
}

export interface SearchOptions {
  /** PG_BIN_DIR: when set, the only directory looked in. */
  pgBinDir?: string;
  /** The PATH to search; defaults to this process's. */
  searchPath?: string;
  versionedRoot?: string;
}

/** Every `name` in the directories searched, with its version; the directories are returned too, for messages. */
export function findCandidates(name: ClientToolName, options: SearchOptions = {}): { candidates: ClientTool[]; searched: string[] } {
  const explicit = options.pgBinDir !== undefined;
  const searched = explicit
    ? [options.pgBinDir!]
    : [...pathDirectories(options.searchPath ?? process.env.PATH ?? ''), ...versionedDirectories(options.versionedRoot ?? VERSIONED_ROOT)];
  const seen = new Set<string>();
  const candidates: ClientTool[] = [];
  for (const directory of searched) {
    const file = path.join(directory, name);
    const real = realExecutable(file);
    if (!real || seen.has(real)) continue;
    seen.add(real);
    // Debian's /usr/bin/pg_dump is pg_wrapper, which runs one of /usr/lib/postgresql/<major>/bin,
    // chosen by rules of its own (a local cluster's port, ~/.postgresqlrc): those are searched directly.
    if (!explicit && path.basename(real) === 'pg_wrapper') continue;
    const version = versionOf(file);
    if (version) candidates.push({ name, path: file, ...version });
  }
  return { candidates, searched };
}

/** The best `name` for a server, or a ClientToolError saying what was found and what to install. */
export function findClientTool(name: ClientToolName, server: { versionNum: number; version: string }, options: SearchOptions = {}): ClientTool {
  return selectClientTool(name, server, findCandidates(name, options).candidates, options.pgBinDir);
}

export function selectClientTool(
  name: ClientToolName,
  server: { versionNum: number; version: string },
  candidates: ClientTool[],
  pgBinDir?: string,
): ClientTool {
  const major = serverMajor(server.versionNum);
  const [best] = qualifyingTools(candidates, major);
  if (best) return best;
  throw new ClientToolError(missingToolMessage(name, major, server.version, candidates, pgBinDir));
}

export function missingToolMessage(name: ClientToolName, major: number, serverVersion: string, candidates: ClientTool[], pgBinDir?: string): string {
  const found = candidates.length ? candidates.map((tool) => `${name} ${tool.version} (${tool.path})`).join(', ') : 'none';
  const where = pgBinDir === undefined ? `on PATH or in ${VERSIONED_ROOT}/*/bin` : `in PG_BIN_DIR=${pgBinDir}`;
  return (
    `No ${name} for PostgreSQL ${major} or newer ${where}: the server runs PostgreSQL ${serverVersion}, and ${name} must be at least its major version. ` +
    `Found: ${found}. Install postgresql-client-${major} (Debian/Ubuntu: from apt.postgresql.org), or set PG_BIN_DIR to a directory holding ${name} ${major} or newer.`
  );
}

function pathDirectories(searchPath: string): string[] {
  return searchPath.split(path.delimiter).filter((directory) => directory !== '');
}

/** /usr/lib/postgresql/<major>/bin, lowest major first. */
function versionedDirectories(root: string): string[] {
  let entries: string[];
  try {
    entries = fs.readdirSync(root);
  } catch {
    return [];
  }
  return entries
    .filter((entry) => /^\d+$/.test(entry))
    .sort((a, b) => Number(a) - Number(b))
    .map((entry) => path.join(root, entry, 'bin'));
}

function realExecutable(file: string): string | undefined {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile() ? fs.realpathSync(file) : undefined;
  } catch {
    return undefined;
  }
}

function versionOf(file: string): { version: string; major: number } | undefined {
  try {
    return parseToolVersion(execFileSync(file, ['--version'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] }));
  } catch {
    return undefined;
  }
}

/**
 * How a child libpq program reaches the database: the URL without its password, for `--dbname`, and
 * the password in PGPASSWORD, so it never shows on a command line (`ps` shows those to every user).
 * Query parameters that only node-postgres knows are turned into libpq's (`ssl=true` → `sslmode=require`,
 * `sslmode=no-verify` → `require`).
 */
export function libpqConnection(url: string): { conninfo: string; env: Record<string, string> } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ClientToolError('The database URL cannot be parsed (expected postgres://user:password@host:port/database)');
  }
  const env: Record<string, string> = {};
  if (parsed.password) env.PGPASSWORD = decodeURIComponent(parsed.password);
  parsed.password = '';
  const ssl = parsed.searchParams.get('ssl');
  parsed.searchParams.delete('ssl');
  if (parsed.searchParams.get('sslmode') === 'no-verify') parsed.searchParams.set('sslmode', 'require');
  if ((ssl === 'true' || ssl === '1') && !parsed.searchParams.has('sslmode')) parsed.searchParams.set('sslmode', 'require');
  return { conninfo: parsed.toString(), env };
}
