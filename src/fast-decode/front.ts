/**
 * `offchain psbt decode` without oclif: the command scripts call most, answered by a small
 * bundle that bin/run.js loads instead of the whole CLI. This is its front — the invocation,
 * the input, the network rule, the answer's write — shared by two readers, each its own bundle
 * with its own V8 code cache, tried in turn:
 *
 * 1. ./plain.ts (dist/psbt-decode-plain.cjs): a PSBT that carries no key (src/lib/psbt/plain.ts),
 *    without btc-signer or the curve loaded at all;
 * 2. ./signer.ts (dist/psbt-decode.cjs): any other, through parsePsbt.
 *
 * Both run the same library code as src/commands/psbt/decode.ts — the same input reading,
 * format detection, network rule, reader, decodePsbt and canonical JSON — and take only the
 * invocations they can answer exactly as the full CLI would:
 *
 *   psbt decode [--in FILE | --in=FILE] [--network NET | --network=NET]
 *
 * with stdout not a terminal, none of OFFCHAIN_TEST_SEED / OFFCHAIN_SECP256K1 set (their
 * warnings belong to the full CLI), no $OFFCHAIN_IN, and a configuration file that sets nothing
 * but the network (anything else, and its errors, are the full CLI's: lib/cli/config.ts). Anything else — another flag, --help, --debug, and every
 * error — goes back to the full CLI (`{ done: false }`), which then answers or explains the
 * error in its own words; standard input already read is handed back with it, so nothing is
 * lost. test/e2e/fast-decode.test.ts holds the paths to the same bytes and exit codes.
 */
import { fstatSync, statSync, writeSync } from 'node:fs';
import { readConfigFile } from '../lib/cli/config-file.ts';
import { inputFrom, readInputBytes, stdinFailure, type StdinHandoff } from '../lib/cli/input.ts';
import { inputDocument, psbtBytesOf } from '../lib/cli/psbt-input.ts';
import { OffchainError } from '../lib/errors.ts';
import { BrokenPipe, OutputWriteError, onLateOutputError, outputFailure, writeOutput } from '../lib/cli/output.ts';
import { NETWORKS, type Network } from '../lib/network.ts';
import { reportError } from '../lib/cli/error-line.ts';

/**
 * Done, or not: then the full CLI runs, given standard input as read here (or the error reading
 * it met) — or, where only the PSBT was what this reader left (`psbt`), the next reader first.
 */
export type FastResult = { done: true } | { done: false; stdin?: StdinHandoff; psbt?: true };

/**
 * A reader's answer for these PSBT bytes (the message's network, if they came in one): the
 * decode's JSON text, or undefined — as for anything it throws — where it leaves the PSBT to the
 * next reader.
 */
export type Reader = (psbt: Uint8Array, flagNetwork: Network | undefined, messageNetwork: Network | undefined) => string | undefined;

type Options = { in?: string; network?: string };

/** The flags of the one form handled here, or undefined for anything else. */
function parseArgs(args: readonly string[]): Options | undefined {
  const opts: Options = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const m = /^--(in|network)(?:=(.*))?$/.exec(arg);
    if (!m) return undefined;
    const name = m[1] as keyof Options;
    const value = m[2] ?? args[++i];
    if (value === undefined || value === '' || opts[name] !== undefined || (m[2] === undefined && value.startsWith('-') && value !== '-')) return undefined;
    opts[name] = value;
  }
  return opts;
}

/**
 * Standard output is not a terminal. Told without process.stdout where fstat can: creating
 * that stream for a pipe loads node:net and the stream modules, 23 M of the 78 M instructions
 * this command ran beyond bare `node -e 0` (callgrind). Only a character device can be a
 * terminal; for one (/dev/null, /dev/full, a terminal) the stream is asked, as the full CLI asks it.
 */
function stdoutIsNotTerminal(): boolean {
  try {
    if (!fstatSync(1).isCharacterDevice()) return true;
  } catch {
    return false;
  }
  return !process.stdout.isTTY;
}

/**
 * Write the answer whole to descriptor 1, which is not a terminal: synchronously, as Node's
 * stdout writes to a file or a pipe on Linux, without creating process.stdout (see above) —
 * this process writes nothing else there. A failure is what writeOutput would report
 * (outputFailure: EPIPE the quiet BrokenPipe, anything else E_OUTPUT_WRITE). A descriptor the
 * parent left non-blocking may refuse a write (EAGAIN): the rest then goes through the stream,
 * which waits for the reader — as text, so only an ASCII answer (every byte a character, the
 * decode's JSON always in practice) is cut at a byte; any other goes through the stream whole.
 */
