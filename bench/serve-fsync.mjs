#!/usr/bin/env node
/**
 * fsyncs (and files opened for writing) per payment of one user in `serve mint` on SQLite,
 * for either tree: `node bench/serve-fsync.mjs --tree /work/fixtures-clone` (before) or
 * `--tree /work/main` (after). Runs `<tree>/bin/run.js` (its dist/ bundle: build it first).
 *
 * The demo contract (<tree>/fixtures/credit/open-demo.sh) is opened once; then, each from a
 * fresh copy of it, `serve mint` is started under
 *   strace -f -y -ttt --seccomp-bpf -e trace=fsync,fdatasync,sync_file_range,openat,…
 * and one user pays it N times one after another (`sign-update --role user --amount 1000
 * --peer URL`, a process each, as the docs' examples), then the service is stopped (SIGTERM).
 * A run with 0 payments gives what start and stop cost; the figure is
 *   (syncs of the N-payment run − syncs of the 0-payment run) / N
 * and beside it the syncs seen while the payments were in flight (each payment's wall window,
 * strace's -ttt against this process's clock): mean, median, the first payment's, and which
 * files they were on (paths with digits folded to #). The same for openat() calls that open a
 * file for writing and may create it (O_WRONLY or O_RDWR, with O_CREAT). Also, not under a
 * quiet clock (strace is attached): the service's CPU ms and bytes written (/proc/<pid>/io
 * write_bytes) per payment.
 *
 * One JSON line per figure, each with the load average (1, 5, 15 min) at its time.
 *
 *   --tree DIR        the tree to measure (required)
 *   --payments N      payments in the measured run (default 30)
 *   --runs R          repeat the 0/N pair R times, the median of each figure (default 1)
 *   --keep            keep the work directory (its strace logs), printed on stderr
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

function args() {
  const a = process.argv.slice(2);
  const o = { tree: undefined, payments: 30, runs: 1, keep: false };
  for (let i = 0; i < a.length; i++) {
    if (a[i] === '--tree') o.tree = resolve(a[++i]);
    else if (a[i] === '--payments') o.payments = Number(a[++i]);
    else if (a[i] === '--runs') o.runs = Number(a[++i]);
    else if (a[i] === '--keep') o.keep = true;
    else throw new Error(`serve-fsync: unknown argument ${a[i]}`);
  }
  if (!o.tree) throw new Error('serve-fsync: --tree DIR is required');
  return o;
}

const opts = args();
const TREE = opts.tree;
const BIN = join(TREE, 'bin', 'run.js');
const load = () => loadavg().map((l) => Number(l.toFixed(2)));
const commit = spawnSync('git', ['-C', TREE, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
const dirty = spawnSync('git', ['-C', TREE, 'status', '--porcelain', '--', 'src'], { encoding: 'utf8' }).stdout.trim() !== '';
const distAt = (() => {
  try {
    return statSync(join(TREE, 'dist', 'offchain.cjs')).mtime.toISOString();
  } catch {
    return undefined;
  }
})();
const emit = (o) => console.log(JSON.stringify({ bench: 'serve-fsync', tree: TREE, commit, ...(dirty ? { src_dirty: true } : {}), dist_built: distAt, ...o, load: load() }));

if (spawnSync('strace', ['-V']).status !== 0) throw new Error('serve-fsync: strace is missing (apt-get install -y strace)');
const seccomp = spawnSync('strace', ['--seccomp-bpf', '-f', '-e', 'trace=fsync', 'true']).status === 0;

const MINT_KEY = readFileSync(join(TREE, 'fixtures/keys/mint.key'), 'utf8').trim();
const USER_KEY = readFileSync(join(TREE, 'fixtures/keys/user.key'), 'utf8').trim();
const env = (() => {
  const e = { ...process.env, OFFCHAIN_CONFIG: '/dev/null', MINT_KEY, USER_KEY };
  for (const k of Object.keys(e)) if (k.startsWith('OFFCHAIN_') && k !== 'OFFCHAIN_CONFIG') delete e[k];
  delete e.NODE_ENV;
  return e;
})();

const work = mkdtempSync(join(tmpdir(), 'offchain-bench-fsync-'));
process.on('exit', () => {
  if (opts.keep) process.stderr.write(`serve-fsync: work directory kept: ${work}\n`);
  else rmSync(work, { recursive: true, force: true });
});

// The demo contract, opened once (its own script, its own test seed).
const demo = join(work, 'demo');
{
  const r = spawnSync('sh', [join(TREE, 'fixtures/credit/open-demo.sh')], { env: { ...env, OFFCHAIN_DEMO_DIR: demo }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`serve-fsync: open-demo.sh failed: ${r.stderr}`);
}

const SYNCS = new Set(['fsync', 'fdatasync', 'sync_file_range']);
const TRACE = 'trace=fsync,fdatasync,sync_file_range,openat,rename,renameat,renameat2';

/** strace's -o log: { pid, ts, call, path, flags, ret } per completed call (unfinished/resumed pairs joined). */
function parse(log) {
  const pending = new Map();
  const events = [];
  for (let line of readFileSync(log, 'utf8').split('\n')) {
    const m = /^(\d+)\s+(\d+\.\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const [, pid, ts] = m;
    let rest = m[3];
    if (rest.endsWith('<unfinished ...>')) {
      pending.set(pid, { ts, text: rest.slice(0, -'<unfinished ...>'.length) });
      continue;
    }
    const resumed = /^<\.\.\. (\w+) resumed>(.*)$/.exec(rest);
    if (resumed) {
      const p = pending.get(pid);
      pending.delete(pid);
      if (!p) continue;
      rest = p.text + resumed[2];
    }
    const c = /^(\w+)\((.*)\)\s+=\s+(-?\d+)/.exec(rest);
    if (!c) continue;
    const [, call, argText, ret] = c;
    // -y: an fd's path as fd</path>; openat's path is its second argument.
    const fdPath = /^\d+<([^>]*)>/.exec(argText)?.[1];
    const openPath = call === 'openat' ? /"((?:[^"\\]|\\.)*)"/.exec(argText)?.[1] : undefined;
    events.push({ pid: Number(pid), ts: Number(ts), call, path: fdPath ?? openPath ?? '?', flags: call === 'openat' ? argText : '', ret: Number(ret) });
  }
  return events;
}

