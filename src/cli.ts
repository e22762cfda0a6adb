/**
 * The CLI's single entry: the explicit command table oclif reads (package.json →
 * oclif.commands, strategy "explicit") and `main`, which bin/run.js calls. Bundled into
 * dist/offchain.js by scripts/build.mjs.
 */
import DeviceFail from './commands/device/fail.ts';
import DevicePay from './commands/device/pay.ts';
import DeviceReceipt from './commands/device/receipt.ts';
import DeviceRefundHtlc from './commands/device/refund-htlc.ts';
import DeviceSettle from './commands/device/settle.ts';
import GatewayClaim from './commands/gateway/claim.ts';
import GatewayComplete from './commands/gateway/complete.ts';
import GatewayFail from './commands/gateway/fail.ts';
import GatewayPay from './commands/gateway/pay.ts';
import GatewaySettle from './commands/gateway/settle.ts';
import ServeGateway from './commands/serve/gateway.ts';
import { Config, execute, flush, handle, run, type Interfaces } from '@oclif/core';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { homedir } from 'node:os';
import { applyConfigFile } from './lib/cli/config.ts';
import { BASH_VALUES_MARKER, bashValueCompletion } from './lib/cli/completion.ts';
import { BrokenPipe, onLateOutputError, outputFailure, writeOutput } from './lib/cli/output.ts';
import { completionRequest, completionScript, setupLine } from './lib/cli/autocomplete.ts';
import { OffchainError } from './lib/errors.ts';
import { describeError } from './lib/cli/base-command.ts';
import { reportError } from './lib/cli/error-line.ts';
import { suggestCommand } from './lib/cli/suggest.ts';
import { argvRules } from './lib/cli/argv.ts';
import CloseCredit from './commands/credit/close.ts';
import CommitmentClaim from './commands/commitment/claim.ts';
import CommitmentClose from './commands/commitment/close.ts';
import CommitmentFinalize from './commands/commitment/finalize.ts';
import CommitmentPenalty from './commands/commitment/penalty.ts';
import CommitmentPoint from './commands/commitment/point.ts';
import CommitmentInit from './commands/commitment/init.ts';
import CommitmentPoints from './commands/commitment/points.ts';
import CommitmentReceiveRevocation from './commands/commitment/receive-revocation.ts';
import CommitmentReceiveSigs from './commands/commitment/receive-sigs.ts';
import CommitmentRevoke from './commands/commitment/revoke.ts';
import CommitmentSign from './commands/commitment/sign.ts';
import CommitmentSweep from './commands/commitment/sweep.ts';
import CreditAbandon from './commands/credit/abandon.ts';
import CreditKeyset from './commands/credit/keyset.ts';
import CreditEcashCheck from './commands/credit/ecash/check.ts';
import CreditEcashFollow from './commands/credit/ecash/follow.ts';
import CreditList from './commands/credit/list.ts';
import ServeMint from './commands/serve/mint.ts';
import CreditStoreMigrate from './commands/credit/store/migrate.ts';
import StatechainStoreMigrate from './commands/statechain/store/migrate.ts';
import CreditTokenDecode from './commands/credit/token/decode.ts';
import CreditEcashRestore from './commands/credit/ecash/restore.ts';
import CreditEcashClaim from './commands/credit/ecash/claim.ts';
import DecodeOpenassets from './commands/openassets/decode.ts';
import DecodeCounterparty from './commands/counterparty/decode.ts';
import ExitCredit from './commands/credit/exit.ts';
import HtlcClaim from './commands/htlc/claim.ts';
import HtlcCooperate from './commands/htlc/cooperate.ts';
import HtlcCreate from './commands/htlc/create.ts';
import HtlcDecode from './commands/htlc/decode.ts';
import HtlcPunish from './commands/htlc/punish.ts';
import HtlcRefund from './commands/htlc/refund.ts';
import InvoiceDecode from './commands/invoice/decode.ts';
import KeyNew from './commands/key/new.ts';
import KeyShow from './commands/key/show.ts';
import MusigInit from './commands/musig/init.ts';
import MusigNonce from './commands/musig/nonce.ts';
import MusigSign from './commands/musig/sign.ts';
import OnionBlind from './commands/onion/blind.ts';
import OnionBuild from './commands/onion/build.ts';
import OnionPeel from './commands/onion/peel.ts';
import OnionErrorCreate from './commands/onion/error/create.ts';
import OnionErrorUnwrap from './commands/onion/error/unwrap.ts';
import OnionErrorWrap from './commands/onion/error/wrap.ts';
import OpenCredit from './commands/credit/open.ts';
import PackageCheck from './commands/package/check.ts';
import PackageChild from './commands/package/child.ts';
import PackageSubmit from './commands/package/submit.ts';
import PsbtAnalyze from './commands/psbt/analyze.ts';
import PtlcClaim from './commands/ptlc/claim.ts';
import PtlcCreate from './commands/ptlc/create.ts';
import PtlcExtract from './commands/ptlc/extract.ts';
import PtlcLockCheck from './commands/ptlc/lock-check.ts';
import PtlcLockPlan from './commands/ptlc/lock-plan.ts';
import PtlcLockSecret from './commands/ptlc/lock-secret.ts';
import PtlcPresign from './commands/ptlc/presign.ts';
import PtlcRefund from './commands/ptlc/refund.ts';
import PsbtCombine from './commands/psbt/combine.ts';
import PsbtDecode from './commands/psbt/decode.ts';
import PsbtExtract from './commands/psbt/extract.ts';
import PsbtFinalize from './commands/psbt/finalize.ts';
import RefundCredit from './commands/credit/refund.ts';
import RouteCheck from './commands/route/check.ts';
import RoutePlan from './commands/route/plan.ts';
import Rollover from './commands/credit/rollover.ts';
import SignUpdate from './commands/credit/sign-update.ts';
import StatechainBackup from './commands/statechain/backup.ts';
import StatechainDeposit from './commands/statechain/deposit.ts';
import StatechainTransfer from './commands/statechain/transfer.ts';
import StatechainVerify from './commands/statechain/verify.ts';
import StatechainWithdraw from './commands/statechain/withdraw.ts';
import ServeStatechain from './commands/serve/statechain.ts';

