import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { loadConfig, projectRoot } from '../src/config';
import { LOAD_BALANCER_TEMPLATE, templateVariables } from './support/nginx';

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
  healthcheck?: { test: string[]; interval?: string; timeout?: string; start_period?: string; retries?: number };
  volumes?: string[];
  profiles?: string[];
  ports?: string[];
  restart?: string;
  stop_grace_period?: string;
}

const composeText = read('docker-compose.yml');
const compose = parse(composeText, { merge: true }) as { services: Record<string, ComposeService>; volumes: Record<string, unknown> };
const { db, migrate, api, seed, backup, lb, pgbouncer } = compose.services;
const pgbouncerOverrideText = read('docker-compose.pgbouncer.yml');
const pgbouncerOverride = parse(pgbouncerOverrideText) as { services: Record<string, ComposeService> };
const defaults = loadConfig({ NODE_ENV: 'test' }, { server: false });
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

/** The exec-form command of the Dockerfile's HEALTHCHECK. */
function dockerfileHealthcheck(): string[] {
  const text = read('Dockerfile').replace(/\\\n/g, ' ');
  return JSON.parse(/^HEALTHCHECK\b.*?\bCMD\s+(\[.*\])\s*$/m.exec(text)![1]);
}

/** The value of `ENV name=value` in the Dockerfile's runtime stage. */
const dockerfileEnv = (name: string) => new RegExp(`\\b${name}=(\\S+)`).exec(read('Dockerfile').split(/^FROM .* AS runtime$/m)[1])![1];

/** An nginx directive's arguments in the load balancer's template (its only occurrence). */
function nginxDirective(template: string, name: string): string[] {
  const matches = [...template.matchAll(new RegExp(`^\\s*${name}\\s+([^;]*);`, 'gm'))];
  expect([name, matches.length]).toEqual([name, 1]);
  return matches[0][1].trim().split(/\s+/);
}

