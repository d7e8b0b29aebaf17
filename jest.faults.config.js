/** npm run test:faults: outages, shutdown under load, and generated hostile input (slower; .ci/run runs them). */
const { projects, testTimeout } = require('./jest.config');

const db = projects.find((project) => project.displayName === 'db');

/** @type {import('jest').Config} */
module.exports = {
  ...db,
  displayName: 'faults',
  testPathIgnorePatterns: ['/node_modules/'],
  testMatch: ['**/test/faults/**/*.test.ts'],
  maxWorkers: 1,
  testTimeout,
};
