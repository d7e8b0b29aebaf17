import fs from 'node:fs';
import path from 'node:path';
import { AFTER_THE_BUILD, BUILD } from '../support/npm-scripts';

const { scripts } = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { scripts: Record<string, string> };

/** The tests run these scripts' commands without their build (test/support/npm-scripts.ts): they must be the same commands. */
describe('the npm scripts that build first', () => {
  it('are exactly the build followed by the command the tests run', () => {
    const buildingFirst = Object.entries(scripts).filter(([, script]) => script.startsWith(`${BUILD} && `));
    expect(Object.fromEntries(buildingFirst)).toEqual(
      Object.fromEntries(Object.entries(AFTER_THE_BUILD).map(([name, command]) => [name, `${BUILD} && ${command.join(' ')}`])),
    );
  });

  it('build for npm start only in prestart, which npm start --ignore-scripts skips', () => {
    expect({ prestart: scripts.prestart, start: scripts.start }).toEqual({ prestart: BUILD, start: 'exec node dist/src/server.js' });
  });
});
