/**
 * Flag groups shared by commands, so every command spells the same option the same
 * way. A command spreads the groups it needs into its own `static flags`.
 */
import { Flags } from '@oclif/core';
import { NETWORKS } from '../network.ts';
import { OffchainError, UsageError } from '../errors.ts';
import { isMilliSatPrecise } from '../tx/policy.ts';
import { fromHex, toHex } from '../bytes.ts';

/**
 * Parse a flag's value: whatever the parser refuses (bad hex, not a public key, an
 * unknown name) is a usage error — exit 2, the parser's own code and words — because the
 * value was typed on the command line, not read from an input (docs/cli.md).
 */
export function flagValue<T>(parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (e instanceof OffchainError && e.exitCode !== 2) throw new UsageError(e.code, e.message, e.detail);
    throw e;
  }
}

/**
 * A flag whose value is `bytes` bytes of hex (a contract id, a payment hash, a txid), checked
 * when the flags are parsed: not hex is E_BAD_HEX, another length E_BAD_LENGTH — exit 2 and
 * naming the flag, before any state is opened (docs/cli.md: a malformed flag is 2). The value
 * comes back lower-case.
 */
export function hexFlag(bytes: number, opts: { description: string; required?: boolean; helpValue?: string; exclusive?: string[] }) {
  return Flags.string({
    helpValue: 'HEX',
    ...opts,
    parse: async (value, _ctx, flag) => flagValue(() => toHex(fromHex(value, `--${flag.name}`, bytes))),
  });
}

/**
 * A flag under its new name that keeps its old spellings (issue 28, one vocabulary): each
 * old spelling still works, with the same value and meaning, and prints one line on
 * standard error naming the new flag (OffchainCommand.warnIfFlagDeprecated). The old
 * spellings are oclif flag aliases, so parsing, the manifest and "did you mean" know them.
 */
export function renamedFrom<F extends object>(flag: F, ...old: string[]): F {
  return { ...flag, aliases: old, deprecateAliases: true };
}

/**
 * Like `flagValue`, for a parser that reads several flags and may also refuse by a rule:
 * only what it finds malformed (exit 3) becomes a usage error (exit 2, same code); a
 * refusal (exit 4: dust, another network) stays one.
 */
export function flagValues<T>(parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (e instanceof OffchainError && e.exitCode === 3) throw new UsageError(e.code, e.message, e.detail);
    throw e;
  }
}

export const globalFlags = {
  network: Flags.string({
    description: 'network to work on; must agree with the network named in the input message (default: the message\'s, else regtest)',
    options: [...NETWORKS],
    env: 'OFFCHAIN_NETWORK',
    helpGroup: 'GLOBAL',
  }),
  debug: Flags.boolean({ description: 'print stack traces with errors', helpGroup: 'GLOBAL' }),
  // Read from argv before parsing (error-line.ts), so a parse error is JSON too; hidden from each command's help, documented in docs/cli.md.
  'json-errors': Flags.boolean({ description: 'an error is one JSON line on standard error (same exit code); or OFFCHAIN_JSON_ERRORS=1', helpGroup: 'GLOBAL', hidden: true }),
  quiet: Flags.boolean({ char: 'q', description: 'no progress line on standard error (it is shown on a terminal only, for work over ~2 s)', helpGroup: 'GLOBAL' }),
  // Read before parsing (lib/cli/config-file.ts); here so that oclif takes it and --help shows it.
  config: Flags.string({ description: 'the configuration file (default $OFFCHAIN_CONFIG, else ~/.offchain/config when it exists): every flag is a key, docs/config.md', helpValue: 'FILE', helpGroup: 'GLOBAL' }),
};

/** A service's `--print-config`: the effective settings and where each came from, secrets redacted; nothing started (lib/cli/config.ts). */
export const printConfigFlags = {
  'print-config': Flags.boolean({ description: 'print the effective settings (each value and where it came from: flag, env, file, default; secrets redacted) as one JSON object and exit 0, starting nothing' }),
};

export const inputFlags = {
  in: Flags.string({
    description: 'read the input from FILE instead of standard input ("-" means standard input)',
    helpValue: 'FILE',
    helpGroup: 'INPUT',
  }),
};

