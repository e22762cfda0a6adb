/**
 * The base every offchain command extends. It owns the whole command-line contract
 * (BRIEF §2) so that commands stay thin: flag parsing, reading the input to EOF and
 * detecting its format, the network rule, secrets, the deterministic test mode,
 * canonical JSON / `--psbt` output written in one piece at the end, and the error model
 * (one line on stderr with a stable code, exit codes 0–5, stack traces only with
 * `--debug`).
 *
 * A command implements `execute()` and returns its result; it never writes to stdout
 * or calls process.exit itself.
 */
import { Command, type Interfaces } from '@oclif/core';
import { homedir } from 'node:os';
import { base64 } from '@scure/base';
import { MalformedInputError, RefusedError, UsageError } from '../errors.ts';
import { stringifyMessage, stringifyLine } from '../json.ts';
import { resolveNetwork, type Network } from '../network.ts';
import { deterministicRandom, systemRandom, type RandomSource } from '../random.ts';
import type { KeyPair } from '../keys/keys.ts';
import type { ChainSource } from '../chain/types.ts';
import type { Transaction } from '@scure/btc-signer';
import { globalFlags } from './flags.ts';
import type { StateDb } from '../store/sqlite/database.ts';
import { stateDirOf } from './state-dir.ts';
import { detectFormat, inputFrom, jsonLines, readFlagFile, readInputBytes, type InputDocument } from './input.ts';
import { inputDocument, psbtBytesOf } from './psbt-input.ts';
import { createTerminal, type Terminal } from './terminal.ts';
import { wantsHuman } from './human.ts';
import { nearest } from './suggest.ts';
import { BrokenPipe, onLateOutputError, writeOutput, writeOutputLine } from './output.ts';
import { reportError } from './error-line.ts';
import { describeError } from './describe-error.ts';

export const TEST_SEED_ENV = 'OFFCHAIN_TEST_SEED';

/** What a command returns: a JSON message (optionally with its PSBT) or plain text. */
export type CommandResult =
  | { message: Record<string, unknown>; psbt?: Uint8Array; /** the view for people (--human, or stdout a terminal): lib/cli/human.ts */ human?: () => string }
  | { text: string };

export type InferredFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof OffchainCommand)['baseFlags'] & T['flags']>;
export type InferredArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>;

export abstract class OffchainCommand<T extends typeof Command> extends Command {
  static override baseFlags = globalFlags;
  static override enableJsonFlag = false;

  protected flags!: InferredFlags<T>;
  protected args!: InferredArgs<T>;
  protected term!: Terminal;
  protected random!: RandomSource;
  /** Streaming/long-running commands set this to keep noble's large precompute tables. */
  protected longRunning = false;
  /**
   * Set by the commands whose work is mostly secp256k1 arithmetic through the selected
   * backend (MuSig2 sessions, the statechain's signer, ECDH at each onion hop): unless
   * $OFFCHAIN_SECP256K1 chose, they start on the system's libsecp256k1 or the native
   * binding when one loads (`selectSecp256k1`), noble otherwise.
   */
  protected curveWork = false;

  /** The command's work: read input via the helpers below, call src/lib, return the result. */
  protected abstract execute(): Promise<CommandResult | void>;

  override async run(): Promise<void> {
    this.term = createTerminal(process.stderr, process.env);
    // A write error that arrives after the command moved on (a stream's pipe): one coded
    // line and exit 1, or — a closed pipe (`| head`), the reader's choice — a quiet exit.
    onLateOutputError((e) => {
      const failedAlready = process.exitCode !== undefined && process.exitCode !== 0;
      if (!(e instanceof BrokenPipe) && !failedAlready) this.fail(e);
      process.exit(process.exitCode ?? 0);
    }, { replace: true });
    try {
      const ctor = this.constructor as unknown as T & typeof OffchainCommand;
      const settings = await this.settings();
      // --print-config shows what is set and what is missing: no flag is required for it.
      const printing = settings.printConfig;
      const { flags, args } = await this.parse({
        flags: printing ? optional(ctor.flags) : ctor.flags,
        baseFlags: ctor.baseFlags,
        args: ctor.args,
        strict: ctor.strict,
        enableJsonFlag: false,
      }, withWords(this.argv, settings.argv));
      this.flags = flags as InferredFlags<T>;
      this.args = args as InferredArgs<T>;
      this.term.quiet = (flags as { quiet?: boolean }).quiet === true;
      if ((flags as { 'print-config'?: boolean })['print-config'] === true) return await this.emit(await this.printConfig(settings));
      this.random = this.randomSource();
      if (!this.longRunning) (await import('../curve.ts')).setBasePointWindow(4);
      await this.selectSecp256k1();
      // Each step of the command's state is a transaction of its own (store/sqlite/database.ts):
      // committed before the result is printed, rolled back when it throws.
      let result: CommandResult | void;
      try {
        result = await this.execute();
      } finally {
        this.closeState();
      }
      if (result) await this.emit(result);
    } catch (e) {
      // We own the error path, including parse errors: tell oclif parsing was handled so
      // it does not add its "did not parse its arguments" warning (development/test only).
      (this as unknown as { parsed: boolean }).parsed = true;
      this.fail(e);
    }
  }

