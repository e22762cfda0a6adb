/**
 * The CLI's single entry: the explicit command table oclif reads (package.json →
 * oclif.commands, strategy "explicit") and `main`, which bin/run.js calls. Bundled into
 * dist/offchain.cjs by scripts/build.mjs.
 */
import { Config, execute, handle, run, type Command, type Interfaces } from '@oclif/core';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { homedir } from 'node:os';
import { BASH_VALUES_MARKER, bashValueCompletion } from './lib/cli/completion.ts';
import { onLateOutputError, writeOutput } from './lib/cli/output.ts';
import { flushOutput, reportOutputFailure } from './lib/cli/flush-output.ts';
import { completionRequest, completionScript, setupLine } from './lib/cli/autocomplete.ts';
import { describeError } from './lib/cli/describe-error.ts';
import { logLinesAsJson, reportError } from './lib/cli/error-line.ts';
import { suggestCommand } from './lib/cli/suggest.ts';
import { argvRules } from './lib/cli/argv.ts';

/**
 * Every command, by id, and the module that defines it: `offchain credit open` is
 * src/commands/credit/open.ts (the folders are the command tree, STYLE.md). A module is
 * loaded only when its command runs: `main` loads the one argv names before oclif looks
 * for it; help and listings answer from oclif's manifest; only shell completion and the
 * build (which writes the manifest) load every one. Loading all of them, and all they
 * import, at every start cost ~10 ms of CPU a command (`route plan`: 110 → 100 ms).
 */
