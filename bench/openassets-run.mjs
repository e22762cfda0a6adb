#!/usr/bin/env node
/**
 * Open Assets streaming throughput: `offchain decode-openassets --stream` over N
 * generated transactions (groups of funding → issuance → transfer, each colored from
 * the earlier lines of the same stream), one process pinned to one core when taskset
 * exists. Prints transactions decoded and colored per CPU-second (user + system time of
 * the process, from /usr/bin/time: the machine is shared, wall time is not the process's
 * own), per wall-second, and the peak resident memory. Printed, never asserted.
 * BENCH_OA_TXS=1000000 for the 1M-line memory figure.
 */
import { createHash } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin', 'run.js');
const N = Number(process.env.BENCH_OA_TXS ?? 300_000);
const sha256d = (b) => createHash('sha256').update(createHash('sha256').update(b).digest()).digest();
const le32 = (n) => { const b = Buffer.alloc(4); b.writeUInt32LE(n >>> 0); return b; };
const le64 = (n) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(n)); return b; };
const p2pkh = (i) => Buffer.concat([Buffer.from('76a914', 'hex'), createHash('sha256').update(String(i)).digest().subarray(0, 20), Buffer.from('88ac', 'hex')]);
const opret = (hex) => { const p = Buffer.from(hex, 'hex'); return Buffer.concat([Buffer.from([0x6a, p.length]), p]); };
function tx(ins, outs) {
  const parts = [le32(2), Buffer.from([ins.length])];
  for (const [txid, vout] of ins) parts.push(Buffer.from(txid), le32(vout), Buffer.from([0]), le32(0xfffffffd));
  parts.push(Buffer.from([outs.length]));
  for (const [v, s] of outs) parts.push(le64(v), Buffer.from([s.length]), s);
  parts.push(le32(0));
  const raw = Buffer.concat(parts);
  return { raw, txid: sha256d(raw) };
}

const dir = mkdtempSync(join(tmpdir(), 'offchain-oa-bench-'));
try {
  const file = join(dir, 'txs.jsonl');
  const w = createWriteStream(file);
  let written = 0;
  for (let g = 0; written < N; g++) {
    const fund = tx([[createHash('sha256').update(`coin${g}`).digest(), 0]], [[100_000, p2pkh(g)], [50_000, p2pkh(g + 1)]]);
    const iss = tx([[fund.txid, 0]], [[600, p2pkh(g)], [0, opret('4f41010001641b753d68747470733a2f2f6370722e736d2f466f796b777248365559')], [98_000, p2pkh(g)]]);
    const xfer = tx([[iss.txid, 0], [fund.txid, 1]], [[0, opret('4f410100023c2800')], [600, p2pkh(g + 2)], [600, p2pkh(g)], [48_000, p2pkh(g + 1)]]);
    for (const t of [fund, iss, xfer]) {
      if (written++ >= N) break;
      if (!w.write(`{"tx":"${t.raw.toString('hex')}"}\n`)) await new Promise((r) => w.once('drain', r));
    }
  }
  await new Promise((r) => w.end(r));
  const hasTaskset = spawnSync('taskset', ['-c', '0', 'true']).status === 0;
  const hasTime = existsSync('/usr/bin/time');
  let cmd = process.execPath;
  let args = [bin, 'decode-openassets', '--network', 'mainnet', '--stream', '--in', file];
  if (hasTaskset) { args = ['-c', '0', cmd, ...args]; cmd = 'taskset'; }
  if (hasTime) { args = ['-f', '%U %S %M', cmd, ...args]; cmd = '/usr/bin/time'; }
  const t0 = process.hrtime.bigint();
  // Count the output as it streams (1M lines would not fit one buffer).
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let lines = 0, colored = 0, stderr = '';
  const needle = Buffer.from('"status":"colored"');
  let tail = Buffer.alloc(0); // the needle may straddle two chunks
  child.stdout.on('data', (chunk) => {
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
    const view = Buffer.concat([tail, chunk]);
    for (let i = view.indexOf(needle); i !== -1; i = view.indexOf(needle, i + 1)) colored++;
    tail = view.subarray(Math.max(0, view.length - needle.length + 1));
  });
  child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-2000); });
  const status = await new Promise((res) => child.on('close', res));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (status !== 0 || lines !== N) throw new Error(`decode-openassets exited ${status} with ${lines}/${N} lines: ${stderr.slice(-400)}`);
  const r = { stderr: Buffer.from(stderr) };
  const [user, sys, peakKb] = hasTime ? r.stderr.toString().trim().split('\n').pop().split(' ').map(Number) : [NaN, NaN, NaN];
  const cpu = user + sys;
  console.log(`\nOpen Assets streaming: ${N} transactions (${colored} colored, every one from earlier lines), ${(statSync(file).size / 1e6).toFixed(0)} MB in, one process${hasTaskset ? ' pinned to one core' : ''}`);
  if (hasTime) console.log(`  ${(N / cpu).toFixed(0).padStart(7)} tx per CPU-second   (${cpu.toFixed(2)} s user+sys incl. start-up)   peak RSS ${(peakKb / 1024).toFixed(0)} MB`);
  console.log(`  ${(N / seconds).toFixed(0).padStart(7)} tx per wall-second  (${seconds.toFixed(2)} s wall incl. start-up)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