  /** The flags' definitions, base flags included, by name. */
  private flagDefs(): Record<string, import('./config.ts').FlagDef> {
    const ctor = this.constructor as unknown as { flags?: Record<string, unknown>; baseFlags?: Record<string, unknown> };
    return { ...ctor.baseFlags, ...ctor.flags } as Record<string, import('./config.ts').FlagDef>;
  }

  /** The configuration file and the environment (lib/cli/config.ts): the words they add to argv, where each setting came from. */
  private async settings(): Promise<import('./config.ts').RunSettings> {
    const { settingsOfRun } = await import('./config.ts');
    const id = (this.constructor as { id?: string }).id ?? this.id ?? '';
    const commands = () => Object.fromEntries(this.config.commands.map((c) => [c.id.replace(/:/g, ' '), c.flags as Record<string, { multiple?: boolean }>]));
    return settingsOfRun({ id, defs: this.flagDefs(), argv: this.argv, commands });
  }

  /** --print-config: the effective settings, secrets redacted, the file named; nothing else runs. */
  private async printConfig(run: import('./config.ts').RunSettings): Promise<CommandResult> {
    const { printConfigMessage } = await import('./config.ts');
    return { message: printConfigMessage(run, this.flagDefs(), this.flags as Record<string, unknown>) };
  }

  /**
   * A flag's old spelling (renamedFrom, flags.ts) was used: one line on standard error naming
   * the new one, in our warning format (oclif's own stops at the first flag without aliases
   * and misses `--old=value`).
   */
  protected override warnIfFlagDeprecated(flags: Record<string, unknown>): void {
    const defs = this.flagDefs() as Record<string, { aliases?: string[]; deprecateAliases?: boolean }>;
    const end = this.argv.indexOf('--');
    const words = end === -1 ? this.argv : this.argv.slice(0, end);
    for (const name of Object.keys(flags)) {
      const def = defs[name];
      if (def?.deprecateAliases !== true) continue;
      for (const old of def.aliases ?? []) {
        if (words.some((w) => w === `--${old}` || w.startsWith(`--${old}=`))) this.term.warn(`--${old} is deprecated: it is now --${name} (same value, same meaning)`);
      }
    }
  }

  /** The secp256k1 backend for this command (./secp256k1-choice.ts); nothing loaded for a command without curve work. */
  private async selectSecp256k1(): Promise<void> {
    if (!process.env.OFFCHAIN_SECP256K1 && !this.curveWork) return;
    const { selectForCommand } = await import('./secp256k1-choice.ts');
    await selectForCommand(this.curveWork, process.env, (line) => this.term.warn(line));
  }

  /** For long-running modes: the fastest backend available, unless $OFFCHAIN_SECP256K1 chose. */
  protected async useFastestBackend(): Promise<string> {
    const { selectFastest } = await import('./secp256k1-choice.ts');
    return selectFastest(process.env, (line) => this.term.warn(line));
  }

  private randomSource(): RandomSource {
    const seed = process.env[TEST_SEED_ENV];
    if (seed === undefined || seed === '') return systemRandom;
    if (this.flagNetwork() === 'mainnet') {
      throw new RefusedError('E_TEST_SEED_MAINNET', `${TEST_SEED_ENV} makes every key and nonce predictable; it is refused on mainnet`);
    }
    this.term.warn(`${TEST_SEED_ENV} is set: all randomness is DETERMINISTIC (tests only). Never use this with real funds.`);
    return deterministicRandom(seed);
  }

