/**
 * Process helpers the contract tests need beyond cli.ts: a CLI run whose stdin arrives
 * slowly in chunks, shell command lines (`sh -c`, `bash -c`), and runs under a
 * pseudo-terminal through util-linux `script` — with a probe so tests that need a tool
 * the machine lacks can be skipped visibly instead of failing or hanging. As in cli.ts,
 * a process killed at its time limit or by a signal rejects with a `KilledError`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { ROOT } from '../helpers.ts';
import { BIN, KilledError, assertFreshBuild, cleanEnv, commandLine, finished, type Run } from './cli.ts';

/**
 * A run that finished by itself. `timedOut` is always false — a run that hit its limit
 * rejects instead — and is kept only so older callers still read.
 */
export type TimedRun = Run & { timedOut: false };

const timed = (r: Promise<Run>): Promise<TimedRun> => r.then((x) => ({ ...x, timedOut: false as const }));

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Run the CLI and feed its stdin chunk by chunk, waiting `gapMs` before each chunk (so
 * the first byte arrives well after start-up, and later ones long after any timed read
 * would have given up). Killed after `timeoutMs`.
 */
export async function runSlowly(
  args: string[],
  chunks: (string | Uint8Array)[],
  opts: { gapMs: number; env?: Record<string, string>; timeoutMs?: number },
): Promise<TimedRun> {
  assertFreshBuild();
  const child = spawn(process.execPath, [BIN, ...args], { env: cleanEnv(opts.env), cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  const done = timed(finished(child, commandLine(args), opts.timeoutMs ?? 30_000));
  done.catch(() => {}); // handled by the caller's await below; not unhandled while we write
  child.stdin.on('error', () => {}); // the process may exit (e.g. refuse) before we finish writing
  for (const chunk of chunks) {
    await sleep(opts.gapMs);
    if (child.exitCode !== null || child.signalCode !== null) break;
    child.stdin.write(chunk);
  }
  await sleep(opts.gapMs);
  child.stdin.end();
  return done;
}

/**
 * Start the CLI with the whole input at once, without waiting (for races). With
 * `keepStdinOpen` the pipe is left open until the process exits, so anything that
 * waits for more input (a prompt) hangs until `timeoutMs` instead of seeing EOF.
 */
export function runAsync(
  args: string[],
  opts: { input?: string | Uint8Array; env?: Record<string, string>; cwd?: string; timeoutMs?: number; keepStdinOpen?: boolean } = {},
): Promise<TimedRun> {
  assertFreshBuild();
  const child = spawn(process.execPath, [BIN, ...args], { env: cleanEnv(opts.env), cwd: opts.cwd ?? ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  const done = timed(finished(child, commandLine(args), opts.timeoutMs ?? 60_000));
  child.stdin.on('error', () => {});
  if (opts.keepStdinOpen) {
    if (opts.input !== undefined) child.stdin.write(opts.input);
    child.on('close', () => child.stdin.destroy());
  } else {
    child.stdin.end(opts.input ?? '');
  }
  return done;
}

/** A shell command line: `bash -o pipefail -c` (or plain `sh -c`), without blocking the test worker. */
export function runShellAsync(
  command: string,
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number; shell?: 'bash' | 'sh' } = {},
): Promise<TimedRun> {
  const shell = opts.shell ?? 'bash';
  const argv = shell === 'bash' ? ['-o', 'pipefail', '-c', command] : ['-c', command];
  assertFreshBuild(); // the command lines run the CLI
  // Its own process group, so a time limit kills the whole command line, not just the shell.
  const child = spawn(shell, argv, { env: opts.env ?? cleanEnv(), cwd: opts.cwd ?? ROOT, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  const done = timed(finished(child, `${shell} -c ${shellQuote(command)}`, opts.timeoutMs ?? 60_000, { group: true }));
  child.stdin.on('error', () => {});
  child.stdin.end();
  return done;
}

/** Single-quote a string for sh. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The CLI as a shell word list: `'node' '…/bin/run.js'`. */
export const CLI = `${shellQuote(process.execPath)} ${shellQuote(BIN)}`;

let scriptWorks: boolean | undefined;
/**
 * Whether util-linux `script -qec CMD /dev/null` works here (BSD/macOS `script` has
 * another syntax; minimal containers have none). Tests needing a TTY skip without it.
 */
export function hasPtyScript(): boolean {
  if (scriptWorks === undefined) {
    const r = spawnSync('script', ['-qec', 'exit 7', '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
    scriptWorks = r.error === undefined && r.status === 7;
  }
  return scriptWorks;
}

export type PtyRun = TimedRun & { output: string };

/**
 * Run a shell command line inside a pseudo-terminal: its stdin, stdout and stderr are
 * all the terminal unless the command line redirects them. `output` is what the
 * terminal showed (stdout and stderr merged, CRLF line ends). `answer` types text into
 * the terminal once `prompt` has appeared on it (a list: one after the other, each after
 * its own prompt appears anew). Killed after `timeoutMs`.
 */
export function runInPty(
  command: string,
  opts: { env?: Record<string, string>; timeoutMs?: number; answer?: { prompt: RegExp; text: string } | { prompt: RegExp; text: string }[] } = {},
): Promise<PtyRun> {
  const env = cleanEnv({ TERM: 'xterm-256color', NODE_ENV: '', ...opts.env });
  assertFreshBuild();
  const child = spawn('script', ['-qec', command, '/dev/null'], { env, cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  child.stdin.on('error', () => {});
  let output = '';
  // Answers in order: each is typed once its prompt has appeared after the previous answer.
  const answers = opts.answer === undefined ? [] : Array.isArray(opts.answer) ? [...opts.answer] : [opts.answer];
  let seen = 0;
  const done = finished(child, `script -qec ${shellQuote(command)}`, opts.timeoutMs ?? 30_000, { group: true });
  child.stdout.on('data', (d: string) => {
    output += d;
    const next = answers[0];
    if (next && next.prompt.test(output.slice(seen))) {
      answers.shift();
      seen = output.length;
      child.stdin.write(next.text);
    }
  });
  return done.then(
    (r) => {
      child.stdin.destroy();
      return { ...r, output: r.stdout, timedOut: false as const };
    },
    (e: unknown) => {
      child.stdin.destroy();
      if (e instanceof KilledError) e.message += `\n  terminal output so far: ${JSON.stringify(output.slice(-300))}`;
      throw e;
    },
  );
}

/** Lines of a stream's text, without the empty tail after the last newline. */
export function linesOf(text: string): string[] {
  const lines = text.split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  return lines;
}
