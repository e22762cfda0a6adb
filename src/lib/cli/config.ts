/**
 * One configuration file for every command (docs/config.md): every flag of every command is a
 * key — its long name with `-` → `_` (`--max-connections` is `max_connections=512`) — read from
 * the command's own flag table, so a new flag is a key without a line here. The file's syntax
 * is config-file.ts's.
 *
 * Precedence, for each flag of the command that runs: the flag on argv, then the environment
 * (`OFFCHAIN_<KEY>`; the older names stay: `store` is $OFFCHAIN_STORE_URL, settings.ts), then
 * the key in the command's section (`[serve mint]`), then the key at the top, then the flag's
 * default. A top-level key applies to every command that has the flag and is ignored by the
 * others; a key no command has, or a section key its command does not have, is E_CONFIG with
 * the key it was probably meant to be. A value from the file or the environment is injected as
 * the flag (`--max-connections=512`), parsed by the flag's own parser first so that a bad one
 * is E_CONFIG naming its line or variable. A flag exclusive with one given on argv (oclif
 * `exclusive`, `exactlyOne`) is not injected (the command line chose).
 *
 * Forms: a boolean is `watch=true` / `watch=false` (or 1 / 0; false is `--no-watch`); a flag that may be
 * repeated is repeated as keys, one value a line (`prevout=…` twice), and its environment
 * variable holds the values separated by commas. Paths (`*_file`, `*_dir`, a FILE, DIR or
 * SOCKET value) starting `~/` are under the home directory.
 *
 * Secrets only by file: a key named for a secret (`*_secret`, `*_password`, `*_seed`,
 * `*_preimage`) and any value that is a URL carrying a password (`postgres://u:pw@…`,
 * `?password=`) are refused — keys come by --key-file / --key-env, the database password from
 * a 0600 file (store_password_file). Not keys: `config` (it names the file), `print_config`,
 * `debug` and `json_errors` (read before the file is).
 *
 * A step acts only when its own command says so: the flags that make it send its message to a
 * service, broadcast, publish, resend, resume or start instead of printing, and those that say
 * what one step works on (in, out, to, amount, contract), its clock (now, tip_height, tip_mtp)
 * or a fee risk it takes (allow_unanchored) — ONE_STEP — are read
 * from the command line or the command's own section only — at the top of the file (every
 * command with the flag) or from the environment (a variable exported once, inherited by a
 * shell or a unit) they are E_CONFIG, as --peer was made with no variable so that a pipe's
 * command never starts talking to a service because of an exported one.
 */
import { Parser } from '@oclif/core';
import { homedir } from 'node:os';
import { UsageError } from '../errors.ts';
import { redactUrl } from '../store/pg/url.ts';
import { SETTINGS } from '../settings.ts';
import { expandTilde, readConfigFile, type ConfigFile, type ConfigLine } from './config-file.ts';
import { nearest } from './suggest.ts';
import { describeError } from './describe-error.ts';

export { CONFIG_ENV, expandTilde, readConfigFile } from './config-file.ts';

/** What this module reads of an oclif flag definition (a manifest's cached flag has the same fields). */
export type FlagDef = {
  type: 'boolean' | 'option';
  multiple?: boolean;
  allowNo?: boolean;
  char?: string;
  aliases?: string[];
  env?: string;
  exclusive?: string[];
  helpValue?: string;
  hidden?: boolean;
};

/** Flags that are no key (module header). */
export const NOT_KEYS: ReadonlySet<string> = new Set(['config', 'print-config', 'debug', 'json-errors']);

/** Flags that make a step act rather than print: from the command line or the command's section only (module header). */
export const ONE_STEP: ReadonlySet<string> = new Set([
  'peer', 'broadcast', 'publish', 'resend', 'resume', 'start',
  // What one step works on, its clock and a fee risk it accepts: set once for every command, they
  // would pay every later sign-update that amount, point every step at one contract, or freeze
  // every command's clock (an attacking review of issue 72 found them read from an exported variable).
  'in', 'out', 'to', 'amount', 'contract', 'now', 'tip_height', 'tip_mtp', 'allow_unanchored',
]);

const SECRET_KEY = /(^|_)(secret|password|seed|preimage)$/;

/** A flag's key: its long name, `-` → `_`. */
export function keyOf(flag: string): string {
  return flag.replace(/-/g, '_');
}

/** The environment variable of a key: settings.ts's name, the flag's own (oclif `env`), else OFFCHAIN_<KEY>. */
export function envOf(key: string, def?: Pick<FlagDef, 'env'>): string {
  return (SETTINGS as Record<string, string>)[key] ?? def?.env ?? `OFFCHAIN_${key.toUpperCase()}`;
}

