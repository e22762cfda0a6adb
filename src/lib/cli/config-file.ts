/**
 * The configuration file's syntax (docs/config.md): bitcoin.conf's `key=value` lines and `#`
 * comments — so a Nutshell-style `.env` file reads the same — with optional sections
 * `[serve mint]`, `[credit open]` (a command's id, its words separated by spaces) whose keys
 * apply to that command only. This module only reads the text; which keys exist, and what a
 * value means, is config.ts's (from the commands' own flag tables).
 *
 * Which file: `--config FILE`, else `$OFFCHAIN_CONFIG`, else `~/.offchain/config` when it
 * exists. A file named (flag or variable) that cannot be read is E_CONFIG; the default one
 * only when it exists. So is one that is no regular file, is over 1 MiB, or that every user may
 * write (readRegularFile).
 */
import { closeSync, constants, existsSync, fstatSync, openSync, readFileSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.ts';

export const CONFIG_ENV = 'OFFCHAIN_CONFIG';

/** One `key=value` line: the section it is under (undefined: the top, every command), where it is, for errors. */
export type ConfigLine = { section?: string; sectionWhere?: string; key: string; value: string; where: string };

export type ConfigFile = { path: string; lines: ConfigLine[] };

/** The value of `--config FILE` / `--config=FILE` among the words before `--`, if given. */
export function configFlagOf(argv: readonly string[]): string | undefined {
  const end = argv.indexOf('--');
  const words = end === -1 ? argv : argv.slice(0, end);
  let found: string | undefined;
  words.forEach((w, i) => {
    if (w.startsWith('--config=')) found = w.slice('--config='.length);
    else if (w === '--config' && i + 1 < words.length) found = words[i + 1];
  });
  return found;
}

/** `~` or `~/…` → the home directory (what a shell would have done; no shell reads this file). */
export function expandTilde(path: string, home: string): string {
  if (path === '~') return home;
  if (path.startsWith('~/')) return join(home, path.slice(2));
  return path;
}

/** The configuration file in play, read and parsed, or undefined when there is none. */
export function readConfigFile(argv: readonly string[], env: NodeJS.ProcessEnv, home: string): ConfigFile | undefined {
  const flag = configFlagOf(argv);
  const named = flag ?? (env[CONFIG_ENV] || undefined);
  const path = named !== undefined ? expandTilde(named, home) : join(home, '.offchain', 'config');
  if (named === undefined && !existsSync(path)) return undefined;
  const by = flag !== undefined ? '--config' : named !== undefined ? `$${CONFIG_ENV}` : 'the default configuration file';
  let fd: number;
  try {
    // Not blocking: a FIFO with no writer would wait forever at open (then it is refused below).
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw new UsageError('E_CONFIG', `cannot read the configuration file ${path} (${by}): ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    return { path, lines: parseConfigText(readRegularFile(fd, path, by), path) };
  } finally {
    closeSync(fd);
  }
}

/** No configuration is longer (a thousand settings are ~40 KB). */
export const MAX_CONFIG_BYTES = 1 << 20;

/**
 * The text of an opened configuration file, which must be a regular file (a device such as
 * /dev/zero would be read until memory ran out, a pipe would take the command's own input),
 * at most MAX_CONFIG_BYTES, and writable by no one but its owner and group: every user who may
 * change it chooses where the commands send (peer, rpc_url), what they sign with (key_file).
 * /dev/null is the one device taken: no configuration (`OFFCHAIN_CONFIG=/dev/null`).
 */
function readRegularFile(fd: number, path: string, by: string): string {
  const st = fstatSync(fd);
  if (st.isDirectory()) throw new UsageError('E_CONFIG', `cannot read the configuration file ${path} (${by}): EISDIR`);
  if (!st.isFile() && isDevNull(st)) return '';
  if (!st.isFile()) throw new UsageError('E_CONFIG', `the configuration file ${path} (${by}) is not a regular file (a device, a pipe or a socket)`);
  if (st.size > MAX_CONFIG_BYTES) throw new UsageError('E_CONFIG', `the configuration file ${path} (${by}) has ${st.size} bytes, more than any configuration (${MAX_CONFIG_BYTES})`);
  if ((st.mode & 0o002) !== 0) throw new UsageError('E_CONFIG', `the configuration file ${path} (${by}) may be changed by every user of this machine (mode 0${(st.mode & 0o777).toString(8)}), who could point peer, rpc_url or key_file elsewhere: chmod o-w ${path}`);
  return readFileSync(fd, 'utf8');
}

/**
 * The lines of a configuration file, in order. Syntax only: `key=value` (spaces around `=`
 * allowed; an `export ` before the key and quotes around the value, as in a `.env` file, are
 * taken off), `[command id]` starting a section, blank lines and `#` comments. Anything else
 * is E_CONFIG naming the line (by number only: its text may be a secret).
 */
export function parseConfigText(text: string, path: string): ConfigLine[] {
  const out: ConfigLine[] = [];
  let section: string | undefined;
  let sectionWhere: string | undefined;
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    const where = `${path} line ${i + 1}`;
    if (line === '' || line.startsWith('#')) return;
    const header = /^\[\s*([a-z0-9-]+(?:\s+[a-z0-9-]+)*)\s*\]$/.exec(line);
    if (header) {
      section = header[1]!.split(/\s+/).join(' ');
      sectionWhere = where;
      return;
    }
    const m = /^(?:export\s+)?([A-Za-z][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    // The line's text is not repeated: a file named by mistake may be a key or a password file,
    // and a refusal goes to the journal (nor may a binary file's bytes reach a terminal).
    if (!m) throw new UsageError('E_CONFIG', `${where}: expected key=value or [command] (the line is not shown: it may hold a secret)`);
    const key = m[1]!.toLowerCase();
    const value = unquote(m[2]!);
    if (value === '') throw new UsageError('E_CONFIG', `${where}: "${key}" has no value`);
    out.push({ ...(section !== undefined ? { section, sectionWhere } : {}), key, value, where });
  });
  return out;
}

/** A `.env` value's quotes: "x" or 'x' → x (nothing inside is interpreted). */
function unquote(value: string): string {
  const m = /^(["'])(.*)\1$/.exec(value);
  return m ? m[2]! : value;
}

function isDevNull(st: Stats): boolean {
  try {
    return st.isCharacterDevice() && st.rdev === statSync('/dev/null').rdev;
  } catch {
    return false;
  }
}
