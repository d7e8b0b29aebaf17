/**
 * Two tiers. `unit` (test/unit): pure logic, no database, no build; `npm run test:unit` runs it alone
 * in seconds. `db`: everything else, against a real PostgreSQL; its global setup builds dist/ once
 * and starts the embedded server (or uses TEST_DATABASE_URL), and each test file gets its own database.
 */
const shared = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': 'ts-jest' },
  setupFiles: ['reflect-metadata'],
};

const unit = { ...shared, displayName: 'unit', roots: ['<rootDir>/test/unit'], testMatch: ['**/*.test.ts'] };

const db = {
  ...shared,
  displayName: 'db',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/test/unit/', '/test/faults/', '/test/ops/'],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
};

/** @type {import('jest').Config} */
module.exports = { projects: [unit, db], maxWorkers: 2, testTimeout: 30000 };
