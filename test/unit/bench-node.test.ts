import os from 'node:os';
import path from 'node:path';
import { BenchError, UsageError } from '../../bench/errors';
import { nodeRuntime } from '../../bench/node-runtime';
import { parseOptions } from '../../bench/options';

const quiet = () => {};

describe('the Node.js the bench runs its servers on', () => {
  it('is the bench’s own without --node', () => {
    expect(parseOptions([], {}).node).toBeUndefined();
    expect(nodeRuntime(undefined, quiet)).toEqual({ path: process.execPath, version: process.version });
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