const LOADERS = {
  'commitment:claim': () => import('./commands/commitment/claim.ts'),
  'commitment:close': () => import('./commands/commitment/close.ts'),
  'commitment:finalize': () => import('./commands/commitment/finalize.ts'),
  'commitment:init': () => import('./commands/commitment/init.ts'),
  'commitment:list': () => import('./commands/commitment/list.ts'),
  'commitment:penalty': () => import('./commands/commitment/penalty.ts'),
  'commitment:point': () => import('./commands/commitment/point.ts'),
  'commitment:points': () => import('./commands/commitment/points.ts'),
  'commitment:receive-revocation': () => import('./commands/commitment/receive-revocation.ts'),
  'commitment:receive-sigs': () => import('./commands/commitment/receive-sigs.ts'),
  'commitment:revoke': () => import('./commands/commitment/revoke.ts'),
  'commitment:sign': () => import('./commands/commitment/sign.ts'),
  'commitment:tower-export': () => import('./commands/commitment/tower-export.ts'),
  'commitment:sweep': () => import('./commands/commitment/sweep.ts'),
  'counterparty:decode': () => import('./commands/counterparty/decode.ts'),
  'credit:abandon': () => import('./commands/credit/abandon.ts'),
  'credit:close': () => import('./commands/credit/close.ts'),
  'credit:ecash:check': () => import('./commands/credit/ecash/check.ts'),
  'credit:ecash:claim': () => import('./commands/credit/ecash/claim.ts'),
  'credit:ecash:follow': () => import('./commands/credit/ecash/follow.ts'),
  'credit:ecash:restore': () => import('./commands/credit/ecash/restore.ts'),
  'credit:exit': () => import('./commands/credit/exit.ts'),
  'credit:keyset': () => import('./commands/credit/keyset.ts'),
  'credit:list': () => import('./commands/credit/list.ts'),
  'credit:open': () => import('./commands/credit/open.ts'),
  'credit:refund': () => import('./commands/credit/refund.ts'),
  'credit:rollover': () => import('./commands/credit/rollover.ts'),
  'credit:sign-update': () => import('./commands/credit/sign-update.ts'),
  'credit:store:migrate': () => import('./commands/credit/store/migrate.ts'),
  'credit:token:decode': () => import('./commands/credit/token/decode.ts'),
  'device:fail': () => import('./commands/device/fail.ts'),
  'device:pay': () => import('./commands/device/pay.ts'),
  'device:receipt': () => import('./commands/device/receipt.ts'),
  'device:refund-htlc': () => import('./commands/device/refund-htlc.ts'),
  'device:settle': () => import('./commands/device/settle.ts'),
  'gateway:claim': () => import('./commands/gateway/claim.ts'),
  'gateway:complete': () => import('./commands/gateway/complete.ts'),
  'gateway:fail': () => import('./commands/gateway/fail.ts'),
  'gateway:pay': () => import('./commands/gateway/pay.ts'),
  'gateway:settle': () => import('./commands/gateway/settle.ts'),
  'htlc:claim': () => import('./commands/htlc/claim.ts'),
  'htlc:cooperate': () => import('./commands/htlc/cooperate.ts'),
  'htlc:create': () => import('./commands/htlc/create.ts'),
  'htlc:decode': () => import('./commands/htlc/decode.ts'),
  'htlc:punish': () => import('./commands/htlc/punish.ts'),
  'htlc:refund': () => import('./commands/htlc/refund.ts'),
  'htlc:watch-add': () => import('./commands/htlc/watch-add.ts'),
  'invoice:decode': () => import('./commands/invoice/decode.ts'),
  'key:new': () => import('./commands/key/new.ts'),
  'key:show': () => import('./commands/key/show.ts'),
  'musig:init': () => import('./commands/musig/init.ts'),
  'musig:nonce': () => import('./commands/musig/nonce.ts'),
  'musig:sign': () => import('./commands/musig/sign.ts'),
  'onion:blind': () => import('./commands/onion/blind.ts'),
  'onion:build': () => import('./commands/onion/build.ts'),
  'onion:error:create': () => import('./commands/onion/error/create.ts'),
  'onion:error:unwrap': () => import('./commands/onion/error/unwrap.ts'),
  'onion:error:wrap': () => import('./commands/onion/error/wrap.ts'),
  'onion:peel': () => import('./commands/onion/peel.ts'),
  'openassets:decode': () => import('./commands/openassets/decode.ts'),
  'package:check': () => import('./commands/package/check.ts'),
  'package:child': () => import('./commands/package/child.ts'),
  'package:submit': () => import('./commands/package/submit.ts'),
  'psbt:analyze': () => import('./commands/psbt/analyze.ts'),
  'psbt:combine': () => import('./commands/psbt/combine.ts'),
  'psbt:decode': () => import('./commands/psbt/decode.ts'),
  'psbt:extract': () => import('./commands/psbt/extract.ts'),
  'psbt:finalize': () => import('./commands/psbt/finalize.ts'),
  'ptlc:claim': () => import('./commands/ptlc/claim.ts'),
  'ptlc:create': () => import('./commands/ptlc/create.ts'),
  'ptlc:extract': () => import('./commands/ptlc/extract.ts'),
  'ptlc:lock-check': () => import('./commands/ptlc/lock-check.ts'),
  'ptlc:lock-plan': () => import('./commands/ptlc/lock-plan.ts'),
  'ptlc:lock-secret': () => import('./commands/ptlc/lock-secret.ts'),
  'ptlc:presign': () => import('./commands/ptlc/presign.ts'),
  'ptlc:refund': () => import('./commands/ptlc/refund.ts'),
  'ptlc:watch-add': () => import('./commands/ptlc/watch-add.ts'),
  'route:check': () => import('./commands/route/check.ts'),
  'route:plan': () => import('./commands/route/plan.ts'),
  'serve:gateway': () => import('./commands/serve/gateway.ts'),
  'serve:mint': () => import('./commands/serve/mint.ts'),
  'serve:statechain': () => import('./commands/serve/statechain.ts'),
  'statechain:backup': () => import('./commands/statechain/backup.ts'),
  'statechain:deposit': () => import('./commands/statechain/deposit.ts'),
  'statechain:list': () => import('./commands/statechain/list.ts'),
  'statechain:store:migrate': () => import('./commands/statechain/store/migrate.ts'),
  'statechain:tower-export': () => import('./commands/statechain/tower-export.ts'),
  'statechain:transfer': () => import('./commands/statechain/transfer.ts'),
  'statechain:verify': () => import('./commands/statechain/verify.ts'),
  'statechain:withdraw': () => import('./commands/statechain/withdraw.ts'),
  'watch': () => import('./commands/watch.ts'),
} satisfies Record<string, () => Promise<{ default: Command.Class }>>;

