/**
 * The machinery of the bad-input run (test/e2e/bad-input.test.ts, its table in
 * bad-input-cases.ts): each case runs the built CLI as a child process in a directory of
 * its own — a `fixtures` link to the checkout's fixtures, the state it needs copied from
 * a template, its input files, an empty HOME and TMPDIR — and the whole directory is
 * snapshotted before and after (every entry, its kind, mode and bytes; links not
 * followed), so a failed step that writes, creates or removes anything is seen.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { closeSync, cpSync, lstatSync, mkdirSync, openSync, readFileSync, readdirSync, readlinkSync, symlinkSync, truncateSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers.ts';
import { BIN, assertFreshBuild, cleanEnv, finished, type Run } from './cli.ts';

/** How a case falls short of BRIEF §2, if it does: what the run counts. */
export type Kind =
  | 'missing file'
  | 'directory'
  | 'unreadable'
  | 'empty'
  | 'not JSON'
  | 'broken pretty JSON'
  | 'wrong message'
  | 'wrong party'
  | 'wrong step'
  | 'truncated'
  | 'oversized'
  | 'bad hex'
  | 'bad number'
  | 'out of range'
  | 'wrong network'
  | 'missing flag'
  | 'unknown flag'
  | 'secret'
  | 'state dir'
  | 'stdout'
  | 'no node'
  | 'fee'
  | 'protocol'
  | 'help';

/** A file the case's directory holds before the run: text/bytes, a sparse file of `size` bytes, a directory, or a mode. */
export type FileSpec = string | Uint8Array | { size: number } | { dir: true } | { text: string; mode: number };

export type Case = {
  /** Command group (for the count by group). */
  group: string;
  kind: Kind;
  name: string;
  args: string[];
  /** Standard input (default: empty, a closed pipe). */
  input?: string | Uint8Array;
  env?: Record<string, string>;
  /** State templates copied into the case directory before the run (name → where). */
  state?: string[];
  files?: Record<string, FileSpec>;
  /** Where standard output goes: a pipe (default), /dev/full, or closed (`>&-`). */
  stdout?: 'pipe' | 'full' | 'closed';
  /** The code BRIEF §2 / docs/cli.md assign (a regular expression where two are right). */
  code: string | RegExp;
  exit: number;
  /** The error line must also contain this (e.g. `line 4`, the flag's name). */
  says?: string | RegExp;
  /** A streaming command: stdout may hold complete JSON lines written before the error. */
  stream?: boolean;
  /** Text that must not appear on stderr or stdout (a secret). */
  secret?: string;
};

export type Outcome = Run & { before: Tree; after: Tree; ms: number };

export type Tree = Record<string, string>;

/** Every entry under `dir`: kind, mode and bytes (files), target (links, not followed). */
export function treeOf(dir: string): Tree {
  const out: Tree = {};
  const walk = (d: string, rel: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(p);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) out[r] = `link ${readlinkSync(p)}`;
      else if (st.isDirectory()) {
        out[r] = `dir ${mode}`;
        walk(p, r);
      } else out[r] = `file ${mode} ${st.size} ${st.size > 1 << 20 ? '(large)' : readFileSync(p).toString('hex')}`;
    }
  };
  walk(dir, '');
  return out;
}

/** State templates: name → [source under the templates dir or the checkout, where in the case dir]. */
export type Templates = Record<string, [string, string][]>;

function tighten(path: string): void {
  const st = lstatSync(path);
  if (st.isSymbolicLink()) return;
  if (st.isDirectory()) {
    chmodSync(path, 0o700);
    for (const name of readdirSync(path)) tighten(join(path, name));
  } else chmodSync(path, 0o600);
}

function materialise(caseDir: string, c: Case, templates: Templates): void {
  mkdirSync(caseDir, { recursive: true });
  symlinkSync(join(ROOT, 'fixtures'), join(caseDir, 'fixtures'));
  mkdirSync(join(caseDir, 'home'));
  mkdirSync(join(caseDir, 'tmp'));
  for (const t of c.state ?? []) {
    const parts = templates[t];
    if (!parts) throw new Error(`no state template ${t}`);
    for (const [src, dest] of parts) {
      cpSync(src, join(caseDir, dest), { recursive: true, preserveTimestamps: true });
      // As offchain itself keeps state (0700 directories, 0600 files): a checkout's 0755/0644
      // would be tightened by the first step that takes a lock, which is not a write.
      tighten(join(caseDir, dest));
    }
  }
  for (const [name, spec] of Object.entries(c.files ?? {})) {
    const p = join(caseDir, name);
    if (typeof spec === 'string' || spec instanceof Uint8Array) writeFileSync(p, spec);
    else if ('size' in spec) {
      writeFileSync(p, '');
      truncateSync(p, spec.size);
    } else if ('dir' in spec) mkdirSync(p);
    else {
      writeFileSync(p, spec.text);
      chmodSync(p, spec.mode);
    }
  }
}