  private flagNetwork(): Network | undefined {
    return (this.flags as { network?: Network }).network;
  }

  /** The network of this invocation (BRIEF §2): flag and message must agree. */
  protected network(fromMessage?: Network): Network {
    const network = resolveNetwork(this.flagNetwork(), fromMessage);
    if (network === 'mainnet' && this.random.deterministic) {
      throw new RefusedError('E_TEST_SEED_MAINNET', `${TEST_SEED_ENV} makes every key and nonce predictable; it is refused on mainnet`);
    }
    return network;
  }

  /**
   * The bytes of a file named by a flag (`--offer FILE`, `--child FILE`, …): a missing or
   * unreadable file, or a directory, is E_INPUT_FILE (exit 2) naming that flag — one code
   * for every flag (src/lib/cli/input.ts `readFlagFile`).
   */
  protected readFlagFile(flag: string, path: string): Uint8Array {
    return readFlagFile(flag, path);
  }

  /** What has taken standard input in this run: one input at most comes from it. */
  private stdinReader?: string;

  /**
   * Standard input is read for `by` (`--in -`, `--route -`, …): refused (E_USAGE, exit 2) if
   * another input took it already; the main input (`again`) may be asked for twice, a flag's `-` not.
   */
  protected claimStdin(by: string, again = false): void {
    if (this.stdinReader !== undefined && !(again && this.stdinReader === by)) {
      throw new UsageError('E_USAGE', `${by} and ${this.stdinReader} both read standard input: give one of them a file`);
    }
    this.stdinReader = by;
  }

  /**
   * The bytes of a file a flag names, or of standard input for `-`, so one command's output
   * pipes into another's flag (`route plan … | ptlc lock-plan --route -`). Only one input
   * comes from standard input (`claimStdin`).
   */
  protected async readFlagInput(flag: string, path: string): Promise<Uint8Array> {
    if (path !== '-') return readFlagFile(flag, path);
    this.claimStdin(`${flag} -`);
    return readInputBytes(inputFrom('-', flag));
  }

  /** The flag (`--name`) whose value is `path`, for messages about a file a caller did not name the flag of. */
  protected flagFor(path: string): string {
    const names = Object.entries(this.flags as Record<string, unknown>)
      .filter(([, v]) => v === path || (Array.isArray(v) && v.includes(path)))
      .map(([k]) => `--${k}`);
    return names.length > 0 ? names.join('/') : 'the file';
  }

  /** A PSBT a flag other than --in names (a wallet's funded PSBT): binary, base64 or hex, or a message carrying one. */
  protected async readPsbtAt(path: string, flag = this.flagFor(path)): Promise<Transaction> {
    const { parsePsbt } = await import('../psbt/parse.ts');
    return parsePsbt(psbtBytesOf(detectFormat(await this.readFlagInput(flag, path), `${flag} ${path}`)).bytes);
  }

  protected async readDocument(): Promise<InputDocument> {
    const path = (this.flags as { in?: string }).in;
    if (path === undefined || path === '-') this.claimStdin(path === '-' ? '--in -' : 'the input (no --in)', true);
    return inputDocument(await readInputBytes(inputFrom(path)), path);
  }

  /**
   * A PSBT given directly (base64, hex or binary) or inside a JSON message's "psbt"
   * field; a message's network must agree with --network.
   */
  protected async readPsbt(doc?: InputDocument): Promise<{ tx: Transaction; network: Network; messageType?: string; bytes: Uint8Array }> {
    const input = doc ?? (await this.readDocument());
    const { bytes, network, messageType } = psbtBytesOf(input);
    const { parsePsbt } = await import('../psbt/parse.ts');
    return { tx: parsePsbt(bytes), network: this.network(network), messageType, bytes };
  }

  /** A JSON message from a file named by a flag (e.g. --offer FILE); `flag` defaults to the flag whose value `path` is. */
  protected async readFileDocument(path: string, flag = this.flagFor(path)): Promise<unknown> {
    const doc = detectFormat(await this.readFlagInput(flag, path), `${flag} ${path}`);
    if (doc.format !== 'json') throw new MalformedInputError('E_EXPECTED_MESSAGE', `${flag} ${path} does not hold one JSON message`);
    return doc.value;
  }

