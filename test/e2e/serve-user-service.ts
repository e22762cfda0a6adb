/**
 * `offchain serve mint` as a child process for the --peer tests (the process under test):
 * started from the built CLI, resolved once its serve/listening line is read, stopped by a
 * signal (SIGTERM: drains and exits 0; SIGKILL: the crash).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { ROOT } from '../helpers.ts';
import { BIN, assertFreshBuild, cleanEnv } from './cli.ts';

export type Service = { child: ChildProcess; url: string; port: number; exited: Promise<number | null>; stderr(): string };

/** `offchain serve mint <args> --listen 127.0.0.1:<port>` (port 0: any free one). */
export async function serveMint(args: string[], env: Record<string, string>, port = 0): Promise<Service> {
  assertFreshBuild();
  const child = spawn(process.execPath, [BIN, 'serve', 'mint', ...args, '--listen', `127.0.0.1:${port}`], { env: cleanEnv(env), cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-8000)));
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  const line = await new Promise<string>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`serve mint did not listen within 60 s: ${stderr}`)), 60_000);
    createInterface({ input: child.stdout! }).once('line', (l) => {
      clearTimeout(timer);
      res(l);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`serve mint exited ${code} before listening: ${stderr}`));
    });
  });
  const listening = JSON.parse(line) as { type: string; public: string };
  if (listening.type !== 'serve/listening') throw new Error(`serve mint's first line is not serve/listening: ${line}`);
  return { child, url: listening.public, port: Number(new URL(listening.public).port), exited, stderr: () => stderr };
}

/** Stop the service with `signal`; its exit code (null when killed by the signal). */
export async function stopService(s: Service | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (!s) return null;
  if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill(signal);
  return s.exited;
}
