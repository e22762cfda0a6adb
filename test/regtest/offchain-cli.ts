/**
 * The built CLI (`node bin/run.js`, i.e. dist/) as the regtest suites run it: one child
 * process per protocol step, the message on stdin, the next message on stdout — the way
 * two parties pipe messages to each other. Asynchronous, so the test worker (and the
 * node it talks to) stay responsive. A step killed at its time limit, or by a signal,
 * rejects with what killed it (test/e2e/cli.ts `KilledError`) instead of hanging a run
 * or returning an empty result.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../helpers.ts';
import { environmentOutsideRuns, finished } from '../e2e/cli.ts';
import { assertFreshBuild } from '../setup/dist.ts';

export const BIN = join(ROOT, 'bin', 'run.js');
/** What bin/run.js loads. */
export const BUNDLE = join(ROOT, 'dist', 'offchain.cjs');

/** The suite fails loudly (not skips) when dist/ is missing or older than the sources. */
export function assertBuilt(): void {
  assertFreshBuild();
}

/** A step that exited by itself (`timedOut` is always false: a killed step rejects). */
export type CliRun = { args: string[]; status: number; stdout: string; stderr: string; timedOut: false };

/**
 * Run one command. The environment is the test's minus any OFFCHAIN_* settings of the
 * developer (so no test seed, state dir or RPC URL leaks in), with NODE_ENV unset as in an
 * operator's shell (vitest sets it to "test", which changes oclif's output), plus `env`.
 */
export function offchain(args: string[], opts: { input?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<CliRun> {
  const env: NodeJS.ProcessEnv = { ...environmentOutsideRuns() };
  for (const k of Object.keys(env)) if (k.startsWith('OFFCHAIN_')) delete env[k];
  delete env['NO_COLOR'];
  Object.assign(env, { NODE_ENV: '', OFFCHAIN_CONFIG: '/dev/null' }, opts.env);
  assertFreshBuild();
  const child = spawn(process.execPath, [BIN, ...args], { env, cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.on('error', () => {}); // the command may exit (e.g. refuse) before reading its input
  child.stdin.end(opts.input ?? '');
  return finished(child, `offchain ${args.join(' ')}`, opts.timeoutMs ?? 60_000).then((r) => ({ args, ...r, timedOut: false as const }));
}

/** `offchain <args>`, exit code and stderr, for failure messages (keys travel by environment, never in argv). */
export function describeRun(r: CliRun): string {
  return `offchain ${r.args.join(' ')}\n  exit ${r.status}\n  stderr: ${r.stderr.trim() || '(empty)'}`;
}

/** The JSON message a successful step printed; throws with the command and its stderr otherwise. */
export function messageOf<T = Record<string, unknown>>(r: CliRun, type?: string): T {
  if (r.status !== 0) throw new Error(`expected exit 0 from\n${describeRun(r)}`);
  let message: unknown;
  try {
    message = JSON.parse(r.stdout);
  } catch {
    throw new Error(`stdout is not one JSON message from\n${describeRun(r)}\n  stdout: ${r.stdout.slice(0, 300)}`);
  }
  if (type !== undefined && (message as { type?: unknown }).type !== type) {
    throw new Error(`expected a ${type} message, got ${JSON.stringify((message as { type?: unknown }).type)} from\n${describeRun(r)}`);
  }
  return message as T;
}

/** The stable machine code of a failed step's one-line error (`offchain: error E_…: …`), or undefined. */
export function errorCode(r: CliRun): string | undefined {
  return /^offchain: error (E_[A-Z0-9_]+): /m.exec(r.stderr)?.[1];
}
