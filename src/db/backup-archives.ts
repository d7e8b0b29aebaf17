import fs from 'node:fs';
import path from 'node:path';

/**
 * Archives in BACKUP_DIR are named by the UTC time the backup started: `todo-20261201T101500Z.dump`,
 * and `todo-20261201T101500Z-2.dump` for a second one in the same second. Only names of this form
 * are ever listed or deleted; anything else in the directory is left alone.
 */
const ARCHIVE_NAME = /^todo-(\d{8}T\d{6}Z)(?:-([1-9]\d*))?\.dump$/;

export function isArchiveName(name: string): boolean {
  return ARCHIVE_NAME.test(name);
}

export function archiveName(startedAt: Date, sequence = 1): string {
  const stamp = startedAt
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
  return `todo-${stamp}${sequence > 1 ? `-${sequence}` : ''}.dump`;
}

/** The archives in `dir`, newest first (by the time in their names, then their sequence number). */
export function listArchives(dir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const keyed = names.flatMap((name) => {
    const match = ARCHIVE_NAME.exec(name);
    return match ? [{ name, stamp: match[1], sequence: Number(match[2] ?? 1) }] : [];
  });
  keyed.sort((a, b) => (a.stamp === b.stamp ? b.sequence - a.sequence : a.stamp < b.stamp ? 1 : -1));
  return keyed.map((entry) => entry.name);
}

/** Deletes all but the newest `keep` archives (0 keeps every one). Returns what it deleted, oldest last. */
export function pruneArchives(dir: string, keep: number): { kept: string[]; deleted: string[] } {
  const archives = listArchives(dir);
  if (keep === 0) return { kept: archives, deleted: [] };
  const deleted = archives.slice(keep);
  for (const name of deleted) fs.rmSync(path.join(dir, name), { force: true });
  return { kept: archives.slice(0, keep), deleted };
}

/** Binary units, as `du -h` and `ls -lh` print them: 1.5 MiB. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}
