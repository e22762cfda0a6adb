/**
 * One `offchain serve mint` process for the service tests: the built CLI spawned on
 * 127.0.0.1 port 0, its address read from the first stdout line (serve/listening), stderr
 * kept (the JSON log), and `post`/`get` over real HTTP (Node's fetch). Stop it with `stop()`
 * (SIGTERM, exit awaited) or `kill()` (SIGKILL).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { ROOT } from '../helpers.ts';
import { BIN, cleanEnv } from './cli.ts';

export type Http = { status: number; text: string; headers: Headers };

export class ServeMintProcess {
  readonly child: ChildProcessWithoutNullStreams;
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ status: number | null; signal: NodeJS.Signals | null }>;
  /** The public and operator URLs, once listening. */
  readonly ready: Promise<{ public: string; operator?: string }>;
  url = '';
  operator = '';

  constructor(args: string[], env: Record<string, string>) {
    this.child = spawn(process.execPath, [BIN, 'serve', 'mint', '--listen', '127.0.0.1:0', ...(args.includes('--log-level') ? [] : ['--log-level', 'warn']), ...args], { env: cleanEnv(env), cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdin.end();
    this.exited = new Promise((resolve) => this.child.on('close', (status, signal) => resolve({ status, signal })));
    this.child.stderr.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.ready = new Promise((resolve, reject) => {
      this.child.stdout.setEncoding('utf8').on('data', (d: string) => {
        this.stdout += d;
        const first = this.stdout.split('\n');
        if (first.length > 1 && this.url === '') {
          const line = JSON.parse(first[0]!) as { type: string; public: string; operator?: string };
          if (line.type !== 'serve/listening') reject(new Error(`first line is not serve/listening: ${first[0]}`));
          this.url = line.public;
          this.operator = line.operator ?? '';
          resolve({ public: line.public, ...(line.operator ? { operator: line.operator } : {}) });
        }
      });
      void this.exited.then((e) => reject(new Error(`serve mint exited (${e.status ?? e.signal}) before listening: ${this.stderr}`)));
    });
  }

  static async start(args: string[], env: Record<string, string>): Promise<ServeMintProcess> {
    const p = new ServeMintProcess(args, env);
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

  /** SIGTERM, and the exit. */
  async stop(): Promise<{ status: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    return this.exited;
  }

  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }
}
