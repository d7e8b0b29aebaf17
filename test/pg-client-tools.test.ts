import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import {
  ClientToolError,
  findCandidates,
  libpqConnection,
  parseToolVersion,
  qualifyingTools,
  selectClientTool,
  serverMajor,
  type ClientTool,
} from '../src/db/pg-client-tools';
import { fakeTool } from './support/fake-pg-tools';

const tool = (major: number, where = `/opt/pg${major}/bin`): ClientTool => ({ name: 'pg_dump', path: `${where}/pg_dump`, version: `${major}.1`, major });

describe('the version a pg_dump or pg_restore prints', () => {
  it.each([
    ['pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)', { version: '15.18', major: 15 }],
    ['pg_restore (PostgreSQL) 18.4', { version: '18.4', major: 18 }],
    ['pg_dump (PostgreSQL) 19beta1', { version: '19beta1', major: 19 }],
    ['pg_dump (PostgreSQL) 9.6.24', { version: '9.6.24', major: 9 }],
    ['something else', undefined],
  ])('%s → %j', (output, expected) => {
    expect(parseToolVersion(output)).toEqual(expected);
  });

  it('gives the major of server_version_num as the server reports it', () => {
    expect([serverMajor(150018), serverMajor(180004), serverMajor(90624)]).toEqual([15, 18, 9]);
  });
});

describe('choosing among the tools found', () => {
  it('takes the lowest major at or above the server’s, keeping the order found among equals, for any set of tools', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 9, max: 20 }), { maxLength: 8 }), fc.integer({ min: 9, max: 20 }), (majors, server) => {
        const candidates = majors.map((major, index) => tool(major, `/dir${index}`));
        const chosen = qualifyingTools(candidates, server);
        expect(chosen.every((candidate) => candidate.major >= server)).toBe(true);
        expect(chosen).toHaveLength(majors.filter((major) => major >= server).length);
        for (let index = 1; index < chosen.length; index += 1) {
          const [previous, next] = [chosen[index - 1], chosen[index]];
          expect(previous.major < next.major || (previous.major === next.major && candidates.indexOf(previous) < candidates.indexOf(next))).toBe(true);
        }
      }),
    );
  });

  it('refuses when none qualifies, naming the server’s major, what was found and what to install', () => {
    const server = { versionNum: 180004, version: '18.4' };
    expect(selectClientTool('pg_dump', server, [tool(18), tool(19)])).toEqual(tool(18));
    const refuse = (candidates: ClientTool[], pgBinDir?: string) => {
      try {
        selectClientTool('pg_dump', server, candidates, pgBinDir);
      } catch (error) {
        expect(error).toBeInstanceOf(ClientToolError);
        return (error as Error).message;
      }
      throw new Error('expected a refusal');
    };
    const message = refuse([tool(15, '/usr/lib/postgresql/15/bin'), tool(17)]);
    expect(message).toContain('No pg_dump for PostgreSQL 18 or newer on PATH or in /usr/lib/postgresql/*/bin: the server runs PostgreSQL 18.4');
    expect(message).toContain('Found: pg_dump 15.1 (/usr/lib/postgresql/15/bin/pg_dump), pg_dump 17.1 (/opt/pg17/bin/pg_dump)');
    expect(message).toContain(
      'Install postgresql-client-18 (Debian/Ubuntu: from apt.postgresql.org), or set PG_BIN_DIR to a directory holding pg_dump 18 or newer.',
    );
    expect(refuse([], '/opt/custom')).toContain('No pg_dump for PostgreSQL 18 or newer in PG_BIN_DIR=/opt/custom');
    expect(refuse([], '/opt/custom')).toContain('Found: none.');
  });
});

