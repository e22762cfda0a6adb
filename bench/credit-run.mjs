#!/usr/bin/env node
/**
 * Mint throughput (streaming mode) and the end-to-end time of one piped payment, run by
 * `npm run bench` after bench/run.mjs. Printed, never asserted.
 *
 * 1. N update requests (C contracts × M payments each), fed as JSON Lines to ONE real
 *    `offchain sign-update --role mint --stream` process pinned to one core (taskset,
 *    when available); updates/s = N / wall time, with the process start-up shown apart.
 *    Median of three runs per backend, from one prepared state copied for each run.
 * 2. What one update costs, part by part, per backend: acceptUpdate's steps timed one by
 *    one in a fresh process per backend (bench/credit-breakdown.mjs), beside the
 *    stream's own time per update after start-up.
 * 3. One payment through three real processes and OS pipes:
 *    `sign-update --role user | sign-update --role mint | sign-update --role user`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin', 'run.js');
const CONTRACTS = Number(process.env.BENCH_CONTRACTS ?? 250);
const PAYMENTS = Number(process.env.BENCH_PAYMENTS ?? 8);
const N = CONTRACTS * PAYMENTS;
const mintKey = readFileSync(join(root, 'fixtures/keys/mint.key'), 'utf8').trim();
const hasTaskset = spawnSync('taskset', ['-c', '0', 'true']).status === 0;
const pin = (args) => (hasTaskset ? ['taskset', ['-c', '0', process.execPath, ...args]] : [process.execPath, args]);

const { setupMintStream } = await import(join(root, 'dist', 'bench-credit.js'));

// The mint and its requests are prepared once (users' signing is slow on pure JS) and
// copied for every run: each run starts from the same state.
const setup = mkdtempSync(join(tmpdir(), 'offchain-bench-setup-'));
process.on('exit', () => rmSync(setup, { recursive: true, force: true }));
await setupMintStream({ dir: setup, contracts: CONTRACTS, payments: PAYMENTS, mintKeyHex: mintKey });

async function streamRun(backend) {
  const dir = mkdtempSync(join(tmpdir(), 'offchain-bench-'));
  try {
    cpSync(join(setup, 'regtest'), join(dir, 'regtest'), { recursive: true });
    const env = { ...process.env, MINT_KEY: mintKey, OFFCHAIN_SECP256K1: backend };
    const [cmd, args] = pin([bin, 'sign-update', '--role', 'mint', '--stream', '--key-env', 'MINT_KEY', '--state-dir', dir, '--tip-height', '1000', '--confirmations', '1', '--in', join(setup, 'requests.jsonl')]);
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

console.log(`\nmint streaming mode: ${N} update requests (${CONTRACTS} contracts × ${PAYMENTS} payments), one process${hasTaskset ? ' pinned to one core' : ''}, group commit; median of 3 runs`);
const start = startup();
const backends = (process.env.BENCH_BACKENDS ?? 'noble,tiny-secp256k1,native').split(',');
const streamed = {};
for (const backend of backends) {
  const runs = [await streamRun(backend), await streamRun(backend), await streamRun(backend)].sort((a, b) => a - b);
  const s = runs[1];
  streamed[backend] = s;
  console.log(
    `  ${backend.padEnd(16)} ${(N / s).toFixed(0).padStart(6)} updates/s   (${s.toFixed(2)} s wall, ~${start.toFixed(2)} s of it start-up;` +
      ` ${(N / (s - start)).toFixed(0)} updates/s after start-up)`,
  );
}

// What one update costs, part by part (a fresh process per backend; see bench/credit-breakdown.mjs).
const breakdowns = [];
for (const backend of backends) {
  const dir = mkdtempSync(join(tmpdir(), 'offchain-bench-'));
  try {
    const [cmd, args] = pin([join(root, 'bench', 'credit-breakdown.mjs'), setup, dir, backend]);
    const b = JSON.parse(execFileSync(cmd, args, { env: { ...process.env, MINT_KEY: mintKey }, stdio: ['ignore', 'pipe', 'inherit'] }).toString());
    if (b) breakdowns.push([backend, b]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
if (breakdowns.length) {
  console.log(`\none update, part by part: µs per update, in a fresh process per backend, the same ${N} requests (acceptUpdate's steps timed one by one)`);
  console.log('  ' + 'part'.padEnd(40) + breakdowns.map(([name]) => name.padStart(16)).join(''));
  for (const [i, [part]] of breakdowns[0][1].parts.entries()) {
    console.log('  ' + part.padEnd(40) + breakdowns.map(([, b]) => b.parts[i][1].toFixed(0).padStart(16)).join(''));
  }
  const sum = (b) => b.parts.reduce((t, [, us]) => t + us, 0);
  console.log('  ' + 'sum of the parts'.padEnd(40) + breakdowns.map(([, b]) => sum(b).toFixed(0).padStart(16)).join(''));
  console.log('  ' + 'the stream, after start-up'.padEnd(40) + breakdowns.map(([name]) => (((streamed[name] - start) * 1e6) / N).toFixed(0).padStart(16)).join(''));
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
    `| node ${bin} sign-update --role mint --key-env MINT_KEY --state-dir ${demo}/mint --tip-height 1001 --confirmations 1 ` +
    `| node ${bin} sign-update --role user --key-env USER_KEY --state-dir ${demo}/user`], { env, stdio: ['ignore', 'ignore', 'ignore'] });
  times.push(Number(process.hrtime.bigint() - t0) / 1e6);
}
rmSync(demo, { recursive: true, force: true });
times.sort((a, b) => a - b);
console.log(`\none piped payment (user | mint | user, three processes): median ${times[2].toFixed(0)} ms of 5`);