export const COMMANDS = {
  'credit:close': CloseCredit,
  'commitment:claim': CommitmentClaim,
  'commitment:close': CommitmentClose,
  'commitment:finalize': CommitmentFinalize,
  'commitment:penalty': CommitmentPenalty,
  'commitment:point': CommitmentPoint,
  'commitment:init': CommitmentInit,
  'commitment:points': CommitmentPoints,
  'commitment:receive-revocation': CommitmentReceiveRevocation,
  'commitment:receive-sigs': CommitmentReceiveSigs,
  'commitment:revoke': CommitmentRevoke,
  'commitment:sign': CommitmentSign,
  'commitment:sweep': CommitmentSweep,
  'credit:abandon': CreditAbandon,
  'device:fail': DeviceFail,
  'device:pay': DevicePay,
  'device:receipt': DeviceReceipt,
  'device:refund-htlc': DeviceRefundHtlc,
  'device:settle': DeviceSettle,
  'gateway:claim': GatewayClaim,
  'gateway:complete': GatewayComplete,
  'gateway:fail': GatewayFail,
  'gateway:pay': GatewayPay,
  'gateway:settle': GatewaySettle,
  'serve:gateway': ServeGateway,
  'credit:keyset': CreditKeyset,
  'credit:ecash:check': CreditEcashCheck,
  'credit:ecash:follow': CreditEcashFollow,
  'credit:list': CreditList,
  'serve:mint': ServeMint,
  'credit:store:migrate': CreditStoreMigrate,
  'credit:token:decode': CreditTokenDecode,
  'credit:ecash:restore': CreditEcashRestore,
  'credit:ecash:claim': CreditEcashClaim,
  'openassets:decode': DecodeOpenassets,
  'counterparty:decode': DecodeCounterparty,
  'credit:exit': ExitCredit,
  'htlc:claim': HtlcClaim,
  'htlc:cooperate': HtlcCooperate,
  'htlc:create': HtlcCreate,
  'htlc:decode': HtlcDecode,
  'htlc:punish': HtlcPunish,
  'htlc:refund': HtlcRefund,
  'invoice:decode': InvoiceDecode,
  'key:new': KeyNew,
  'key:show': KeyShow,
  'musig:init': MusigInit,
  'onion:blind': OnionBlind,
  'onion:build': OnionBuild,
  'onion:peel': OnionPeel,
  'onion:error:create': OnionErrorCreate,
  'onion:error:unwrap': OnionErrorUnwrap,
  'onion:error:wrap': OnionErrorWrap,
  'credit:open': OpenCredit,
  'package:check': PackageCheck,
  'package:child': PackageChild,
  'package:submit': PackageSubmit,
  'musig:nonce': MusigNonce,
  'musig:sign': MusigSign,
  'psbt:analyze': PsbtAnalyze,
  'psbt:combine': PsbtCombine,
  'psbt:decode': PsbtDecode,
  'psbt:extract': PsbtExtract,
  'psbt:finalize': PsbtFinalize,
  'ptlc:claim': PtlcClaim,
  'ptlc:create': PtlcCreate,
  'ptlc:extract': PtlcExtract,
  'ptlc:lock-check': PtlcLockCheck,
  'ptlc:lock-plan': PtlcLockPlan,
  'ptlc:lock-secret': PtlcLockSecret,
  'ptlc:presign': PtlcPresign,
  'ptlc:refund': PtlcRefund,
  'credit:refund': RefundCredit,
  'credit:rollover': Rollover,
  'route:check': RouteCheck,
  'route:plan': RoutePlan,
  'credit:sign-update': SignUpdate,
  'statechain:backup': StatechainBackup,
  'statechain:deposit': StatechainDeposit,
  'statechain:transfer': StatechainTransfer,
  'statechain:verify': StatechainVerify,
  'statechain:withdraw': StatechainWithdraw,
  'statechain:store:migrate': StatechainStoreMigrate,
  'serve:statechain': ServeStatechain,
};

