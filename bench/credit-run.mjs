#!/usr/bin/env node
/**
 * Mint throughput (streaming mode) and the end-to-end time of one piped payment, run by
 * `npm run bench` after bench/run.mjs. Printed, never asserted.
 *
 * 1. N update requests (C contracts × M payments each), fed as JSON Lines to ONE real
 *    `offchain sign-update --role mint --stream` process pinned to one core (taskset,
 *    when available); updates/s = N / wall time, with the process start-up shown apart.
 * 2. One payment through three real processes and OS pipes:
 *    `sign-update --role user | sign-update --role mint | sign-update --role user`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin', 'run.js');
const CONTRACTS = Number(process.env.BENCH_CONTRACTS ?? 50);
const PAYMENTS = Number(process.env.BENCH_PAYMENTS ?? 8);
const N = CONTRACTS * PAYMENTS;
const mintKey = readFileSync(join(root, 'fixtures/keys/mint.key'), 'utf8').trim();
const hasTaskset = spawnSync('taskset', ['-c', '0', 'true']).status === 0;
const pin = (args) => (hasTaskset ? ['taskset', ['-c', '0', process.execPath, ...args]] : [process.execPath, args]);

const { setupMintStream } = await import(join(root, 'dist', 'bench-credit.js'));

async function streamRun(backend) {
  const dir = mkdtempSync(join(tmpdir(), 'offchain-bench-'));
  try {
    const { requests } = await setupMintStream({ dir, contracts: CONTRACTS, payments: PAYMENTS, mintKeyHex: mintKey });
    const env = { ...process.env, MINT_KEY: mintKey, OFFCHAIN_SECP256K1: backend };
    const [cmd, args] = pin([bin, 'sign-update', '--role', 'mint', '--stream', '--key-env', 'MINT_KEY', '--state-dir', dir, '--tip-height', '1000', '--funding-confirmations', '1', '--in', requests]);
    const t0 = process.hrtime.bigint();
    const out = execFileSync(cmd, args, { env, maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const receipts = out.split('\n').filter((l) => l.includes('"credit/receipt"')).length;
    if (receipts !== N) throw new Error(`expected ${N} receipts, got ${receipts}: ${out.slice(0, 400)}`);
    return seconds;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function startup() {
  const [cmd, args] = pin([bin, '--help']);
  const t0 = process.hrtime.bigint();
  execFileSync(cmd, args);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

console.log(`\nmint streaming mode: ${N} update requests (${CONTRACTS} contracts × ${PAYMENTS} payments), one process${hasTaskset ? ' pinned to one core' : ''}, group commit`);
const start = startup();
for (const backend of (process.env.BENCH_BACKENDS ?? 'noble,tiny-secp256k1,native').split(',')) {
  const s = await streamRun(backend);
  console.log(`  ${backend.padEnd(16)} ${(N / s).toFixed(0).padStart(6)} updates/s   (${s.toFixed(2)} s wall, ~${start.toFixed(2)} s of it start-up)`);
}

// One piped payment end to end.
const demo = mkdtempSync(join(tmpdir(), 'offchain-demo-bench-'));
execFileSync('sh', [join(root, 'fixtures/credit/open-demo.sh')], { env: { ...process.env, OFFCHAIN_DEMO_DIR: demo }, stdio: 'ignore' });
const env = { ...process.env, MINT_KEY: mintKey, USER_KEY: readFileSync(join(root, 'fixtures/keys/user.key'), 'utf8').trim(), OFFCHAIN_TEST_SEED: 'bench' };
const times = [];
for (let i = 0; i < 5; i++) {
  const t0 = process.hrtime.bigint();
  execFileSync('sh', ['-c',
    `node ${bin} sign-update --role user --amount 1000 --key-env USER_KEY --state-dir ${demo}/user ` +
    `| node ${bin} sign-update --role mint --key-env MINT_KEY --state-dir ${demo}/mint --tip-height 1001 --funding-confirmations 1 ` +
    `| node ${bin} sign-update --role user --key-env USER_KEY --state-dir ${demo}/user`], { env, stdio: ['ignore', 'ignore', 'ignore'] });
  times.push(Number(process.hrtime.bigint() - t0) / 1e6);
}
rmSync(demo, { recursive: true, force: true });
times.sort((a, b) => a - b);
console.log(`\none piped payment (user | mint | user, three processes): median ${times[2].toFixed(0)} ms of 5`);