export const psbtOutputFlags = {
  psbt: Flags.boolean({
    description: 'print only the resulting PSBT as base64 (feeds bitcoin-cli decodepsbt and wallets)',
    helpGroup: 'OUTPUT',
  }),
};

export const keyFlags = {
  'key-file': Flags.string({
    description: 'file holding this party\'s secret key (hex or WIF, mode 0600)',
    helpValue: 'FILE',
    helpGroup: 'KEY',
  }),
  'key-env': Flags.string({
    description: 'name of the environment variable holding the secret key (default OFFCHAIN_KEY)',
    helpValue: 'NAME',
    helpGroup: 'KEY',
  }),
};

export const stateFlags = {
  'state-dir': Flags.string({
    description: 'directory for protocol state (default $OFFCHAIN_STATE_DIR or ~/.offchain; a subfolder per network)',
    helpValue: 'DIR',
    helpGroup: 'STATE',
  }),
};

export const chainFlags = {
  'rpc-url': Flags.string({
    description: 'Bitcoin Core JSON-RPC URL (or $OFFCHAIN_RPC_URL); credentials come from the cookie or $OFFCHAIN_RPC_USER/$OFFCHAIN_RPC_PASSWORD, never the URL',
    helpValue: 'URL',
    helpGroup: 'CHAIN',
  }),
  'rpc-cookie': Flags.string({ description: 'Bitcoin Core cookie file (default: the network\'s .cookie under ~/.bitcoin)', helpValue: 'FILE', helpGroup: 'CHAIN' }),
  'tip-height': Flags.integer({ description: 'offline: the current tip height (instead of asking a node)', helpValue: 'N', min: 0, helpGroup: 'CHAIN' }),
  'tip-mtp': Flags.integer({ description: 'offline: the tip\'s median-time-past, unix seconds (for time locks)', helpValue: 'T', min: 0, helpGroup: 'CHAIN' }),
};

/** The fee guard (src/lib/tx/fee-guard.ts) of a command that builds a transaction. */
export const feeGuardFlags = {
  'max-fee-rate': Flags.string({
    description: 'refuse a fee rate above this, sat/vB (default 10000: Bitcoin Core\'s maxfeerate, 0.10 BTC/kvB)',
    helpValue: 'SAT/VB',
    helpGroup: 'FEE',
  }),
  'max-fee-share': Flags.string({
    description: 'refuse a fee above this share of the amount its payer moves, 0 < S <= 1 (default 0.5)',
    helpValue: 'S',
    helpGroup: 'FEE',
  }),
};

/** A --fee-rate (sat/vB) as typed: 0.1 … 100000, in steps of 0.001 (the contract id commits to it exactly). */
export function parseRate(text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0.1 || n > 100_000) throw new UsageError('E_USAGE', `fee rate must be a number of sat/vB between 0.1 and 100000, got ${text}`);
  if (!isMilliSatPrecise(n)) throw new UsageError('E_USAGE', `fee rate ${text} has more than three decimals: give it in steps of 0.001 sat/vB`);
  return n;
}

/** A counterpart's step sent to a running service (`offchain serve …`, docs/serve.md) instead of printed for a pipe. */
export const peerFlags = {
  peer: Flags.string({
    description: 'send this step\'s message to the service at URL (offchain serve …) and apply its answer in this one invocation; retried safely (the same message gets the same answer). Without it, the message is printed for a pipe',
    helpValue: 'URL',
    helpGroup: 'PEER',
  }),
  'peer-timeout': Flags.integer({
    description: 'with --peer: keep sending the same message again, with backoff, for this long while the service does not answer (a refused or dropped connection, a timeout, 503) — not after a refusal; 0: one attempt',
    helpValue: 'SECONDS',
    helpGroup: 'PEER',
    // PEER_RETRY_SECONDS of lib/cli/peer.ts (not imported: node:http is loaded by --peer commands only; test/lib/cli/peer.test.ts holds them equal).
    default: 60,
    min: 0,
  }),
};

/** `--human` / `--no-human` (lib/cli/human.ts): the view for people, the default when standard output is a terminal. */
export const humanFlags = {
  human: Flags.boolean({
    allowNo: true,
    description: 'a view for people instead of the JSON message (the default when standard output is a terminal; --no-human for JSON there)',
  }),
};
