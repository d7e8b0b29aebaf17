import fs from 'node:fs';
import path from 'node:path';
import { archiveName } from './backup-archives';
import { runClientTool } from './client-tool-process';
import { libpqConnection, type ClientTool } from './pg-client-tools';

export interface BackupResult {
  file: string;
  bytes: number;
  ms: number;
}

export interface BackupOptions {
  url: string;
  dir: string;
  pgDump: ClientTool;
  startedAt?: Date;
  /** Called about once a second with the bytes written so far. */
  onProgress?: (bytes: number) => void;
  signal?: AbortSignal;
}

/**
 * `pg_dump --format=custom` of the whole database into `dir`. pg_dump writes to a hidden temporary
 * name; only once it has exited 0 (it syncs the file to disk before exiting) is the archive linked
 * under its final name, so a name of the form `todo-*.dump` is always a complete archive. A failed or
 * interrupted pg_dump leaves nothing behind.
 */
export async function writeArchive({ url, dir, pgDump, startedAt = new Date(), onProgress, signal }: BackupOptions): Promise<BackupResult> {
  fs.mkdirSync(dir, { recursive: true });
  const temporary = path.join(dir, `.${archiveName(startedAt)}.${process.pid}.partial`);
  const { conninfo, env } = libpqConnection(url);
  const started = performance.now();
  const progress = onProgress && setInterval(() => onProgress(sizeOf(temporary)), 1000);
  try {
    await runClientTool(pgDump.path, ['--format=custom', '--no-password', `--file=${temporary}`, `--dbname=${conninfo}`], env, signal);
    const file = linkUnderFreeName(temporary, dir, startedAt);
    syncDirectory(dir);
    return { file, bytes: sizeOf(file), ms: performance.now() - started };
  } finally {
    if (progress) clearInterval(progress);
    fs.rmSync(temporary, { force: true });
  }
}

/** A hard link never replaces an existing file: a second backup in the same second gets `-2`. */
function linkUnderFreeName(temporary: string, dir: string, startedAt: Date): string {
  for (let sequence = 1; ; sequence += 1) {
    const file = path.join(dir, archiveName(startedAt, sequence));
    try {
      fs.linkSync(temporary, file);
      return file;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') continue;
      // Some file systems (network mounts, some container volumes) have no hard links.
      if ((code === 'EPERM' || code === 'ENOTSUP' || code === 'EXDEV') && !fs.existsSync(file)) {
        fs.renameSync(temporary, file);
        return file;
      }
      throw error;
    }
  }
}

/** So that the new name survives a crash of the machine, not only the data pg_dump synced. */
function syncDirectory(dir: string): void {
  const descriptor = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(descriptor);
  } finally {
    fs.closeSync(descriptor);
  }
}

function sizeOf(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}