const isSync = (e) => SYNCS.has(e.call) && e.ret === 0;
const isWriteOpen = (e) => e.call === 'openat' && e.ret >= 0 && /O_CREAT/.test(e.flags) && /O_WRONLY|O_RDWR/.test(e.flags);
const fold = (p) => p.replace(work, '$W').replace(/\$W\/run-\d+-\d+/, '$RUN').replace(/[0-9a-f]{8,}/g, '#').replace(/\d+/g, '#');
function byFile(events, pred) {
  const out = {};
  for (const e of events) if (pred(e)) out[fold(e.path)] = (out[fold(e.path)] ?? 0) + 1;
  return out;
}

function procStat(pid) {
  try {
    const line = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = line.slice(line.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return NaN;
  }
}
function writeBytes(pid) {
  try {
    return Number(/write_bytes: (\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))[1]);
  } catch {
    return NaN;
  }
}
const TICK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);

/** One run: a fresh copy of the demo, serve mint under strace, `payments` payments, stop. */
async function run(tag, payments) {
  const dir = join(work, `run-${tag}-${payments}`);
  cpSync(demo, dir, { recursive: true });
  const log = join(dir, 'strace.log');
  const argv = ['-f', '-y', '-ttt', ...(seccomp ? ['--seccomp-bpf'] : []), '-o', log, '-e', TRACE,
    process.execPath, BIN, 'serve', 'mint', '--key-env', 'MINT_KEY', '--state-dir', join(dir, 'mint'),
    '--tip-height', '1001', '--confirmations', '1', '--listen', '127.0.0.1:0', '--rate-limit', '0', '--log-level', 'warn'];
  const child = spawn('strace', argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  const exited = new Promise((res) => child.once('exit', res));
  const line = await Promise.race([
    new Promise((res) => createInterface({ input: child.stdout }).once('line', res)),
    exited.then((code) => { throw new Error(`serve-fsync: serve mint exited ${code}: ${stderr}`); }),
  ]);
  const url = JSON.parse(line).public;
  // The traced node process: the first pid in strace's log.
  const pid = Number(/^(\d+)/.exec(readFileSync(log, 'utf8'))?.[1]);
  const now = () => (performance.timeOrigin + performance.now()) / 1000;
  const windows = [];
  const cpu0 = procStat(pid);
  const wb0 = writeBytes(pid);
  for (let i = 0; i < payments; i++) {
    const t0 = now();
    const r = await new Promise((res) => {
      const p = spawn(process.execPath, [BIN, 'sign-update', '--role', 'user', '--amount', '1000', '--peer', url, '--key-env', 'USER_KEY', '--state-dir', join(dir, 'user')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      p.stdout.setEncoding('utf8').on('data', (d) => (out += d));
      p.stderr.setEncoding('utf8').on('data', (d) => (err += d));
      p.once('exit', (code) => res({ code, out, err }));
    });
    const t1 = now();
    if (r.code !== 0 || !/credit\/balance/.test(r.out)) throw new Error(`serve-fsync: payment ${i + 1} failed (${r.code}): ${r.err}${r.out}`);
    windows.push([t0, t1]);
  }
  const cpuMs = ((procStat(pid) - cpu0) * 1000) / TICK;
  const wrote = writeBytes(pid) - wb0;
  process.kill(pid, 'SIGTERM');
  const code = await exited;
  if (code !== 0) process.stderr.write(`serve-fsync: strace/serve mint exited ${code}: ${stderr.slice(-500)}\n`);
  const events = parse(log);
  const inWindow = windows.map(([a, b]) => events.filter((e) => e.ts >= a && e.ts <= b));
  return {
    syncs: events.filter(isSync).length,
    opens: events.filter(isWriteOpen).length,
    perPaymentSyncs: inWindow.map((es) => es.filter(isSync).length),
    perPaymentOpens: inWindow.map((es) => es.filter(isWriteOpen).length),
    syncFiles: byFile(inWindow.flat(), isSync),
    openFiles: byFile(inWindow.flat(), isWriteOpen),
    startStopSyncFiles: payments === 0 ? byFile(events, isSync) : undefined,
    cpuMs: payments ? cpuMs / payments : undefined,
    writeBytes: payments ? wrote / payments : undefined,
    wallMs: payments ? (1000 * windows.reduce((a, [x, y]) => a + y - x, 0)) / payments : undefined,
  };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mean = (xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
const N = opts.payments;
const results = [];
for (let r = 0; r < opts.runs; r++) {
  const zero = await run(r, 0);
  const full = await run(r, N);
  results.push({ zero, full });
}
const pick = (f) => median(results.map(f));
const perPayment = (k) => pick(({ zero, full }) => (full[k] - zero[k]) / N);
const last = results[results.length - 1];
emit({
  figure: 'fsyncs_per_payment', unit: 'fsync+fdatasync+sync_file_range calls per payment', value: perPayment('syncs'),
  method: `(run of ${N} payments − run of 0) / ${N}, median of ${opts.runs}`,
  in_flight: { mean: pick(({ full }) => mean(full.perPaymentSyncs)), median: pick(({ full }) => median(full.perPaymentSyncs)), first: last.full.perPaymentSyncs[0] },
  start_stop: last.zero.syncs, by_file_in_flight_total: last.full.syncFiles, start_stop_by_file: last.zero.startStopSyncFiles, payments: N, runs: opts.runs, seccomp_bpf: seccomp,
});
emit({
  figure: 'write_opens_per_payment', unit: 'openat(O_WRONLY|O_RDWR + O_CREAT) calls per payment', value: perPayment('opens'),
  method: `(run of ${N} payments − run of 0) / ${N}, median of ${opts.runs}`,
  in_flight: { mean: pick(({ full }) => mean(full.perPaymentOpens)), median: pick(({ full }) => median(full.perPaymentOpens)), first: last.full.perPaymentOpens[0] },
  start_stop: last.zero.opens, by_file_in_flight_total: last.full.openFiles, payments: N, runs: opts.runs,
});
emit({
  figure: 'serve_mint_per_payment_under_strace', unit: 'per payment (1 user, one process per payment)',
  mint_cpu_ms: pick(({ full }) => full.cpuMs), mint_write_bytes: pick(({ full }) => full.writeBytes), payment_wall_ms: pick(({ full }) => full.wallMs),
  note: 'strace attached (syscall stops on traced calls only with seccomp-bpf): not a clean CPU figure', payments: N, runs: opts.runs,
});
