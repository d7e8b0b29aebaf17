import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { loadConfig, projectRoot } from '../src/config';

/**
 * docker-compose.yml cannot be started here (no container registry, so no postgres image), so this
 * holds the file to what the README says it does; CI also has podman-compose read it. The image
 * itself, and the commands these services run in it, are exercised by .ci/container-check.sh.
 */
const read = (file: string) => fs.readFileSync(path.join(projectRoot, file), 'utf8');

interface ComposeService {
  image?: string;
  entrypoint?: string[];
  build?: string;
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  volumes?: string[];
  profiles?: string[];
  ports?: string[];
  restart?: string;
  stop_grace_period?: string;
}

const composeText = read('docker-compose.yml');
const compose = parse(composeText, { merge: true }) as { services: Record<string, ComposeService>; volumes: Record<string, unknown> };
const { db, migrate, api, seed, backup } = compose.services;
const appServices = { migrate, api, seed };

/** `dist/src/db/migrate-cli.js` is compiled from `src/db/migrate-cli.ts`. */
const sourceOf = (compiled: string) => compiled.replace(/^dist\//, '').replace(/\.js$/, '.ts');

/** The majors and minimum versions of an engines range made of `^x.y.z` alternatives, e.g. `^20.19.0 || ^24`. */
function caretRanges(range: string): Array<{ major: number; minimum: number[] }> {
  return range.split('||').map((alternative) => {
    const match = /^\s*\^(\d+)(?:\.(\d+))?(?:\.(\d+))?\s*$/.exec(alternative);
    if (!match) throw new Error(`engines.node alternative is not a caret range: "${alternative}"`);
    return { major: Number(match[1]), minimum: [Number(match[1]), Number(match[2] ?? 0), Number(match[3] ?? 0)] };
  });
}

function satisfies(version: string, range: string): boolean {
  const parts = version.replace(/^v/, '').split('.').map(Number);
  return caretRanges(range).some(({ major, minimum }) => {
    if (parts[0] !== major) return false;
    const firstDifference = parts.findIndex((part, index) => part !== minimum[index]);
    return firstDifference === -1 || parts[firstDifference] > minimum[firstDifference];
  });
}

describe('docker-compose.yml', () => {
  it('runs PostgreSQL from the official image on a named volume, with a pg_isready healthcheck', () => {
    expect(db.image).toMatch(/^postgres:\d+$/);
    const [volume, mountPoint] = db.volumes![0].split(':');
    expect(mountPoint).toBe('/var/lib/postgresql/data');
    expect(Object.keys(compose.volumes)).toContain(volume);
    expect(db.healthcheck!.test.join(' ')).toContain('pg_isready');
  });

  it('builds every app service from this repository as the one image todo-service', () => {
    for (const [name, service] of Object.entries(appServices)) expect([name, service.build, service.image]).toEqual([name, '.', 'todo-service']);
  });

  it('connects the app to the database service it defines, with its user, database and password', () => {
    const url = new URL(api.environment!.DATABASE_URL.replace(/\$\{POSTGRES_PASSWORD[^}]*\}/, 'PASSWORD'));
    expect({ host: url.hostname, port: url.port, user: url.username, database: url.pathname.slice(1), password: url.password }).toEqual({
      host: 'db',
      port: '5432',
      user: db.environment!.POSTGRES_USER,
      database: db.environment!.POSTGRES_DB,
      password: 'PASSWORD',
    });
    for (const service of Object.values(appServices)) expect(service.environment!.DATABASE_URL).toBe(api.environment!.DATABASE_URL);
  });

  it('takes its secrets only from the environment: POSTGRES_PASSWORD and JWT_SECRET have no default', () => {
    const uses = [...composeText.matchAll(/\$\{(POSTGRES_PASSWORD|JWT_SECRET)([^}]*)\}/g)].map(([, name, modifier]) => ({
      name,
      required: modifier.startsWith(':?'),
    }));
    expect(new Set(uses.map((use) => use.name))).toEqual(new Set(['POSTGRES_PASSWORD', 'JWT_SECRET']));
    expect(uses.filter((use) => !use.required)).toEqual([]);
    expect(api.environment!.JWT_SECRET).toMatch(/^\$\{JWT_SECRET:\?/);
  });

  it('runs the migrations once the database is healthy, as a one-shot service', () => {
    expect(migrate.command).toEqual(['node', 'dist/src/db/migrate-cli.js', 'run']);
    expect(migrate.depends_on).toEqual({ db: { condition: 'service_healthy' } });
    expect(migrate.restart).toBe('no');
  });

  it('starts the API only once the database is healthy and the migrations have completed, on port 8000', () => {
    expect(api.command).toBeUndefined();
    expect(api.depends_on).toEqual({ db: { condition: 'service_healthy' }, migrate: { condition: 'service_completed_successfully' } });
    expect(api.ports).toEqual(['8000:8000']);
  });

  it('gives the API longer to stop than its own shutdown timeout, so SIGTERM ends it cleanly', () => {
    const grace = /^(\d+)s$/.exec(api.stop_grace_period ?? '');
    expect(grace).not.toBeNull();
    expect(Number(grace![1]) * 1000).toBeGreaterThan(loadConfig({ NODE_ENV: 'test' }, { server: false }).shutdownTimeoutMs);
  });

  it('keeps the seed behind the seed profile, after the migrations', () => {
    expect(seed.profiles).toEqual(['seed']);
    expect(seed.command).toEqual(['node', 'dist/seeds/run.js', '--force']);
    expect(seed.depends_on).toEqual({ migrate: { condition: 'service_completed_successfully' } });
  });

  it('runs only commands the image contains: compiled from sources in the build', () => {
    const dockerfile = read('Dockerfile');
    for (const service of [migrate, seed]) {
      const script = service.command![1];
      expect([script, fs.existsSync(path.join(projectRoot, sourceOf(script)))]).toEqual([script, true]);
      const topFolder = sourceOf(script).split('/')[0];
      expect([topFolder, dockerfile.includes(`COPY ${topFolder} ./${topFolder}`)]).toEqual([topFolder, true]);
    }
  });
});