async function writeAnswer(text: string): Promise<void> {
  let done = 0;
  if (!NOT_ASCII.test(text)) {
    try {
      // A string written as UTF-8: for ASCII, the count of bytes written is the count of characters.
      while (done < text.length) done += writeSync(1, done === 0 ? text : text.slice(done));
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw outputFailure(e);
    }
  }
  onLateOutputError((late) => quit(late));
  await writeOutput(text.slice(done));
}

const NOT_ASCII = /[^\x00-\x7f]/;

/**
 * The home directory as os.homedir() finds it (libuv reads $HOME first, even empty; only an unset
 * $HOME sends it to the password database), without loading node:os when $HOME is set.
 */
function homeDirectory(): string {
  const home = process.env.HOME;
  return home !== undefined ? home : process.getBuiltinModule('node:os').homedir();
}

/**
 * The configuration file's network for `psbt decode` ([psbt decode]'s, else the top's), undefined
 * when it sets none; false when it holds anything else or cannot be read: its keys, sections and
 * errors are the full CLI's (lib/cli/config.ts).
 */
function networkOfConfig(): string | undefined | false {
  try {
    const lines = readConfigFile([], process.env, homeDirectory())?.lines ?? [];
    if (lines.some((l) => l.key !== 'network' || (l.section !== undefined && l.section !== 'psbt decode'))) return false;
    return (lines.find((l) => l.section !== undefined) ?? lines.at(-1))?.value;
  } catch {
    return false;
  }
}

/** The shortcut with `read` as its reader. `write`: how the answer is written (a test's collector; standard output otherwise). */
export async function runShortcut(argv: readonly string[], read: Reader, write: (text: string) => Promise<void> = writeAnswer): Promise<FastResult> {
  if (argv[0] !== 'psbt' || argv[1] !== 'decode' || !stdoutIsNotTerminal()) return { done: false };
  if (process.env.OFFCHAIN_TEST_SEED || process.env.OFFCHAIN_SECP256K1 || process.env.OFFCHAIN_IN) return { done: false };
  const opts = parseArgs(argv.slice(2));
  if (!opts) return { done: false };
  const configNetwork = networkOfConfig();
  if (configNetwork === false) return { done: false };
  let stdin: StdinHandoff | undefined;
  let text: string;
  try {
    // oclif's flag: --network, else $OFFCHAIN_NETWORK; a value outside the list is its error to word.
    const flagNetwork = opts.network ?? (process.env.OFFCHAIN_NETWORK || configNetwork);
    if (flagNetwork !== undefined && !(NETWORKS as readonly string[]).includes(flagNetwork)) return { done: false };
    const fromStdin = opts.in === undefined || opts.in === '-';
    // Only standard input is handed on (to the next reader, to the full CLI); a file is read
    // again by each. So `--in` must name a regular file: a pipe, /dev/stdin or a FIFO would be
    // drained (or wait for a writer) at the next read, and goes to the full CLI unread.
    if (!fromStdin && !isRegularFile(opts.in!)) return { done: false };
    let bytes: Uint8Array;
    try {
      bytes = await readInputBytes(inputFrom(opts.in));
    } catch (e) {
      if (fromStdin) stdin = stdinFailure(e);
      throw e;
    }
    if (fromStdin) stdin = bytes;
    const { bytes: psbt, network: messageNetwork } = psbtBytesOf(inputDocument(bytes, opts.in));
    // Serialised whole before writing, as the base command does: a failure leaves stdout empty.
    const answer = readOrLeave(read, psbt, flagNetwork as Network | undefined, messageNetwork);
    if (answer === undefined) return { done: false, stdin, psbt: true };
    text = answer;
  } catch {
    return { done: false, stdin };
  }
  // The answer is ours from here: a write that fails is reported as the full CLI reports
  // it (one coded line, exit 1; a reader that left, EPIPE, quietly), not handed back.
  try {
    await write(text);
  } catch (e) {
    quit(e);
  }
  return { done: true };
}

function isRegularFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false; // the full CLI says why it cannot be read
  }
}

function readOrLeave(read: Reader, psbt: Uint8Array, flagNetwork: Network | undefined, messageNetwork: Network | undefined): string | undefined {
  try {
    return read(psbt, flagNetwork, messageNetwork);
  } catch {
    return undefined;
  }
}

function quit(e: unknown): never {
  if (!(e instanceof BrokenPipe)) {
    const coded = e instanceof OffchainError ? e : new OutputWriteError(e as NodeJS.ErrnoException);
    reportError(coded.code, coded.message, coded.exitCode);
    process.exitCode = coded.exitCode;
  }
  process.exit(process.exitCode ?? 0);
}

