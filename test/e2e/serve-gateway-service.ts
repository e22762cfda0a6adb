/**
 * `offchain serve gateway` as a test's child process (test/e2e/serve-gateway.test.ts,
 * test/regtest/serve-gateway-cln.test.ts): started on 127.0.0.1 port 0, its URLs read from
 * the serve/listening line; and one CLI run with its wall and CPU time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { expect } from 'vitest';
import { BIN, cleanEnv, type Run } from './cli.ts';

type Msg = Record<string, any>;

/** A running `serve gateway`: its URLs, its stderr so far, and how to stop it. */
export type Service = { child: ChildProcess; public: string; operator?: string; stderr: () => string; stop: (signal?: NodeJS.Signals) => Promise<number | null> };

export async function startGateway(args: string[], env: Record<string, string>): Promise<Service> {
  const child = spawn(process.execPath, [BIN, 'serve', 'gateway', '--listen', '127.0.0.1:0', '--log-level', 'warn', ...args], { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d.toString()));
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  const first = await new Promise<string>((res, rej) => {
    let out = '';
    const timer = setTimeout(() => rej(new Error(`serve gateway did not announce itself in 30 s: ${stderr}`)), 30_000);
    child.stdout!.on('data', (d) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        res(out.slice(0, nl));
      }
    });
    void exited.then((code) => rej(new Error(`serve gateway exited ${code} before listening: ${stderr}`)));
  });
  const line = JSON.parse(first) as Msg;
  expect(line.type).toBe('serve/listening');
  return {
    child, public: line.public, operator: line.operator, stderr: () => stderr,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

export async function http(method: 'GET' | 'POST', url: string, body?: string): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await fetch(url, { method, ...(body === undefined ? {} : { body, headers: { 'content-type': 'application/json' } }) });
  return { status: res.status, text: await res.text(), headers: res.headers };
}


/**
 * One CLI run (not spawnSync: a test may answer it from its own event loop), with its wall time
 * and its CPU time (user + system of the node process, from the shell's `times`).
 */
export async function timedRun(args: string[], env: Record<string, string>): Promise<Run & { ms: number; cpuMs: number }> {
  const started = performance.now();
  const child = spawn('bash', ['-c', `"${process.execPath}" "${BIN}" "$@"; s=$?; times >&2; exit $s`, 'bash', ...args], { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d.toString()));
  child.stderr!.on('data', (d) => (stderr += d.toString()));
  const status = await new Promise<number>((res) => child.on('close', (c) => res(c ?? -1)));
  const ms = performance.now() - started;
  // `times`' second line: the children's user and system time, e.g. "0m0.412s 0m0.052s".
  const t = [...(stderr.trim().split('\n').at(-1) ?? '').matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60_000 + Number(m[2]) * 1000);
  return { status, stdout, stderr, ms, cpuMs: (t[0] ?? NaN) + (t[1] ?? NaN) };
}

/** The median of some measurements. */
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