/** The command reads this key's environment variable itself (oclif `env`, or where settings.ts names it), so it is not injected. */
function readsEnvItself(key: string, def: FlagDef | undefined): boolean {
  return key in SETTINGS || def?.env !== undefined;
}

/** Where a setting came from, for --print-config. */
export type Source = { from: 'flag' | 'env' | 'file' | 'default'; env?: string; where?: string; section?: string };

export type Resolved = {
  /** Words to add to argv, for oclif to parse as if typed. */
  argv: string[];
  /** Each flag's source (flag name → source); a flag not listed comes from its default. */
  sources: Record<string, Source>;
  /** Environment variables to fill (settings.ts's, for a command that reads one without having its flag). */
  envFill: Record<string, string>;
  /** --print-config is on argv. */
  printConfig: boolean;
  /** The configuration file read, if any. */
  file?: string;
};

export type ResolveInput = {
  /** The command's id, words separated by spaces: `serve mint`. */
  command: string;
  /** The command's flags (base flags included), by name. */
  defs: Record<string, FlagDef>;
  argv: readonly string[];
  env: NodeJS.ProcessEnv;
  home: string;
  file?: ConfigFile;
  /** Every command's flags, by id with spaces (to tell an unknown key or section). Asked only when there is a file. */
  commands?: () => Record<string, Record<string, Pick<FlagDef, 'multiple'>>>;
};

/** The flags spelled among argv's words before `--` (by name; aliases, `--no-x` and `-c` included). */
export function flagsOnArgv(argv: readonly string[], defs: Record<string, FlagDef>): Set<string> {
  const spelled = new Map<string, string>();
  for (const [name, def] of Object.entries(defs)) {
    spelled.set(`--${name}`, name);
    if (def.allowNo) spelled.set(`--no-${name}`, name);
    for (const a of def.aliases ?? []) spelled.set(`--${a}`, name);
    if (def.char) spelled.set(`-${def.char}`, name);
  }
  const end = argv.indexOf('--');
  const given = new Set<string>();
  for (const w of end === -1 ? argv : argv.slice(0, end)) {
    const name = spelled.get(w.startsWith('--') ? w.split('=')[0]! : w.slice(0, 2));
    if (name !== undefined) given.add(name);
  }
  return given;
}

/** Check every line of the file against the commands' flag tables (module header's rules). */
export function checkConfigFile(file: ConfigFile, commands: Record<string, Record<string, Pick<FlagDef, 'multiple'>>>): void {
  const allKeys = new Map<string, boolean>(Object.keys(SETTINGS).map((k) => [k, false]));
  for (const flags of Object.values(commands)) {
    for (const [name, def] of Object.entries(flags)) if (!NOT_KEYS.has(name)) allKeys.set(keyOf(name), (allKeys.get(keyOf(name)) ?? false) || def.multiple === true);
  }
  const seen = new Set<string>();
  for (const line of file.lines) {
    const { key, where, section } = line;
    if (NOT_KEYS.has(key.replace(/_/g, '-'))) throw new UsageError('E_CONFIG', `${where}: "${key}" is not a configuration key (it is read before the file: give it on the command line)`);
    let multiple: boolean;
    if (section !== undefined) {
      const flags = commands[section];
      if (flags === undefined) {
        const near = nearest(section, Object.keys(commands));
        throw new UsageError('E_CONFIG', `${line.sectionWhere ?? where}: no command "${section}" for the section [${section}]${near ? `; did you mean [${near}]?` : ''}`);
      }
      const keys = new Map(Object.entries(flags).filter(([n]) => !NOT_KEYS.has(n)).map(([n, d]) => [keyOf(n), d.multiple === true]));
      if (!keys.has(key)) {
        const near = nearest(key, keys.keys());
        throw new UsageError('E_CONFIG', `${where}: "${section}" has no key "${key}" (no --${key.replace(/_/g, '-')})${near ? `; did you mean "${near}"?` : ''}`);
      }
      multiple = keys.get(key)!;
    } else {
      if (!allKeys.has(key)) {
        const near = nearest(key, allKeys.keys());
        throw new UsageError('E_CONFIG', `${where}: unknown key "${key}": no command has --${key.replace(/_/g, '-')}${near ? `; did you mean "${near}"?` : ''}`);
      }
      multiple = allKeys.get(key)!;
      if (ONE_STEP.has(key)) {
        const ids = Object.entries(commands).filter(([, flags]) => Object.keys(flags).some((n) => keyOf(n) === key)).map(([id]) => `[${id}]`);
        throw new UsageError('E_CONFIG', `${where}: "${key}" at the top would make every command with --${key.replace(/_/g, '-')} act (${ids.length} of them); put it in the section of the one it is for (${ids.slice(0, 3).join(', ')}${ids.length > 3 ? ', …' : ''})`);
      }
    }
    if (SECRET_KEY.test(key)) throw new UsageError('E_CONFIG', `${where}: "${key}" would put a secret in the configuration file; give it in a file of its own (a *_file key) or the environment`);
    // Credentials never go here: a password in a URL (user:pw@, ?password=) is refused, not kept (nor echoed).
    if (redactUrl(line.value) !== line.value) {
      const hint = key === 'store' ? 'put it in a 0600 file named by store_password_file (or $OFFCHAIN_STORE_PASSWORD)' : 'give the credentials another way (a file)';
      throw new UsageError('E_CONFIG', `${where}: "${key}" carries a password; ${hint}`);
    }
    const scope = `${section ?? ''}\n${key}`;
    if (seen.has(scope) && !multiple) throw new UsageError('E_CONFIG', `${where}: "${key}" is set twice${section !== undefined ? ` in [${section}]` : ''}`);
    seen.add(scope);
  }
}

