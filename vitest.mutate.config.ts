import { defineConfig } from 'vitest/config';

/**
 * The test run StrykerJS mutates against (`npm run mutate`, stryker.config.mjs): the
 * library-level tests (test/lib, test/vectors) and the PostgreSQL store tests (test/pg,
 * each starting its own server). A mutant lives in src/, instrumented in Stryker's sandbox;
 * test/e2e and test/regtest run the built dist/ in child processes and cannot see it, so
 * they are left out. Where a test/lib or test/pg file also spawns the CLI, that test runs
 * the unmutated build (OFFCHAIN_MUTATION_RUN lets test/setup/dist.ts accept the sandbox's
 * instrumented sources); perTest coverage keeps it from running for mutants it cannot reach.
 */
export default defineConfig({
  test: {
    // MUTATE_TESTS (comma-separated globs) narrows the run to a module's own test files: its
    // survivors are then an upper bound of the whole run's (more tests can only kill more).
    include: process.env.MUTATE_TESTS ? process.env.MUTATE_TESTS.split(',') : ['test/lib/**/*.test.ts', 'test/vectors/**/*.test.ts', 'test/pg/**/*.test.ts'],
    // StrykerJS runs vitest in worker threads, where process.chdir throws; the layering check
    // (dependency-cruiser over a planted tree) must chdir, and it reads no mutant anyway.
    exclude: ['test/lib/cli/layering.test.ts'],
    setupFiles: ['test/setup/fast-check.ts', 'test/setup/breathe.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    env: { OFFCHAIN_MUTATION_RUN: '1' },
  },
});
