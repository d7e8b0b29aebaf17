import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BenchError, UsageError } from '../../bench/errors';
import { imageNodeMajor, nodeRuntime, resultsBasename } from '../../bench/node-runtime';
import { parseOptions } from '../../bench/options';
import { projectRoot } from '../../src/config';

const quiet = () => {};

describe('the Node.js the bench runs its servers on', () => {
  it('is, without --node, the major the image runs, and its results are the plain latest.md', () => {
    expect(parseOptions([], {}).node).toBeUndefined();
    const imageMajor = /^FROM node:(\d+)\S* AS runtime$/m.exec(fs.readFileSync(path.join(projectRoot, 'Dockerfile'), 'utf8'))![1];
    expect(imageNodeMajor()).toBe(imageMajor);
    expect(resultsBasename({ path: 'node', version: `v${imageMajor}.1.0` }, { abRun: false, profiled: false })).toBe('latest');
    expect(resultsBasename({ path: 'node', version: `v${imageMajor}.1.0` }, { abRun: true, profiled: false })).toBe('ab-latest');
    expect(resultsBasename({ path: 'node', version: `v${imageMajor}.1.0` }, { abRun: false, profiled: true })).toBe('latest-profiled');
    expect(resultsBasename({ path: 'node', version: 'v18.0.0' }, { abRun: false, profiled: false })).toBe('latest-node18');
  });

  it('is the bench’s own with --node current', () => {
    expect(nodeRuntime('current', quiet)).toEqual({ path: process.execPath, version: process.version });
  });

  it('is the binary --node names, with the version it reports', () => {
    expect(parseOptions(['--node', process.execPath], {}).node).toBe(process.execPath);
    expect(nodeRuntime(process.execPath, quiet)).toEqual({ path: process.execPath, version: process.version });
  });

  it('refuses an empty --node, and a path that does not run, naming it', () => {
    expect(() => parseOptions(['--node', ' '], {})).toThrow(UsageError);
    const missing = path.join(os.tmpdir(), 'no-such-node-binary');
    expect(() => nodeRuntime(missing, quiet)).toThrow(BenchError);
    expect(() => nodeRuntime(missing, quiet)).toThrow(missing);
  });
});
