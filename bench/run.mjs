#!/usr/bin/env node
/**
 * `npm run bench`: measured figures, printed; never asserted by tests.
 *
 * 1. Cold start: median CPU time (user + system, the process's own, written at its exit
 *    by bench/cpu-at-exit.cjs) and median wall time of N spawns of `offchain --version` and
 *    of `offchain psbt decode` on a fixture, spawned in turn with bare `node -e 0`, each as a
 *    ratio to it, with the load average (issue 40's target for `psbt decode`: ≤ 1.2× on CPU).
 *    Every child runs without NODE_EXTRA_CA_CERTS: where it is set (this development VM sets it
 *    to the system's 144 certificates), every Node process parses the file at start-up — bare
 *    node ~26 → ~80 ms of CPU — which would be a ratio's denominator, not offchain's start-up.
 *    Bare node with it is timed in the same turns and printed, so the difference stays visible.
 *    The row's fixture is an unsigned PSBT that carries no key, which the first shortcut reader
 *    answers without btc-signer (src/fast-decode/plain.ts); the signed MuSig2 fixture (its keys
 *    and taproot commitment checked) is printed beside it — it goes on to the second reader,
 *    which loads btc-signer — and the same decode through the full CLI (the shortcuts off): how
 *    every other one-shot command starts. And the second reader's floor, timed in the same
 *    turns: @scure/btc-signer loaded alone, as that shortcut is loaded (bench/psbt-floor.ts,
 *    bundled here as scripts/build.mjs bundles it, code-cached by one training run) — what a
 *    keyed PSBT's decode costs before any code of ours runs and before a byte is read.
 * 2. MuSig2: one complete two-party signing of a taproot key-path PSBT input, in
 *    process (participants → nonces → partial signatures → aggregate → finalize),
 *    as signings per wall and per CPU second, with the time of each phase so the dominant part
 *    is visible; per backend, beside the same signing on the BIP-327 API alone (its anchor, same
 *    run) and the mint's per-update MuSig2 work; PTLC claims per backend beside native's.
 * Each section says the load average while it ran.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { build } from 'esbuild';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { reportRow } from './rows.mjs';
import { installedNode, LINES } from '../scripts/node-lines.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const runs = Number(process.env.BENCH_RUNS ?? 31);
/** Untimed first rounds of the cold starts, which fill the OS file cache (BENCH_WARMUP). */
const warmup = Number(process.env.BENCH_WARMUP ?? 2);
/** BENCH_NODE_LINES=24,26: the cold start on those Node lines alone (default: every line npm ci installed). */
const nodeLines = process.env.BENCH_NODE_LINES?.split(',');
const bin = join(root, 'bin', 'run.js');

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/**
 * Median CPU and wall times of each command ([name, args, env?, node binary?]), spawned in turn — bare node, then each of ours,
 * round after round — so that load on a shared machine weighs on all of them alike and the
 * ratios hold better than the times. CPU is each child's own (process.cpuUsage at its exit,
 * bench/cpu-at-exit.cjs preloaded into every one of them alike, bare node included); wall
 * also counts waiting for a core. Two warm-up rounds fill the OS file cache.
 */
