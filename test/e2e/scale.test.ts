/**
 * Issue 28 item 8/9, scale: big inputs are answered in time proportional to their size,
 * refused for their length before the rest is read, and streams answer each line as soon
 * as it is complete. Timings on a shared two-core machine are loose on purpose; each bound
 * is far below what the old code took (noted beside it), so a regression still fails.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers.ts';
import { BIN, assertFreshBuild, cleanEnv, run } from './cli.ts';
import { fixturePath } from './fixtures.ts';
import { CLI, hasPtyScript, runInPty, shellQuote } from './process.ts';

const dir = mkdtempSync(join(tmpdir(), 'offchain-scale-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const compact = (n: number): Buffer => {
  if (n < 0xfd) return Buffer.from([n]);
  if (n <= 0xffff) return Buffer.from([0xfd, n & 0xff, n >> 8]);
  const b = Buffer.alloc(5);
  b[0] = 0xfe;
  b.writeUInt32LE(n, 1);
  return b;
};
const kv = (key: Buffer, value: Buffer) => Buffer.concat([compact(key.length), key, compact(value.length), value]);

/**
 * A PSBTv0 with `n` P2WPKH inputs (each with its PSBT_IN_WITNESS_UTXO) and one output,
 * written by hand here (BIP-174 layout), not by the library under test — whose own
 * serialiser is itself quadratic in the number of inputs.
 */
function bigPsbt(n: number): Buffer {
  const script = Buffer.concat([Buffer.from([0x00, 0x14]), Buffer.alloc(20, 0x11)]);
  const ins: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const txid = Buffer.alloc(32);
    txid.writeUInt32LE(i + 1, 0);
    ins.push(Buffer.concat([txid, Buffer.alloc(4), Buffer.from([0]), Buffer.from([0xfd, 0xff, 0xff, 0xff])]));
  }
  const amount = (sat: number) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(sat));
    return b;
  };
  const out = Buffer.concat([amount(500), compact(script.length), script]);
  const unsigned = Buffer.concat([Buffer.from([2, 0, 0, 0]), compact(n), ...ins, compact(1), out, Buffer.alloc(4)]);
  const utxo = kv(Buffer.from([0x01]), Buffer.concat([amount(1000), compact(script.length), script]));
  const inputMap = Buffer.concat([utxo, Buffer.from([0])]);
  return Buffer.concat([Buffer.from('psbt\xff', 'latin1'), kv(Buffer.from([0x00]), unsigned), Buffer.from([0]), ...Array(n).fill(inputMap), Buffer.from([0])]);
}

/**
 * CPU milliseconds of the children this process has reaped (Linux: /proc/self/stat's cutime +
 * cstime, in clock ticks of 10 ms), else undefined. A child's CPU, unlike the wall clock, does
 * not grow when other work shares the cores (two suites at once doubled the wall time here).
 */
function reapedChildrenCpuMs(): number | undefined {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[13]) + Number(f[14])) * 10;
  } catch {
    return undefined;
  }
}

/** From now until it is read: the CPU ms of the children reaped meanwhile where the system tells it, else the wall clock. */
function childClock(): () => number {
  const t = performance.now();
  const cpu = reapedChildrenCpuMs();
  return () => {
    const cpuAfter = reapedChildrenCpuMs();
    return cpu !== undefined && cpuAfter !== undefined ? Math.max(cpuAfter - cpu, 10) : performance.now() - t;
  };
}

/** `spawn()`'s child CPU in ms (spawnSync reaped it). */
function childMs<T>(spawn: () => T): { ms: number; result: T } {
  const clock = childClock();
  const result = spawn();
  return { ms: clock(), result };
}

type Ran = { status: number | null; stdout: string; stderr: string };

/**
 * The built CLI with `args`, waited for without blocking this worker: a child that runs for a
 * minute or more (these do, when the suite's other workers share the two cores) inside
 * spawnSync stops the worker's event loop, and vitest's 60 s timer on the worker's last
 * report to the main process fires before the answer is read ("Timeout calling
 * onTaskUpdate", an error that fails the run though every test passed). CPU as childMs
 * measures it: this worker runs one test at a time, so the child is the only one reaped meanwhile.
 */
