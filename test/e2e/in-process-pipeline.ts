/**
 * `a | b | c` run in this process (in-process.ts: the built bundle's `main`), one stage
 * after another, each stage's stdout the next one's stdin — for setup and for steps whose
 * point is what a command answers, in files that keep the same flow through real
 * processes and OS pipes (cli.ts: `pipeline`) as their spawned sample. Stops at the first
 * stage that exits non-zero (a real pipeline would feed the next stage its partial output;
 * callers here only take a pipeline that succeeds). Pipelines asked for at once
 * (Promise.all) run one after another: runInProcess takes one run at a time.
 */
import type { Run, Stage } from './cli.ts';
import { runInProcess } from './in-process.ts';

let queue: Promise<unknown> = Promise.resolve();

export function pipelineInProcess(stages: Stage[], input: string | Uint8Array): Promise<Run[]> {
  const next = queue.then(() => chain(stages, input));
  queue = next.catch(() => undefined);
  return next;
}

async function chain(stages: Stage[], input: string | Uint8Array): Promise<Run[]> {
  const out: Run[] = [];
  let next: string | Uint8Array = input;
  for (const s of stages) {
    const r = await runInProcess(s.args, { input: next, env: s.env });
    out.push(r);
    if (r.status !== 0) break;
    next = r.stdout;
  }
  return out;
}
