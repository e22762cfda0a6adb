/**
 * A `serve …` command spawned from the built CLI — the process under test in every service
 * test: started on 127.0.0.1 (port 0 unless a test restarts one on its old port), its
 * address read from its first stdout line ({"type":"serve/listening",…}), its stderr (the
 * JSON log) kept, requests over real HTTP, stopped with SIGTERM (drained, exit awaited) or
 * killed with SIGKILL (the crash). The shapes each test file grew up with are thin views of
 * the one class: startServe (statechain), serveMint/stopService (the credit user's --peer),
 * startGateway, ServeMintProcess.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { expect } from 'vitest';
import { ROOT } from '../helpers.ts';
import { BIN, assertFreshBuild, cleanEnv } from './cli.ts';

export type Http = { status: number; text: string; headers: Headers };
type Exit = { status: number | null; signal: NodeJS.Signals | null };

export class ServeProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  url = '';
  operator = '';
  readonly exited: Promise<Exit>;
  readonly ready: Promise<{ public: string; operator?: string }>;

  /** `offchain serve <role> <args> --listen 127.0.0.1:<port>` (no --listen with `listen: false`: a configuration file's), with `--log-level` when given and not in `args`. */
  constructor(role: string, args: string[], env: Record<string, string>, opts: { port?: number; logLevel?: string; timeoutMs?: number; listen?: false } = {}) {
    assertFreshBuild();
    const level = opts.logLevel !== undefined && !args.includes('--log-level') ? ['--log-level', opts.logLevel] : [];
    const listen = opts.listen === false ? [] : ['--listen', `127.0.0.1:${opts.port ?? 0}`];
    this.child = spawn(process.execPath, [BIN, 'serve', role, ...args, ...level, ...listen], { env: cleanEnv(env), cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    this.exited = new Promise((resolve) => this.child.on('close', (status, signal) => resolve({ status, signal })));
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    const timeoutMs = opts.timeoutMs ?? 60_000;
    this.ready = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`serve ${role} did not announce itself within ${timeoutMs} ms: ${this.stderr.slice(-800)}`)), timeoutMs);
      this.child.stdout!.setEncoding('utf8').on('data', (d: string) => {
        this.stdout += d;
        const nl = this.stdout.indexOf('\n');
        if (nl === -1 || this.url !== '') return;
        clearTimeout(timer);
        const line = JSON.parse(this.stdout.slice(0, nl)) as { type: string; public: string; operator?: string };
        if (line.type !== 'serve/listening') return reject(new Error(`serve ${role}'s first line is not serve/listening: ${this.stdout.slice(0, nl)}`));
        this.url = line.public;
        this.operator = line.operator ?? '';
        resolve({ public: line.public, ...(line.operator ? { operator: line.operator } : {}) });
      });
      void this.exited.then((e) => {
        clearTimeout(timer);
        reject(new Error(`serve ${role} exited (${e.status ?? e.signal}) before listening: ${this.stderr.slice(-800)}`));
      });
    });
  }

  static async launch(role: string, args: string[], env: Record<string, string>, opts: { port?: number; logLevel?: string; timeoutMs?: number; listen?: false } = {}): Promise<ServeProcess> {
    const p = new ServeProcess(role, args, env, opts);
    await p.ready;
    return p;
  }

  async post(path: string, body: string, base = this.url): Promise<Http> {
    const r = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    return { status: r.status, text: await r.text(), headers: r.headers };
  }

  async get(path: string, base = this.url): Promise<Http> {
    const r = await fetch(`${base}${path}`);
    return { status: r.status, text: await r.text(), headers: r.headers };
  }

  /** A signal (SIGTERM: drains and exits 0), and the exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<Exit> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }

  async kill(): Promise<void> {
    await this.stop('SIGKILL');
  }
}

/** serve mint as the same-bytes, drain and crash tests use it (quiet: --log-level warn unless given). */
export class ServeMintProcess extends ServeProcess {
  static async start(args: string[], env: Record<string, string>): Promise<ServeMintProcess> {
    const p = new ServeMintProcess('mint', args, env, { logLevel: 'warn' });
    await p.ready;
    return p;
  }
}

/** `serve <args…>` (args[0] is the role), its log at the default level. */
export type Served = { public: string; operator?: string; log: () => string; stop: () => Promise<number | null> };
export async function startServe(args: string[], env: Record<string, string>, timeoutMs = 30_000): Promise<Served> {
  const p = await ServeProcess.launch(args[0]!, args.slice(1), env, { timeoutMs });
  return { public: p.url, ...(p.operator ? { operator: p.operator } : {}), log: () => p.stderr, stop: async () => (await p.stop()).status };
}

/** serve mint for the credit user's --peer tests, on `port` (0: any; a restart takes its old one). */
export type Service = { child: ChildProcess; url: string; port: number; exited: Promise<number | null>; stderr(): string };
export async function serveMint(args: string[], env: Record<string, string>, port = 0): Promise<Service> {
  const p = await ServeProcess.launch('mint', args, env, { port });
  return { child: p.child, url: p.url, port: Number(new URL(p.url).port), exited: p.exited.then((e) => e.status), stderr: () => p.stderr };
}

/** Stop a serveMint service with `signal`; its exit code (null when killed by the signal). */
export async function stopService(s: Service | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (!s) return null;
  if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill(signal);
  return s.exited;
}

/** serve gateway (quiet: --log-level warn unless asked) on `port` (0: any; a restart takes its old one), its URLs, stderr and stop. */
export type GatewayService = { child: ChildProcess; public: string; operator?: string; stderr: () => string; stop: (signal?: NodeJS.Signals) => Promise<number | null> };
export async function startGateway(args: string[], env: Record<string, string>, port = 0, logLevel = 'warn'): Promise<GatewayService> {
  const p = await ServeProcess.launch('gateway', args, env, { logLevel, timeoutMs: 30_000, port });
  expect(p.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  return { child: p.child, public: p.url, ...(p.operator ? { operator: p.operator } : {}), stderr: () => p.stderr, stop: async (signal = 'SIGTERM') => (await p.stop(signal)).status };
}

/**
 * The error lines of a `serve …` that refused to start: its standard error is its JSON log
 * (every line one object), the error a line at level 50 or more with its code.
 */
export function serveErrors(stderr: string): { code: string; exit_code: number; msg: string }[] {
  return stderr.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { level: number; code: string; exit_code: number; msg: string })
    .filter((l) => l.level >= 50).map(({ code, exit_code, msg }) => ({ code, exit_code, msg }));
}
