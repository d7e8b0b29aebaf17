// @ts-check
import js from '@eslint/js';
import prettier from 'eslint-config-prettier/flat';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

/**
 * Layers that point one way (README, "Layout"): a feature's routes use src/http (routing,
 * validation, errors) and their service; a service uses repositories; a repository uses src/db (the
 * one executor). src/http and src/db know no feature: only the composition root (src/app.ts,
 * src/server.ts) knows them all.
 */
const FEATURES = ['auth', 'users', 'tasks', 'audit', 'retention', 'health', 'openapi', 'observability'];

/** A relative import that reaches a top-level folder or module of src/ named in `names`, from any depth. */
const into = (...names) => `^\\.{1,2}/(?:\\.\\./)*(?:${names.join('|')})(?:/|$)`;

const NO_FEATURE = {
  regex: into(...FEATURES),
  message: 'src/http, src/db and the shared modules import no feature: features depend on them, not the other way round (src/app.ts wires them).',
};
const NO_HTTP = {
  regex: into('http'),
  message: 'Only routes speak HTTP: below them, raise a domain error (src/errors.ts) and let the routes and the error handler answer.',
};
const NO_DB = { regex: into('db'), message: 'The shared modules (errors, config, logger) import nothing from src/db.' };
const NO_DATABASE_DRIVERS = {
  regex: '^(?:pg|typeorm)(?:/|$)',
  message: 'Services and routes never see DataSource, SQL or pg: ask a repository (database types come from src/db/database.ts).',
};
const NO_SERVICE_OR_ROUTES = { regex: '^\\..*\\.(?:service|routes)$', message: 'A repository sits below services and routes and imports neither.' };
const ROUTES_IMPORT_THEIR_FEATURE_ONLY = {
  regex: '^\\.\\./(?!(?:http(?:/|$)|errors$|config$|logger$))',
  message: "a feature's routes import only their own feature's modules, src/http, src/errors, src/config and src/logger.",
};

/** Folders of src/ with what any file in them may not import. */
const FOLDERS = [
  { dir: 'src/http', forbid: [NO_FEATURE] },
  { dir: 'src/db', forbid: [NO_FEATURE, NO_HTTP] },
];

/** Single files with their own list, applied last so they win over their folder's. */
const FILES = [
  // The data source lists the entities, so it alone in db/ may import them from the features.
  { files: ['src/db/data-source.ts'], forbid: [NO_HTTP] },
  // Cross-cutting modules every layer may use: they use none.
  { files: ['src/errors.ts', 'src/config.ts', 'src/logger.ts'], forbid: [NO_FEATURE, NO_HTTP, NO_DB] },
];

/** Kinds of module, by file name, with what they may not import wherever they live. */
const ROLES = [
  { suffix: '.service.ts', forbid: [NO_HTTP, NO_DATABASE_DRIVERS] },
  { suffix: '.repository.ts', forbid: [NO_HTTP, NO_SERVICE_OR_ROUTES] },
  { suffix: '.routes.ts', forbid: [ROUTES_IMPORT_THEIR_FEATURE_ONLY, NO_DATABASE_DRIVERS] },
];

/**
 * ESLint replaces a rule's options, rather than merging them, when several config objects match a
 * file; a later object wins. So the objects go from general to specific, and the one for a role
 * inside a folder (a service under db/) carries both lists.
 */
function importBoundaries() {
  const restrict = (files, forbid) => ({
    files,
    rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns: forbid.map(({ regex, message }) => ({ regex, message })) }] },
  });
  return [
    ...ROLES.map((role) => restrict([`src/**/*${role.suffix}`], role.forbid)),
    ...FOLDERS.map((folder) => restrict([`${folder.dir}/**`], folder.forbid)),
    ...FOLDERS.flatMap((folder) => ROLES.map((role) => restrict([`${folder.dir}/**/*${role.suffix}`], [...new Set([...folder.forbid, ...role.forbid])]))),
    ...FILES.map(({ files, forbid }) => restrict(files, forbid)),
  ];
}

export default defineConfig([
  globalIgnores(['dist/', 'coverage/', '.data/', '.artifacts/', 'bench/results/']),
  { linterOptions: { reportUnusedDisableDirectives: 'error' } },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    // As tsc's noUnusedParameters: a leading underscore marks a parameter kept for its position (Express's error handler).
    rules: { '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }] },
  },
  // The jest configs are CommonJS, as jest loads them.
  { files: ['**/*.js'], languageOptions: { sourceType: 'commonjs' }, rules: { '@typescript-eslint/no-require-imports': 'off' } },
  ...importBoundaries(),
  {
    // The pg pool under TypeORM is reached through `dataSource.driver`: the one executor, src/db/database.ts, owns it.
    files: ['src/**/*.ts'],
    ignores: ['src/db/database.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        ...["MemberExpression[property.name='driver']", "MemberExpression[property.value='driver']", "ObjectPattern > Property[key.name='driver']"].map(
          (selector) => ({
            selector,
            message: 'Only src/db/database.ts touches the TypeORM driver and its pg pool: go through Database.',
          }),
        ),
      ],
    },
  },
  prettier,
]);