async function cliChild(args: string[], env: Record<string, string> = {}): Promise<{ ms: number; result: Ran }> {
  const clock = childClock();
  const result = await new Promise<Ran>((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: cleanEnv(env), cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
  });
  return { ms: clock(), result };
}

async function timedDecode(file: string, env: Record<string, string> = {}): Promise<{ ms: number; inputs: number; fee: number }> {
  assertFreshBuild();
  // The answer is ~9 MB: more than run()'s buffer.
  const { ms, result: r } = await cliChild(['psbt', 'decode', '--in', file], env);
  expect(r.status, r.stderr).toBe(0);
  const m = JSON.parse(r.stdout);
  return { ms, inputs: m.inputs.length, fee: m.fee_sat };
}

describe('psbt decode is linear in the number of inputs', () => {
  // Before: 2,000 inputs 0.7 s, 8,000 7 s, 20,000 ~100 s (each key-value pair made the
  // library copy everything serialised so far). After: 0.3 s / 0.6 s / 1.3 s.
  for (const [label, env] of [['shortcut', {}], ['full CLI', { OFFCHAIN_FAST_PATHS: '0' }]] as const) {
    it(`20,000 inputs in a few seconds, ~10× 2,000 inputs (${label})`, async () => {
      const small = join(dir, 'p2000.psbt');
      const big = join(dir, 'p20000.psbt');
      writeFileSync(small, bigPsbt(2000).toString('base64'));
      writeFileSync(big, bigPsbt(20_000).toString('base64'));
      const a = await timedDecode(small, env);
      const b = await timedDecode(big, env);
      expect([a.inputs, b.inputs]).toEqual([2000, 20_000]);
      expect(b.fee).toBe(20_000 * 1000 - 500);
      // Quadratic: ~100× (measured 140×); linear with a fixed start-up: under 10×.
      expect(b.ms / a.ms, `2k ${a.ms.toFixed(0)} ms, 20k ${b.ms.toFixed(0)} ms`).toBeLessThan(20);
      expect(b.ms).toBeLessThan(6000);
    }, 180_000);
  }
});

describe('writing a PSBT is linear too (psbt combine)', () => {
  // Before: 8,000 inputs 16.5 s (the library copied everything written so far after each
  // key-value pair; scripts/build.mjs linearTerminatorCheck). After: 8,000 3.9 s, 20,000 7.7 s.
  it('combining two copies of 20,000 inputs takes under 20× two copies of 2,000, and prints the same PSBT back', async () => {
    const time = async (file: string) => {
      assertFreshBuild();
      const { ms, result: r } = await cliChild(['psbt', 'combine', '--in', file, '--in', file]);
      expect(r.status, r.stderr).toBe(0);
      return { ms, psbt: JSON.parse(r.stdout).psbt as string };
    };
    const small = join(dir, 'c2000.psbt');
    const big = join(dir, 'c20000.psbt');
    writeFileSync(small, bigPsbt(2000).toString('base64'));
    writeFileSync(big, bigPsbt(20_000).toString('base64'));
    const a = await time(small);
    const b = await time(big);
    // Combining a PSBT with itself gives it back: byte for byte what this test wrote by hand.
    expect(a.psbt).toBe(readFileSync(small, 'utf8'));
    expect(b.psbt).toBe(readFileSync(big, 'utf8'));
    expect(b.ms / a.ms, `2k ${a.ms.toFixed(0)} ms, 20k ${b.ms.toFixed(0)} ms`).toBeLessThan(20);
  }, 240_000);
});

