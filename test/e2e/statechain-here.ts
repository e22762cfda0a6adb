/**
 * statechain-flow.ts's `flow`, in this process: each party's step runs the built bundle's
 * `main` here (in-process.ts; ~10 ms instead of a ~0.15 CPU-s node process) with the same
 * argv — its key env name, its state directory, the chain flags — and environment. For
 * the steps whose point is what a command answers or refuses; the files that use it keep
 * spawned samples through `flow`.
 */
import type { Run } from './cli.ts';
import { runInProcess } from './in-process.ts';
import { KEYS, partyArgs } from './statechain-flow.ts';

export type FlowHere = { as(who: string, args: string[], input?: string): Promise<Run> };

export function flowHere(dir: string, chain: () => string[], env: Record<string, string> = {}): FlowHere {
  return {
    as: (who, args, input) => runInProcess(partyArgs(dir, chain, who, args), { input, env: { ...KEYS, ...env } }),
  };
}
