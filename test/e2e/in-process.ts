/**
 * The built CLI run inside the test process: dist/offchain.cjs's `main` — what bin/run.js
 * calls after its `--version` and `psbt decode` shortcuts — with argv, environment,
 * directory and standard input as a spawned CLI would have them, and what it writes to
 * stdout and stderr, its exit code and any process.exit captured. ~10 ms instead of the
 * ~0.15 CPU-s a node process costs, for the many invocations whose point is what a
 * command answers, not the process around it (bin/run.js, a real pipe, the last-resort
 * handler, a signal): files that use it keep a spawned sample that must agree with it.
 *
 * One run at a time (it changes the process's directory, environment and streams): runs asked
 * for at once are queued.
 * Standard input is handed over as bin/run.js's fast path hands it (lib/cli/input.ts:
 * STDIN_HANDOFF), so a command that reads process.stdin itself (a stream) needs a process.
 */
import { createRequire } from 'node:module';
import { format } from 'node:util';
import { join } from 'node:path';
import { ROOT } from '../helpers.ts';
import { assertFreshBuild, cleanEnv, OUTSIDE_ENV, type Run } from './cli.ts';
import { runAsync } from './process.ts';

/** The CLI bundle, loaded once into this process. */
let bundle: { main(argv: string[]): Promise<void> } | undefined;

/** Thrown in place of process.exit while a run is in-process. */
class Exited extends Error {
  constructor(readonly code: number) {
    super(`process.exit(${code})`);
  }
}

type Options = { input?: string | Uint8Array; env?: Record<string, string>; cwd?: string };

/** Runs asked for and not yet finished, and the last of them: runs asked for at once (two lanes, Promise.all) go one after another. */
let pending = 0;
let last: Promise<unknown> = Promise.resolve();

/** The CLI in this process; a run asked for while another is under way starts when the runs before it have ended. */
export function runInProcess(args: string[], opts: Options = {}): Promise<Run> {
  return inTurn(() => runNow(args, opts));
}

/** `job` once the runs asked for before it have ended; with none under way, at once (up to its first await, synchronously). */
function inTurn<T>(job: () => Promise<T>): Promise<T> {
  const run = pending === 0 ? job() : last.then(job);
  pending++;
  last = run.then(
    () => pending--,
    () => pending--,
  );
  return run;
}

/**
 * `a | b | c` in this process, one stage after the other, each stage's stdout the next one's
 * standard input (a failed stage's too, as through a pipe): what test/e2e/cli.ts `pipeline`
 * answers, for steps whose point is what the commands answer. The stages run back to back:
 * no other run starts between them.
 */
export function pipelineInProcess(stages: { args: string[]; env?: Record<string, string> }[], input: string | Uint8Array = ''): Promise<Run[]> {
  const chain = async () => {
    const results: Run[] = [];
    let next: string | Uint8Array = input;
    for (const s of stages) {
      const r = await runNow(s.args, { input: next, env: s.env });
      results.push(r);
      next = r.stdout;
    }
    return results;
  };
  return inTurn(chain);
}

/**
 * A table of cases (refusals, variants of one command): the first case of each `key` crosses the
 * process boundary — the built CLI spawned through bin/run.js with a real stdin, the exit status a
 * shell sees — all at once; every other case runs the same built bundle's main in this process, one
 * after another. A key names what the process boundary could change for a case (its command and
 * exit code, say): a case is in-process only where one of its kind is spawned. Results in the order
 * given, each with how it ran.
 */
export async function spawnedFirst(cases: { args: string[]; input?: string; env?: Record<string, string>; key: string }[]): Promise<(Run & { how: 'spawned' | 'in-process' })[]> {
  const spawned = cases.map((c, k) => cases.findIndex((d) => d.key === c.key) === k);
  const out: (Run & { how: 'spawned' | 'in-process' })[] = new Array(cases.length);
  await Promise.all(cases.map(async (c, k) => {
    if (spawned[k]) out[k] = { ...(await runAsync(c.args, { input: c.input, env: c.env })), how: 'spawned' };
  }));
  for (const [k, c] of cases.entries()) if (!spawned[k]) out[k] = { ...(await runInProcess(c.args, { input: c.input, env: c.env })), how: 'in-process' };
  return out;
}

let running = false;

