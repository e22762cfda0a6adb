/**
 * `npm run bench`, the device's toll through a gateway service (issue 39 item 5's target:
 * pay → settle through the gateway service in < 300 ms excluding the Lightning payment, the
 * device step still ≤ 50 ms of CPU in pure JS). Printed, never asserted.
 *
 * One demo channel (fixtures/credit/open-demo.sh), one `offchain serve gateway --lightning-rpc`
 * on a scripted Core Lightning socket in this process (it answers `pay` at once with the
 * invoice's preimage: no Lightning time, as test/e2e/serve-gateway.test.ts does), then N
 * tolls, each one `offchain device pay --peer` process: pay → gateway/settle → device settle →
 * complete → receipt. For each: the wall time from spawn to exit, and the device process's
 * CPU (user + system from its resource usage, via the shell's `times`). The first toll (cold
 * files, the service's first request) is left out; median and p90 of the rest. The service's
 * own time per request comes from its log (--log-level info: each "served" line's ms).
 * Beside it, today's six-process piped toll on a second copy of the channel: device pay |
 * gateway pay (job), then gateway settle | device settle | gateway complete | device receipt.
 *
 * Issue 73 item 4 (the toll under 300 ms wall WITH Core Lightning's payment, its CPU said part by part):
 * beside these, the anchor `node -e 0` (wall and CPU, same run); the device's CPU part by part (start-up,
 * curve, store, HTTP, …: bench/cpu-parts.ts) from the V8 profiles of a few more tolls run with
 * --cpu-prof (profiling slows a process: the parts are read against each other, the CPU row above is
 * the unprofiled one); and, when LIGHTNINGD and BITCOIND are set, the same tolls through a gateway
 * on real Core Lightning (test/regtest/device-cln-world.ts: one bitcoind -regtest, the gateway's and the
 * payee's lightningd over a real channel), each invoice the payee's, paid by the gateway's node — the
 * Lightning time included — with the node's own time from the service's log. Skipped visibly without.
 * Run alone: `node --import tsx bench/device-serve.ts [tolls]` (default 21; BENCH_DEVICE_SERVE_PIPED, default 7;
 * BENCH_DEVICE_SERVE_PROFILES: profiled tolls for the parts, default 5, 0 for none;
 * BENCH_DEVICE_SERVE_CLN_TOLLS: tolls on Core Lightning, default as many, 0 to skip that row;
 * BENCH_DEVICE_SERVE_STREAM: tolls through one `device pay --stream` process on each node, default as many, 0 for none;
 * BENCH_DEVICE_SERVE_AB=1: every row's tolls in turn through the full CLI and `device pay`'s own bundle, interleaved;
 * BENCH_DEVICE_SERVE_BASE=DIR: the same, interleaved, through another built tree's bin/run.js (e.g. a worktree of main) and this one's;
 * BENCH_DEVICE_SERVE_AB_NODE_ARGS='FLAGS': the same, interleaved, without and with these node flags on the device process;
 * BENCH_DEVICE_SERVE_NODE_ARGS: node flags for the device process, e.g. `--cpu-prof --cpu-prof-dir=DIR`;
 * BENCH_DEVICE_SERVE_SVC_NODE_ARGS: the same for the service).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { toHex } from '../src/lib/bytes.ts';
import { type Bolt11Field, bolt11SigningHash, encodeBolt11 } from '../src/lib/invoice/bolt11.ts';
import { bundleSourceMaps, cpuParts, PARTS, type Part } from './cpu-parts.ts';
import { cpuSeconds } from './procs.ts';
import { reportRow } from './rows.mjs';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'run.js');
const TOLLS = Number(process.argv[2] ?? process.env.BENCH_DEVICE_SERVE_TOLLS ?? 21);
const PIPED = Number(process.env.BENCH_DEVICE_SERVE_PIPED ?? 7);
const PROFILES = Number(process.env.BENCH_DEVICE_SERVE_PROFILES ?? 5);
const CLN_TOLLS = Number(process.env.BENCH_DEVICE_SERVE_CLN_TOLLS ?? TOLLS);
const STREAM_TOLLS = Number(process.env.BENCH_DEVICE_SERVE_STREAM ?? TOLLS);
/** The stream's first tolls, left out of its figures: its start-up and first (cold) steps. */
const STREAM_WARM_UP = 3;
const NOW = 1_800_000_000;
/** Node flags for the device process only, e.g. BENCH_DEVICE_SERVE_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof'. */
const NODE_ARGS = (process.env.BENCH_DEVICE_SERVE_NODE_ARGS ?? '').split(' ').filter(Boolean);
/** A command the device process runs under, e.g. BENCH_DEVICE_SERVE_WRAP='strace -f -c -o /tmp/toll.strace' (its system calls). */
const WRAP = (process.env.BENCH_DEVICE_SERVE_WRAP ?? '').split(' ').filter(Boolean);
const TIP = '1000';
const TERMS = join(ROOT, 'fixtures/policies/gateway-terms.json');
const POLICY = join(ROOT, 'fixtures/policies/device.json');
const PAYEE_KEY = Uint8Array.from(Buffer.alloc(32, 0x42)); // the payee fixtures/policies/device.json allows
const key = (name: string) => spawnSync('cat', [join(ROOT, 'fixtures/keys', `${name}.key`)], { encoding: 'utf8' }).stdout.trim();
const MINT_KEY = key('mint');
const USER_KEY = key('user');

const cleanEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('OFFCHAIN_')) delete env[k];
  delete env.NODE_ENV;
  delete env.NO_COLOR;
  return { ...env, OFFCHAIN_CONFIG: '/dev/null', ...extra };
};

/** Payment n's preimage: one of its own for every n (a device pays a hash once). */
const preimage = (n: number) => sha256(new TextEncoder().encode(`bench toll ${n}`));
/** A regtest BOLT 11 invoice of payment `n`, signed by the payee key (as test/lib/device/world.ts writes them). */
function invoice(n: number, msat: bigint): string {
  const hrp = `lnbcrt${msat * 10n}p`;
  const fields: Bolt11Field[] = [
    { tag: 1, name: 'payment_hash', bytes: sha256(preimage(n)) },
    { tag: 16, name: 'payment_secret', bytes: Uint8Array.from(Buffer.alloc(32, 0x11)) },
    { tag: 13, name: 'description', text: `toll ${n}` },
  ];
  const sig = secp256k1.Signature.fromBytes(secp256k1.sign(bolt11SigningHash(hrp, NOW - 10, fields), PAYEE_KEY, { prehash: false, format: 'recovered' }), 'recovered');
  const rs = Uint8Array.from(Buffer.from(sig.r.toString(16).padStart(64, '0') + sig.s.toString(16).padStart(64, '0'), 'hex'));
  return encodeBolt11({ hrp, timestamp: NOW - 10, fields, signature: rs, recoveryId: sig.recovery! });
}

/** A command run: exit status, output, wall ms, and its CPU ms (user + system of the shell's children, `times`). */
type Timed = { status: number; stdout: string; stderr: string; ms: number; cpuMs: number };
function timed(script: string, args: string[], env: NodeJS.ProcessEnv): Promise<Timed> {
  const started = performance.now();
  const child = spawn('bash', ['-c', `${script}; s=$?; times >&2; exit $s`, 'bash', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((res) => child.on('close', (c) => {
    const ms = performance.now() - started;
    const t = [...(stderr.trim().split('\n').at(-1) ?? '').matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60_000 + Number(m[2]) * 1000);
    res({ status: c ?? -1, stdout, stderr, ms, cpuMs: (t[0] ?? NaN) + (t[1] ?? NaN) });
  }));
}

const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});
const load = () => loadavg()[0]!.toFixed(1);
const ms = (x: number) => `${x.toFixed(0).padStart(5)} ms`;

const work = mkdtempSync(join(tmpdir(), 'offchain-bench-device-serve-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
const startLoad = loadavg();

/** `offchain serve gateway` on its state directory and Lightning node's socket: its URL, its log so far, and its stop. */
async function serveGateway(args: string[]): Promise<{ url: string; log: () => string; stop: () => Promise<void> }> {
  const svcArgs = [...(process.env.BENCH_DEVICE_SERVE_SVC_NODE_ARGS ?? '').split(' ').filter(Boolean), BIN, 'serve', 'gateway', '--listen', '127.0.0.1:0', '--log-level', 'info', '--rate-limit', '0', '--key-env', 'MINT_KEY', ...args];
  const svc = spawn(process.execPath, svcArgs, { env: cleanEnv({ MINT_KEY }), stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(svc);
  let log = '';
  svc.stderr.setEncoding('utf8').on('data', (d: string) => (log += d));
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: svc.stdout }).once('line', resolve);
    svc.once('exit', (code) => reject(new Error(`bench: serve gateway exited ${code}: ${log}`)));
  });
  return {
    url: (JSON.parse(line) as { public: string }).public,
    log: () => log,
    stop: async () => {
      svc.kill('SIGTERM');
      await new Promise((res) => svc.once('exit', res));
      children.delete(svc);
    },
  };
}

