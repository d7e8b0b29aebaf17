import fs from 'node:fs';
import path from 'node:path';

/**
 * `npm run migration:create -- migrations/Name`: an empty migration that compiles as it is under
 * the project's tsconfig (TypeORM's own template leaves `queryRunner` unused, which
 * noUnusedParameters refuses, and then every build fails), in the form of the existing ones.
 */
export function migrationSource(className: string): string {
  return `import type { MigrationInterface, QueryRunner } from 'typeorm';

/** What this migration changes, and why. */
export class ${className} implements MigrationInterface {
  name = '${className}';

  // Rename _queryRunner to queryRunner once the body uses it: await queryRunner.query(\`ALTER TABLE …\`);
  public async up(_queryRunner: QueryRunner): Promise<void> {}

  public async down(_queryRunner: QueryRunner): Promise<void> {}
}
`;
}

/** Writes `<dir>/<timestamp>-<Name>.ts` and returns its path; never overwrites a file. */
export function createMigration(target: string, now = Date.now()): string {
  const name = path.basename(target);
  if (!/^[A-Z][A-Za-z0-9]*$/.test(name)) {
    throw new Error(`"${name}" is not a migration name: use PascalCase letters and digits, e.g. migrations/AddTaskPriority`);
  }
  const directory = path.dirname(target);
  fs.mkdirSync(directory, { recursive: true });
  const file = path.join(directory, `${now}-${name}.ts`);
  fs.writeFileSync(file, migrationSource(`${name}${now}`), { flag: 'wx' });
  return file;
}

if (require.main === module) {
  const target = process.argv[2];
  if (!target) {
    console.error('usage: npm run migration:create -- migrations/Name');
    process.exitCode = 2;
  } else {
    try {
      const file = createMigration(target);
      console.log(`Created ${file}`);
      console.log('Write up() and down() before the next `npm start`: in development it applies pending migrations.');
    } catch (error) {
      console.error(`migration:create failed: ${(error as Error).message}`);
      process.exitCode = 1;
    }
  }
}
