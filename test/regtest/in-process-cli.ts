/**
 * The built CLI's `main` run inside the test worker (test/e2e/in-process.ts), shaped as
 * test/regtest/offchain-cli.ts's `offchain` answers: for the regtest steps that are setup
 * repeated from test to test (a deposit, a hand-over, a channel's updates) rather than the
 * process around a command. ~10 ms instead of a node process (~0.14 CPU-s) a step; the same
 * bundle, so every transaction a step makes is the one the spawned CLI would make, and Core
 * still accepts and mines it. The files that use it keep their narrated flow spawned.
 *
 * Runs go one at a time (in-process.ts queues them): a run changes the process's environment,
 * directory and streams, and a file may run two lanes of tests at once. While one run waits on
 * its node, the other lane's code goes on in the same process: it must not print (that would
 * land in the run's stdout); its spawned steps are fine (they get the environment outside the
 * run: e2e/cli.ts environmentOutsideRuns).
 */
import { runInProcess } from '../e2e/in-process.ts';
import { offchain, type CliRun } from './offchain-cli.ts';

export { pipelineInProcess } from '../e2e/in-process.ts';

/** `offchain <args>` in-process (after any run under way: in-process.ts queues them); the same answer shape as a spawned step. */
export async function offchainInProcess(args: string[], opts: { input?: string; env?: Record<string, string> } = {}): Promise<CliRun> {
  return { args, ...(await runInProcess(args, { input: opts.input ?? '', env: opts.env })), timedOut: false as const };
}

/**
 * A file's steps in-process, except inside `spawned(...)`, where they are processes: its
 * narrated flow and its refusal samples. `step` is `offchain` or `offchainInProcess` as the
 * test it is in says (a file's tests run one after another).
 */
export function inProcessUnlessSpawned(): { step: typeof offchain; spawned: <T>(f: () => Promise<T>) => Promise<T> } {
  let via: typeof offchain = offchainInProcess;
  return {
    step: (args, opts) => via(args, opts),
    spawned: async (f) => {
      via = offchain;
      try {
        return await f();
      } finally {
        via = offchainInProcess;
      }
    },
  };
}