  /** The input as a stream of JSON Lines (bulk commands). */
  protected inputLines() {
    const path = (this.flags as { in?: string }).in;
    if (path === undefined || path === '-') this.claimStdin(path === '-' ? '--in -' : 'the input (no --in)', true);
    return jsonLines(inputFrom(path));
  }

  /** Write one item of a streamed JSON Lines output. */
  protected emitLine(value: unknown): void {
    writeOutputLine(stringifyLine(value));
  }

  /** The key, read (or asked) once per network in a run: every step and store of the command shares it. */
  protected keyPair(network: Network): Promise<KeyPair> {
    let key = this.keys.get(network);
    if (key === undefined) this.keys.set(network, (key = this.readKeyPair(network)));
    return key;
  }

  private keys = new Map<Network, Promise<KeyPair>>();

  private async readKeyPair(network: Network): Promise<KeyPair> {
    const f = this.flags as { 'key-file'?: string; 'key-env'?: string };
    const { hiddenPrompt, loadKeyPair } = await import('./secrets.ts');
    const { openPromptTerminal } = await import('./prompt-terminal.ts');
    // Looked for only when neither --key-file nor the environment gave the key.
    let terminal: ReturnType<typeof openPromptTerminal>;
    try {
      return await loadKeyPair({
        keyFile: f['key-file'],
        keyEnv: f['key-env'],
        env: process.env,
        network,
        interactive: () => (terminal = openPromptTerminal()) !== undefined,
        prompt: (question) => hiddenPrompt(question, terminal!),
      });
    } finally {
      terminal?.close();
    }
  }

  /**
   * The chain source (BRIEF §2 "Chain"): a Bitcoin Core node when --rpc-url or
   * $OFFCHAIN_RPC_URL is given, else the offline facts given by flags.
   */
  protected async chain(network: Network): Promise<ChainSource> {
    const f = this.flags as { 'rpc-url'?: string; 'rpc-cookie'?: string; 'tip-height'?: number; 'tip-mtp'?: number };
    const { ENV_RPC_URL, resolveRpcConfig } = await import('../chain/rpc-config.ts');
    if (f['rpc-url'] !== undefined || process.env[ENV_RPC_URL]) {
      if (f['tip-height'] !== undefined || f['tip-mtp'] !== undefined) {
        throw new UsageError('E_USAGE', '--tip-height/--tip-mtp are for offline use; drop them when a node is given');
      }
      const config = resolveRpcConfig({ url: f['rpc-url'], cookieFile: f['rpc-cookie'], env: process.env, network, home: homedir(), platform: process.platform });
      const { RpcChainSource } = await import('../chain/rpc.ts');
      const source = new RpcChainSource(config);
      // A transaction goes to the node only after the COMMIT of the step that records it (store/sqlite/database.ts).
      const { refuseInsideStep } = await import('../store/sqlite/database.ts');
      const broadcast = source.broadcast.bind(source);
      const submitPackage = source.submitPackage.bind(source);
      source.broadcast = (raw) => (refuseInsideStep('a broadcast'), broadcast(raw));
      source.submitPackage = (raws, max) => (refuseInsideStep('a package submitted'), submitPackage(raws, max));
      return source;
    }
    const { OfflineChainSource } = await import('../chain/offline.ts');
    return new OfflineChainSource({ tipHeight: f['tip-height'], tipMedianTimePast: f['tip-mtp'], flags: { confirmations: '--confirmations N' } });
  }

  /** `<state-dir>/<network>` (./state-dir.ts), found once a network in a run: its check stats every folder of the path. */
  protected stateDir(network: Network): string {
    let dir = this.stateDirs.get(network);
    if (dir === undefined) this.stateDirs.set(network, (dir = stateDirOf((this.flags as { 'state-dir'?: string })['state-dir'], process.env, homedir(), network)));
    return dir;
  }

  private stateDirs = new Map<Network, string>();

  /** The databases this run opened (`state`), closed when it ends, whatever the outcome. */
  private opened = new Set<StateDb>();