/** nginx's time: `35s`, `500ms`, `1m` → milliseconds. */
function nginxMs(value: string): number {
  const [, amount, unit] = /^(\d+)(ms|s|m)$/.exec(value)!;
  return Number(amount) * { ms: 1, s: 1000, m: 60_000 }[unit as 'ms' | 's' | 'm'];
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
    const uses = [...(composeText + pgbouncerOverrideText).matchAll(/\$\{(POSTGRES_PASSWORD|JWT_SECRET)([^}]*)\}/g)].map(([, name, modifier]) => ({
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

  it('starts the API only once the database is healthy and the migrations have completed, publishing no port (replicas would all want it)', () => {
    expect(api.command).toBeUndefined();
    expect(api.depends_on).toEqual({ db: { condition: 'service_healthy' }, migrate: { condition: 'service_completed_successfully' } });
    expect(api.ports).toBeUndefined();
  });

  it('never migrates from an API replica: the one-shot migrate service does it once', () => {
    expect(api.environment!.MIGRATE_ON_START).toBe('false');
    const production = { NODE_ENV: 'production', DATABASE_URL: 'postgres://db/todo', JWT_SECRET: 'deploy-files-test-secret-0123456789abcdefghij' };
    expect(loadConfig({ ...production, MIGRATE_ON_START: api.environment!.MIGRATE_ON_START }).migrateOnStart).toBe(false);
  });

  it('calls a replica healthy only while /ready answers: the image’s own HEALTHCHECK command, on /ready instead of /health', () => {
    const imageCheck = dockerfileHealthcheck();
    expect(api.healthcheck!.test).toEqual(['CMD', ...imageCheck.map((part) => part.replace("'/health'", "'/ready'"))]);
    expect(api.healthcheck!.test.join(' ')).toContain("'/ready'");
  });

  it('trusts exactly one proxy hop, the load balancer, for the client address the login rate limit counts', () => {
    expect(api.environment!.TRUST_PROXY).toBe('1');
    expect(loadConfig({ NODE_ENV: 'test', TRUST_PROXY: api.environment!.TRUST_PROXY }).http.trustProxy).toBe(1);
  });

  it('gives the API longer to stop than its own shutdown timeout, so SIGTERM ends it cleanly', () => {
    const grace = /^(\d+)s$/.exec(api.stop_grace_period ?? '');
    expect(grace).not.toBeNull();
    expect(Number(grace![1]) * 1000).toBeGreaterThan(defaults.shutdownTimeoutMs);
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

describe('the load balancer (lb) in docker-compose.yml', () => {
  const template = fs.readFileSync(LOAD_BALANCER_TEMPLATE, 'utf8');

  it('runs the official nginx image, publishing port 8000, the port its template listens on', () => {
    expect(lb.image).toMatch(/^nginx:(stable|\d+\.\d+)(-alpine)?$/);
    expect(lb.ports).toEqual(['8000:8000']);
    expect(lb.environment!.LISTEN_PORT).toBe('8000');
    expect(nginxDirective(template, 'listen')).toEqual(['${LISTEN_PORT}']);
  });

  it('mounts deploy/nginx/templates read-only where the image renders templates; default.conf replaces the image’s own server', () => {
    expect(lb.volumes).toEqual(['./deploy/nginx/templates:/etc/nginx/templates:ro']);
    expect(path.relative(projectRoot, LOAD_BALANCER_TEMPLATE)).toBe(path.join('deploy', 'nginx', 'templates', 'default.conf.template'));
  });

  it('gives the template exactly the variables it uses: Docker’s DNS, and the api service on the port the image serves', () => {
    expect(Object.keys(lb.environment!).sort()).toEqual(templateVariables(template));
    expect(lb.environment!.DNS_RESOLVER).toBe('127.0.0.11');
    expect(lb.environment!.API_UPSTREAM).toBe(`api:${dockerfileEnv('PORT')}`);
    expect(nginxDirective(template, 'resolver')[0]).toBe('${DNS_RESOLVER}');
    expect(nginxDirective(template, 'proxy_pass')).toEqual(['http://$api_upstream']);
  });

  it('starts once the api replicas are healthy', () => {
    expect(lb.depends_on).toEqual({ api: { condition: 'service_healthy' } });
  });

  it('waits for a replica longer than the service takes to answer, and cuts off slow headers when the service would', () => {
    for (const directive of ['proxy_read_timeout', 'proxy_send_timeout'])
      expect([directive, nginxMs(nginxDirective(template, directive)[0]) > defaults.requestTimeoutMs]).toEqual([directive, true]);
    expect(nginxMs(nginxDirective(template, 'client_header_timeout')[0])).toBe(defaults.headersTimeoutMs);
  });

  it('retries only soon after a request starts, and never a non-idempotent one it has sent', () => {
    expect(nginxDirective(template, 'proxy_next_upstream')).toEqual(['error', 'timeout', 'http_502', 'http_503']);
    expect(nginxMs(nginxDirective(template, 'proxy_next_upstream_timeout')[0])).toBeLessThan(defaults.requestTimeoutMs);
  });
});

describe('the pgbouncer profile', () => {
  const pooling = read('deploy/pgbouncer/pooling.ini');
  const entrypoint = read('deploy/pgbouncer/entrypoint.sh');
  const overridden = pgbouncerOverride.services.api;
  const entrypointDefault = (name: string) => new RegExp(`\\$\\{${name}:-([^}]*)\\}`).exec(entrypoint)![1];

  it('runs PgBouncer behind its profile, built from deploy/pgbouncer, on the database service once it is healthy', () => {
    expect(pgbouncer.profiles).toEqual(['pgbouncer']);
    expect(pgbouncer.build).toBe('deploy/pgbouncer');
    expect(pgbouncer.environment).toMatchObject({
      DB_HOST: 'db',
      DB_PORT: '5432',
      DB_USER: db.environment!.POSTGRES_USER,
      DB_PASSWORD: db.environment!.POSTGRES_PASSWORD,
    });
    expect(pgbouncer.depends_on).toEqual({ db: { condition: 'service_healthy' } });
    expect(pgbouncer.healthcheck!.test.join(' ')).toContain(`/dev/tcp/127.0.0.1/${entrypointDefault('LISTEN_PORT')}`);
  });

  it('builds on Debian bookworm’s pgbouncer (the one CI tests through), running as the postgres user', () => {
    const dockerfile = read('deploy/pgbouncer/Dockerfile');
    expect(dockerfile).toMatch(/^FROM debian:bookworm-slim$/m);
    expect(dockerfile).toMatch(/apt-get install -y --no-install-recommends pgbouncer/);
    expect(dockerfile).toMatch(/^USER postgres$/m);
    expect(read('.ci/pgbouncer.sh')).toContain('deploy/pgbouncer/entrypoint.sh deploy/pgbouncer/pooling.ini');
  });

  it('pools by transaction, and applies the service’s default statement timeout on the server (the startup parameter cannot pass)', () => {
    expect(pooling).toMatch(/^pool_mode = transaction$/m);
    expect(pooling).toMatch(/^ignore_startup_parameters = statement_timeout, idle_in_transaction_session_timeout$/m);
    expect(Number(entrypointDefault('STATEMENT_TIMEOUT_MS'))).toBe(defaults.database.statementTimeoutMs);
    expect(pooling).not.toMatch(/^\s*\[/m);
  });

  it('points only the API at it, with named prepared statements off; the migrations still go to the database directly', () => {
    expect(Object.keys(pgbouncerOverride.services)).toEqual(['api']);
    const url = new URL(overridden.environment!.DATABASE_URL.replace(/\$\{POSTGRES_PASSWORD[^}]*\}/, 'PASSWORD'));
    const direct = new URL(api.environment!.DATABASE_URL.replace(/\$\{POSTGRES_PASSWORD[^}]*\}/, 'PASSWORD'));
    expect({ host: url.hostname, port: url.port }).toEqual({ host: 'pgbouncer', port: entrypointDefault('LISTEN_PORT') });
    expect({ user: url.username, password: url.password, database: url.pathname }).toEqual({
      user: direct.username,
      password: direct.password,
      database: direct.pathname,
    });
    expect(overridden.environment!.DB_PREPARED_STATEMENTS).toBe('false');
    expect(overridden.depends_on).toEqual({ pgbouncer: { condition: 'service_healthy' } });
    expect(new URL(migrate.environment!.DATABASE_URL.replace(/\$\{POSTGRES_PASSWORD[^}]*\}/, 'PASSWORD')).hostname).toBe('db');
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