function timeInTurn(commands) {
  const dir = mkdtempSync(join(tmpdir(), 'offchain-bench-cold-'));
  const cpuFile = join(dir, 'cpu.json');
  const env = { ...process.env, NODE_OPTIONS: `--require ${join(root, 'bench', 'cpu-at-exit.cjs')}`, BENCH_CPU_FILE: cpuFile };
  delete env.NODE_EXTRA_CA_CERTS; // see the header: a per-host cost of every node process, not ours
  const wall = commands.map(() => []);
  const cpu = commands.map(() => []);
  try {
    for (let i = 0; i < runs + warmup; i++) {
      commands.forEach(([, args, extraEnv, node = process.execPath], k) => {
        rmSync(cpuFile, { force: true });
        const t0 = process.hrtime.bigint();
        const r = spawnSync(node, args, { cwd: root, env: { ...env, ...extraEnv }, stdio: ['pipe', 'pipe', 'pipe'] });
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
        const used = JSON.parse(readFileSync(cpuFile, 'utf8'));
        if (i >= warmup) {
          wall[k].push(ms);
          cpu[k].push((used.user + used.system) / 1000);
        }
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return commands.map(([name], k) => ({ name, cpu: median(cpu[k]), wall: median(wall[k]) }));
}

/**
 * bench/psbt-floor.ts bundled as scripts/build.mjs bundles the decode shortcut (one minified
 * CommonJS wrapper function, no name-keeping, no WebCrypto probe), into a temp dir, and run once
 * to write its code cache: the arguments that run it, and its removal.
 */
async function psbtFloor() {
  const dir = mkdtempSync(join(tmpdir(), 'offchain-bench-floor-'));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  const wrapper = ['(function (exports, require, module, __filename, __dirname) { ', '\n});'];
  const args = [join(root, 'bench', 'psbt-floor-run.cjs'), join(dir, 'floor.cjs')];
  try {
    await build({
      absWorkingDir: root, entryPoints: { floor: 'bench/psbt-floor.ts' }, outdir: dir, outExtension: { '.js': '.cjs' }, bundle: true, platform: 'node', target: 'node20',
      format: 'cjs', keepNames: false, legalComments: 'none', logLevel: 'warning', define: { 'globalThis.crypto': 'undefined' }, banner: { js: wrapper[0] }, footer: { js: wrapper[1] },
      minify: !process.env.OFFCHAIN_BUILD_READABLE, // as dist/ was built
    });
    const env = { ...process.env, BENCH_WRITE_CODE_CACHE: '1' };
    delete env.NODE_EXTRA_CA_CERTS;
    execFileSync(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'] });
  } catch (e) {
    remove();
    throw e;
  }
  return { args, remove };
}

const cpu = cpus()[0]?.model ?? 'unknown CPU';
console.log(`offchain benchmarks — node ${process.version}, ${cpus().length} × ${cpu}, median of ${runs} runs\n`);

const decode = [bin, 'psbt', 'decode', '--in', 'fixtures/psbt/musig-keypath-unsigned.psbt'];
const FLOOR = '  @scure/btc-signer loaded (its floor)';
const caCerts = process.env.NODE_EXTRA_CA_CERTS;
const floor = await psbtFloor();
const load = loadavg()[0];
let rows;
try {
  rows = timeInTurn([
    ['node -e 0 (bare)', ['-e', '0']],
    ['offchain --version', [bin, '--version']],
    ['offchain psbt decode (fixture)', decode],
    ['  the signed MuSig2 fixture', [bin, 'psbt', 'decode', '--in', 'fixtures/psbt/musig-keypath-signed.psbt']],
    // Every other command starts as this one does: the whole CLI (oclif, dist/offchain.cjs).
    ['  through the full CLI (no shortcut)', decode, { OFFCHAIN_FAST_PATHS: '0' }],
    [FLOOR, floor.args],
    ...(caCerts ? [['node -e 0, NODE_EXTRA_CA_CERTS kept', ['-e', '0'], { NODE_EXTRA_CA_CERTS: caCerts }]] : []),
  ]);
} finally {
  floor.remove();
}
const bare = rows[0];
console.log(`cold start (load ${load.toFixed(1)} → ${loadavg()[0].toFixed(1)})`.padEnd(40) + 'CPU ms'.padStart(8) + '  × bare' + 'wall ms'.padStart(10) + '  × bare');
for (const r of rows) {
  console.log(r.name.padEnd(40) + r.cpu.toFixed(1).padStart(8) + `${(r.cpu / bare.cpu).toFixed(2)}×`.padStart(8) + r.wall.toFixed(1).padStart(10) + `${(r.wall / bare.wall).toFixed(2)}×`.padStart(8));
}
if (caCerts) console.log(`(NODE_EXTRA_CA_CERTS=${caCerts} is set here; every child above but the last ran without it)`);

// The same start-up on each Node line npm ci installed (scripts/node-lines.mjs), each beside bare node of that line in the same turns: every line starts
// from its own code cache (bin/run.js cacheFileOf), so the ratios should match 24's.
{
  const lines = LINES.map((l) => [String(l.major), installedNode(l)]).filter(([line, node]) => node !== undefined && (!nodeLines || nodeLines.includes(line)));
  const loadLines = loadavg()[0];
  const perLine = timeInTurn(lines.flatMap(([line, node]) => [
    [`node ${line}: node -e 0 (bare)`, ['-e', '0'], {}, node],
    [`node ${line}: offchain --version`, [bin, '--version'], {}, node],
    [`node ${line}: psbt decode, signed fixture`, [bin, 'psbt', 'decode', '--in', 'fixtures/psbt/musig-keypath-signed.psbt'], {}, node],
    [`node ${line}: the same, full CLI`, [bin, 'psbt', 'decode', '--in', 'fixtures/psbt/musig-keypath-signed.psbt'], { OFFCHAIN_FAST_PATHS: '0' }, node],
  ]));
  console.log(`\ncold start per Node line (load ${loadLines.toFixed(1)} → ${loadavg()[0].toFixed(1)})`.padEnd(41) + 'CPU ms'.padStart(8) + '  × bare' + 'wall ms'.padStart(10) + '  × bare');
  for (let i = 0; i < perLine.length; i += 4) {
    const lineBare = perLine[i];
    for (const r of perLine.slice(i, i + 4)) {
      console.log(r.name.padEnd(40) + r.cpu.toFixed(1).padStart(8) + `${(r.cpu / lineBare.cpu).toFixed(2)}×`.padStart(8) + r.wall.toFixed(1).padStart(10) + `${(r.wall / lineBare.wall).toFixed(2)}×`.padStart(8));
    }
  }
  if (lines.length === 0) console.log('(no Node line in node_modules here: npm ci installs them on linux-x64)');
}
const floorRatio = rows.find((r) => r.name === FLOOR).cpu / bare.cpu;
const decodeBound = `a PSBT with keys (the signed fixture, ${(rows[3].cpu / bare.cpu).toFixed(2)}× bare) goes on to the reader that loads @scure/btc-signer, which alone costs ${floorRatio.toFixed(2)}× bare; this one loads neither it nor the curve`;
for (const [r, id, atMost, bound] of [[rows[1], 'cold/version', 1.5, undefined], [rows[2], 'cold/psbt-decode', 1.2, decodeBound]]) {
  reportRow({
    id,
    label: `\`${r.name.replace(/ \(fixture\)$/, '')}\` cold start, the child's own CPU (wall ${(r.wall / bare.wall).toFixed(2)}× bare)`,
    value: r.cpu,
    unit: 'ms CPU',
    wall: r.wall,
    anchor: { label: 'bare `node -e 0`, ms CPU', value: bare.cpu },
    ratio: r.cpu / bare.cpu,
    target: { on: 'ratio', atMost },
    ...(bound ? { bound } : {}),
    note: `medians of ${runs} interleaved runs`,
  });
}

/** Load average now, for each section's heading: the machine is shared. */
const loadNow = () => loadavg()[0].toFixed(1);

/** `fn`'s result, with the CPU time this process used and the wall time while it ran (s). */
async function timed(fn) {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const out = await fn();
  const used = process.cpuUsage(cpu0);
  return { out, cpu: (used.user + used.system) / 1e6, wall: (performance.now() - t0) / 1000 };
}

// In-process MuSig2 signing, timed through the built library: per wall second (the library's own
// timing) and per CPU-second of this process over the same run.
const { benchMusigSigning } = await import(join(root, 'dist', 'bench.js'));
const load1 = loadNow();
const { out: r, cpu: signingCpu } = await timed(() => benchMusigSigning({ seconds: Number(process.env.BENCH_SECONDS ?? 3) }));
console.log(`\ntwo-party MuSig2 key-path signing (in process, ${r.signings} signings in ${r.seconds.toFixed(1)} s; load ${load1} → ${loadNow()})`);
console.log(`  signings per second: ${(r.signings / r.seconds).toFixed(1)} wall, ${(r.signings / signingCpu).toFixed(1)} CPU   (${((r.seconds * 1000) / r.signings).toFixed(1)} ms each)`);
for (const [phase, ms] of Object.entries(r.phases).sort((a, b) => b[1] - a[1])) {
  console.log(`  ${phase.padEnd(34)} ${(ms / r.signings).toFixed(2).padStart(7)} ms  ${((100 * ms) / (r.seconds * 1000)).toFixed(0).padStart(3)}%`);
}

// Per secp256k1 backend (src/lib/musig/engine/): PSBT signing as above, the same signing
// on the BIP-327 API alone — its anchor, measured in the same run: the PSBT signing's ratio to
// it is the share of its CPU that is MuSig2 itself — and the mint's per-update work (PartialSigVerify
// + Sign + PartialSigAgg + BIP-340 Verify + NonceGen, KeyAgg cached; the mint's own anchor, its
// ratio printed by bench/credit-run.mjs).
const { benchMusigBackends } = await import(join(root, 'dist', 'bench.js'));
const load2 = loadNow();
const b = await benchMusigBackends({ seconds: Number(process.env.BENCH_SECONDS ?? 3) });
console.log('\nMuSig2 per backend, per CPU-second'.padEnd(45) + 'PSBT signings'.padStart(15) + '× BIP-327'.padStart(11) + 'BIP-327 signings'.padStart(18) + 'mint updates'.padStart(14) + `   (load ${load2} → ${loadNow()})`);
for (const r of b.rows) {
  console.log(`  ${r.engine.padEnd(42)}${r.psbtSignings.toFixed(1).padStart(15)}${`${(r.psbtSignings / r.engineSignings).toFixed(2)}×`.padStart(11)}${r.engineSignings.toFixed(1).padStart(18)}${r.mintUpdates.toFixed(1).padStart(14)}`);
}
for (const s of b.skipped) console.log(`  not installed: ${s}`);

// PTLC: one claim's whole adaptor crypto (nonces, adaptor partial signatures verified,
// pre-signature checked against T, adapt, BIP-340 verify, extract t), per backend; beside it,
// the native backend's figure in the same run as the anchor.
const { benchAdaptorBackends } = await import(join(root, 'dist', 'bench.js'));
const load3 = loadNow();
const adaptor = await benchAdaptorBackends({ seconds: Number(process.env.BENCH_SECONDS ?? 3) });
const nativeClaims = adaptor.rows.find((row) => row.engine === 'native')?.claims;
console.log(`\nPTLC presign + adapt + extract, per CPU-second (load ${load3} → ${loadNow()})`);
for (const r of adaptor.rows) console.log(`  ${r.engine.padEnd(32)}${r.claims.toFixed(1).padStart(15)}${nativeClaims ? `${(r.claims / nativeClaims).toFixed(2)}× native`.padStart(16) : ''}`);
for (const s of adaptor.skipped) console.log(`  not installed: ${s}`);
