import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * The layer rules of eslint.config.mjs, checked on made-up files at the paths they would have: each
 * wrong import must be reported by the boundary rule and by nothing else, each allowed one by
 * nothing at all. Only synthetic text is linted, so this holds whatever today's src/ looks like.
 */

const projectRoot = path.resolve(__dirname, '..', '..');
const FEATURES = ['auth', 'users', 'tasks', 'audit', 'retention', 'health', 'openapi', 'observability'];
const IMPORTS_RULE = '@typescript-eslint/no-restricted-imports';
const SYNTAX_RULE = 'no-restricted-syntax';

interface Sample {
  file: string;
  code: string;
}

interface Rule {
  rule: string;
  reportedBy: string;
  wrong: Sample[];
  allowed: Sample[];
}

const importing = (file: string, specifier: string): Sample => ({ file, code: `import { thing } from '${specifier}';\nexport const used = thing;\n` });
const importingType = (file: string, specifier: string): Sample => ({ file, code: `import type { Thing } from '${specifier}';\nexport type Used = Thing;\n` });
const others = (feature: string) => FEATURES.filter((other) => other !== feature);

const REACHING_THE_POOL = [
  'declare const dataSource: { driver: unknown };\nexport const pool = dataSource.driver;\n',
  "declare const dataSource: { driver: unknown };\nexport const pool = dataSource['driver'];\n",
  'declare const dataSource: { driver: unknown };\nconst { driver } = dataSource;\nexport const pool = driver;\n',
];

const RULES: Rule[] = [
  {
    rule: 'src/http imports no feature',
    reportedBy: IMPORTS_RULE,
    wrong: FEATURES.flatMap((feature) => [
      importing('src/http/route.ts', `../${feature}/${feature}.service`),
      importingType('src/http/error-handler.ts', `../${feature}/${feature}.errors`),
      importing('src/http/nested/helper.ts', `../../${feature}/${feature}.dto`),
    ]),
    allowed: ['./validation', '../errors', '../config', '../logger', '../db/connection-errors', 'express'].map((specifier) =>
      importing('src/http/route.ts', specifier),
    ),
  },
  {
    rule: 'a service imports nothing from src/http, nor pg or typeorm',
    reportedBy: IMPORTS_RULE,
    wrong: FEATURES.flatMap((feature) => [
      ...['../http/errors', '../http/route', 'pg', 'typeorm', 'typeorm/driver/postgres/PostgresQueryRunner'].map((specifier) =>
        importing(`src/${feature}/${feature}.service.ts`, specifier),
      ),
      importingType(`src/${feature}/${feature}.service.ts`, '../http/route'),
    ]),
    allowed: FEATURES.flatMap((feature) =>
      [
        `./${feature}.repository`,
        `./${feature}.errors`,
        '../errors',
        '../db/database',
        ...others(feature).map((other) => `../${other}/${other}.repository`),
        'node:crypto',
      ].map((specifier) => importing(`src/${feature}/${feature}.service.ts`, specifier)),
    ),
  },
  {
    rule: 'a repository imports nothing from src/http, nor a service or routes module',
    reportedBy: IMPORTS_RULE,
    wrong: ['tasks/tasks', 'auth/sessions', 'users/users'].flatMap((repository) =>
      ['../http/route', '../http/errors', './tasks.service', './tasks.routes', '../users/users.service', '../auth/auth.routes'].map((specifier) =>
        importing(`src/${repository}.repository.ts`, specifier),
      ),
    ),
    allowed: ['../db/database', 'typeorm', './task.entity', '../errors', '../users/user.entity', './tasks.errors'].map((specifier) =>
      importing('src/tasks/tasks.repository.ts', specifier),
    ),
  },
  {
    rule: 'src/db imports no feature (data-source.ts excepted, it lists the entities) and nothing from src/http',
    reportedBy: IMPORTS_RULE,
    wrong: [
      ...FEATURES.map((feature) => importing('src/db/database.ts', `../${feature}/${feature}.entity`)),
      ...FEATURES.map((feature) => importing('src/db/migrations.ts', `../${feature}/${feature}.service`)),
      importing('src/db/database.ts', '../http/route'),
      importing('src/db/data-source.ts', '../http/errors'),
      // A repository placed under db/ obeys db/'s rules and the repository rules at once.
      importing('src/db/outbox.repository.ts', '../tasks/task.entity'),
      importing('src/db/outbox.repository.ts', './outbox.service'),
    ],
    allowed: [
      ...['../tasks/task.entity', '../users/user.entity', '../auth/session.entity'].map((specifier) => importing('src/db/data-source.ts', specifier)),
      ...['pg', 'typeorm', '../config', '../logger', './connection-errors'].map((specifier) => importing('src/db/database.ts', specifier)),
    ],
  },
  {
    rule: "a feature's routes import only their own feature, src/http, src/errors, src/config and src/logger",
    reportedBy: IMPORTS_RULE,
    wrong: FEATURES.flatMap((feature) => [
      ...others(feature).flatMap((other) =>
        [`../${other}/${other}.dto`, `../${other}/${other}.service`, `../${other}/${other}.repository`].map((specifier) =>
          importing(`src/${feature}/${feature}.routes.ts`, specifier),
        ),
      ),
      ...['../db/database', '../app', 'pg', 'typeorm'].map((specifier) => importing(`src/${feature}/${feature}.routes.ts`, specifier)),
    ]),
    allowed: FEATURES.flatMap((feature) =>
      [`./${feature}.service`, `./${feature}.dto`, '../http/route', '../http/preconditions', '../errors', '../config', '../logger', 'express'].map(
        (specifier) => importing(`src/${feature}/${feature}.routes.ts`, specifier),
      ),
    ),
  },
  {
    rule: 'the shared modules (errors, config, logger) import no feature, nothing from src/http or src/db',
    reportedBy: IMPORTS_RULE,
    wrong: ['src/errors.ts', 'src/config.ts', 'src/logger.ts'].flatMap((file) =>
      ['./tasks/tasks.service', './users/user.entity', './http/route', './db/database'].map((specifier) => importing(file, specifier)),
    ),
    allowed: ['node:util', 'zod', 'pino'].map((specifier) => importing('src/errors.ts', specifier)),
  },
  {
    rule: 'only src/db/database.ts touches the TypeORM driver (and its pg pool)',
    reportedBy: SYNTAX_RULE,
    wrong: ['src/db/sql.ts', 'src/observability/metrics.ts', 'src/tasks/tasks.repository.ts'].flatMap((file) =>
      REACHING_THE_POOL.map((code) => ({ file, code })),
    ),
    allowed: ['src/db/database.ts', 'test/migrations.test.ts'].flatMap((file) => REACHING_THE_POOL.map((code) => ({ file, code }))),
  },
  {
    rule: 'the composition root may wire every layer',
    reportedBy: IMPORTS_RULE,
    wrong: [],
    allowed: ['./tasks/tasks.routes', './tasks/tasks.service', './tasks/tasks.repository', './http/route', './db/database'].flatMap((specifier) => [
      importing('src/app.ts', specifier),
      importing('src/server.ts', specifier),
    ]),
  },
];

