#!/usr/bin/env node
/**
 * Ecash for credit: what it costs the mint (docs/ecash.md "Figures"). Printed, never asserted.
 *
 * 1. The mint's CPU and wall time per update in streaming mode, with ecash (each request
 *    carries 5 blinded messages, signed by the user: 5 blind signatures + DLEQ proofs per
 *    update, recorded in the same commit) beside without — its anchor, same run — per
 *    secp256k1 backend. N requests (C contracts × M payments) fed as JSON Lines to ONE
 *    `sign-update --role mint --stream` process, pinned to one core when taskset exists; its
 *    own CPU (bench/cpu-at-exit.cjs) and its wall time, medians of BENCH_RUNS (3) interleaved
 *    runs, each from the same prepared state (bench/credit.ts setupMintStream), load beside.
 *    A backend not installed (the CLI falls back to noble) is said so, not measured.
 * 2. One blind signature, one with its DLEQ proof, and the user's verify + unblind, in process.
 * Sizes: BENCH_CONTRACTS, BENCH_PAYMENTS, BENCH_RUNS, BENCH_BACKENDS, BENCH_BLIND_SIGNATURES.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin', 'run.js');
const CONTRACTS = Number(process.env.BENCH_CONTRACTS ?? 100);
const PAYMENTS = Number(process.env.BENCH_PAYMENTS ?? 5);
const N = CONTRACTS * PAYMENTS;
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const cpuHook = join(root, 'bench', 'cpu-at-exit.cjs');
const mintKey = readFileSync(join(root, 'fixtures/keys/mint.key'), 'utf8').trim();
const ECASH_SEED = 'TEST_PRIVATE_KEY';
const hasTaskset = spawnSync('taskset', ['-c', '0', 'true']).status === 0;
const pin = (args) => (hasTaskset ? ['taskset', ['-c', '0', process.execPath, ...args]] : [process.execPath, args]);
const { setupMintStream, blindSignatureCost } = await import(join(root, 'dist', 'bench-credit.js'));

const setups = {};
for (const mode of ['without', 'with']) {
  const dir = mkdtempSync(join(tmpdir(), `offchain-bench-ecash-${mode}-`));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  await setupMintStream({ dir, contracts: CONTRACTS, payments: PAYMENTS, mintKeyHex: mintKey, ...(mode === 'with' ? { ecash: ECASH_SEED } : {}) });
  setups[mode] = dir;
}

/** One run of the stream over a fresh copy of `mode`'s prepared mint: its wall time and its own CPU (bench/cpu-at-exit.cjs), in seconds. */
function streamRun(mode, backend) {
  const setup = setups[mode];
  const dir = mkdtempSync(join(tmpdir(), 'offchain-bench-'));
  try {
    cpSync(join(setup, 'regtest'), join(dir, 'regtest'), { recursive: true });
    const cpuFile = join(dir, 'cpu.json');
    const env = { ...process.env, MINT_KEY: mintKey, ECASH_SEED, OFFCHAIN_SECP256K1: backend, BENCH_CPU_FILE: cpuFile, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${cpuHook}` };
    const ecash = mode === 'with' ? ['--ecash-seed-env', 'ECASH_SEED'] : [];
    const [cmd, args] = pin([bin, 'sign-update', '--role', 'mint', '--stream', '--key-env', 'MINT_KEY', '--state-dir', dir, '--tip-height', '1000', '--confirmations', '1', ...ecash, '--in', join(setup, 'requests.jsonl')]);
    const t0 = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { env, maxBuffer: 1 << 28, encoding: 'utf8' });
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    // A refusal is a line on stdout (the stream goes on): every request must have its receipt.
    const receipts = r.stdout.split('\n').filter((l) => l.includes('"credit/receipt"'));
    if (r.status !== 0 || receipts.length !== N) throw new Error(`${mode} ecash on ${backend}: exit ${r.status}, ${receipts.length} of ${N} receipts: ${(r.stdout + r.stderr).slice(0, 400)}`);
    if (mode === 'with' && !receipts.every((l) => (JSON.parse(l).signatures ?? []).length === 5)) throw new Error('a receipt without its 5 blind signatures');
    const used = JSON.parse(readFileSync(cpuFile, 'utf8'));
    // A backend that is not installed falls back to noble with a warning: say so rather than print noble's figure under its name.
    const fellBack = r.stderr.split('\n').find((l) => l.includes('; using ')); // select.ts's fallbackReason
    return { wall, cpu: (used.user + used.system) / 1e6, fellBack };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (s) => `${((s * 1000) / N).toFixed(2)} ms`;
console.log(`\nmint streaming mode, ecash beside none: ${N} update requests (${CONTRACTS} contracts × ${PAYMENTS} payments), one process${hasTaskset ? ' pinned to one core' : ''}; medians of ${RUNS} interleaved runs, per update: the stream process's own CPU, then wall`);
console.log('  ' + 'backend'.padEnd(16) + 'without ecash (anchor)'.padStart(34) + 'with ecash (5 outputs)'.padStart(34) + 'ecash cost per update'.padStart(34) + '  load');
for (const backend of (process.env.BENCH_BACKENDS ?? 'noble,native').split(',')) {
  const load0 = loadavg()[0];
  const runs = { without: [], with: [] };
  for (let i = 0; i < RUNS; i++) for (const mode of ['without', 'with']) runs[mode].push(streamRun(mode, backend));
  const fellBack = runs.with.find((r) => r.fellBack)?.fellBack;
  if (fellBack) {
    console.log(`  ${backend.padEnd(16)} not measured: ${fellBack.slice(0, 120)}`);
    continue;
  }
  const cpu = (mode) => median(runs[mode].map((r) => r.cpu));
  const wall = (mode) => median(runs[mode].map((r) => r.wall));
  const cell = (mode) => `${ms(cpu(mode))} CPU, ${ms(wall(mode))} wall`;
  console.log(`  ${backend.padEnd(16)}${cell('without').padStart(34)}${cell('with').padStart(34)}${`+${ms(cpu('with') - cpu('without'))} CPU, +${ms(wall('with') - wall('without'))} wall`.padStart(34)}  ${load0.toFixed(1)} → ${loadavg()[0].toFixed(1)}`);
}

const c = await blindSignatureCost(Number(process.env.BENCH_BLIND_SIGNATURES ?? 500));
console.log(`\none blind signature (noble, in process): C_ = k·B_ ${c.sign_us.toFixed(0)} µs; with its NUT-12 DLEQ proof ${c.sign_dleq_us.toFixed(0)} µs; the user's DLEQ verify + unblind ${c.verify_unblind_us.toFixed(0)} µs`);