/** A path-like key's value with `~/` expanded (module header). */
function pathLike(key: string, def: FlagDef | undefined): boolean {
  return /_(file|dir)$/.test(key) || ['FILE', 'DIR', 'SOCKET'].includes(def?.helpValue ?? '') || key === 'rpc_cookie' || key === 'lightning_rpc';
}

/** The words a value gives a flag (`--watch`, `--no-watch`, `--listen=…`); a boolean must be true or false. */
function wordsFor(name: string, def: FlagDef, values: string[], where: string): string[] {
  if (def.type !== 'boolean') return values.map((v) => `--${name}=${v}`);
  const v = values.at(-1)!;
  if (!['true', 'false', '1', '0'].includes(v)) throw new UsageError('E_CONFIG', `${where}: ${keyOf(name)} is true or false (1 or 0), got "${v.slice(0, 20)}"`);
  if (v === 'true' || v === '1') return [`--${name}`];
  return def.allowNo ? [`--no-${name}`] : [];
}

/** Parse a flag's words alone with its own parser, so a bad value is E_CONFIG naming where it came from. */
async function checkValue(name: string, def: FlagDef, words: string[], where: string): Promise<void> {
  const { exclusive: _e, ...alone } = def as FlagDef & { dependsOn?: unknown; exactlyOne?: unknown; required?: unknown; relationships?: unknown };
  for (const drop of ['dependsOn', 'exactlyOne', 'required', 'relationships', 'env', 'default']) delete (alone as Record<string, unknown>)[drop];
  try {
    await Parser.parse(words, { flags: { [name]: alone as never }, strict: true, context: undefined as never });
  } catch (e) {
    const message = describeError(e).message.replace(/ \(see --help\)$/, '');
    throw new UsageError('E_CONFIG', `${where}: ${keyOf(name)}: ${redactUrl(message)}`);
  }
}