  /**
   * The network's state database (`<state-dir>/<network>/state.sqlite`, store/sqlite/database.ts),
   * shared by every store of this run and closed when the run ends. Without `create`, a state
   * directory that has none gives undefined and nothing is created (a mistyped --state-dir
   * leaves no trace); a directory of the file layout before it is imported once.
   */
  protected async state(network: Network, opts: { create: boolean }): Promise<StateDb | undefined> {
    const { openState } = await import('../store/sqlite/open.ts');
    const db = openState(this.stateDir(network), opts);
    if (db === undefined) return undefined;
    if (this.opened.has(db)) db.close(); // one reference per run
    else this.opened.add(db);
    return db;
  }

  /**
   * This signer's single-use secret nonces in the network's state (store/sqlite/nonces.ts),
   * sealed under a key derived from its own. The database is made by the first nonce issued;
   * a take on a directory that has none is E_NONCE_UNKNOWN, and creates nothing.
   */
  protected async nonceStore(network: Network, signer: KeyPair): Promise<import('../musig/nonce-port.ts').NoncePort> {
    const { SqliteNonces } = await import('../store/sqlite/nonces.ts');
    const { Sealer } = await import('../store/seal.ts');
    let sealer = this.sealers.get(signer);
    if (sealer === undefined) this.sealers.set(signer, (sealer = Sealer.fromSecret(signer.secretKey)));
    return new SqliteNonces((create) => this.state(network, { create }), sealer, 'nonce', signer.publicKey);
  }

  /** The seal derived from each key of the run, once (HKDF): a long-running command takes its nonce store at every step. */
  private sealers = new WeakMap<KeyPair, import('../store/seal.ts').Sealer>();

  /** Close what `state` opened (the end of the run; a long-running command when it stops). */
  protected closeState(): void {
    for (const db of this.opened) db.close();
    this.opened.clear();
  }

  private async emit(result: CommandResult): Promise<void> {
    // Serialise fully before writing: an error here must leave stdout empty. The write
    // itself is awaited: a result that could not be written is an error (E_OUTPUT_WRITE).
    await writeOutput(this.render(result));
  }

  private render(result: CommandResult): string {
    if ('text' in result) return result.text.endsWith('\n') ? result.text : result.text + '\n';
    if ((this.flags as { psbt?: boolean }).psbt) {
      if (!result.psbt) throw new UsageError('E_NO_PSBT', 'this result carries no PSBT; drop --psbt');
      return base64.encode(result.psbt) + '\n';
    }
    if (result.human && wantsHuman((this.flags as { human?: boolean }).human, process.stdout)) {
      const text = result.human();
      return text.endsWith('\n') ? text : text + '\n';
    }
    return stringifyMessage(result.message);
  }

  /** Map any failure to one line on stderr and the brief's exit code. */
  protected fail(e: unknown): void {
    if (e instanceof BrokenPipe) return; // the reader left: quiet, as Unix tools are
    const debug = process.argv.includes('--debug');
    const described = describeError(e);
    const { code, exitCode } = described;
    let { message } = described;
    // A mistyped flag: name the flag of this command it was probably meant to be.
    const typo = /^Nonexistent flags?: (--?[\w-]+)/.exec(message);
    if (typo) {
      const ctor = this.constructor as typeof OffchainCommand;
      const names = Object.keys({ ...ctor.baseFlags, ...ctor.flags }).map((f) => `--${f}`);
      const meant = nearest(typo[1]!.split('=')[0]!, names);
      if (meant) message = message.replace(/ \(see --help\)$/, `; did you mean ${meant}? (see --help)`);
    }
    this.term ??= createTerminal(process.stderr, process.env);
    this.term.clearProgress();
    reportError(code, message, exitCode, (s) => this.term.color.red(s));
    if (debug && e instanceof Error && e.stack) process.stderr.write(e.stack + '\n');
    process.exitCode = exitCode;
  }
}

/** The same flags, none required (for --print-config). */
function optional<F extends object | undefined>(flags: F): F {
  return Object.fromEntries(Object.entries(flags ?? {}).map(([name, def]) => [name, { ...def, required: false }])) as F;
}

/** argv with `words` added before its `--` (after which every word is an argument). */
function withWords(argv: readonly string[], words: readonly string[]): string[] {
  const end = argv.indexOf('--');
  return end === -1 ? [...argv, ...words] : [...argv.slice(0, end), ...words, ...argv.slice(end)];
}
