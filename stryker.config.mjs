// @ts-check
/**
 * Mutation testing of the safety-critical modules (issue 42): `npm run mutate` (not part of
 * `npm test`; it takes tens of minutes on two cores). Each mutant — a removed check, a bound
 * loosened by one, a dropped term — must turn a library-level test red. Survivors are either
 * killed by a new test or listed, with why they are equivalent, in docs/testing.md.
 * One module: `npm run mutate -- --mutate src/lib/device/policy.ts`.
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutate.config.ts', related: true },
  coverageAnalysis: 'perTest',
  mutate: [
    // the state database (single-use nonces, steps, records, the import of the file layout) and the one seal
    'src/lib/store/sqlite/*.ts',
    'src/lib/store/seal.ts',
    // PostgreSQL's rollback witness
    'src/lib/store/pg/witness.ts',
    // the credit, device and gateway rules
    'src/lib/credit/rules.ts',
    'src/lib/device/policy.ts',
    'src/lib/device/device.ts',
    'src/lib/device/gateway.ts',
    // ecash
    'src/lib/credit/ecash.ts',
    'src/lib/credit/ecash-view.ts',
    'src/lib/ecash/*.ts',
    // the BOLT 2 channel party
    'src/lib/bolt3/party.ts',
    'src/lib/bolt3/party-close.ts',
    'src/lib/bolt3/party-penalty.ts',
    // the statechain owner and operator
    'src/lib/statechain/owner.ts',
    'src/lib/statechain/operator.ts',
    // the TRUC check
    'src/lib/truc/check.ts',
    // the invoice readers
    'src/lib/invoice/bolt12-readers.ts',
  ],
  ignoreStatic: true,
  concurrency: 2,
  timeoutMS: 60_000,
  // The first run is every library and PostgreSQL test once, with per-test coverage: minutes on a busy 2-core machine.
  dryRunTimeoutMinutes: 40,
  reporters: ['clear-text', 'progress', 'json'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  tempDirName: '.stryker-tmp',
  // Other runs' sandboxes (a narrow run with --tempDirName .stryker-tmp-x) are not copied into this one.
  ignorePatterns: ['/.stryker-tmp*'],
  cleanTempDir: 'always',
};
