/**
 * Everything for humans goes to standard error; standard output carries only the
 * result. Colour only when stderr is a TTY and NO_COLOR is unset (chalk 5 ignores
 * NO_COLOR on a TTY, so the level is decided here, not by chalk).
 */
import { Chalk, type ChalkInstance } from 'chalk';
import { jsonLogLine, loggingJson } from './error-line.ts';

export type Terminal = {
  readonly color: ChalkInstance;
  readonly stderrIsTTY: boolean;
  info(line: string): void;
  warn(line: string): void;
  /** Progress for long work: shown on a TTY only (never with -q), overwritten in place. */
  progress(line: string): void;
  clearProgress(): void;
  /** -q/--quiet: no progress line. */
  quiet: boolean;
  /**
   * A count of work done, shown as `N <noun>, R/s` once the work has run ~2 s, updated
   * at most 4 times a second — on a TTY only, never with -q. `done()` clears it.
   */
  meter(noun: string, now?: () => number): ProgressMeter;
};

export type ProgressMeter = { tick(count?: number): void; done(): void };

/** Work shorter than this shows no progress line at all. */
export const PROGRESS_AFTER_MS = 2000;
const PROGRESS_EVERY_MS = 250;

export function colorLevel(env: NodeJS.ProcessEnv, isTTY: boolean): 0 | 1 | 2 | 3 {
  if (!isTTY) return 0;
  if ('NO_COLOR' in env && env.NO_COLOR !== undefined) return 0;
  if (env.TERM === 'dumb') return 0;
  if (env.COLORTERM === 'truecolor' || env.COLORTERM === '24bit') return 3;
  if (/-256(color)?$/i.test(env.TERM ?? '')) return 2;
  return 1;
}

export function createTerminal(stderr: NodeJS.WriteStream, env: NodeJS.ProcessEnv): Terminal {
  const isTTY = Boolean(stderr.isTTY);
  const color = new Chalk({ level: colorLevel(env, isTTY) });
  let progressShown = false;
  const write = (s: string) => {
    if (progressShown) {
      stderr.write('\r\x1b[K');
      progressShown = false;
    }
    stderr.write(s);
  };
  const term: Terminal = {
    quiet: false,
    color,
    stderrIsTTY: isTTY,
    // In a service (error-line.ts logLinesAsJson) a line of its JSON log instead.
    info: (line) => write(jsonLogLine('info', line.replace(/^offchain: /, '')) ?? line + '\n'),
    warn: (line) => write(jsonLogLine('warn', line) ?? color.yellow(`offchain: warning: ${line}`) + '\n'),
    progress(line) {
      if (!isTTY || term.quiet || loggingJson()) return;
      stderr.write('\r\x1b[K' + color.dim(line));
      progressShown = true;
    },
    clearProgress() {
      if (progressShown) stderr.write('\r\x1b[K');
      progressShown = false;
    },
    meter(noun, now = () => performance.now()) {
      const started = now();
      let count = 0;
      let shownAt = -Infinity;
      return {
        tick(n = 1) {
          count += n;
          if (!isTTY || term.quiet) return;
          const t = now();
          if (t - started < PROGRESS_AFTER_MS || t - shownAt < PROGRESS_EVERY_MS) return;
          shownAt = t;
          const rate = Math.round((count * 1000) / (t - started));
          term.progress(`${count.toLocaleString('en-US')} ${noun}, ${rate.toLocaleString('en-US')}/s`);
        },
        done: () => term.clearProgress(),
      };
    },
  };
  return term;
}