describe('length limits are checked before the rest of the message', () => {
  const seed = JSON.parse(readFileSync(fixturePath('route/seed-request.json'), 'utf8'));
  const hops = 150_000;
  // ~30 MB: under the 32 MiB input cap, so the length check is what refuses it.
  const request = { ...seed, hops: Array.from({ length: hops }, () => seed.hops[0]) };

  it('route plan: a 150,000-hop request is E_ROUTE_TOO_LONG (exit 4) at once (was 12–33 s)', () => {
    const file = join(dir, 'route.json');
    writeFileSync(file, JSON.stringify(request));
    // CPU, not the wall clock: two suites at once on two cores made this 5 s of wall.
    const { ms, result: r } = childMs(() => run(['route', 'plan', '--in', file], { timeoutMs: 60_000 }));
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^offchain: error E_ROUTE_TOO_LONG: 150000 hops do not fit a 1300-byte onion; at most 27\n$/);
    expect(r.status).toBe(4);
    expect(ms).toBeLessThan(4000);
  }, 60_000);

  it('route check: the same for a route/plan message', () => {
    const file = join(dir, 'plan.json');
    writeFileSync(file, JSON.stringify({ ...request, type: 'route/plan' }));
    const r = run(['route', 'check', '--in', file], { timeoutMs: 60_000 });
    expect(r.stderr).toMatch(/^offchain: error E_ROUTE_TOO_LONG: 150000 hops/);
    expect(r.status).toBe(4);
  }, 60_000);

  it('any message: an array past its schema\'s maxItems is refused before its elements are checked (onion build)', () => {
    const hop = { node_id: '02' + '11'.repeat(32), payload: { amt_to_forward: '1', outgoing_cltv_value: 1 } };
    const file = join(dir, 'onion.json');
    writeFileSync(file, JSON.stringify({ type: 'onion/route', version: 1, network: 'regtest', hops: Array.from({ length: 200_000 }, () => hop) }));
    const { ms, result: r } = childMs(() => run(['onion-build', '--in', file], { timeoutMs: 60_000, env: { OFFCHAIN_TEST_SEED: 'scale' } }));
    expect(r.stderr).toMatch(/E_MALFORMED_MESSAGE: onion\/route: hops: at most 27 items, got 200000/);
    expect(r.status).toBe(3);
    expect(ms).toBeLessThan(4000);
  }, 60_000);
});

describe('streams answer each line as it is decoded', () => {
  it('decode-openassets --stream: line 1\'s answer arrives while the input is still open', async () => {
    assertFreshBuild();
    const lines = readFileSync(join(ROOT, 'fixtures/openassets/chain.jsonl'), 'utf8').trim().split('\n');
    const child = spawn(process.execPath, [BIN, 'decode-openassets', '--network', 'mainnet', '--stream'], { env: cleanEnv(), cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const firstLine = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to line 1 within 10 s while the input stayed open; stderr: ${err}`)), 10_000);
      child.stdout.on('data', (d) => {
        out += d;
        if (out.includes('\n')) {
          clearTimeout(timer);
          resolve(out);
        }
      });
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    child.stdin.write(lines[0] + '\n');
    try {
      const first = await firstLine;
      expect(JSON.parse(first.split('\n')[0]!)).toMatchObject({ type: 'openassets/decoded', line: 1 });
      expect(child.exitCode).toBeNull(); // still running: the input is open
      child.stdin.end(lines[1] + '\n');
      expect(await exited).toBe(0);
      expect(out.trim().split('\n').map((l) => JSON.parse(l).line)).toEqual([1, 2]);
    } finally {
      child.kill();
    }
  }, 30_000);
});

describe('the progress line: on a terminal, for work over ~2 s; -q silences it', () => {
  const chain = join(ROOT, 'fixtures/openassets/chain.jsonl');
  // Lines arrive; once the CLI has answered them (so its meter has started, however slowly
  // the process started on a loaded machine), more arrive 2.5 s later: the stream has run
  // over 2 s when those are decoded. (A fixed sleep from the shell's start was not enough
  // when two suites ran at once: the CLI took long enough to start to see under 2 s.)
  const line = (flags: string) => {
    const out = `"$D/out"`;
    return `D=$(mktemp -d) && (cat ${shellQuote(chain)}; until [ -s ${out} ]; do sleep 0.05; done; sleep 2.5; cat ${shellQuote(chain)}) | ${CLI} decode-openassets --network mainnet --stream ${flags} > ${out}; s=$?; rm -rf "$D"; exit $s`;
  };
  it.skipIf(!hasPtyScript())('shows "N transactions, R/s" on the terminal\'s stderr', async () => {
    const r = await runInPty(line(''), { timeoutMs: 30_000 });
    expect(r.status, r.output).toBe(0);
    expect(r.output).toMatch(/\d+ transactions, [\d,]+\/s/);
  }, 40_000);
  it.skipIf(!hasPtyScript())('-q: nothing', async () => {
    const r = await runInPty(line('-q'), { timeoutMs: 30_000 });
    expect(r.status, r.output).toBe(0);
    expect(r.output).not.toMatch(/transactions/);
  }, 40_000);
});