describe('the backup service of docker-compose.yml', () => {
  it('uses the database’s own image, so its pg_dump has the server’s major version', () => {
    expect(backup.image).toBe(db.image);
  });

  it('runs the loop script of this repository, mounted read-only, which backs up at once and then on a schedule', () => {
    const [shell, script] = backup.entrypoint!;
    expect(shell).toBe('sh');
    const mount = backup.volumes!.find((volume) => volume.split(':')[1] === script);
    expect(mount).toBeDefined();
    const [source, , mode] = mount!.split(':');
    expect(mode).toBe('ro');
    expect(fs.existsSync(path.join(projectRoot, source))).toBe(true);
    expect(read(source)).toContain('sleep "$pause"');
  });

  it('writes to a named volume at BACKUP_DIR, on the schedule and with the retention the environment sets (defaults: daily, 14)', () => {
    const env = backup.environment!;
    const volume = backup.volumes!.find((entry) => entry.split(':')[1] === env.BACKUP_DIR)!.split(':')[0];
    expect(Object.keys(compose.volumes)).toContain(volume);
    expect(volume).not.toMatch(/^[./]/);
    expect(env.BACKUP_INTERVAL_SECONDS).toBe('${BACKUP_INTERVAL_SECONDS:-86400}');
    expect(env.BACKUP_KEEP).toBe(`\${BACKUP_KEEP:-${loadConfig({}, { server: false }).backup.keep}}`);
  });

  it('connects to the database service directly, with its user and database, and the password only from the environment', () => {
    const env = backup.environment!;
    expect({ host: env.PGHOST, port: env.PGPORT, user: env.PGUSER, database: env.PGDATABASE }).toEqual({
      host: 'db',
      port: '5432',
      user: db.environment!.POSTGRES_USER,
      database: db.environment!.POSTGRES_DB,
    });
    expect(env.PGPASSWORD).toMatch(/^\$\{POSTGRES_PASSWORD:\?[^}]*\}$/);
    expect(backup.depends_on).toEqual({ db: { condition: 'service_healthy' } });
    expect(backup.restart).toBe('unless-stopped');
    expect(backup.profiles).toBeUndefined();
  });
});

describe('the supported Node.js versions', () => {
  const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;

  it('include the Node.js running these tests (CI runs them on each line engines names)', () => {
    expect([process.version, satisfies(process.version, engines)]).toEqual([process.version, true]);
  });

  it('include the line both stages of the Dockerfile build and run on', () => {
    const majors = [...read('Dockerfile').matchAll(/^FROM\s+node:(\d+)-bookworm-slim\b/gm)].map((match) => Number(match[1]));
    expect(majors).toHaveLength(2);
    for (const major of majors) expect([major, caretRanges(engines).some((range) => range.major === major)]).toEqual([major, true]);
  });
});
