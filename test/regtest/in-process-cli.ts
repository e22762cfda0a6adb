/**
 * The built CLI's `main` run inside the test worker (test/e2e/in-process.ts), shaped as
 * test/regtest/offchain-cli.ts's `offchain` answers: for the regtest steps that are setup
 * repeated from test to test (a deposit, a hand-over, a channel's updates) rather than the
 * process around a command. ~10 ms instead of a node process (~0.14 CPU-s) a step; the same
 * bundle, so every transaction a step makes is the one the spawned CLI would make, and Core
 * still accepts and mines it. The files that use it keep their narrated flow spawned.
 *
 * Runs are queued one at a time: runInProcess changes the process's environment, directory
 * and streams, and a file may run two lanes of tests at once. While one run waits on its node,
 * the other lane's code goes on in the same process: it must not print (that would land in the
 * run's stdout) — its spawned steps are fine, `offchain` builds their environment itself.
 */
import { runInProcess } from '../e2e/in-process.ts';
import type { Run, Stage } from '../e2e/cli.ts';
import type { CliRun } from './offchain-cli.ts';

let queue: Promise<unknown> = Promise.resolve();

/** `offchain <args>` in-process, after any run already queued; the same answer shape as a spawned step. */
export function offchainInProcess(args: string[], opts: { input?: string; env?: Record<string, string> } = {}): Promise<CliRun> {
  const run = queue.then(() => runInProcess(args, { input: opts.input ?? '', env: opts.env }));
  queue = run.catch(() => undefined);
  return run.then((r) => ({ args, ...r, timedOut: false as const }));
}

/**
 * `a | b | c` as test/e2e/cli.ts `pipeline` runs it, but one step after the other in this
 * process: each step's stdout is the next one's standard input (a failed step's empty stdout
 * too, as through a pipe).
 */
export async function pipelineInProcess(stages: Stage[], input: string): Promise<Run[]> {
  const results: Run[] = [];
  let next = input;
  for (const s of stages) {
    const r = await offchainInProcess(s.args, { input: next, env: s.env });
    results.push({ status: r.status, stdout: r.stdout, stderr: r.stderr });
    next = r.stdout;
  }
  return results;
}