/** The gateway's node's time for each payment, from the service's log ("paid on Lightning in N ms"). */
const lightningTimes = (log: string) => [...log.matchAll(/paid on Lightning in (\d+) ms/g)].map((m) => Number(m[1]));

/** The service's own time per request of `route` (its "served" log lines' `ms`), the first left out. */
const logTimes = (log: string, route: string) => log.split('\n').filter((l) => l.includes('"msg":"served"') && l.includes(`"route":"${route}"`)).map((l) => Number(/"ms":([\d.]+)/.exec(l)?.[1])).slice(1);

/**
 * With BENCH_DEVICE_SERVE_AB=1, the tolls go in turn through the full CLI (OFFCHAIN_FAST_PATHS=0) and through
 * what bin/run.js runs by default (`device pay`'s own bundle): the two measured interleaved, in the same run.
 */
type Variant = { label: string; env: Record<string, string>; bin?: string; nodeArgs?: string[] };
const BASE = process.env.BENCH_DEVICE_SERVE_BASE;
const AB_NODE_ARGS = process.env.BENCH_DEVICE_SERVE_AB_NODE_ARGS;
const VARIANTS: Variant[] = process.env.BENCH_DEVICE_SERVE_AB === '1'
  ? [{ label: ', full CLI', env: { OFFCHAIN_FAST_PATHS: '0' } }, { label: ', own bundle', env: {} }]
  : BASE
    ? [{ label: `, base ${BASE}`, env: {}, bin: join(BASE, 'bin', 'run.js') }, { label: ', this tree', env: {} }]
    : AB_NODE_ARGS
      ? [{ label: ', no node flags', env: {} }, { label: `, node ${AB_NODE_ARGS}`, env: {}, nodeArgs: AB_NODE_ARGS.split(' ').filter(Boolean) }]
      : [{ label: '', env: {} }];

type Tolls = { label: string; runs: Timed[]; parts: Record<Part, number>[] };

/**
 * `count` tolls of each variant, each one `device pay --peer` process (the first of each left out: cold files, the
 * service's first request), then `profiles` more of each run with --cpu-prof: the runs, and each profile's parts
 * (bench/cpu-parts.ts).
 */
async function tolls(count: number, profiles: number, args: (n: number) => Promise<string[]>): Promise<Tolls[]> {
  const out: Tolls[] = VARIANTS.map((v) => ({ label: v.label, runs: [], parts: [] }));
  const profDirs = VARIANTS.map(() => join(work, `prof-${Math.random().toString(36).slice(2)}`));
  const V = VARIANTS.length;
  for (let n = 0; n < (count + profiles) * V; n++) {
    const v = n % V;
    const i = Math.floor(n / V);
    const prof = i >= count ? ['--cpu-prof', `--cpu-prof-dir=${profDirs[v]}`] : [];
    const r = await timed('"$@"', [...WRAP, process.execPath, ...NODE_ARGS, ...(VARIANTS[v]!.nodeArgs ?? []), ...prof, VARIANTS[v]!.bin ?? BIN, 'device', 'pay', '--peer', ...(await args(n))], cleanEnv({ USER_KEY, ...VARIANTS[v]!.env }));
    if (r.status !== 0 || !r.stdout.includes('"credit/balance"')) throw new Error(`bench: device pay --peer ${n} exited ${r.status}: ${r.stderr}`);
    if (i > 0 && i < count) out[v]!.runs.push(r);
    if (process.env.BENCH_DEVICE_SERVE_SHOW === '1' && i === count - 1) console.log(r.stdout, r.stderr);
  }
  if (profiles > 0) {
    // Each variant's profiles read through its own tree's source maps.
    out.forEach((o, v) => {
      const maps = bundleSourceMaps(join(VARIANTS[v]!.bin ? join(VARIANTS[v]!.bin!, '..', '..') : ROOT, 'dist'));
      o.parts = readdirSync(profDirs[v]!).map((f) => cpuParts(join(profDirs[v]!, f), maps));
    });
  }
  return out;
}

