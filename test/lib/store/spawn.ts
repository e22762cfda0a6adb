/** Bundles test/lib/store/child.ts and runs it as real OS processes for the store tests. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { TEST_DIR } from '../../helpers.ts';

export function bundleChild(outDir: string): string {
  const outfile = join(outDir, 'store-child.mjs');
  buildSync({
    entryPoints: [join(TEST_DIR, 'lib/store/child.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    outfile,
    logLevel: 'silent',
  });
  return outfile;
}

export interface Child {
  proc: ChildProcessWithoutNullStreams;
  /** Resolves with stdout once it contains `text` (rejects if the child exits first). */
  waitFor(text: string): Promise<string>;
  /** Resolves with exit code/signal and all output. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

export function startChild(script: string, args: string[]): Child {
  const proc = spawn(process.execPath, [script, ...args], { stdio: 'pipe' });
  let stdout = '';
  let stderr = '';
  const waiters: Array<{ text: string; resolve: (s: string) => void; reject: (e: Error) => void }> = [];
  proc.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    for (const w of waiters.splice(0)) {
      if (stdout.includes(w.text)) w.resolve(stdout);
      else waiters.push(w);
    }
  });
  proc.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) => {
    // 'close', not 'exit': it comes after the last output has been read.
    proc.on('close', (code, signal) => {
      for (const w of waiters.splice(0)) w.reject(new Error(`child exited (${code ?? signal}) before printing ${w.text}: ${stderr}`));
      resolve({ code, signal, stdout, stderr });
    });
  });
  return {
    proc,
    exited,
    waitFor: (text) =>
      stdout.includes(text) ? Promise.resolve(stdout) : new Promise((resolve, reject) => waiters.push({ text, resolve, reject })),
  };
}

/** Start `n` children, wait until all print `ready`, then release them together. */
export async function raceChildren(script: string, argsFor: (i: number) => string[], n: number) {
  const children = Array.from({ length: n }, (_, i) => startChild(script, argsFor(i)));
  await Promise.all(children.map((c) => c.waitFor('ready\n')));
  for (const c of children) c.proc.stdin.write('go\n');
  return Promise.all(children.map((c) => c.exited));
}

export async function kill(child: Child): Promise<number> {
  const pid = child.proc.pid!;
  child.proc.kill('SIGKILL');
  await child.exited;
  return pid;
}
