#!/usr/bin/env node
/**
 * Ecash for credit: what it costs the mint (docs/ecash.md "Figures"). Printed, never asserted.
 *
 * 1. Mint updates/s in streaming mode, with ecash (each request carries 5 blinded
 *    messages: 5 blind signatures + DLEQ proofs per update, recorded in the same commit)
 *    beside without, per secp256k1 backend (the backend signs the MuSig2 state; the
 *    ecash arithmetic is noble's in both). N requests (C contracts × M payments) fed as
 *    JSON Lines to ONE `sign-update --role mint --stream` process, pinned to one core
 *    when taskset exists; median of 3 runs, each from the same prepared state.
 * 2. One blind signature, one with its DLEQ proof, and the user's verify + unblind, in process.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin', 'run.js');
const CONTRACTS = Number(process.env.BENCH_CONTRACTS ?? 100);
const PAYMENTS = Number(process.env.BENCH_PAYMENTS ?? 5);
const N = CONTRACTS * PAYMENTS;
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

function streamRun(mode, backend) {
  const setup = setups[mode];
  const dir = mkdtempSync(join(tmpdir(), 'offchain-bench-'));
  try {
    cpSync(join(setup, 'regtest'), join(dir, 'regtest'), { recursive: true });
    const env = { ...process.env, MINT_KEY: mintKey, ECASH_SEED, OFFCHAIN_SECP256K1: backend };
    const ecash = mode === 'with' ? ['--ecash-seed-env', 'ECASH_SEED'] : [];
    const [cmd, args] = pin([bin, 'sign-update', '--role', 'mint', '--stream', '--key-env', 'MINT_KEY', '--state-dir', dir, '--tip-height', '1000', '--confirmations', '1', ...ecash, '--in', join(setup, 'requests.jsonl')]);
    const t0 = process.hrtime.bigint();
    const out = execFileSync(cmd, args, { env, maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const receipts = out.split('\n').filter((l) => l.includes('"credit/receipt"'));
    if (receipts.length !== N) throw new Error(`expected ${N} receipts, got ${receipts.length}: ${out.slice(0, 400)}`);
    if (mode === 'with' && !receipts.every((l) => (JSON.parse(l).signatures ?? []).length === 5)) throw new Error('a receipt without its 5 blind signatures');
    return seconds;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`\nmint streaming mode, ecash beside none: ${N} update requests (${CONTRACTS} contracts × ${PAYMENTS} payments), one process${hasTaskset ? ' pinned to one core' : ''}; median of 3 runs`);
console.log('  ' + 'backend'.padEnd(16) + 'without ecash'.padStart(16) + 'with ecash (5 outputs)'.padStart(26) + 'ecash cost per update'.padStart(24));
for (const backend of (process.env.BENCH_BACKENDS ?? 'noble,tiny-secp256k1,native').split(',')) {
  const med = (mode) => [streamRun(mode, backend), streamRun(mode, backend), streamRun(mode, backend)].sort((a, b) => a - b)[1];
  let without;
  let withE;
  try {
    without = med('without');
    withE = med('with');
  } catch (e) {
    console.log(`  ${backend.padEnd(16)} (unavailable: ${String(e.message).split('\n')[0].slice(0, 80)})`);
    continue;
  }
  const perUpdate = ((withE - without) * 1e6) / N;
  console.log(`  ${backend.padEnd(16)}${`${(N / without).toFixed(0)} updates/s`.padStart(16)}${`${(N / withE).toFixed(0)} updates/s`.padStart(26)}${`+${(perUpdate / 1000).toFixed(2)} ms`.padStart(24)}`);
}

const c = await blindSignatureCost();
console.log(`\none blind signature (noble, in process): C_ = k·B_ ${c.sign_us.toFixed(0)} µs; with its NUT-12 DLEQ proof ${c.sign_dleq_us.toFixed(0)} µs; the user's DLEQ verify + unblind ${c.verify_unblind_us.toFixed(0)} µs`);
