/**
 * Where a command's state lives: `--state-dir` (or $OFFCHAIN_STATE_DIR, which the
 * configuration file's state_dir fills, or ~/.offchain), one subfolder per network. A
 * leading `~` is the home directory (a shell does not expand it in `--state-dir=~/x` or in
 * the configuration file). Nothing is created here: a path that is, or lies under, a file
 * is E_STATE_NOT_DIR naming the path as given (exit 2).
 */
import { statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from '../errors.ts';
import type { Network } from '../network.ts';
import { expandTilde } from './config-file.ts';

/** `<state-dir>/<network>` for --state-dir `flag` (undefined when not given), the environment and the home directory. */
export function stateDirOf(flag: string | undefined, env: Record<string, string | undefined>, home: string, network: Network): string {
  const fromEnv = env.OFFCHAIN_STATE_DIR || undefined;
  const [given, source] = flag !== undefined ? [flag, '--state-dir'] : fromEnv !== undefined ? [fromEnv, '$OFFCHAIN_STATE_DIR'] : [join(home, '.offchain'), 'the default state directory'];
  const base = resolve(expandTilde(given, home));
  checkNotUnderFile(base, `${source} ${given}`);
  return join(base, network);
}

/** E_STATE_NOT_DIR when `path`, or the nearest of its ancestors that exists, is not a directory. */
export function checkNotUnderFile(path: string, given: string): void {
  for (let p = path; ; p = dirname(p)) {
    let st;
    try {
      st = statSync(p);
    } catch {
      if (dirname(p) === p) return;
      continue;
    }
    if (st.isDirectory()) return;
    throw new UsageError('E_STATE_NOT_DIR', p === path ? `${given} is a file, not a directory` : `${given} lies under ${p}, which is a file, not a directory`);
  }
}