interface Message {
  ruleId: string | null;
  message: string;
}

/** Lints every sample in one node process through ESLint's Node API (test/support/lint-texts.mjs). */
function lint(samples: Sample[]): Message[][] {
  const output = execFileSync(process.execPath, [path.join(projectRoot, 'test/support/lint-texts.mjs'), projectRoot], {
    cwd: projectRoot,
    input: JSON.stringify(samples.map(({ file, code }) => ({ filePath: path.join(projectRoot, file), code }))),
    encoding: 'utf8',
  });
  return JSON.parse(output);
}

let reports: Map<Sample, Message[]>;

beforeAll(() => {
  const samples = RULES.flatMap((rule) => [...rule.wrong, ...rule.allowed]);
  const messages = lint(samples);
  reports = new Map(samples.map((sample, i) => [sample, messages[i]]));
}, 60_000);

describe('the lint', () => {
  it.each(RULES.map((rule) => [rule.rule, rule] as const))('enforces: %s', (_name, rule) => {
    const unexpected = [
      ...rule.wrong.filter(
        (sample) =>
          reports
            .get(sample)!
            .map((message) => message.ruleId)
            .join() !== rule.reportedBy,
      ),
      ...rule.allowed.filter((sample) => reports.get(sample)!.length > 0),
    ].map((sample) => ({ ...sample, reported: reports.get(sample) }));
    expect(unexpected).toEqual([]);
  });

  it('names the offending import and the rule it breaks', () => {
    const [message] = reports.get(RULES[0].wrong[0])!;
    expect(message.message).toContain("'../auth/auth.service'");
    expect(message.message).toContain('import no feature');
  });
});

/** The files under `dir` with a line matching `pattern`, as `grep -rl` lists them (relative paths). */
function filesWithALineMatching(dir: string, pattern: RegExp): string[] {
  return (fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }) as string[])
    .filter((file) => fs.statSync(path.join(dir, file)).isFile())
    .filter((file) =>
      fs
        .readFileSync(path.join(dir, file), 'utf8')
        .split('\n')
        .some((line) => pattern.test(line)),
    )
    .sort();
}

const REACHES_THE_POOL = /driver.*master/;

/**
 * Files that still reach the pool themselves until the restructure moves that into
 * src/db/database.ts. The list may only shrink: a file that no longer matches fails the test until
 * it is taken off, and once it is empty the check below is exactly `grep -rln "driver.*master" src`.
 */
describe('grep -rln "driver.*master" src', () => {
  it('lists each file with a matching line once, at any depth, and no file where the two words sit on different lines', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'todo-grep-'));
    try {
      fs.mkdirSync(path.join(dir, 'db', 'deeper'), { recursive: true });
      fs.writeFileSync(
        path.join(dir, 'db', 'database.ts'),
        'const pool = (dataSource.driver as unknown as { master: Pool }).master;\nconst again = driver.master;\n',
      );
      fs.writeFileSync(path.join(dir, 'db', 'deeper', 'copy.ts'), 'x = driver.master;\n');
      fs.writeFileSync(path.join(dir, 'split.ts'), 'const d = dataSource.driver;\nconst pool = d.master;\n');
      expect(filesWithALineMatching(dir, REACHES_THE_POOL)).toEqual([path.join('db', 'database.ts'), path.join('db', 'deeper', 'copy.ts')]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('finds exactly one file in src/ reaching the pg pool through the TypeORM driver: src/db/database.ts', () => {
    expect(filesWithALineMatching(path.join(projectRoot, 'src'), REACHES_THE_POOL)).toEqual([path.join('db', 'database.ts')]);
  });
});
