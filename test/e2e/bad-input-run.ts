/**
 * The machinery of the bad-input run (test/e2e/bad-input.test.ts, its table in
 * bad-input-cases.ts): each case runs the built CLI as a child process in a directory of
 * its own — a `fixtures` link to the checkout's fixtures, the state it needs copied from
 * a template, its input files, an empty HOME and TMPDIR — and the whole directory is
 * snapshotted before and after (every entry, its kind, mode and bytes; links not
 * followed), so a failed step that writes, creates or removes anything is seen.
 */
import { spawn } from 'node:child_process';
import { closeSync, cpSync, lstatSync, mkdirSync, openSync, readFileSync, readdirSync, readlinkSync, symlinkSync, truncateSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers.ts';
import { BIN, assertFreshBuild, cleanEnv, finished, type Run } from './cli.ts';
import { runInProcess } from './in-process.ts';

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

/**
 * Run one case in this process (in-process.ts: the built bundle's `main`), in the case's
 * directory made as `runCase` makes it, with the case's environment and standard input.
 * The same outcome, judged by the same `shortfalls`; what it cannot see is the process
 * boundary itself (bin/run.js, a real pipe, an uncaught error's last resort), which the
 * spawned cases keep.
 */
export async function runCaseInProcess(c: Case, caseDir: string, templates: Templates): Promise<Outcome> {
  if (c.stdout && c.stdout !== 'pipe') throw new Error(`${c.name}: stdout ${c.stdout} needs a process`);
  if (c.stream) throw new Error(`${c.name}: a streaming command reads a real pipe`);
  materialise(caseDir, c, templates);
  const before = treeOf(caseDir);
  const started = performance.now();
  const result = await runInProcess(c.args, { input: c.input, cwd: caseDir, env: { HOME: join(caseDir, 'home'), TMPDIR: join(caseDir, 'tmp'), ...c.env } });
  const ms = performance.now() - started;
  return { ...result, before, after: treeOf(caseDir), ms };
}
