/**
 * Real OS processes on one state.sqlite for the store tests: test/lib/store/sqlite-child.ts
 * run by `node --import tsx` (its native module, better-sqlite3, is loaded from the
 * repository's node_modules), optionally under a wrapper (`sh -c 'ulimit -f …'`).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { ROOT, TEST_DIR } from '../../helpers.ts';

export const SQLITE_CHILD = join(TEST_DIR, 'lib/store/sqlite-child.ts');

/**
 * Under `npm run mutate` a mutant lives in the test's own process: a child runs the sources
 * unmutated and can kill none, so the tests whose point is a child (a race, a kill -9, another
 * user) are left out of mutation runs — `it.skipIf(MUTATION_RUN)` — and run in every other.
 */
export const MUTATION_RUN = process.env['OFFCHAIN_MUTATION_RUN'] === '1';

/** The nonce a child of sqlite-child.ts issues at `counter`: 66 distinct public bytes, a 97-byte secret (not a valid BIP-327 nonce: the store does not care). */
export function churnNonce(counter: number): { secnonce: Uint8Array; pubnonce: Uint8Array } {
  const h = (tag: string) => createHash('sha256').update(`${tag}/${counter}`).digest();
  return { secnonce: Uint8Array.from([...h('s1'), ...h('s2'), ...h('s3'), 7]), pubnonce: Uint8Array.from([2, ...h('a'), 3, ...h('b')]) };
}

export type Exit = { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string };

export interface Child {
  proc: ChildProcessWithoutNullStreams;
  /** Resolves with stdout once it contains `text` (rejects if the child exits first). */
  waitFor(text: string | RegExp): Promise<string>;
  /** All stdout so far. */
  stdout(): string;
  exited: Promise<Exit>;
}

/** `node --import tsx sqlite-child.ts MODE ARGS…`, its stdout and stderr collected. */
export function startSqliteChild(args: string[], opts: SpawnAs = {}): Child {
  return startProcess(process.execPath, ['--import', 'tsx', SQLITE_CHILD, ...args], opts);
}

/** Another user's process (root only): tsx's cache then goes to /tmp, which that user may write. */
export type SpawnAs = { uid?: number; gid?: number };

export function startProcess(command: string, args: string[], opts: SpawnAs = {}): Child {
  const env = opts.uid === undefined ? process.env : { ...process.env, TMPDIR: '/tmp' };
  const proc = spawn(command, args, { stdio: 'pipe', cwd: ROOT, env, ...opts });
  let stdout = '';
  let stderr = '';
  const has = (t: string | RegExp) => (typeof t === 'string' ? stdout.includes(t) : t.test(stdout));
  const waiters: Array<{ text: string | RegExp; resolve: (s: string) => void; reject: (e: Error) => void }> = [];
  proc.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    for (const w of waiters.splice(0)) {
      if (has(w.text)) w.resolve(stdout);
      else waiters.push(w);
    }
  });
  proc.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<Exit>((resolve) => {
    // 'close', not 'exit': it comes after the last output has been read.
    proc.on('close', (code, signal) => {
      for (const w of waiters.splice(0)) w.reject(new Error(`child exited (${code ?? signal}) before printing ${String(w.text)}: ${stderr}`));
      resolve({ code, signal, stdout, stderr });
    });
  });
  return {
    proc,
    exited,
    stdout: () => stdout,
    waitFor: (text) => (has(text) ? Promise.resolve(stdout) : new Promise((resolve, reject) => waiters.push({ text, resolve, reject }))),
  };
}

/** Start `n` children, wait until each says `ready`, then release them together. */
export async function raceSqliteChildren(argsFor: (i: number) => string[], n: number): Promise<Exit[]> {
  const children = Array.from({ length: n }, (_, i) => startSqliteChild(argsFor(i)));
  await Promise.all(children.map((c) => c.waitFor('ready\n')));
  for (const c of children) c.proc.stdin.write('go\n');
  return Promise.all(children.map((c) => c.exited));
}

/** SIGKILL, and wait until it is gone. */
export async function killNow(child: Child): Promise<Exit> {
  child.proc.kill('SIGKILL');
  return child.exited;
}
