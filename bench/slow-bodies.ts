/**
 * A slow-body attack on `serve mint` (issue 72: "2,320 slow 255 KB bodies from 4 addresses
 * took the mint from 84 to 709 MB RSS, and it stayed there"). Printed, never asserted.
 *
 * The service runs with its default limits (only --rate-limit as the attacker found it: 600
 * per minute per address, which 580 requests from each of 4 addresses stay under). The
 * attacker, from 127.0.0.2–127.0.0.5, opens connections at ATTACK_RATE a second until
 * ATTACK_BODIES were tried: each POSTs /v1/restore (the largest body a route takes, 256 KiB)
 * declaring 255 KiB, sends all but the last KiB at once, then one byte a second for as long
 * as the service keeps the connection. Meanwhile an honest user on 127.0.0.1 pays its
 * contract one payment after the other (the requests prepared up front, as bench/serve.ts
 * does), and the bench reads the service's RSS (/proc) every 250 ms.
 *
 * Printed per build: RSS at rest, its peak under attack, and 5 s and 30 s after the attack
 * stopped (the attacker's sockets closed); the connections the service still held when the
 * attack stopped; the honest user's payments before and under attack (p50, p99, how many
 * answered, how many refused or failed). BENCH_ANCHOR=DIR runs the same on DIR's build.
 * Run: `node --import tsx bench/slow-bodies.ts` (ATTACK_BODIES, ATTACK_RATE to change it).
 */
import { mkdtempSync, readFileSync, rmSync, cpSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { MINT_ARGS, serviceEnv } from './procs.ts';
import { setupMintStream } from './credit.ts';
import { MINT_KEY } from './credit-closed-loop.ts';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const ROOT = join(import.meta.dirname, '..');
const BODIES = Number(process.env.ATTACK_BODIES ?? 2320);
const RATE = Number(process.env.ATTACK_RATE ?? 100);
const ADDRESSES = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'];
const DECLARED = 255 * 1024;

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));
const pct = (xs: number[], p: number) => (xs.length === 0 ? NaN : [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!);

async function start(bin: string, dir: string) {
  const argv = [bin, 'serve', 'mint', ...MINT_ARGS, '--state-dir', dir, '--listen', '127.0.0.1:0', '--log-level', 'error'];
  const child = spawn(process.execPath, argv, { env: serviceEnv(MINT_KEY), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`bench: serve mint exited ${code}: ${stderr}`)));
  });
  return { url: (JSON.parse(line) as { public: string }).public, child };
}

async function run(label: string, bin: string, setupDir: string, lines: string[], work: string): Promise<void> {
  const dir = join(work, `state-${label.replace(/\W+/g, '-')}`);
  cpSync(setupDir, dir, { recursive: true });
  const svc = await start(bin, dir);
  const pid = svc.child.pid!;
  const port = Number(new URL(svc.url).port);
  // The honest user: its payments in order, one in flight, timed.
  let next = 0;
  let phase: 'before' | 'attack' | 'after' = 'before';
  const times: Record<string, number[]> = { before: [], attack: [], after: [] };
  const failed: Record<string, number> = { before: 0, attack: 0, after: 0 };
  let paying = true;
  const honest = (async () => {
    while (paying && next < lines.length) {
      const at = phase;
      const t = performance.now();
      try {
        const r = await fetch(`${svc.url}/v1/credit/update`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: lines[next]!, signal: AbortSignal.timeout(30_000) });
        const text = await r.text();
        if (r.status === 200 && text.includes('"credit/receipt"')) {
          times[at]!.push(performance.now() - t);
          next++;
        } else failed[at]!++;
      } catch {
        failed[at]!++;
      }
      await sleep(200);
    }
  })();
  await sleep(3000);
  const rest = rssMb(pid);
  // The attack.
  phase = 'attack';
  const sockets: Socket[] = [];
  let peak = rest;
  const sampler = setInterval(() => {
    try {
      peak = Math.max(peak, rssMb(pid));
    } catch { /* exited */ }
  }, 250);
  let held = 0;
  const head = `POST /v1/restore HTTP/1.1\r\nHost: mint\r\nContent-Type: application/json\r\nContent-Length: ${DECLARED}\r\n\r\n`;
  const bulk = Buffer.alloc(DECLARED - 1024, 0x20);
  for (let i = 0; i < BODIES; i++) {
    const s = connect({ port, host: '127.0.0.1', localAddress: ADDRESSES[i % ADDRESSES.length] });
    s.on('error', () => undefined);
    s.on('connect', () => {
      held++;
      s.write(head);
      s.write(bulk);
      const drip = setInterval(() => s.write(' '), 1000);
      s.once('close', () => {
        clearInterval(drip);
        held--;
      });
    });
    sockets.push(s);
    if (i % RATE === RATE - 1) await sleep(1000);
  }
  await sleep(5000);
  const stillHeld = held;
  for (const s of sockets) s.destroy();
  phase = 'after';
  const attackEnd = performance.now();
  await sleep(5000);
  const after5 = rssMb(pid);
  await sleep(Math.max(0, 30_000 - (performance.now() - attackEnd)));
  const after30 = rssMb(pid);
  clearInterval(sampler);
  paying = false;
  await honest;
  svc.child.kill('SIGTERM');
  const f = (xs: number[]) => `p50 ${pct(xs, 50).toFixed(0)} ms, p99 ${pct(xs, 99).toFixed(0)} ms (${xs.length} paid)`;
  console.log(`  ${label}`);
  console.log(`    RSS: at rest ${rest.toFixed(0)} MB, peak under attack ${peak.toFixed(0)} MB, 5 s after ${after5.toFixed(0)} MB, 30 s after ${after30.toFixed(0)} MB; the attacker's connections still open when it stopped: ${stillHeld} of ${BODIES}`);
  console.log(`    honest payments: before ${f(times.before!)}; under attack ${f(times.attack!)}, ${failed.attack} refused or failed; after ${f(times.after!)}, ${failed.after} refused or failed`);
}

const work = mkdtempSync(join(tmpdir(), 'offchain-bench-slow-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
console.log(`\nA slow-body attack on serve mint (bench/slow-bodies.ts): ${BODIES} bodies of 255 KiB from ${ADDRESSES.length} addresses, ${RATE} a second, each trickling its last KiB a byte a second; load ${loadavg()[0]!.toFixed(1)}`);
const setupDir = join(work, 'setup');
const { requests } = await setupMintStream({ dir: setupDir, contracts: 1, payments: 900, mintKeyHex: MINT_KEY });
const lines = readFileSync(requests, 'utf8').trimEnd().split('\n');
const builds: [string, string][] = [['this build', join(ROOT, 'bin', 'run.js')], ...(process.env.BENCH_ANCHOR ? [[`anchor ${process.env.BENCH_ANCHOR}`, join(process.env.BENCH_ANCHOR, 'bin', 'run.js')] as [string, string]] : [])];
for (const [label, bin] of builds) await run(label, bin, setupDir, lines, work);
