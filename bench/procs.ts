/**
 * What the service benchmarks (serve.ts, pg-scale.ts) share: the `serve mint` processes they
 * start, a reverse proxy in front of several services, and the CPU time of processes read
 * from /proc (Linux).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, request as httpRequest, Agent, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus } from 'node:os';
import { join } from 'node:path';

/** Whether `taskset` pins here (util-linux): the benches pin the service and the load generator to a core each. */
export const hasTaskset = spawnSync('taskset', ['-c', '0', 'true']).status === 0;

/** Every core of this machine, as taskset writes a list ("0-1" on two cores). */
export const ALL_CORES = `0-${cpus().length - 1}`;

/**
 * A process and its threads free to run on every core again. The benches pin the load generator
 * (themselves) to core 1, and a process inherits its parent's affinity: without this, PostgreSQL
 * and every unpinned service would share core 1 with the load generator, and adding a process could
 * never add a core (the PostgreSQL rows' ×2/×1 of 1.00 until 2026-11-29 was that, not the mint).
 */
export function onEveryCore(pids: number[]): void {
  if (!hasTaskset) return;
  for (const pid of pids) spawnSync('taskset', ['-a', '-p', '-c', ALL_CORES, String(pid)], { stdio: 'ignore' });
}

/**
 * How many of a run's `total` first updates are reported but not targeted: a service is judged
 * on its sustained rate, the first 2,000 updates reported but not targeted (issue 40's
 * definition, as issue 73 restates it) — `warmUp`, at most two thirds of the run (a smoke run's
 * tiny sizes). bench/serve.ts and bench/pg-scale.ts judge their rows on the updates after it.
 */
export function warmUpOf(total: number, warmUp = 2000): number {
  return Math.min(warmUp, total - Math.ceil(total / 3));
}

/** The demo mint's chain facts, offline: what every benchmarked `serve mint` is started with (its key in MINT_KEY). */
export const MINT_ARGS = ['--key-env', 'MINT_KEY', '--tip-height', '1001', '--confirmations', '1'];

/** The environment of a benchmarked service: no OFFCHAIN_ setting of the shell's, no configuration file, no NODE_ENV; the mint key. */
export function serviceEnv(mintKey: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, OFFCHAIN_CONFIG: '/dev/null', MINT_KEY: mintKey };
  for (const k of Object.keys(env)) if (k.startsWith('OFFCHAIN_') && k !== 'OFFCHAIN_CONFIG') delete env[k];
  delete env.NODE_ENV;
  return env;
}

/** Every service still running: killed if the bench dies on its way (a refusal it did not expect). */
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

export type ServedMint = { url: string; child: ChildProcess; backend: () => string; stop: () => Promise<void> };

/**
 * A `serve mint` process of `bin` and its public URL (its first line on standard output): pinned
 * to core 0 with `pin` where taskset works, else on every core (never the bench's own core 1 by inheritance).
 */
export async function serveMint(bin: string, args: string[], env: NodeJS.ProcessEnv, pin = false, extraNodeArgs: string[] = []): Promise<ServedMint> {
  // --trust-proxy 127.0.0.1: the load generators and proxies here connect from 127.0.0.1 with up to
  // 256 connections, past --max-connections-per-address (16); a trusted address is not counted.
  // BENCH_SERVE_NODE_ARGS: node flags for the service, e.g. '--cpu-prof --cpu-prof-dir=DIR' (a profile of the mint under load).
  const nodeArgs = [...(process.env.BENCH_SERVE_NODE_ARGS ?? '').split(' ').filter(Boolean), ...extraNodeArgs];
  // The operator listener answers GET /v1/info: the secp256k1 backend the service chose (its log, at warn, does not say).
  const argv = [...nodeArgs, bin, 'serve', 'mint', ...MINT_ARGS, '--listen', '127.0.0.1:0', '--operator-listen', '127.0.0.1:0', '--rate-limit', '0', '--trust-proxy', '127.0.0.1', '--log-level', 'warn', ...args];
  const child = hasTaskset ? spawn('taskset', ['-c', pin ? '0' : ALL_CORES, process.execPath, ...argv], { env, stdio: ['ignore', 'pipe', 'pipe'] }) : spawn(process.execPath, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`bench: serve mint exited ${code}: ${stderr}`)));
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const { public: url, operator } = JSON.parse(line) as { public: string; operator?: string };
  let backend = '?';
  if (operator) {
    try {
      backend = ((await (await fetch(`${operator}/v1/info`)).json()) as { secp256k1?: string }).secp256k1 ?? '?';
    } catch { /* an older tree without /v1/info: '?' */ }
  }
  return {
    url,
    child,
    backend: () => backend,
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}

/**
 * The engine a `serve mint` is quoted against (issue 73: "the service close to its engine"):
 * `sign-update --role mint --stream` of `bin` on `dir`, pinned as the service is, fed `lines`
 * on its standard input — the first `first` at once, the rest at once when those were answered,
 * each group taken in batches by its group commit (up to 1,024 a commit) — and its CPU per
 * update (/proc, all threads): over all of them from its start-up notice (its store's open
 * included), and over those after the first (`sustained`).
 */
