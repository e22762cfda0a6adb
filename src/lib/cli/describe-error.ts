/**
 * What an error becomes for the one line that reports it (error-line.ts): its code, a
 * one-line message and its exit code — ours as thrown, oclif's parse errors as E_USAGE (exit
 * 2), a full disk as the store's code, anything else E_INTERNAL (exit 1). Every path that
 * reports an error uses it: a command's failure, the stream's and the service's refusals.
 */
import { ExitCode, OffchainError } from '../errors.ts';
import { isFullError, stateAccessError } from '../store/write-errors.ts';

/**
 * A message given as an argument, as `bitcoin-cli decodepsbt` and hal take it: say where it
 * goes instead (the value itself is cut short in the error line, error-line.ts).
 */
function positionalHint(text: string): string {
  const arg = /^Unexpected arguments?: (\S+)/.exec(text)?.[1];
  if (arg === undefined) return '';
  const kind = /^(cHNidP8|70736274ff)/i.test(arg) ? 'a PSBT' : /^ln/i.test(arg) ? 'an invoice' : /^cashu[AB]/.test(arg) ? 'a token' : arg.length > 40 || arg.startsWith('{') ? 'an input' : undefined;
  return kind === undefined ? '' : ` — ${kind} is read from standard input or --in FILE, not from an argument: pass it on stdin (… | offchain …) or with --in`;
}

export function describeError(e: unknown): { code: string; message: string; exitCode: number } {
  const oneLine = (s: string) => s.split('\n')[0]!.trim();
  if (e instanceof OffchainError) {
    // A flag's own parser refused its value (hexFlag): oclif prefixes "Parsing --flag" and
    // appends "See more help with --help" on lines of their own; our message names the flag.
    const parsing = /^Parsing --[\w-]+ \n\t([^\n]*)/.exec(e.message);
    return { code: e.code, message: parsing ? `${parsing[1]!.trim()} (see --help)` : oneLine(e.message), exitCode: e.exitCode };
  }
  // oclif's parser errors (unknown flag, missing value, bad option) carry oclif.exit = 2.
  const oclif = (e as { oclif?: { exit?: number } } | undefined)?.oclif;
  if (oclif && e instanceof Error) {
    // oclif words some parse errors over several lines ("The following error occurred:",
    // the reason, "See more help with --help"): keep the reasons, on one line.
    const reasons = e.message
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !/^The following errors? occurred:?$/i.test(l) && !/^See more help with/i.test(l));
    const text = reasons.join('; ') || oneLine(e.message);
    return { code: 'E_USAGE', message: `${text}${positionalHint(text)} (see --help)`, exitCode: ExitCode.usage };
  }
  // A full filesystem met by a write no store path codes itself: still the store's code, not E_INTERNAL.
  if (isFullError(e)) {
    const full = stateAccessError(e, (e as { path?: string }).path ?? 'the state directory') as OffchainError;
    return { code: full.code, message: oneLine(full.message), exitCode: full.exitCode };
  }
  const message = e instanceof Error ? e.message : String(e);
  return { code: 'E_INTERNAL', message: `${oneLine(message)} (rerun with --debug for details)`, exitCode: ExitCode.general };
}
