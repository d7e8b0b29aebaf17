/** npm run test:faults: outages, shutdown under load, and generated hostile input (slower; .ci/run runs them). */
const base = require('./jest.config');

/** @type {import('jest').Config} */
module.exports = { ...base, testPathIgnorePatterns: [], testMatch: ['**/test/faults/**/*.test.ts'], maxWorkers: 1 };