export async function streamMint(bin: string, dir: string, env: NodeJS.ProcessEnv, lines: string[], first: number, pin = false): Promise<{ cpuMs: number; sustainedCpuMs: number }> {
  // BENCH_STREAM_NODE_ARGS: node flags for the engine, as BENCH_SERVE_NODE_ARGS for the service.
  const nodeArgs = (process.env.BENCH_STREAM_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const argv = [...nodeArgs, bin, 'sign-update', '--role', 'mint', '--stream', ...MINT_ARGS, '--state-dir', dir];
  const child = pin && hasTaskset ? spawn('taskset', ['-c', '0', process.execPath, ...argv], { env, stdio: ['pipe', 'pipe', 'pipe'] }) : spawn(process.execPath, argv, { env, stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(child);
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => {
    children.delete(child);
    res(code);
  }));
  let stderr = '';
  let started: () => void;
  const notice = new Promise<void>((res) => (started = res));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    if (stderr.includes('streaming on the')) started();
  });
  const answers: string[] = [];
  let waiting: { n: number; resolve: () => void } | undefined;
  createInterface({ input: child.stdout! }).on('line', (l) => {
    answers.push(l);
    if (waiting && answers.length >= waiting.n) waiting.resolve();
  });
  const answered = (n: number) => Promise.race([
    new Promise<void>((resolve) => (answers.length >= n ? resolve() : (waiting = { n, resolve }))),
    exited.then((code) => { throw new Error(`bench: the stream exited ${code} after ${answers.length} answers: ${stderr.slice(-300)}`); }),
  ]);
  await Promise.race([notice, exited.then((code) => { throw new Error(`bench: the stream exited ${code}: ${stderr.slice(-300)}`); })]);
  const cpu0 = cpuSeconds([child.pid!]);
  child.stdin!.write(lines.slice(0, first).join('\n') + '\n');
  await answered(first);
  const cpuFirst = cpuSeconds([child.pid!]);
  child.stdin!.write(lines.slice(first).join('\n') + '\n');
  await answered(lines.length);
  const cpu1 = cpuSeconds([child.pid!]);
  child.stdin!.end();
  const code = await exited;
  const refused = answers.filter((a) => !a.includes('"credit/receipt"')).length;
  if (code !== 0 || refused > 0) throw new Error(`bench: the stream exited ${code} with ${refused} answers not receipts (first: ${answers.find((a) => !a.includes('"credit/receipt"'))?.slice(0, 200)}): ${stderr.slice(-300)}`);
  return { cpuMs: ((cpu1 - cpu0) * 1000) / lines.length, sustainedCpuMs: ((cpu1 - cpuFirst) * 1000) / (lines.length - first) };
}

/** A credit update's answer: the receipt it carries, or undefined for anything else (a refusal, a status not 200, text that is not JSON). */
export function receiptOf(status: number, text: string): Record<string, unknown> | undefined {
  let value: Record<string, unknown> = {};
  try {
    value = JSON.parse(text) as Record<string, unknown>;
  } catch { /* not a receipt */ }
  return status === 200 && value.type === 'credit/receipt' ? value : undefined;
}

/** Clock ticks per second (/proc/<pid>/stat counts CPU time in them). */
const TICK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);

/**
 * A reverse proxy: each request to a random backend, or (`byContract`) to the backend its
 * Offchain-Contract header is assigned to (a dropped backend: 502).
 */
export async function proxyTo(backends: string[], byContract?: Map<string, number>): Promise<{ url: string; server: Server }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const targets = backends.map((u) => new URL(u));
  const server = createServer((req, res) => {
    const home = byContract?.get(String(req.headers['offchain-contract']));
    const t = targets[home ?? Math.floor(Math.random() * targets.length)]!;
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

/** /proc/<pid>/stat after the command name: [state, ppid, …]; utime is field 14 of the whole line. */
export function stat(pid: number): string[] | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return line.slice(line.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}
/** CPU seconds of `pids` (utime + stime, and the children they reaped: cutime + cstime). */
export function cpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const f = stat(pid);
    if (f) ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  }
  return ticks / TICK;
}
/**
 * How long `pid`'s main thread has waited for a core, in seconds: Linux's schedstat, its second
 * field (runnable, not running — another process, or one of its own threads, had the core); NaN
 * without it. On a shared machine, the part of a latency that is the machine's, not the service's.
 */
export function waitedForCore(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[1]) / 1e9;
  } catch {
    return NaN;
  }
}
/** The PostgreSQL server's processes: the postmaster (first line of postmaster.pid) and its children. */
export function postgresPids(dataDir: string): number[] {
  const postmaster = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const pids = [postmaster];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    if (stat(Number(e))?.[1] === String(postmaster)) pids.push(Number(e));
  }
  return pids;
}
