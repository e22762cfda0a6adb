import { configDefaults, defineConfig, type Plugin } from 'vitest/config';
import SlowestFiles from './test/setup/slowest-files.ts';
import FailureRecap from './test/setup/failure-recap.ts';

/**
 * A snapshot file that does not exist fails the test, on every machine. Left alone,
 * vitest writes a missing `toMatchFileSnapshot` file and passes unless the CI variable
 * is set ("1 written, 13 passed"), so deleting a snapshot would go unnoticed. Snapshots
 * are (re)written only on purpose: `npm run test:update-snapshots` (vitest -u).
 */
const snapshotsNeverWriteThemselves: Plugin = {
  name: 'offchain:snapshots-never-write-themselves',
  configureVitest({ vitest }) {
    // 'new' (write what is missing) becomes 'none'; 'all' (-u) stays as asked.
    if (vitest.config.snapshotOptions.updateSnapshot === 'new') {
      vitest.config.snapshotOptions.updateSnapshot = 'none';
      vitest.snapshot.options.updateSnapshot = 'none';
    }
  },
};

/** No real node, no built CLI as a child: library code in-process, vectors, the independent verifier, the harness's own tests. */
const LIBRARY = ['test/lib/**/*.test.ts', 'test/vectors/**/*.test.ts', 'test/independent/**/*.test.ts', 'test/setup/**/*.test.ts', 'test/helpers.test.ts'];

const FORKS = 4;

/**
 * Library files that change what a whole process shares (process.chdir, process.umask), or
 * mock a module (vi.mock): a worker thread may not, and in the \`lib\` threads, which keep
 * src/ loaded from file to file, a module another file loaded first would not see the mock
 * (ecash-signer-cache's HMAC count read 0 in the suite and passed alone). So they run in
 * forks of their own (project \`lib-process\`).
 */
const PROCESS_WIDE = ['test/lib/cli/layering.test.ts', 'test/lib/serve/operator-socket.test.ts', 'test/lib/credit/ecash-signer-cache.test.ts'];

export default defineConfig({
  plugins: [snapshotsNeverWriteThemselves],
  test: {
    // vitest's own report, then the 15 slowest files (test/setup/slowest-files.ts says why), and
    // what failed, for scripts/test.mjs to print again at the very end (failure-recap.ts).
    reporters: ['default', new SlowestFiles(), new FailureRecap()],
    // Every fast-check property runs from one seed (FC_SEED overrides it; printed on failure);
    // between tests each worker lets its event loop turn (breathe.ts says why).
    setupFiles: ['test/setup/fast-check.ts', 'test/setup/breathe.ts'],
    // This run's temp dir, in memory when it can be (run-tmp.ts says why), then the PostgreSQL
    // harness's initdb template in it, one per run; both removed at its end (pg-templates.ts).
    globalSetup: ['test/setup/run-tmp.ts', 'test/setup/pg-templates.ts'],
    // End-to-end tests spawn the built CLI; give them room on a 2-core machine (on stop 53's CI
    // machine, where a bare node -e 0 costs 123 ms of CPU, a regtest test took 37 s of 60).
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // vitest's default is one fork fewer than the cores: ONE on a 2-core machine. The files
    // that start nodes (bitcoind, lightningd, PostgreSQL, Nutshell) or the built CLI spend
    // most of their time waiting on those children, so four forks keep two cores busy
    // (`VITEST_MAX_FORKS=n` or `--maxWorkers=n` overrides it for one run).
    maxWorkers: FORKS,
    minWorkers: 1,
    // Library tests first, on their own: a broken library fails within seconds, before the
    // first node starts. `groupOrder` runs the groups one after the other, in one `vitest run`.
    //
    // The library files run in worker threads that each load src/ once and keep it from file
    // to file (no isolation), instead of a fresh fork re-importing src/, fast-check and the
    // independent verifier for every one of ~165 files: issue 43 measured ~0.4 CPU-s a file.
    // Sound because no library file mocks a module or leaves process-wide state behind (those
    // that do are in lib-process; backend selections and env are restored
    // by the files that change them); the nodes project stays one fresh fork per file.
    // All four threads live for the whole group (minWorkers = maxWorkers): with fewer, the pool
    // ends an idle thread while vitest still counts on it, and the run fails at the end of the
    // group with "Unhandled Rejection: Terminating worker thread" after every file passed
    // (seen twice in a row with minWorkers 1; never with 4).
    poolOptions: { threads: { isolate: false, minThreads: FORKS, maxThreads: FORKS } },
    projects: [
      { extends: true, test: { name: 'lib', include: LIBRARY, exclude: [...PROCESS_WIDE, ...configDefaults.exclude], pool: 'threads', sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: 'lib-process', include: PROCESS_WIDE, sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: 'nodes', include: ['test/**/*.test.ts'], exclude: [...LIBRARY, ...configDefaults.exclude], sequence: { groupOrder: 1 } } },
    ],
  },
});
