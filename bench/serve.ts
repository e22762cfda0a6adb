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
 *    contract's first sight included) and over those after the warm-up (warmUp), as a ratio to
 *    its engine's (issue 73: "the service close to its engine"): in each run, the
 *    `sign-update --role mint --stream` process fed the same requests on a pipe, each half
 *    taken in its group commit's batches (bench/procs.ts streamMint). Beside it, today's
 *    per-process cost: the one-shot `sign-update --role mint` run per payment. At 64 users, a
 *    paced row too: the same users paying at a steady pace, evenly spread (pacedLoad, this
 *    process's own loader: autocannon's rate limit sends a second's requests in one burst),
 *    half the closed loop's rate in all — its p99 is how long a payment waits when the service
 *    keeps up (a closed loop at its limit waits users ÷ rate on average, Little's law).
 * 2. PostgreSQL: bench/pg-scale.ts (its users' requests signed before the clock: a loader that
 *    is not the bound; beside one SQLite service under the same load).
 * Run alone: `node --import tsx bench/serve.ts` (BENCH_SERVE_RUNS, BENCH_SERVE_SCALE, BENCH_SERVE_USERS (1,8,64; the paced row at the largest).
 * BENCH_SERVE_PACED_RATE=N: the paced row alone, at N payments/s (no closed loop before it); BENCH_SERVE_STALLS=1: each
 * paced service run with bench/stall-probe.cjs, its event loop's stalls over 20 ms per 1000 payments and what filled them
 * (bench/stalls.ts) printed beside its row; BENCH_ANCHOR=DIR: DIR's build too, run by run (A B A B …), the paced row included.
 * The paced row says how long the service's main thread waited for a core (bench/procs.ts waitedForCore): on a shared
 * machine its p99 — over a few hundred payments, the fifth-worst — is often one such wait, not the service's.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { Agent, request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { cpuSeconds, hasTaskset, waitedForCore, warmUpOf, MINT_ARGS, receiptOf, serveMint, serviceEnv, streamMint } from './procs.ts';
import autocannon from 'autocannon';
import { setupMintStream } from './credit.ts';
import { reportRow } from './rows.mjs';
import { MINT_KEY } from './credit-closed-loop.ts';
import { readStalls, stallLine, type Stalls } from './stalls.ts';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'run.js');
const RUNS = Number(process.env.BENCH_SERVE_RUNS ?? 3);
if (hasTaskset) spawnSync('taskset', ['-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
const cleanEnv = () => serviceEnv(MINT_KEY);
const serve = (args: string[], env: NodeJS.ProcessEnv, pin: boolean, bin = BIN, nodeArgs: string[] = []) => serveMint(bin, args, env, pin, nodeArgs);
const PACED_RATE = Number(process.env.BENCH_SERVE_PACED_RATE ?? 0);
const STALLS = process.env.BENCH_SERVE_STALLS === '1';
/** A run's warm-up (bench/procs.ts warmUpOf): BENCH_SERVE_WARMUP, default 2,000. Each row's figures are the answers after it. */
const warmUp = (total: number) => warmUpOf(total, Number(process.env.BENCH_SERVE_WARMUP ?? 2000));

/** `rate`: answers per second of this process's own clock; `autocannonRate`: autocannon's (its duration ends at its next 1-s tick after the last answer, so it under-reports). */
type Row = { waitedMsPerS?: number; sustainedFrom?: number; sustained?: number; sustainedP50?: number; sustainedP99?: number; rate: number; autocannonRate?: number; p50: number; p99: number; errors: number; total?: number; cpuMs?: number; sustainedCpuMs?: number };

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
  // `amount`: without it autocannon ends a run at 10 s, whatever is left to send.
  const r = await autocannon({ url, connections, pipelining: 1, maxConnectionRequests: payments, amount: connections * payments, timeout: 60, requests: requests as never });
  const seconds = (lastAnswer - started) / 1000;
  if (answered !== connections * payments) throw new Error(`bench: the load ended after ${answered} of ${connections * payments} answers`);
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
  const first = warmUp(users * payments);
  await Promise.all(Array.from({ length: users }, async (_, k) => {
    for (let j = 0; j < payments; j++) {
      const due = start + ((j * users + k) * 1000) / offered;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const r = await post(body(k, j)).catch(() => ({ status: 0, text: '' }));
      lastAnswer = performance.now();
      latencies.push(lastAnswer - due);
      if (j * users + k >= first) sustained.push(lastAnswer - due);
      if (receiptOf(r.status, r.text) === undefined) errors++;
    }
  }));
  agent.destroy();
  const at = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
  return { sustainedFrom: performance.timeOrigin + start + (Math.ceil(first) * 1000) / offered, sustained: sustained.length, rate: latencies.length / ((lastAnswer - start) / 1000), p50: at(latencies, 0.5), p99: at(latencies, 0.99), errors, total: latencies.length, sustainedP50: at(sustained, 0.5), sustainedP99: at(sustained, 0.99) };
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
// ~3,000 updates a row: 2,000 of warm-up, 1,000 after it (a contract's 1,000,000 sat at 330 a payment: the payout's dust threshold).
for (const [users, base] of ([[1, 3000], [8, 375], [64, 47]] as const).filter(([u]) => USERS.includes(u))) {
  const payments = Math.max(2, Math.round(base * SCALE));
  const setupDir = join(work, `setup-${users}`);
  const { requests } = await setupMintStream({ dir: setupDir, contracts: users, payments, mintKeyHex: MINT_KEY, amountSat: 330 });
  // requests.jsonl interleaves rounds: payment j of contract k is line j * users + k.
  const lines = readFileSync(requests, 'utf8').trimEnd().split('\n');
  // BENCH_ANCHOR=DIR (as bench/credit-run.mjs): the same load on DIR's build, interleaved run by run.
  const builds = [BIN, ...(process.env.BENCH_ANCHOR ? [join(process.env.BENCH_ANCHOR, 'bin', 'run.js')] : [])];
  const rows: Row[][] = builds.map(() => []);
  const engine: { cpuMs: number; sustainedCpuMs: number }[] = [];
  const first = warmUp(users * payments);
  let backend = '?';
  for (let run = 0; run < (PACED_RATE ? 0 : RUNS); run++) {
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
      // sustained: over the answers after the warm-up (JIT and each contract's first sight left
      // out, as the stream's sustained row does — bench/credit-run.mjs).
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
  if (!PACED_RATE) {
    const engineAll = median(engine.map((e) => e.cpuMs));
    const engineSustained = median(engine.map((e) => e.sustainedCpuMs));
    for (const [b, rs] of rows.entries()) {
      const row = { rate: median(rs.map((r) => r.rate)), autocannonRate: median(rs.map((r) => r.autocannonRate!)), p50: median(rs.map((r) => r.p50)), p99: median(rs.map((r) => r.p99)), errors: rs.reduce((a, r) => a + r.errors, 0) };
      const cpuMs = median(rs.map((r) => r.cpuMs!));
      const sustained = median(rs.map((r) => r.sustainedCpuMs!));
      if (b === 0) {
        // Issue 73 item 2's rows: the service against its engine, after the warm-up (sustained).
        const ratios = rs.map((r, i) => r.sustainedCpuMs! / engine[i]!.sustainedCpuMs);
        const target = users === 1 ? 1.5 : users === 64 ? 1.2 : undefined;
        reportRow({
          id: `serve/sqlite-${users}`, label: `\`serve mint\` on SQLite, ${users} user${users > 1 ? 's' : ''} (one payment in flight each), ${backend}: service CPU per update after the first ${first}`,
          value: sustained, unit: 'ms CPU', range: [Math.min(...rs.map((r) => r.sustainedCpuMs!)), Math.max(...rs.map((r) => r.sustainedCpuMs!))],
          anchor: { label: 'its engine (`sign-update --role mint --stream`), the same requests, ms CPU', value: engineSustained },
          ratio: sustained / engineSustained, ratioRange: [Math.min(...ratios), Math.max(...ratios)],
          ...(target ? { target: { on: 'ratio', atMost: target } } : {}),
          bound: `${row.rate.toFixed(0)} updates/s, p50 ${row.p50.toFixed(0)} ms, p99 ${row.p99.toFixed(0)} ms (closed loop: ${users} user${users > 1 ? 's' : ''} ÷ rate is the mean wait)`,
          note: `median of ${RUNS} runs`,
        });
      }
      console.log(fmt(`${b ? '  anchor: ' : ''}SQLite, 1 process, ${users} user${users > 1 ? 's' : ''} (${backend})`, row,
        `   service CPU ${cpuMs.toFixed(2)} ms per update = ${(1000 / cpuMs).toFixed(0)} updates per CPU-s; after the first ${first} ${sustained.toFixed(2)} ms = ${(sustained / engineSustained).toFixed(2)}× the engine's   (median of ${RUNS}, ${users * payments} payments each; rates ${rs.map((r) => r.rate.toFixed(0)).join(', ')}; CPU ${rs.map((r) => r.cpuMs!.toFixed(2)).join(', ')}; after the first ${first} ${rs.map((r) => r.sustainedCpuMs!.toFixed(2)).join(', ')}; load ${loadavg()[0]!.toFixed(1)})`));
    }
    console.log(`    its engine, sign-update --role mint --stream fed the same requests in the same runs: CPU ${engineAll.toFixed(2)} ms per update (its store's open included), after the first ${first} ${engineSustained.toFixed(2)} ms (runs: ${engine.map((e) => `${e.cpuMs.toFixed(2)}/${e.sustainedCpuMs.toFixed(2)}`).join(', ')}; load ${loadavg()[0]!.toFixed(1)})`);
  }
  if (users === Math.max(...USERS)) {
    // Paced: a closed loop at its limit has, by Little's law, a mean latency of users ÷ rate
    // (64 ÷ 300/s ≈ 210 ms) whatever the service does, so its p99 says how many users wait, not
    // how fast one is answered. The same 64 users paying at a steady pace (pacedLoad) — together
    // half the closed loop's median rate — say how long a payment waits when the service keeps up.
    const closedRate = PACED_RATE ? 2 * PACED_RATE : median(rows[0]!.map((r) => r.rate));
    const offered = Math.max(1, Math.round(closedRate / 2));
    const pacedRows: Row[][] = builds.map(() => []);
    const stalls: Stalls[][] = builds.map(() => []);
    for (let run = 0; run < RUNS; run++) {
      for (const [b, bin] of builds.entries()) {
        const dir = join(work, `sqlite-paced-${run}-${b}`);
        cpSync(setupDir, dir, { recursive: true });
        const stallFile = join(work, `stalls-${run}-${b}.json`);
        const env = STALLS ? { ...cleanEnv(), BENCH_STALL_FILE: stallFile } : cleanEnv();
        const svc = await serve(['--state-dir', dir], env, true, bin, STALLS ? ['--require', join(ROOT, 'bench', 'stall-probe.cjs')] : []);
        backend = svc.backend();
        const waited0 = waitedForCore(svc.child.pid!);
        const loadStart = performance.now();
        const r = await pacedLoad(svc.url, users, payments, offered, (k, j) => lines[j * users + k]!);
        r.waitedMsPerS = ((waitedForCore(svc.child.pid!) - waited0) * 1000) / ((performance.now() - loadStart) / 1000);
        await svc.stop();
        pacedRows[b]!.push(r);
        if (STALLS) stalls[b]!.push(readStalls(stallFile, r.sustainedFrom!, r.sustained!));
      }
    }
    for (const [b, paced] of pacedRows.entries()) {
      const row = { rate: median(paced.map((r) => r.rate)), p50: median(paced.map((r) => r.p50)), p99: median(paced.map((r) => r.p99)), errors: paced.reduce((a, r) => a + r.errors, 0) };
      const p99 = median(paced.map((r) => r.sustainedP99!));
      if (b === 0) reportRow({
        id: `serve/sqlite-${users}-paced`, label: `\`serve mint\` on SQLite, ${users} users paced (evenly spread, half the closed loop's rate), ${backend}: p99 latency after the first ${first}, from when each payment was due`,
        value: p99, unit: 'ms wall (p99)', range: [Math.min(...paced.map((r) => r.sustainedP99!)), Math.max(...paced.map((r) => r.sustainedP99!))],
        anchor: { label: 'offered payments/s (half the closed loop\'s, same run)', value: offered },
        target: { on: 'value', atMost: 50 },
        bound: `p50 ${median(paced.map((r) => r.sustainedP50!)).toFixed(1)} ms; over all payments (first sight of each contract and JIT included) p99 ${row.p99.toFixed(0)} ms`,
        note: `median of ${RUNS} runs`,
      });
      console.log(fmt(`${b ? '  anchor: ' : ''}SQLite, 1 process, ${users} users paced (${backend})`, row,
        `   ${offered}/s offered (each user every ${((users / offered) * 1000).toFixed(0)} ms), half the closed loop's ${closedRate.toFixed(0)}/s; after the first ${first} p50 ${median(paced.map((r) => r.sustainedP50!)).toFixed(1)} ms, p99 ${median(paced.map((r) => r.sustainedP99!)).toFixed(1)} ms   (median of ${RUNS}; p99s ${paced.map((r) => `${r.p99.toFixed(0)}/${r.sustainedP99!.toFixed(0)}`).join(', ')} ms, all/after the first ${first}; the service's main thread waited for a core ${paced.map((r) => r.waitedMsPerS!.toFixed(0)).join(', ')} ms per s of load; load ${loadavg()[0]!.toFixed(1)})`));
      if (STALLS) {
        // The run whose count is the median, in full; the others' counts beside it.
        const ss = stalls[b]!;
        const mid = ss.indexOf([...ss].sort((x, y) => x.per1000 - y.per1000)[Math.floor(ss.length / 2)]!);
        console.log(`    after the first ${first}, ${stallLine(ss[mid]!)}   (per 1000 in each run: ${ss.map((x) => `${x.per1000.toFixed(1)} (${x.over20} in ${x.payments})`).join(', ')}; the probe itself costs a 2 ms timer and two stat() per COMMIT)`);
      }
    }
  }
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
  console.log(`  ${'one-shot sign-update --role mint'.padEnd(44)} ${(1000 / median(ms)).toFixed(0).padStart(6)} updates/s   ${median(ms).toFixed(0)} ms per payment, one process each (median of ${ms.length}; today's pipe)`);
}

// 2. PostgreSQL: bench/pg-scale.ts (its own bench in `npm run bench`): users whose requests are all
// signed before the clock (this file's signed them at 10–25 ms as it went: the loader, not the mint,
// was the bound), and one SQLite service under the same load as its anchor.
console.log('  PostgreSQL rows: bench/pg-scale.ts');
console.log(`  load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at the end`);