export type CommandId = keyof typeof LOADERS;
const IDS = Object.keys(LOADERS) as CommandId[];

/**
 * The other names a command answers to: its name before the topic form (docs/cli.md,
 * "Commands"), kept as a plain alias. Here rather than on each class, so that argv is
 * rewritten (an alias run as its command) before any command module is loaded; a class
 * gets its aliases as it loads.
 */
const ALIAS_NAMES: Partial<Record<CommandId, readonly string[]>> = {
  'counterparty:decode': ['decode-counterparty'],
  'credit:close': ['close-credit'],
  'credit:exit': ['exit-credit'],
  'credit:open': ['open-credit'],
  'credit:refund': ['refund-credit'],
  'credit:rollover': ['rollover'],
  'credit:sign-update': ['sign-update'],
  'onion:blind': ['onion-blind'],
  'onion:build': ['onion-build'],
  'onion:error:create': ['onion-error:create'],
  'onion:error:unwrap': ['onion-error:unwrap'],
  'onion:error:wrap': ['onion-error:wrap'],
  'onion:peel': ['onion-peel'],
  'openassets:decode': ['decode-openassets'],
  'statechain:backup': ['statechain-backup'],
  'statechain:deposit': ['statechain-deposit'],
  'statechain:transfer': ['statechain-transfer'],
  'statechain:verify': ['statechain-verify'],
  'statechain:withdraw': ['statechain-withdraw'],
};

const loaded = new Map<string, Command.Class>();

/** oclif read a command class `loadCommands` had not loaded (see COMMANDS). */
class CommandNotLoaded extends Error {}

const isCommandId = (id: string): id is CommandId => Object.hasOwn(LOADERS, id);

/** Loads these commands' modules (each once) and gives each class its aliases. */
export async function loadCommands(ids: readonly CommandId[] = IDS): Promise<void> {
  await Promise.all(ids.filter((id) => !loaded.has(id)).map(async (id) => {
    const command = (await LOADERS[id]()).default;
    command.aliases = [...(ALIAS_NAMES[id] ?? [])];
    loaded.set(id, command);
  }));
}

/**
 * oclif's explicit command table (package.json oclif.commands → dist/commands.cjs →
 * here): id → command class, for the commands loaded so far (`loadCommands`). With its
 * manifest oclif reads only the id it runs; without one (deleted, or stale after a version
 * change) it reads them all, and `main` then loads them all and runs again.
 */
export const COMMANDS = Object.defineProperties({} as Record<CommandId, Command.Class>, Object.fromEntries(
  IDS.map((id) => [id, {
    enumerable: true,
    get() {
      const command = loaded.get(id);
      if (!command) throw new CommandNotLoaded(`command ${id} was read before src/cli.ts loaded it (loadCommands)`);
      return command;
    },
  }]),
));

/** argv as oclif reads it, and the older-name notice, for this table (lib/cli/argv.ts). */
export const { aliases: ALIASES, primaryWords, normalizeArgv, deprecatedAliasNotice } = argvRules(
  Object.fromEntries(IDS.map((id) => [id, { aliases: [...(ALIAS_NAMES[id] ?? [])] }])),
);

/**
 * The command an argv (normalised) runs, to load before oclif looks for it: the one its
 * leading words name (the longest id they start with; words may be joined with `:`, an
 * alias's too, and empty ones are dropped, as oclif reads them), or none. Help, listings and "did you mean"
 * read oclif's manifest and the ids, not the classes; shell completion loads every command
 * itself (`completionCommands`).
 */
