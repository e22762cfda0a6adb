/**
 * The CLI steps of a flow run in the test process (test/e2e/in-process.ts: the same bundle's
 * `main`, ~10 ms a step instead of a ~0.15–0.3 CPU-s process), for the repeated or setup steps
 * of a regtest file whose process pipeline a spawned sample in the same file covers.
 */
import { runInProcess } from '../e2e/in-process.ts';
import type { Run, Stage } from '../e2e/cli.ts';
import type { CliRun } from './offchain-cli.ts';

/** One step, shaped as offchain-cli.ts `offchain` answers (what messageOf/errorCode read). */
export async function offchainInProcess(args: string[], opts: { input?: string; env?: Record<string, string> } = {}): Promise<CliRun> {
  return { args, ...(await runInProcess(args, opts)), timedOut: false };
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
    const r = await runInProcess(s.args, { input: next, env: s.env });
    results.push(r);
    next = r.stdout;
  }
  return results;
}
