import fs from 'node:fs';
import path from 'node:path';

/**
 * `tsc` writes what it compiles and never removes anything, so a deleted or renamed source leaves
 * its old output behind: a deleted migration stayed in dist/migrations and migration:run applied
 * it. `npm run build` runs this after tsc. Pruning keeps the incremental build (a clean build would
 * add ~4 s to every `npm start`).
 */

/** Compiled files under `outDir` (relative paths) whose TypeScript source under `sourceRoot` is gone. */
export function staleOutputs(outDir: string, sourceRoot: string): string[] {
  return fs
    .readdirSync(outDir, { recursive: true, encoding: 'utf8' })
    .filter((file) => {
      const compiled = /^(.*)\.js(\.map)?$/.exec(file);
      return compiled !== null && !fs.existsSync(path.join(sourceRoot, `${compiled[1]}.ts`));
    })
    .sort();
}

export function pruneDist(outDir: string, sourceRoot: string): string[] {
  const stale = staleOutputs(outDir, sourceRoot);
  for (const file of stale) fs.rmSync(path.join(outDir, file));
  return stale;
}

if (require.main === module) {
  // This file compiles to dist/src/build/; tsconfig's rootDir is the project and outDir is dist.
  const outDir = path.resolve(__dirname, '..', '..');
  for (const file of pruneDist(outDir, path.dirname(outDir))) console.log(`Removed ${path.join(path.basename(outDir), file)}: its source is gone`);
}