function commandsFor(argv: readonly string[]): CommandId[] {
  const joined: string[] = [];
  for (const a of argv) {
    if (a.startsWith('-')) break;
    joined.push(...a.split(':').filter((w) => w !== ''));
  }
  const words = primaryWords(joined);
  for (let n = words.length; n > 0; n--) {
    const id = words.slice(0, n).join(':');
    if (isCommandId(id)) return [id];
  }
  return [];
}

/** oclif's run; if it read a command not loaded (no usable manifest), every command loaded and once more. */
async function runLoaded(argv: string[], options: Interfaces.LoadOptions): Promise<void> {
  try {
    await run(argv, options);
  } catch (e) {
    if (!(e instanceof CommandNotLoaded)) throw e;
    await loadCommands();
    await run(argv, options);
  }
}

export async function main(rawArgv: string[], opts: { development?: boolean } = {}): Promise<void> {
  const argv = normalizeArgv(rawArgv);
  const notice = process.stderr.isTTY && !rawArgv.includes('-q') && !rawArgv.includes('--quiet') ? deprecatedAliasNotice(rawArgv) : undefined;
  if (notice) process.stderr.write(notice);
  // A write error on standard output that arrives as an event (help text, a stream's
  // pipe) is coded too; without this oclif's own listener would rethrow it, uncaught.
  onLateOutputError((e) => {
    reportOutputFailure(e);
    process.exit(process.exitCode ?? 0);
  }, { replace: true });
  // The command argv names, before oclif looks for it (COMMANDS); in development every one.
  const named = commandsFor(argv);
  // A service's standard error is its JSON log from its first line: a refusal before the command
  // runs (a stray word after it, below) is one of its lines too (topics/serve/log.ts).
  if (named[0]?.startsWith('serve:')) logLinesAsJson(named[0].slice('serve:'.length));
  await loadCommands(opts.development ? undefined : named);
  if (opts.development) {
    // oclif finds the table through dist/commands.cjs, which hands back the table registered
    // here when there is one: these sources' commands, not the last build's.
    (globalThis as Record<symbol, unknown>)[Symbol.for('offchain.bundle')] ??= { COMMANDS };
    await execute({ args: argv, dir: import.meta.url, development: true });
    return;
  }
  try {
    const completion = completionRequest(argv, process.env.SHELL);
    if (completion) {
      await loadCommands(); // the bash script completes every command's flags (completionCommands)
      // The one line for the rc file, or the script it evaluates: nothing written under ~/.cache (lib/cli/autocomplete.ts).
      if (completion.kind === 'line') await writeOutput(setupLine(packageBin(), completion.shell));
      else await writeOutput(await completionScript(await Config.load(await loadOptions(argv)), completion.shell, () => bashValueCompletion(completionCommands())));
    } else if (argv[0]?.startsWith('autocomplete')) {
      await loadCommands(); // completeBashValues: every command's flags
      const config = await Config.load(await loadOptions(argv));
      const restore = argv[1] === 'bash' ? rewriteStdout(accurateBashSetup) : () => {};
      try {
        await run(argv, config);
      } finally {
        restore();
      }
      await flushOutput();
      completeBashValues(config);
    } else {
      await runLoaded(argv, await loadOptions(argv));
      await flushOutput();
    }
  } catch (e) {
    // Help and listings are written by oclif itself: a write error there is coded as ours are.
    if ((e as NodeJS.ErrnoException | undefined)?.syscall === 'write') return reportOutputFailure(e);
    // An unknown command (or a stray word after one; `help nope` words it "Command nope
    // not found.") gets our one-line error format.
    const unknown = e instanceof Error ? /^command (.+) not found\.?$/i.exec(e.message) : null;
    if (unknown) {
      const [code, message] = unknownCommand(unknown[1]!);
      reportError(code, message, 2);
      process.exitCode = 2;
      return;
    }
    // A parse error of a command that is not ours (`autocomplete fish`): one coded line too.
    const oclifExit = (e as { oclif?: { exit?: number } } | undefined)?.oclif?.exit;
    if (e instanceof Error && oclifExit !== undefined && oclifExit !== 0 && e.name !== 'ExitError') {
      const d = describeError(e);
      reportError(d.code, d.message, d.exitCode);
      process.exitCode = d.exitCode;
      return;
    }
    return handle(e as Error);
  }
}

