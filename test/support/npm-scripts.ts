/**
 * The package.json scripts that build dist/ first (`npm run build --silent && <command>`), and the
 * command each then runs. The global setup builds dist/ once, so tests run these commands as they
 * are instead of through npm, which would rebuild dist/ while other test files run it;
 * test/unit/npm-scripts.test.ts checks package.json runs exactly these.
 */
export const AFTER_THE_BUILD = {
  'migration:run': ['node', 'dist/src/db/migrate-cli.js', 'run'],
  'migration:revert': ['node', 'dist/src/db/migrate-cli.js', 'revert'],
  'migration:show': ['node', 'dist/src/db/migrate-cli.js', 'show'],
  'db:stop': ['node', 'dist/src/db/embedded-stop-cli.js'],
  'db:backup': ['node', 'dist/src/db/backup-cli.js'],
  'db:restore': ['node', 'dist/src/db/restore-cli.js'],
  'docs:schema': ['node', 'dist/src/db/schema-docs-cli.js'],
  seed: ['node', 'dist/seeds/run.js'],
  purge: ['node', 'dist/src/retention/purge-cli.js'],
  bench: ['node', 'dist/bench/run.js'],
  'bench:backup': ['node', 'dist/bench/backup-drill.js'],
} as const;

export const BUILD = 'npm run build --silent';

/** `npm start` without its prestart build: npm skips pre- and post-scripts under --ignore-scripts. */
export const NPM_START_WITHOUT_BUILD = ['npm', 'start', '--ignore-scripts'] as const;

/** What `npm run <script>` runs after its build, as [command, ...args]. */
export function afterTheBuild(script: keyof typeof AFTER_THE_BUILD, ...args: string[]): [string, string[]] {
  const [command, ...scriptArgs] = AFTER_THE_BUILD[script];
  return [command, [...scriptArgs, ...args]];
}
