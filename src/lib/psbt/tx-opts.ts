/**
 * The @scure/btc-signer options every PSBT is parsed with (parse.ts, read.ts) and the
 * inspecting variant without BIP-174's signer checks, each widening explained below.
 */
import type { TxOpts } from '@scure/btc-signer';

/**
 * The options every PSBT we hold is parsed with; each one widens what btc-signer accepts,
 * so here is why each is safe:
 * - `unknown`/`proprietary: 'ignore'` keep key-value pairs btc-signer does not know, byte
 *   for byte. BIP-174 requires combiners and updaters to pass them through, our own
 *   protocols store their data in `PSBT_IN_PROPRIETARY` records, and nothing interprets them.
 * - `allowUnknownOutputs` lets OP_RETURN, future witness versions and other scripts btc-signer
 *   cannot classify appear in outputs. It only matters when outputs are (re)normalised, e.g.
 *   in the Combiner; we never create outputs from a parsed PSBT, and protocol modules check
 *   the outputs they care about themselves.
 * - `allowUnknownVersion` accepts any nVersion: consensus does not restrict it, and the
 *   protocol modules enforce the versions their contracts allow (e.g. 2 or 3).
 * Left at their safe defaults: `disableScriptCheck` (only for `scriptChecks: false`),
 * `allowUnknownInputs` (finalising scripts btc-signer does not understand would be guesswork)
 * and `allowLegacyWitnessUtxo` (signing legacy inputs without the full previous transaction
 * lets a liar inflate the fee).
 */
export const PSBT_TX_OPTS: Readonly<TxOpts> = Object.freeze({
  unknown: 'ignore',
  proprietary: 'ignore',
  allowUnknownOutputs: true,
  allowUnknownVersion: true,
});

/** As above, but without BIP-174's signer checks: for looking at a PSBT, never for signing it. */
export const INSPECT_TX_OPTS: Readonly<TxOpts> = Object.freeze({ ...PSBT_TX_OPTS, disableScriptCheck: true });