/** The parts' medians over the profiles, on one line: busy parts first, then the time it waited. */
function partsLine(parts: Record<Part, number>[]): string {
  const med = (k: Part) => q(parts.map((p) => p[k]), 0.5);
  const busy = q(parts.map((p) => PARTS.filter((k) => k !== 'idle').reduce((s, k) => s + p[k], 0)), 0.5);
  return `${PARTS.filter((k) => k !== 'idle').map((k) => `${k} ${med(k).toFixed(0)}`).join(', ')} (sum ${busy.toFixed(0)} ms); waiting ${med('idle').toFixed(0)} ms`;
}

function tollRow(label: string, runs: Timed[], parts: Record<Part, number>[], loadAt: string): void {
  const wall = runs.map((r) => r.ms);
  const cpu = runs.map((r) => r.cpuMs);
  console.log(`  ${label.padEnd(60)} wall p50 ${ms(q(wall, 0.5))}  p90 ${ms(q(wall, 0.9))}   device CPU p50 ${ms(q(cpu, 0.5))}  p90 ${ms(q(cpu, 0.9))}   (n=${runs.length}, the first left out; load ${loadAt} → ${load()})`);
  if (parts.length) console.log(`    device CPU part by part (V8 profiles of ${parts.length} more, ms p50): ${partsLine(parts)}`);
}

/**
 * `count` tolls through one `device pay --stream --peer` process: each invoice line written when the answer to the one
 * before has come, the wall time from the write to its answer line; the process's CPU (/proc utime + stime, 10 ms
 * ticks) over the tolls after the first STREAM_WARM_UP, divided among them (a mean: one toll is a few ticks).
 */