/** The words to add to argv, and where each setting comes from (module header's precedence). */
export async function resolveSettings(input: ResolveInput): Promise<Resolved> {
  const { command, defs, argv, env, home, file } = input;
  if (file !== undefined) checkConfigFile(file, input.commands?.() ?? { [command]: defs });
  const lines = file?.lines ?? [];
  const given = flagsOnArgv(argv, defs);
  const out: Resolved = { argv: [], sources: {}, envFill: {}, printConfig: given.has('print-config'), ...(file !== undefined ? { file: file.path } : {}) };
  for (const [name, def] of Object.entries(defs)) {
    if (NOT_KEYS.has(name)) continue;
    const key = keyOf(name);
    if (given.has(name)) {
      out.sources[name] = { from: 'flag' };
      continue;
    }
    const oneOf = (def as { exactlyOne?: string[] }).exactlyOne ?? [];
    if ([...(def.exclusive ?? []), ...oneOf.filter((x) => x !== name)].some((x) => given.has(x))) continue;
    const envName = envOf(key, def);
    const envValue = env[envName];
    if (envValue !== undefined && envValue !== '') {
      if (ONE_STEP.has(key)) throw new UsageError('E_CONFIG', `$${envName}: --${name} is not taken from the environment (an exported variable must not make a step act); unset it, and give --${name} on the command line or ${key}= in [${command}] of the configuration file`);
      out.sources[name] = { from: 'env', env: envName };
      if (readsEnvItself(key, def)) continue;
      const values = def.multiple ? envValue.split(',').map((v) => v.trim()).filter((v) => v !== '') : [envValue];
      const words = wordsFor(name, def, values, `$${envName}`);
      await checkValue(name, def, words, `$${envName}`);
      out.argv.push(...words);
      continue;
    }
    const fromFile = fileValues(lines, command, key);
    if (fromFile === undefined) continue;
    const values = fromFile.lines.map((l) => (pathLike(key, def) ? expandTilde(l.value, home) : l.value));
    const where = fromFile.lines.at(-1)!.where;
    const words = wordsFor(name, def, values, where);
    await checkValue(name, def, words, where);
    out.argv.push(...words);
    out.sources[name] = { from: 'file', where, ...(fromFile.section !== undefined ? { section: fromFile.section } : {}) };
  }
  // A setting of settings.ts that this command has no flag for, but may read from the environment.
  for (const [key, envName] of Object.entries(SETTINGS)) {
    if (key.replace(/_/g, '-') in defs || (env[envName] !== undefined && env[envName] !== '')) continue;
    const fromFile = fileValues(lines, command, key);
    if (fromFile !== undefined) out.envFill[envName] = pathLike(key, undefined) ? expandTilde(fromFile.lines.at(-1)!.value, home) : fromFile.lines.at(-1)!.value;
  }
  return out;
}

/** A key's lines in the command's section, else at the top; undefined when neither has it. */
function fileValues(lines: readonly ConfigLine[], command: string, key: string): { lines: ConfigLine[]; section?: string } | undefined {
  const own = lines.filter((l) => l.section === command && l.key === key);
  if (own.length > 0) return { lines: own, section: command };
  const top = lines.filter((l) => l.section === undefined && l.key === key);
  return top.length > 0 ? { lines: top } : undefined;
}

/**
 * The effective settings for --print-config: each key of the command with its value and where
 * it came from. Secrets redacted: a password in a URL, a secret-named key; the variables a
 * `*_env` key names are never read here, only their names shown.
 */
export function effectiveSettings(defs: Record<string, FlagDef>, flags: Record<string, unknown>, sources: Record<string, Source>, env: NodeJS.ProcessEnv): Record<string, { value: unknown; from: string }> {
  const out: Record<string, { value: unknown; from: string }> = {};
  for (const name of Object.keys(defs).sort()) {
    const def = defs[name]!;
    if (NOT_KEYS.has(name) || def.hidden) continue;
    const key = keyOf(name);
    const source = sources[name] ?? { from: 'default' };
    let value = source.from === 'env' && readsEnvItself(key, def) ? env[source.env!] : flags[name];
    if (value === undefined) value = null;
    const from = source.from === 'env' ? `env ${source.env}` : source.from === 'file' ? `file ${source.where}${source.section !== undefined ? ` [${source.section}]` : ''}` : source.from;
    out[key] = { value: redact(key, value), from };
  }
  return out;
}

function redact(key: string, value: unknown): unknown {
  if (value === null || value === undefined) return value;
  if (SECRET_KEY.test(key)) return '***';
  if (Array.isArray(value)) return value.map((v) => redact(key, v));
  return typeof value === 'string' ? redactUrl(value) : value;
}

/** One run's settings: what resolveSettings gives, for the command it names. */
export type RunSettings = Resolved & { command: string };

/**
 * The settings of the command that runs (base-command.ts): its file read (--config, $OFFCHAIN_CONFIG,
 * ~/.offchain/config), resolved against its flags, and the variables it reads without a flag filled.
 */
export async function settingsOfRun(run: { id: string; defs: Record<string, FlagDef>; argv: readonly string[]; commands: ResolveInput['commands'] }, env: NodeJS.ProcessEnv = process.env, home = homedir()): Promise<RunSettings> {
  const command = run.id.replace(/:/g, ' ');
  const file = readConfigFile(run.argv, env, home);
  const resolved = await resolveSettings({ command, defs: run.defs, argv: run.argv, env, home, file, commands: run.commands });
  for (const [name, value] of Object.entries(resolved.envFill)) env[name] = value;
  return { ...resolved, command };
}

/** --print-config's one JSON object: the command, the file, each setting's value and source. */
export function printConfigMessage(run: RunSettings, defs: Record<string, FlagDef>, flags: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
  return { type: 'config/effective', version: 1, command: run.command, file: run.file ?? null, settings: effectiveSettings(defs, flags, run.sources, env) };
}
