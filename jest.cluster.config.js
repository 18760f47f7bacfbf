/**
 * `npm run test:cluster` (not part of `npm test`): on a real Temporal cluster on PostgreSQL, the one
 * `npm run stack` runs. The main scenarios are the integration suites themselves, unchanged, on the
 * cluster; test/cluster/ adds the faults under load, the two workers, the retention and the replay.
 * @type {import('jest').Config}
 */
module.exports = {
  preset: 'ts-jest',
  testEnvironment: '<rootDir>/test/quiet-environment.js',
  roots: ['<rootDir>/test'],
  testMatch: [
    '<rootDir>/test/cluster/**/*.test.ts',
    '<rootDir>/test/integration/polling.test.ts',
    '<rootDir>/test/integration/freshbooks.test.ts',
    '<rootDir>/test/integration/delivery.test.ts',
    '<rootDir>/test/integration/replay.test.ts',
  ],
  globalSetup: '<rootDir>/test/cluster/global-setup.ts',
  globalTeardown: '<rootDir>/test/cluster/global-teardown.ts',
  transform: { '^.+\\.ts$': 'ts-jest' },
};
