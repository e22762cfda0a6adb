/**
 * A `serve …` command spawned from the built CLI (the process under test): started with
 * `--listen 127.0.0.1:0`, its first stdout line ({"type":"serve/listening",…}) read for the
 * address, stopped with SIGTERM and awaited. Its stderr (the JSON log) is kept for checks.
 */
import { spawn } from 'node:child_process';
import { BIN, cleanEnv } from './cli.ts';
import { ROOT } from '../helpers.ts';

export type Served = { public: string; operator?: string; log: () => string; stop: () => Promise<number | null> };

export async function startServe(args: string[], env: Record<string, string>, timeoutMs = 30_000): Promise<Served> {
  const child = spawn(process.execPath, [BIN, 'serve', ...args, '--listen', '127.0.0.1:0'], { env: cleanEnv(env), cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  const line = await new Promise<string>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`serve did not announce itself within ${timeoutMs} ms; stderr: ${err.slice(-800)}`)), timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl !== -1) {
        clearTimeout(timer);
        res(out.slice(0, nl));
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      rej(new Error(`serve exited ${code} before listening; stderr: ${err.slice(-800)}`));
    });
  });
  const hello = JSON.parse(line) as { type: string; public: string; operator?: string };
  if (hello.type !== 'serve/listening') throw new Error(`serve's first line is not its announcement: ${line}`);
  return {
    public: hello.public,
    ...(hello.operator ? { operator: hello.operator } : {}),
    log: () => err,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