/** Run one case in `caseDir` (made here), with a time limit; the tree before and after. */
export async function runCase(c: Case, caseDir: string, templates: Templates, timeoutMs = 60_000): Promise<Outcome> {
  assertFreshBuild();
  materialise(caseDir, c, templates);
  const before = treeOf(caseDir);
  const env = cleanEnv({ HOME: join(caseDir, 'home'), TMPDIR: join(caseDir, 'tmp'), ...c.env });
  const started = performance.now();
  let result: Run;
  if (c.stdout === 'closed') {
    // `exec node … >&-`: the process starts with file descriptor 1 closed.
    const child = spawn('sh', ['-c', 'exec "$@" >&-', 'sh', process.execPath, BIN, ...c.args], { env, cwd: caseDir, stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.on('error', () => {});
    child.stdin.end(c.input ?? '');
    result = await finished(child, c.name, timeoutMs);
  } else if (c.stdout === 'full') {
    const full = openSync('/dev/full', 'w');
    try {
      const child = spawn(process.execPath, [BIN, ...c.args], { env, cwd: caseDir, stdio: ['pipe', full, 'pipe'] });
      child.stdin!.on('error', () => {});
      child.stdin!.end(c.input ?? '');
      result = await finished(child, c.name, timeoutMs, { stdout: false });
    } finally {
      closeSync(full);
    }
  } else {
    const child = spawn(process.execPath, [BIN, ...c.args], { env, cwd: caseDir, stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.on('error', () => {});
    child.stdin.end(c.input ?? '');
    result = await finished(child, c.name, timeoutMs);
  }
  const ms = performance.now() - started;
  return { ...result, before, after: treeOf(caseDir), ms };
}

/** What is wrong with an outcome, by BRIEF §2 (empty: nothing). */
export function shortfalls(c: Case, o: Outcome): string[] {
  const bad: string[] = [];
  const lines = o.stderr.split('\n').filter((l) => l !== '');
  const errors = lines.filter((l) => /^offchain: error E_[A-Z0-9_]+: /.test(l));
  if (errors.length !== 1) bad.push(`${errors.length} error lines on stderr`);
  if (lines.length !== 1) bad.push(`stderr has ${lines.length} lines`);
  if (o.stderr.length > 2000) bad.push(`stderr is ${o.stderr.length} bytes`);
  if (lines.some((l) => /^\s+at /.test(l))) bad.push('a stack trace on stderr');
  const line = errors[0] ?? lines[0] ?? '';
  const code = /^offchain: error (E_[A-Z0-9_]+): /.exec(line)?.[1];
  const want = typeof c.code === 'string' ? new RegExp(`^${c.code}$`) : c.code;
  if (!code || !want.test(code)) bad.push(`code ${code ?? '(none)'}, expected ${c.code}`);
  if (code === 'E_INTERNAL') bad.push('E_INTERNAL');
  if (o.status !== c.exit) bad.push(`exit ${o.status}, expected ${c.exit}`);
  if (c.says !== undefined && !(typeof c.says === 'string' ? line.includes(c.says) : c.says.test(line))) bad.push(`the error does not say ${c.says}`);
  if (c.stream) {
    if (o.stdout !== '' && !o.stdout.endsWith('\n')) bad.push('stdout ends with a partial line');
    for (const l of o.stdout.split('\n').filter((x) => x !== '')) {
      try {
        JSON.parse(l);
      } catch {
        bad.push(`stdout line is not whole JSON: ${l.slice(0, 60)}`);
        break;
      }
    }
  } else if (o.stdout !== '') bad.push(`stdout not empty (${o.stdout.length} bytes: ${o.stdout.slice(0, 60)})`);
  if (c.secret && (o.stderr.includes(c.secret) || o.stdout.includes(c.secret))) bad.push('the secret appears in the output');
  const changed = [...new Set([...Object.keys(o.before), ...Object.keys(o.after)])].filter((k) => o.before[k] !== o.after[k]);
  if (changed.length) bad.push(`state changed: ${changed.slice(0, 4).map((k) => `${k} ${o.before[k] === undefined ? 'created' : o.after[k] === undefined ? 'removed' : 'changed'}`).join(', ')}${changed.length > 4 ? ` (+${changed.length - 4})` : ''}`);
  return bad;
}

/** Run `items` through `fn`, at most `size` at a time, in order of completion. */
export async function pool<T, R>(items: T[], size: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(size, items.length) }, worker));
  return out;
}

/** The CLI bundle (dist/offchain.cjs) loaded once into this process, for `runCaseInProcess`. */
let bundle: { main(argv: string[]): Promise<void> } | undefined;

/** Thrown in place of process.exit while a case runs in-process. */
class Exited extends Error {
  constructor(readonly code: number) {
    super(`process.exit(${code})`);
  }
}

/**
 * Run one case in this process: the built bundle's `main` (what bin/run.js calls), in the
 * case's directory made as `runCase` makes it, with the case's environment, its standard
 * input handed over as bin/run.js's fast path hands it (input.ts: STDIN_HANDOFF), and
 * stdout, stderr, the exit code and process.exit captured. The same outcome, judged by
 * the same `shortfalls`; what it cannot see is the process boundary itself (bin/run.js,
 * a real pipe, an uncaught error's last resort), which the spawned cases keep.
 */
export async function runCaseInProcess(c: Case, caseDir: string, templates: Templates): Promise<Outcome> {
  assertFreshBuild();
  if (c.stdout && c.stdout !== 'pipe') throw new Error(`${c.name}: stdout ${c.stdout} needs a process`);
  if (c.stream) throw new Error(`${c.name}: a streaming command reads a real pipe`);
  const g = globalThis as unknown as Record<symbol, unknown>;
  if (!bundle) {
    g[Symbol.for('offchain.import')] ??= (specifier: string) => import(specifier);
    bundle = createRequire(import.meta.url)(join(ROOT, 'dist', 'offchain.cjs'));
  }
  materialise(caseDir, c, templates);
  const before = treeOf(caseDir);
  const env = cleanEnv({ HOME: join(caseDir, 'home'), TMPDIR: join(caseDir, 'tmp'), ...c.env });
  const saved = { env: { ...process.env }, cwd: process.cwd(), out: process.stdout.write, err: process.stderr.write, exit: process.exit, exitCode: process.exitCode };
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
  const started = performance.now();
  let status: number;
  try {
    setEnv(env);
    process.chdir(caseDir);
    process.exitCode = undefined;
    process.stdout.write = capture((s) => (stdout += s));
    process.stderr.write = capture((s) => (stderr += s));
    process.exit = ((code?: number) => {
      throw new Exited(code ?? (typeof process.exitCode === 'number' ? process.exitCode : 0));
    }) as typeof process.exit;
    g[Symbol.for('offchain.stdin')] = typeof c.input === 'string' ? new Uint8Array(Buffer.from(c.input)) : (c.input ?? new Uint8Array());
    try {
      await bundle!.main(c.args);
      status = typeof process.exitCode === 'number' ? process.exitCode : Number(process.exitCode ?? 0);
    } catch (e) {
      if (!(e instanceof Exited)) throw e;
      status = e.code;
    }
    // A write the command left pending lands before the tree is read again, as it would before a process exits.
    await new Promise((resolve) => setTimeout(resolve, 0));
  } finally {
    emitters.forEach((e, i) => {
      for (const n of e.eventNames()) for (const l of e.listeners(n)) if (!listening[i]!.get(n)?.has(l)) e.removeListener(n, l as (...a: unknown[]) => void);
    });
    delete g[Symbol.for('offchain.stdin')];
    process.stdout.write = saved.out;
    process.stderr.write = saved.err;
    process.exit = saved.exit;
    process.exitCode = saved.exitCode;
    process.chdir(saved.cwd);
    setEnv(saved.env);
  }
  const ms = performance.now() - started;
  return { status, stdout, stderr, before, after: treeOf(caseDir), ms };
}