async function streamTolls(count: number, args: string[], invoiceOf: (n: number) => Promise<string>): Promise<{ wall: number[]; cpuMs: number }> {
  const child = spawn(process.execPath, [...NODE_ARGS, BIN, 'device', 'pay', '--stream', '--peer', ...args], { env: cleanEnv({ USER_KEY }), stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(child);
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const answers = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const wall: number[] = [];
  let cpuFrom = 0;
  for (let n = 0; n < count; n++) {
    const bolt11 = await invoiceOf(n);
    if (n === STREAM_WARM_UP) cpuFrom = cpuSeconds([child.pid!]);
    const started = performance.now();
    child.stdin.write(bolt11 + '\n');
    const a = await answers.next();
    if (a.done || !a.value.includes('"credit/balance"')) throw new Error(`bench: device pay --stream, toll ${n}: ${a.done ? 'no answer' : a.value} ${err}`);
    if (n >= STREAM_WARM_UP) wall.push(performance.now() - started);
  }
  const cpuMs = ((cpuSeconds([child.pid!]) - cpuFrom) * 1000) / wall.length;
  child.stdin.end();
  const code = await new Promise<number | null>((res) => child.once('exit', res));
  children.delete(child);
  if (code !== 0) throw new Error(`bench: device pay --stream exited ${code}: ${err}`);
  return { wall, cpuMs };
}

function streamRow(r: { wall: number[]; cpuMs: number }, loadAt: string): void {
  console.log(`  ${'device pay --stream, one process, per toll'.padEnd(60)} wall p50 ${ms(q(r.wall, 0.5))}  p90 ${ms(q(r.wall, 0.9))}   device CPU mean ${ms(r.cpuMs)}   (n=${r.wall.length}, the first ${STREAM_WARM_UP} left out; load ${loadAt} → ${load()})`);
}

/** Two variants run in turn: each toll of the second against the one of the first just before it, the median of the ratios (wall, CPU). */
function pairRatios(all: Tolls[]): void {
  if (all.length !== 2) return;
  const [a, b] = all as [Tolls, Tolls];
  const n = Math.min(a.runs.length, b.runs.length);
  const r = (k: 'ms' | 'cpuMs') => Array.from({ length: n }, (_, i) => b.runs[i]![k] / a.runs[i]![k]);
  const line = (k: 'ms' | 'cpuMs') => `${q(r(k), 0.5).toFixed(3)} (${Math.min(...r(k)).toFixed(2)}–${Math.max(...r(k)).toFixed(2)})`;
  console.log(`    per pair${b.label} ÷${a.label}: wall ${line('ms')}, device CPU ${line('cpuMs')}   (n=${n} pairs, median (range))`);
}

// The anchor: a bare node process, the same way, in the same run.
const anchorLoad = load();
const anchor: Timed[] = [];
for (let n = 0; n < Math.max(3, Math.min(TOLLS, 11)); n++) {
  const r = await timed('"$@"', [process.execPath, '-e', '0'], cleanEnv());
  if (n > 0) anchor.push(r);
}

// The channel, twice: one for the service, one for the pipes.
const open = spawnSync('sh', [join(ROOT, 'fixtures/credit/open-demo.sh')], { env: cleanEnv({ OFFCHAIN_DEMO_DIR: join(work, 'svc') }), encoding: 'utf8' });
if (open.status !== 0) throw new Error(`bench: open-demo failed: ${open.stderr}`);
cpSync(join(work, 'svc'), join(work, 'pipe'), { recursive: true });

// The scripted node: getinfo, listpays (nothing yet), pay (complete at once, with the preimage).
const socket = join(work, 'lightning-rpc');
const byHash = new Map<string, number>();
const node = createServer((s) => {
  let buf = '';
  s.on('error', () => {});
  s.on('data', (d) => {
    buf += d.toString();
    let req: { id: string; method: string; params: Record<string, unknown> };
    try {
      req = JSON.parse(buf);
    } catch {
      return;
    }
    buf = '';
    let result: unknown;
    if (req.method === 'getinfo') result = { network: 'regtest', blockheight: Number(TIP) };
    else if (req.method === 'listpays') result = { pays: [] };
    else if (req.method === 'pay') {
      const bolt11 = String(req.params.bolt11 ?? (req.params as unknown as string[])[0]);
      const n = byHash.get(bolt11)!;
      const msat = Number(1_000_000 + n * 1000);
      result = { status: 'complete', payment_hash: toHex(sha256(preimage(n))), payment_preimage: toHex(preimage(n)), amount_msat: msat, amount_sent_msat: msat, created_at: Math.floor(Date.now() / 1000) };
    }
    s.write(JSON.stringify({ jsonrpc: '2.0', id: req.id, ...(result === undefined ? { error: { code: -32601, message: 'bench: unscripted' } } : { result }) }) + '\n\n');
  });
});
await new Promise<void>((res) => node.listen(socket, res));

/** Payment n's invoice, known to the scripted node. */
const bolt11Of = (n: number) => {
  const bolt11 = invoice(n, BigInt(1_000_000 + n * 1000));
  byHash.set(bolt11, n);
  return bolt11;
};
const inv = (dir: string, n: number) => {
  const bolt11 = bolt11Of(n);
  const p = join(work, `${dir}-${n}.bolt11`);
  writeFileSync(p, bolt11 + '\n');
  return p;
};
const payFlags = ['--policy', POLICY, '--terms', TERMS, '--now', String(NOW), '--tip-height', TIP];
const user = (dir: string) => ['--key-env', 'USER_KEY', '--state-dir', join(work, dir, 'user')];

const scriptedLoad = load();
const svc = await serveGateway(['--terms', TERMS, '--now', String(NOW), '--tip-height', TIP, '--confirmations', '1', '--state-dir', join(work, 'svc', 'mint'), '--lightning-rpc', socket]);
const scriptedAll = await tolls(TOLLS, PROFILES, async (n) => [svc.url, '--invoice', inv('svc', n), ...payFlags, ...user('svc')]);
const scripted = scriptedAll.at(-1)!;
const streamLoad = load();
const streamed = STREAM_TOLLS > 0 ? await streamTolls(STREAM_TOLLS + STREAM_WARM_UP, [svc.url, ...payFlags, ...user('svc')], async (n) => bolt11Of(1000 + n)) : undefined;
const payMs = logTimes(svc.log(), '/v1/gateway/pay');
const completeMs = logTimes(svc.log(), '/v1/gateway/complete');
await svc.stop();
node.close();

// Today's pipes: six processes per toll.
const gw = ['--key-env', 'MINT_KEY', '--state-dir', join(work, 'pipe', 'mint')];
const chain = ['--tip-height', TIP, '--confirmations', '1'];
const piped: Timed[] = [];
const pipedLoad = load();
for (let n = 0; n < PIPED; n++) {
  const pre = join(work, `preimage-${n}`);
  writeFileSync(pre, toHex(preimage(n)) + '\n', { mode: 0o600 });
  const o = (args: string[]) => args.map((a) => `'${a}'`).join(' ');
  const node = `'${process.execPath}' '${BIN}'`;
  const script = `set -o pipefail; ${node} device pay --invoice ${o([inv('pipe', n)])} ${o(payFlags)} ${o(user('pipe'))} | ${node} gateway pay --terms '${TERMS}' --now ${NOW} ${o(chain)} ${o(gw)} >/dev/null`
    + ` && ${node} gateway settle --preimage-file '${pre}' ${o(gw)} | ${node} device settle ${o(user('pipe'))} | ${node} gateway complete ${o(chain)} ${o(gw)} | ${node} device receipt ${o(user('pipe'))}`;
  const r = await timed(script, [], cleanEnv({ USER_KEY, MINT_KEY }));
  if (r.status !== 0 || !r.stdout.includes('"credit/balance"')) throw new Error(`bench: piped toll ${n} exited ${r.status}: ${r.stderr}`);
  if (n > 0) piped.push(r);
}

const wall = scripted.runs.map((r) => r.ms);
const cpu = scripted.runs.map((r) => r.cpuMs);
const pwall = piped.map((r) => r.ms);
const pcpu = piped.map((r) => r.cpuMs);
console.log(`\nThe device's toll through serve gateway (bench/device-serve.ts): ${cpus().length} cores, load average ${startLoad.map((l) => l.toFixed(1)).join(' ')} at start`);
console.log(`  anchor: node -e 0                               wall p50 ${ms(q(anchor.map((r) => r.ms), 0.5))}  p90 ${ms(q(anchor.map((r) => r.ms), 0.9))}   CPU p50 ${ms(q(anchor.map((r) => r.cpuMs), 0.5))}   (n=${anchor.length}; load ${anchorLoad})`);
console.log('  scripted Lightning node (no Lightning time):');
for (const t of scriptedAll) tollRow(`device pay --peer, pay → receipt, 1 process${t.label}`, t.runs, t.parts, scriptedLoad);
pairRatios(scriptedAll);
if (streamed) streamRow(streamed, streamLoad);
if (payMs.length) console.log(`    the service's own time (its log)               POST /v1/gateway/pay p50 ${q(payMs, 0.5).toFixed(1)} ms, POST /v1/gateway/complete p50 ${q(completeMs, 0.5).toFixed(1)} ms`);
if (piped.length) {
  console.log(`  today's pipes, 6 processes per toll               wall p50 ${ms(q(pwall, 0.5))}  p90 ${ms(q(pwall, 0.9))}   all CPU p50 ${ms(q(pcpu, 0.5))}  p90 ${ms(q(pcpu, 0.9))}   (n=${piped.length}, the first left out; load ${pipedLoad})`);
  console.log(`  ratio pipes / service: wall ${(q(pwall, 0.5) / q(wall, 0.5)).toFixed(2)}×, CPU ${(q(pcpu, 0.5) / q(cpu, 0.5)).toFixed(2)}×`);
}
await clnRow();
console.log(`  load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at the end`);

/**
 * The toll with Core Lightning's regtest payment included: the device's channel and the gateway's Lightning
 * channel of test/regtest/device-cln-world.ts, `serve gateway --lightning-rpc` on the gateway's node, each
 * invoice made by the payee's node. Skipped visibly without LIGHTNINGD and BITCOIND (or with 0 tolls).
 */
async function clnRow(): Promise<void> {
  const label = 'Core Lightning regtest (the payment included):';
  const { RUN, LIGHTNINGD, startDeviceClnWorld } = await import('../test/regtest/device-cln-world.ts');
  if (!RUN || CLN_TOLLS <= 0) {
    console.log(`  ${label} SKIPPED: ${CLN_TOLLS <= 0 ? 'BENCH_DEVICE_SERVE_CLN_TOLLS=0' : LIGHTNINGD ? 'BITCOIND is unset' : 'LIGHTNINGD is unset'}`);
    return;
  }
  const w = await startDeviceClnWorld('offchain-bench-device-cln-');
  try {
    const loadAt = load();
    const svc = await serveGateway(['--terms', w.terms, '--lightning-rpc', w.socket, '--state-dir', w.mintDir, ...w.n.chain()]);
    try {
      const tip = String(await w.n.tip());
      const all = await tolls(CLN_TOLLS, PROFILES, async (n) => {
        const made = await w.payeeRpc.call<{ bolt11: string }>('invoice', { amount_msat: 1_000_000 + n * 1000, label: `bench-${n}`, description: `toll ${n}` });
        return [svc.url, '--invoice', w.file(`bench-${n}.bolt11`, made.bolt11), '--policy', w.policy, '--terms', w.terms, '--tip-height', tip, '--key-env', 'USER_KEY', '--state-dir', w.userDir];
      });
      const { runs, parts } = all.at(-1)!;
      const lightning = lightningTimes(svc.log()).slice(1);
      console.log(`  ${label}`);
      for (const t of all) tollRow(`device pay --peer, pay → receipt, 1 process${t.label}`, t.runs, t.parts, loadAt);
      pairRatios(all);
      if (lightning.length) console.log(`    the gateway's node paying (its log)            p50 ${q(lightning, 0.5).toFixed(0)} ms, p90 ${q(lightning, 0.9).toFixed(0)} ms   (target: the toll < 300 ms wall: ${q(runs.map((r) => r.ms), 0.5) < 300 ? 'met' : 'not met'} here, load ${load()})`);
      // Issue 73 item 4's row (bench/rows.mjs): the toll's wall, Core Lightning's payment included, beside a bare node's start.
      const wall = runs.map((r) => r.ms);
      reportRow({
        id: 'device/toll-cln', label: '`device pay --peer` through `serve gateway`, Core Lightning regtest payment included: the toll, pay → receipt, wall p50',
        value: q(wall, 0.5), unit: 'ms wall', range: [Math.min(...wall), Math.max(...wall)],
        anchor: { label: 'bare `node -e 0`, ms wall', value: q(anchor.map((r) => r.ms), 0.5) }, ratio: q(wall, 0.5) / q(anchor.map((r) => r.ms), 0.5),
        target: { on: 'value', atMost: 300 },
        bound: `device CPU p50 ${q(runs.map((r) => r.cpuMs), 0.5).toFixed(0)} ms${parts.length ? ` (${partsLine(parts)})` : ''}${lightning.length ? `; the gateway's node paying p50 ${q(lightning, 0.5).toFixed(0)} ms` : ''}`,
        note: `${runs.length} tolls, the first left out`,
      });
      if (STREAM_TOLLS <= 0) return;
      // The same, through one `device pay --stream` process: a device that pays many tolls starts once.
      const streamLoad = load();
      const paidBefore = lightningTimes(svc.log()).length;
      const streamed = await streamTolls(STREAM_TOLLS + STREAM_WARM_UP, [svc.url, '--policy', w.policy, '--terms', w.terms, '--tip-height', tip, '--key-env', 'USER_KEY', '--state-dir', w.userDir], async (n) =>
        (await w.payeeRpc.call<{ bolt11: string }>('invoice', { amount_msat: 1_000_000 + n * 1000, label: `bench-stream-${n}`, description: `toll ${n}` })).bolt11);
      streamRow(streamed, streamLoad);
      const streamLightning = lightningTimes(svc.log()).slice(paidBefore + STREAM_WARM_UP);
      if (streamLightning.length) console.log(`    the gateway's node paying (its log)            p50 ${q(streamLightning, 0.5).toFixed(0)} ms   (target: the toll < 300 ms wall: ${q(streamed.wall, 0.5) < 300 ? 'met' : 'not met'} here)`);
      reportRow({
        id: 'device/toll-cln-stream', label: '`device pay --stream` through `serve gateway`, Core Lightning regtest payment included: a toll of a device\'s running process, pay → receipt, wall p50',
        value: q(streamed.wall, 0.5), unit: 'ms wall', range: [Math.min(...streamed.wall), Math.max(...streamed.wall)],
        anchor: { label: 'the one-shot toll above, ms wall', value: q(wall, 0.5) }, ratio: q(streamed.wall, 0.5) / q(wall, 0.5),
        target: { on: 'value', atMost: 300 },
        bound: `device CPU mean ${streamed.cpuMs.toFixed(0)} ms a toll${streamLightning.length ? `; the gateway's node paying p50 ${q(streamLightning, 0.5).toFixed(0)} ms` : ''}`,
        note: `${streamed.wall.length} tolls, the first ${STREAM_WARM_UP} left out`,
      });
    } finally {
      await svc.stop();
    }
  } finally {
    await w.stop();
  }
}
