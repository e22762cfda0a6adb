/**
 * The built CLI in this process (test/e2e/in-process.ts `runInProcess`, ~10 ms instead of a
 * ~0.14 CPU-s node process) while other runs of the same file go on at once: an in-process
 * run swaps process.env, the working directory and stdout for as long as it awaits, and a
 * child spawned meanwhile (a pipeline stage, a `--stream` mint, both reading process.env
 * through cleanEnv) would inherit the swapped environment. So every in-process run and every
 * spawn of this suite takes one turn here: a spawn only for its synchronous start (the child
 * then runs on its own, its environment fixed), an in-process run until it has returned.
 */
import { runInProcess } from '../e2e/in-process.ts';
import type { Run } from '../e2e/cli.ts';

let tail: Promise<unknown> = Promise.resolve();

function turn<T>(f: () => Promise<T>): Promise<T> {
  const r = tail.then(f);
  tail = r.catch(() => undefined);
  return r;
}

/** `offchain …args` in this process, after every earlier turn. */
export function inProcess(args: string[], opts: { input?: string; env?: Record<string, string> } = {}): Promise<Run> {
  return turn(() => runInProcess(args, opts));
}

/** Start children (`start` spawns synchronously, e.g. pipeline() or new MintStream()) when no in-process run holds the process; the turn ends once they are started, not when they end. */
export async function spawnTurn<T>(start: () => T): Promise<Awaited<T>> {
  return (await turn(async () => ({ started: start() }))).started as Awaited<T>;
}
