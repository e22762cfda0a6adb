/**
 * Running the built CLI (bin/run.js → dist/) as child processes, the way operators and
 * the other party do: stdin in, stdout out, and pipelines where one process's stdout
 * is the next one's stdin.
 *
 * Before the first process starts, the helpers check that dist/ was built from the
 * current sources (test/setup/dist.ts) and fail loudly otherwise. A child that is killed — by its time
 * limit or by any signal — fails the test with what killed it and after how long; no
 * helper ever hands back an empty result for a process that did not finish.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../helpers.ts';
import { assertFreshBuild } from '../setup/dist.ts';

export { assertFreshBuild };

export const BIN = join(ROOT, 'bin', 'run.js');

/** A process that exited by itself: its exit code (never null: see `KilledError`). */
export type Run = { status: number; stdout: string; stderr: string };

/** Where in-process.ts keeps the environment as it was before the run it is in. */
export const OUTSIDE_ENV = Symbol.for('offchain.test.environmentOutsideRuns');

/**
 * The test process's environment — as it is outside an in-process run (in-process.ts): while
 * a run awaits, process.env is that run's, and a child another test spawns meanwhile (a
 * second lane, a race) must not inherit it.
 */
export function environmentOutsideRuns(): NodeJS.ProcessEnv {
  return ((globalThis as unknown as Record<symbol, NodeJS.ProcessEnv | undefined>)[OUTSIDE_ENV]) ?? process.env;
}

/**
 * Environment without the developer's own offchain settings leaking in, and without
 * vitest's NODE_ENV=test: under "test" (or "development") oclif looks for TypeScript
 * sources behind every command it loads — the CLI then starts in ~0.35 s instead of
 * ~0.12 s, and it is not the path an operator's shell takes (test/regtest/offchain-cli.ts
 * unsets it too).
 */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...environmentOutsideRuns() };
  for (const k of Object.keys(env)) if (k.startsWith('OFFCHAIN_')) delete env[k];
  delete env.NO_COLOR;
  delete env.NODE_ENV;
  // A developer's ~/.offchain/config must not change what the tests see (an empty file is no setting).
  return { ...env, OFFCHAIN_CONFIG: '/dev/null', ...extra };
}

/** A child that did not exit by itself: killed at its time limit, or by a signal. */
export class KilledError extends Error {
  constructor(what: string, how: { signal: string | null; elapsedMs: number; timeoutMs?: number; stderr: string }) {
    const cause = how.timeoutMs !== undefined ? `its ${how.timeoutMs} ms time limit` : 'a signal from outside the harness';
    super(
      `${what} was killed by ${how.signal ?? 'the test'} after ${Math.round(how.elapsedMs)} ms (${cause})\n` +
        `  stderr so far: ${how.stderr.trim().slice(-600) || '(empty)'}`,
    );
    this.name = 'KilledError';
  }
}

/** `offchain a b c`, for messages. Keys travel by environment, never in argv. */
export const commandLine = (args: readonly string[]) => `offchain ${args.join(' ')}`;

export function run(args: string[], opts: { input?: string | Uint8Array; env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Run {
  assertFreshBuild();
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const started = performance.now();
  const r = spawnSync(process.execPath, [BIN, ...args], {
    input: opts.input ?? '',
    env: cleanEnv(opts.env),
    cwd: opts.cwd ?? ROOT,
    encoding: 'utf8',
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
  });
  const elapsedMs = performance.now() - started;
  const timedOut = (r.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT';
  if (r.error && !timedOut) throw new Error(`${commandLine(args)} could not run: ${r.error.message}`);
  if (r.status === null) {
    throw new KilledError(commandLine(args), { signal: r.signal, elapsedMs, timeoutMs: timedOut ? timeoutMs : undefined, stderr: r.stderr ?? '' });
  }
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Wait for `child` to exit and collect its output. Rejects with a `KilledError` when it
 * had to be killed at `timeoutMs` (SIGKILL; with `group`, its whole process group, for
 * children spawned `detached` that start their own — a shell's pipeline) or died of a
 * signal, and with the spawn error when it could not start. A killed child is reported
 * as soon as it exits, without waiting for grandchildren that still hold its pipes.
 */
export function finished(child: ChildProcess, what: string, timeoutMs: number, opts: { stdout?: boolean; group?: boolean } = {}): Promise<Run> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let settled = false;
    const settle = (status: number | null, signal: NodeJS.Signals | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (status === null || timedOut) {
        child.stdout?.destroy();
        child.stderr?.destroy();
        reject(new KilledError(what, { signal, elapsedMs: performance.now() - started, timeoutMs: timedOut ? timeoutMs : undefined, stderr }));
      } else {
        resolve({ status, stdout, stderr });
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (opts.group && child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        else child.kill('SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, timeoutMs);
    if (opts.stdout !== false) child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (e) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error(`${what} could not run: ${e.message}`));
    });
    // 'close' waits for every holder of the pipes; a killed child is done at 'exit'.
    child.on('exit', (status, signal) => {
      if (status === null || timedOut) settle(status, signal);
    });
    child.on('close', (status, signal) => settle(status, signal));
  });
}

export type Stage = { args: string[]; env?: Record<string, string> };

/**
 * `a | b | c`: real processes whose stdout feeds the next stdin through an OS pipe.
 * Resolves with every stage's result (the last one's stdout is the pipeline's output);
 * rejects, after every stage has ended, if any was killed (each stage has `timeoutMs`).
 */
export async function pipeline(stages: Stage[], input: string | Uint8Array, opts: { timeoutMs?: number } = {}): Promise<Run[]> {
  assertFreshBuild();
  const children = stages.map((s) =>
    spawn(process.execPath, [BIN, ...s.args], { env: cleanEnv(s.env), cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] }),
  );
  children.forEach((c, i) => {
    // A stage may exit (e.g. refuse) before reading all its input: not this process's error.
    c.stdin.on('error', () => {});
    if (i + 1 < children.length) c.stdout.pipe(children[i + 1]!.stdin);
  });
  const results = children.map((c, i) =>
    finished(c, `stage ${i} of ${stages.length} (${commandLine(stages[i]!.args)})`, opts.timeoutMs ?? 60_000, { stdout: i + 1 === children.length }),
  );
  children[0]!.stdin.end(input);
  const settled = await Promise.allSettled(results);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<Run>).value);
}
