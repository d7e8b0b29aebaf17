/** npm run test:ops: operations on real servers: point-in-time recovery with pgBackRest, migration locks at 100,000 tasks (slower; .ci/run runs them). */
const { projects, testTimeout } = require('./jest.config');

const db = projects.find((project) => project.displayName === 'db');

/** @type {import('jest').Config} */
module.exports = {
  ...db,
  displayName: 'ops',
  testPathIgnorePatterns: ['/node_modules/'],
  testMatch: ['**/test/ops/**/*.test.ts'],
  maxWorkers: 1,
  testTimeout,
};