describe('looking for the tools', () => {
  let root: string;

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'todo-pg-tools-'));
  });

  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  const dir = (...parts: string[]) => {
    const directory = path.join(root, ...parts);
    fs.mkdirSync(directory, { recursive: true });
    return directory;
  };

  it('searches PATH, then /usr/lib/postgresql/<major>/bin from the lowest major, each program once, passing over pg_wrapper and what cannot run', () => {
    const onPath = dir('path-bin');
    const versioned = dir('versioned');
    fakeTool(dir('versioned', '16', 'bin'), 'pg_dump', { version: '16.4' });
    fakeTool(dir('versioned', '9', 'bin'), 'pg_dump', { version: '9.6.1' });
    fakeTool(dir('versioned', '15', 'bin'), 'pg_dump', { version: '15.18' });
    fakeTool(onPath, 'pg_dump', { version: '17.2' });
    // Debian's /usr/bin/pg_dump: a link to pg_wrapper, which picks a version by rules of its own.
    fakeTool(dir('share'), 'pg_wrapper', { version: '16.4' });
    const wrapped = dir('wrapped-bin');
    fs.symlinkSync(path.join(root, 'share', 'pg_wrapper'), path.join(wrapped, 'pg_dump'));
    // The same program reached twice: through a symlink on PATH, and where it lives.
    const linked = dir('linked-bin');
    fs.symlinkSync(path.join(versioned, '15', 'bin', 'pg_dump'), path.join(linked, 'pg_dump'));
    const notExecutable = dir('not-executable');
    fs.writeFileSync(path.join(notExecutable, 'pg_dump'), '#!/bin/sh\necho "pg_dump (PostgreSQL) 99.0"\n', { mode: 0o644 });

    const searchPath = [notExecutable, wrapped, onPath, linked, path.join(root, 'missing')].join(path.delimiter);
    const { candidates, searched } = findCandidates('pg_dump', { searchPath, versionedRoot: versioned });
    expect(candidates.map((candidate) => [candidate.path, candidate.version, candidate.major])).toEqual([
      [path.join(onPath, 'pg_dump'), '17.2', 17],
      [path.join(linked, 'pg_dump'), '15.18', 15],
      [path.join(versioned, '9', 'bin', 'pg_dump'), '9.6.1', 9],
      [path.join(versioned, '16', 'bin', 'pg_dump'), '16.4', 16],
    ]);
    expect(searched.slice(-3)).toEqual(['9', '15', '16'].map((major) => path.join(versioned, major, 'bin')));
    expect(qualifyingTools(candidates, 16).map((candidate) => candidate.version)).toEqual(['16.4', '17.2']);
  });

  it('looks only in PG_BIN_DIR when it is set, wrapper or not', () => {
    const explicit = dir('explicit');
    fakeTool(dir('share'), 'pg_wrapper', { version: '15.18' });
    fs.symlinkSync(path.join(root, 'share', 'pg_wrapper'), path.join(explicit, 'pg_restore'));
    const elsewhere = dir('elsewhere');
    fakeTool(elsewhere, 'pg_restore', { version: '18.1' });
    const { candidates, searched } = findCandidates('pg_restore', { pgBinDir: explicit, searchPath: elsewhere, versionedRoot: root });
    expect(searched).toEqual([explicit]);
    expect(candidates.map((candidate) => candidate.version)).toEqual(['15.18']);
  });
});

describe('the connection handed to pg_dump and pg_restore', () => {
  const base = 'postgres://todo:PASSWORD@db.example:5432/todo';

  it('carries the password only in PGPASSWORD, never in the command-line URL, whatever the password', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 40, unit: 'binary' }).filter((password) => !'postgres://todo@db.example:5432/todo'.includes(password)),
        (password) => {
          const { conninfo, env } = libpqConnection(base.replace('PASSWORD', encodeURIComponent(password)));
          expect(env).toEqual({ PGPASSWORD: password });
          expect(conninfo).toBe('postgres://todo@db.example:5432/todo');
        },
      ),
    );
  });

  it('passes no PGPASSWORD for a URL without one, and turns node-postgres-only SSL options into libpq’s', () => {
    expect(libpqConnection('postgres://todo@db/todo')).toEqual({ conninfo: 'postgres://todo@db/todo', env: {} });
    expect(libpqConnection('postgres://todo:pw@db/todo?ssl=true').conninfo).toBe('postgres://todo@db/todo?sslmode=require');
    expect(libpqConnection('postgres://todo:pw@db/todo?sslmode=no-verify').conninfo).toBe('postgres://todo@db/todo?sslmode=require');
    expect(libpqConnection('postgres://todo:pw@db/todo?sslmode=verify-full&application_name=x').conninfo).toBe(
      'postgres://todo@db/todo?sslmode=verify-full&application_name=x',
    );
  });
});