async function runNow(args: string[], opts: Options): Promise<Run> {
  assertFreshBuild();
  if (running) throw new Error('runInProcess: one run at a time');
  running = true;
  const g = globalThis as unknown as Record<symbol, unknown>;
  if (!bundle) {
    g[Symbol.for('offchain.import')] ??= (specifier: string) => import(specifier);
    bundle = createRequire(import.meta.url)(join(ROOT, 'dist', 'offchain.cjs'));
  }
  const env = cleanEnv(opts.env);
  const saved = { env: { ...process.env }, cwd: process.cwd(), out: process.stdout.write, err: process.stderr.write, exit: process.exit, exitCode: process.exitCode };
  // A child another test spawns while this run awaits is given the environment as it was
  // outside the run, not this run's (cli.ts environmentOutsideRuns).
  g[OUTSIDE_ENV] = saved.env;
  // process.env is changed in place (a new object would not reach os.homedir(), os.tmpdir() or a child).
  const setEnv = (to: NodeJS.ProcessEnv) => {
    for (const k of Object.keys(process.env)) if (!(k in to)) delete process.env[k];
    Object.assign(process.env, to);
  };
  // Listeners a run leaves on the process and its streams (oclif's `drain` waits, a lock's exit hook) go with it.
  const emitters = [process, process.stdout, process.stderr] as NodeJS.EventEmitter[];
  const listening = emitters.map((e) => new Map(e.eventNames().map((n) => [n, new Set(e.listeners(n))])));
  let stdout = '';
  let stderr = '';
  const text = (chunk: string | Uint8Array) => (typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
  const capture = (append: (s: string) => void) =>
    ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      append(text(chunk));
      const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      if (cb) queueMicrotask(cb);
      return true;
    }) as typeof process.stdout.write;
  // What goes through console (oclif's help and listings) goes to the same two streams, as in a process.
  const consoleMethods = { log: 'out', info: 'out', debug: 'out', warn: 'err', error: 'err' } as const;
  const savedConsole = Object.fromEntries(Object.keys(consoleMethods).map((m) => [m, console[m as keyof typeof consoleMethods]]));
  let status: number;
  try {
    for (const [m, to] of Object.entries(consoleMethods)) {
      console[m as keyof typeof consoleMethods] = (...a: unknown[]) => (to === 'out' ? (stdout += `${format(...a)}\n`) : (stderr += `${format(...a)}\n`)) && undefined;
    }
    setEnv(env);
    // A worker thread (the mutation run's vitest pool) cannot chdir: skip it when already there.
    if (process.cwd() !== (opts.cwd ?? ROOT)) process.chdir(opts.cwd ?? ROOT);
    process.exitCode = undefined;
    process.stdout.write = capture((s) => (stdout += s));
    process.stderr.write = capture((s) => (stderr += s));
    process.exit = ((code?: number) => {
      throw new Exited(code ?? (typeof process.exitCode === 'number' ? process.exitCode : 0));
    }) as typeof process.exit;
    g[Symbol.for('offchain.stdin')] = typeof opts.input === 'string' ? new Uint8Array(Buffer.from(opts.input)) : (opts.input ?? new Uint8Array());
    try {
      await bundle!.main(args);
      status = typeof process.exitCode === 'number' ? process.exitCode : Number(process.exitCode ?? 0);
    } catch (e) {
      if (!(e instanceof Exited)) throw e;
      status = e.code;
    }
    // A write the command left pending lands before the caller looks, as it would before a process exits.
    await new Promise((resolve) => setTimeout(resolve, 0));
  } finally {
    emitters.forEach((e, i) => {
      for (const n of e.eventNames()) for (const l of e.listeners(n)) if (!listening[i]!.get(n)?.has(l)) e.removeListener(n, l as (...a: unknown[]) => void);
    });
    Object.assign(console, savedConsole);
    delete g[Symbol.for('offchain.stdin')];
    delete g[OUTSIDE_ENV];
    process.stdout.write = saved.out;
    process.stderr.write = saved.err;
    process.exit = saved.exit;
    process.exitCode = saved.exitCode;
    if (process.cwd() !== saved.cwd) process.chdir(saved.cwd);
    setEnv(saved.env);
    running = false;
  }
  return { status, stdout, stderr };
}