/**
 * What to say of an argv oclif could not match: a known command followed by a stray
 * word is almost always an input given as an argument (`psbt decode file.psbt`), which
 * commands read from --in or standard input instead.
 */
function unknownCommand(id: string): [code: string, message: string] {
  const words = id.split(':');
  for (let n = words.length - 1; n > 0; n--) {
    const command = words.slice(0, n).join(':');
    if (isCommandId(command)) {
      const extra = words.slice(n).join(':');
      return ['E_USAGE', `${command.replace(/:/g, ' ')} takes no argument "${extra}": pass a file with --in ${extra}, or pipe it on standard input`];
    }
  }
  const meant = suggestCommand(words, [...Object.keys(COMMANDS), ...ALIASES.map(([a]) => a.join(':')), 'help', 'autocomplete']);
  const hint = meant ? `did you mean "${meant}"? ` : '';
  return ['E_UNKNOWN_COMMAND', `"${id.replace(/:/g, ' ')}" is not an offchain command; ${hint}see offchain --help`];
}

/**
 * The plugin's setup text is shared by bash and zsh; in bash the completion lists names
 * only (no summaries), and offchain's addition completes flag values and file names.
 */
export function accurateBashSetup(text: string): string {
  return text.replace(
    'displays a list of commands (or flags if you type --), along with their summaries.',
    'lists the commands (or the flags if you type --; the values of flags such as --network and --role; file names after a FILE flag such as --in).',
  );
}

function rewriteStdout(rewrite: (text: string) => string): () => void {
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) =>
    write(typeof chunk === 'string' ? rewrite(chunk) : chunk, ...(rest as []))) as typeof process.stdout.write;
  return () => {
    process.stdout.write = write;
  };
}

/**
 * After `offchain autocomplete …` built the completion cache, give its bash function the
 * completion of flag values that the plugin writes only for zsh (lib/cli/completion.ts).
 */
function completeBashValues(config: Config): void {
  const file = join(config.cacheDir, 'autocomplete', 'functions', 'bash', `${config.bin}.bash`);
  if (!existsSync(file) || readFileSync(file, 'utf8').includes(BASH_VALUES_MARKER)) return;
  appendFileSync(file, `\n${bashValueCompletion(completionCommands())}`);
}

/** The command's name (package.json oclif.bin), without loading oclif's configuration. */
function packageBin(): string {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { oclif: { bin: string } }).oclif.bin;
}

/** Every command's names and flags, for the bash completion: every command loaded first (loadCommands). */
function completionCommands() {
  return Object.entries(COMMANDS).flatMap(([id, command]) =>
    [id, ...((command as { aliases?: string[] }).aliases ?? [])].map((name) => ({ id: name, flags: { ...command.baseFlags, ...command.flags } })));
}

/**
 * Plugins (shell completion) are needed only by `autocomplete` itself and by help and
 * listings; every other invocation skips resolving and loading them (measured ~6 ms of
 * a ~120 ms cold start).
 */
async function loadOptions(argv: string[]): Promise<Interfaces.LoadOptions> {
  const first = argv[0] ?? '';
  const helpish = argv.length === 0 || first === 'help' || first.startsWith('autocomplete') || argv.some((a) => a === '--help' || a === '-h');
  if (helpish) return import.meta.url;
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const pjson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Interfaces.PJSON;
  return { root, pjson: { ...pjson, oclif: { ...pjson.oclif, plugins: [] } } };
}
