/** npm run test:ops: operations on real servers: point-in-time recovery with pgBackRest, migration locks at 100,000 tasks (slower; .ci/run runs them). */
const base = require('./jest.config');

/** @type {import('jest').Config} */
module.exports = { ...base, testPathIgnorePatterns: [], testMatch: ['**/test/ops/**/*.test.ts'], maxWorkers: 1 };
