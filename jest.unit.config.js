/**
 * `npm run test:unit`: the pure suites (`test/*.unit.test.ts`: domain deciders, rewards and policy, Merkle encoding,
 * payout and transaction encoders) with no PostgreSQL and no chain, for the edit-test loop. `npm test` runs them too.
 */
const base = require('./jest.config');

module.exports = {
  ...base,
  testMatch: ['**/*.unit.test.ts'],
  globalSetup: undefined,
  globalTeardown: undefined,
};
