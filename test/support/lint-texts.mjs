/**
 * Lints texts at paths of our choosing with the project's ESLint config, through ESLint's Node API
 * (`lintText(code, { filePath })`): reads `[{ code, filePath }]` as JSON on stdin and writes each
 * text's messages as JSON on stdout. It runs in its own node process because ESLint loads
 * eslint.config.mjs with a dynamic import(), which jest's module system refuses.
 */
import { ESLint } from 'eslint';
import process from 'node:process';
import { text } from 'node:stream/consumers';

const cases = JSON.parse(await text(process.stdin));
const eslint = new ESLint({ cwd: process.argv[2] ?? process.cwd() });
const results = [];
for (const { code, filePath } of cases) {
  const [result] = await eslint.lintText(code, { filePath, warnIgnored: true });
  results.push(result.messages.map(({ ruleId, message, line }) => ({ ruleId, message, line })));
}
process.stdout.write(JSON.stringify(results));
