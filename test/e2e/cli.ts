/**
 * Running the built CLI (bin/run.js → dist/) as child processes, the way operators and
 * the other party do: stdin in, stdout out, and pipelines where one process's stdout
 * is the next one's stdin.
 */
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../helpers.ts';

export const BIN = join(ROOT, 'bin', 'run.js');

export type Run = { status: number | null; stdout: string; stderr: string };

/** Environment without the developer's own offchain settings leaking in. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('OFFCHAIN_')) delete env[k];
  delete env.NO_COLOR;
  return { ...env, ...extra };
}

export function run(args: string[], opts: { input?: string | Uint8Array; env?: Record<string, string>; cwd?: string } = {}): Run {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    input: opts.input ?? '',
    env: cleanEnv(opts.env),
    cwd: opts.cwd ?? ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export type Stage = { args: string[]; env?: Record<string, string> };

/**
 * `a | b | c`: real processes whose stdout feeds the next stdin through an OS pipe.
 * Resolves with every stage's result (the last one's stdout is the pipeline's output).
 */
export function pipeline(stages: Stage[], input: string | Uint8Array): Promise<Run[]> {
  const children = stages.map((s) =>
    spawn(process.execPath, [BIN, ...s.args], { env: cleanEnv(s.env), cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] }),
  );
  children.forEach((c, i) => {
    if (i + 1 < children.length) c.stdout.pipe(children[i + 1]!.stdin);
  });
  const results = children.map(
    (c, i) =>
      new Promise<Run>((resolve) => {
        let stdout = '';
        let stderr = '';
        if (i + 1 === children.length) c.stdout.on('data', (d) => (stdout += d));
        c.stderr.on('data', (d) => (stderr += d));
        c.on('close', (status) => resolve({ status, stdout, stderr }));
      }),
  );
  children[0]!.stdin.end(input);
  return Promise.all(results);
}