/** argv as oclif reads it, and the older-name notice, for this table (lib/cli/argv.ts). */
export const { aliases: ALIASES, normalizeArgv, deprecatedAliasNotice } = argvRules(COMMANDS);

export async function main(rawArgv: string[], opts: { development?: boolean } = {}): Promise<void> {
  const argv = normalizeArgv(rawArgv);
  const notice = process.stderr.isTTY && !rawArgv.includes('-q') && !rawArgv.includes('--quiet') ? deprecatedAliasNotice(rawArgv) : undefined;
  if (notice) process.stderr.write(notice);
  try {
    applyConfigFile(process.env, homedir());
  } catch (e) {
    if (!(e instanceof OffchainError)) throw e;
    reportError(e.code, e.message, e.exitCode);
    process.exitCode = e.exitCode;
    return;
  }
  // A write error on standard output that arrives as an event (help text, a stream's
  // pipe) is coded too; without this oclif's own listener would rethrow it, uncaught.
  onLateOutputError((e) => {
    reportOutputFailure(e);
    process.exit(process.exitCode ?? 0);
  }, { replace: true });
  if (opts.development) {
    await execute({ args: argv, dir: import.meta.url, development: true });
    return;
  }
  try {
    const completion = completionRequest(argv, process.env.SHELL);
    if (completion) {
      // The one line for the rc file, or the script it evaluates: nothing written under ~/.cache (lib/cli/autocomplete.ts).
      if (completion.kind === 'line') await writeOutput(setupLine(packageBin(), completion.shell));
      else await writeOutput(await completionScript(await Config.load(await loadOptions(argv)), completion.shell, () => bashValueCompletion(completionCommands())));
    } else if (argv[0]?.startsWith('autocomplete')) {
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
      await run(argv, await loadOptions(argv));
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
 * oclif's flush (it waits for standard output to drain) meets a stdout that cannot be
 * written with the write's own error: one coded line (E_OUTPUT_WRITE, exit 1) unless the
 * command already reported its failure or the reader left (EPIPE, quiet).
 */
async function flushOutput(): Promise<void> {
  try {
    await flush();
  } catch (e) {
    reportOutputFailure(e);
  }
}

function reportOutputFailure(e: unknown): void {
  const failure = outputFailure(e);
  if (failure instanceof BrokenPipe || (process.exitCode !== undefined && process.exitCode !== 0)) return;
  const coded = failure as OffchainError;
  reportError(coded.code, coded.message, coded.exitCode);
  process.exitCode = coded.exitCode;
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
    if (command in COMMANDS) {
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
