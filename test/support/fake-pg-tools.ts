import fs from 'node:fs';
import path from 'node:path';

/**
 * Stand-ins for pg_dump and pg_restore, put in PG_BIN_DIR, so that what the backup CLIs do around
 * the tool (which one they pick, what they hand it, what they do when it fails) is tested on any
 * server, including the embedded one for which this machine has no real pg_dump.
 */
export type FakeBehaviour =
  /** Writes PGDMP, then each argument and PGPASSWORD, one a line, to its --file, and exits 0. */
  | 'record'
  /** Writes the start of an archive to its --file, complains on stderr and exits 1, as a pg_dump losing its connection does. */
  | 'fail-midway';

const BEHAVIOURS: Record<FakeBehaviour, string> = {
  record: `{ printf 'PGDMP\\n'; for argument in "$@"; do printf 'arg %s\\n' "$argument"; done; printf 'PGPASSWORD=%s\\n' "\${PGPASSWORD-}"; } > "$out"; exit 0`,
  'fail-midway': `printf 'PGDMP partial' > "$out"; echo 'pg_dump: error: connection to server lost' >&2; exit 1`,
};

export function fakeTool(dir: string, name: string, { version, behaviour = 'record' }: { version: string; behaviour?: FakeBehaviour }): string {
  const file = path.join(dir, name);
  const script = `#!/bin/sh
if [ "$1" = "--version" ]; then echo "${name} (PostgreSQL) ${version}"; exit 0; fi
out=/dev/null
for argument in "$@"; do case "$argument" in --file=*) out="\${argument#--file=}";; esac; done
${BEHAVIOURS[behaviour]}
`;
  fs.writeFileSync(file, script, { mode: 0o755 });
  return file;
}

/** What a 'record' fake wrote: its arguments and the PGPASSWORD it saw. */
export function readRecording(file: string): { args: string[]; password: string } {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  return {
    args: lines.filter((line) => line.startsWith('arg ')).map((line) => line.slice(4)),
    password: lines.find((line) => line.startsWith('PGPASSWORD='))!.slice('PGPASSWORD='.length),
  };
}
