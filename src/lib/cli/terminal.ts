/**
 * Everything for humans goes to standard error; standard output carries only the
 * result. Colour only when stderr is a TTY and NO_COLOR is unset (chalk 5 ignores
 * NO_COLOR on a TTY, so the level is decided here, not by chalk).
 */
import { Chalk, type ChalkInstance } from 'chalk';

export type Terminal = {
  readonly color: ChalkInstance;
  readonly stderrIsTTY: boolean;
  info(line: string): void;
  warn(line: string): void;
  /** Progress for long work: shown on a TTY only, overwritten in place. */
  progress(line: string): void;
  clearProgress(): void;
};

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
  return {
    color,
    stderrIsTTY: isTTY,
    info: (line) => write(line + '\n'),
    warn: (line) => write(color.yellow(`offchain: warning: ${line}`) + '\n'),
    progress(line) {
      if (!isTTY) return;
      stderr.write('\r\x1b[K' + color.dim(line));
      progressShown = true;
    },
    clearProgress() {
      if (progressShown) stderr.write('\r\x1b[K');
      progressShown = false;
    },
  };
}
