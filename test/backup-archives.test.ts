import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { archiveName, formatBytes, isArchiveName, listArchives, pruneArchives } from '../src/db/backup-archives';

/** Files a backup directory may hold beside the archives: none of them may ever be deleted. */
const OTHER_FILES = [
  'notes.txt',
  'todo-20261201T101500Z.dump.partial',
  '.todo-20261201T101500Z.dump.1234.partial',
  'todo-2026-12-01.dump',
  'todo-20261201T101500Z-0.dump',
  'todo-20261201T101500Z-02.dump',
  'other-20261201T101500Z.dump',
  'todo-20261201T101500Z.sql',
];

const instant = fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T23:59:59Z'), noInvalidDate: true });
const archive = fc.record({ at: instant, sequence: fc.integer({ min: 1, max: 12 }) });

describe('archive names', () => {
  it('say the UTC second a backup started, as todo-YYYYMMDDTHHMMSSZ.dump, and -N for a later one in the same second', () => {
    expect(archiveName(new Date('2026-12-01T10:15:00.987Z'))).toBe('todo-20261201T101500Z.dump');
    expect(archiveName(new Date('2026-12-01T10:15:00Z'), 2)).toBe('todo-20261201T101500Z-2.dump');
    for (const name of OTHER_FILES) expect([name, isArchiveName(name)]).toEqual([name, false]);
  });

  it('list newest first, by time then sequence, for any set of archives', () => {
    fc.assert(
      fc.property(fc.uniqueArray(archive, { selector: ({ at, sequence }) => `${archiveName(at)}-${sequence}`, maxLength: 20 }), (archives) => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'todo-archives-'));
        try {
          for (const { at, sequence } of archives) fs.writeFileSync(path.join(dir, archiveName(at, sequence)), '');
          const newestFirst = [...archives].sort((a, b) => Math.floor(b.at.getTime() / 1000) - Math.floor(a.at.getTime() / 1000) || b.sequence - a.sequence);
          expect(listArchives(dir)).toEqual(newestFirst.map(({ at, sequence }) => archiveName(at, sequence)));
        } finally {
          fs.rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 50 },
    );
  });
});

describe('retention', () => {
  it('keeps exactly the newest BACKUP_KEEP archives (0: all) and never touches another file', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(archive, { selector: ({ at, sequence }) => `${archiveName(at)}-${sequence}`, maxLength: 20 }),
        fc.subarray(OTHER_FILES),
        fc.integer({ min: 0, max: 25 }),
        (archives, others, keep) => {
          const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'todo-retention-'));
          try {
            for (const { at, sequence } of archives) fs.writeFileSync(path.join(dir, archiveName(at, sequence)), '');
            for (const name of others) fs.writeFileSync(path.join(dir, name), '');
            const newestFirst = listArchives(dir);
            const expectedKept = keep === 0 ? newestFirst : newestFirst.slice(0, keep);

            const { kept, deleted } = pruneArchives(dir, keep);
            expect(kept).toEqual(expectedKept);
            expect(deleted).toEqual(newestFirst.slice(expectedKept.length));
            expect(fs.readdirSync(dir).sort()).toEqual([...expectedKept, ...others].sort());
          } finally {
            fs.rmSync(dir, { recursive: true, force: true });
          }
        },
      ),
      { numRuns: 50 },
    );
  });

  it('finds nothing to list or delete in a directory that does not exist yet', () => {
    expect(pruneArchives(path.join(os.tmpdir(), 'todo-no-such-backup-dir'), 3)).toEqual({ kept: [], deleted: [] });
  });
});

describe('sizes in the summary line', () => {
  it.each([
    [0, '0 B'],
    [1023, '1023 B'],
    [1024, '1.0 KiB'],
    [34_180, '33.4 KiB'],
    [5 * 1024 ** 3, '5.0 GiB'],
  ])('%d bytes → %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
});
