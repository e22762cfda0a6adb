/**
 * What the gateway's service tests (test/e2e/serve-gateway.test.ts,
 * test/regtest/serve-gateway-cln.test.ts) measure and ask with: one HTTP request, one CLI
 * run with its wall and CPU time. The service itself: serve-process.ts.
 */
import { spawn } from 'node:child_process';
import { BIN, cleanEnv, type Run } from './cli.ts';

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

