/**
 * PSBT bytes in and out (BIP-174 version 0, BIP-370 version 2, with the BIP-371 taproot
 * and BIP-373 MuSig2 fields), at our trust boundary: every PSBT we accept comes through
 * `parsePsbt`, and every failure becomes one `MalformedInputError('E_MALFORMED_PSBT')`
 * whose message names the map, the field and what is wrong with it — never a raw library
 * error. @scure/btc-signer does the parsing; the map scanner (diagnose.ts) exists only to explain
 * *why* a PSBT was rejected, and to hand `decode.ts` the raw records (unknown and
 * proprietary keys) in wire form.
 *
 * Deliberately not here: base64/hex detection (the CLI layer), and any judgement about
 * whether a well-formed PSBT is one we should sign (the protocol modules).
 */
import { Transaction } from '@scure/btc-signer';
import { normalizeInput } from '@scure/btc-signer/transaction.js';
import { toHex } from '../bytes.ts';
import { MalformedInputError, OffchainError } from '../errors.ts';
import { PSBT_MAGIC } from '../constants.ts';
import { psbtBytesFromBase64 } from './base64-field.ts';
import { diagnose, libraryReason } from './diagnose.ts';
import { INSPECT_TX_OPTS, PSBT_TX_OPTS } from './tx-opts.ts';
import { readPsbt } from './read.ts';
import { amountProblem } from './amounts.ts';
import { looksLikePsbt } from './maps.ts';


const CODE = 'E_MALFORMED_PSBT';

export type ParsePsbtOptions = {
  /**
   * BIP-174 signer checks (redeemScript/witnessScript hash to the spent script, taproot
   * fields commit to the spent output key). On by default, so a PSBT that a signer must
   * refuse never enters a protocol step. Turn off only to inspect such a PSBT (decode/analyze).
   */
  scriptChecks?: boolean;
};


/** Parse a binary PSBT (version 0 or 2). Throws only `MalformedInputError('E_MALFORMED_PSBT')`. */
export function parsePsbt(bytes: Uint8Array, options: ParsePsbtOptions = {}): Transaction {
  if (!(bytes instanceof Uint8Array)) throw malformed('a PSBT must be given as bytes');
  if (!looksLikePsbt(bytes)) throw malformed(notPsbtReason(bytes));
  const checks = options.scriptChecks !== false;
  let tx: Transaction;
  try {
    tx = readPsbt(bytes, checks ? PSBT_TX_OPTS : INSPECT_TX_OPTS);
  } catch (e) {
    throw explainRejection(bytes, checks, e);
  }
  const impossible = amountProblem(tx);
  if (impossible) throw malformed(impossible.message, impossible.detail);
  return tx;
}

function explainRejection(bytes: Uint8Array, checks: boolean, error: unknown): MalformedInputError {
  let lenient: Transaction | undefined;
  if (checks) {
    try {
      lenient = Transaction.fromPSBT(bytes, INSPECT_TX_OPTS);
    } catch {
      lenient = undefined;
    }
  }
  if (!lenient) {
    const found = diagnose(bytes);
    return found ? malformed(found.message, found.detail) : malformed(`the PSBT does not parse: ${libraryReason(error)}`);
  }
  // Well-formed, but it fails a signer check: say which input and what does not match.
  const failure = scriptCheckFailure(lenient) ?? { index: -1, reason: libraryReason(error) };
  const where = failure.index >= 0 ? `input ${failure.index}: ` : '';
  return malformed(`${where}${failure.reason}; a signer must refuse this PSBT`, {
    map: failure.index >= 0 ? `input ${failure.index}` : 'global',
    check: 'signer',
  });
}

/** Serialise back to binary PSBT, keeping the PSBT version the transaction was parsed with. */
/** `parsePsbt` of a base64 message field. */
export function parsePsbtBase64(b64: string, field: string): Transaction {
  return parsePsbt(psbtBytesFromBase64(b64, field));
}

export function serializePsbt(tx: Transaction): Uint8Array {
  try {
    return tx.toPSBT();
  } catch (e) {
    // Only reachable when a caller has put the transaction into an inconsistent state.
    throw new OffchainError('E_PSBT_SERIALIZE', `cannot serialise the PSBT: ${libraryReason(e)}`);
  }
}

/**
 * The first input that fails BIP-174's signer checks (see `ParsePsbtOptions`), with a
 * one-line reason; undefined when all pass. Read-only: the transaction is not changed.
 */
export function scriptCheckFailure(tx: Transaction): { index: number; reason: string } | undefined {
  for (let index = 0; index < tx.inputsLength; index++) {
    const reason = inputCheckFailure(tx.getInput(index));
    if (reason) return { index, reason };
  }
  return undefined;
}

/** The signer-check failure of one input (from `tx.getInput`), or undefined. */
export function inputCheckFailure(input: ReturnType<Transaction['getInput']>): string | undefined {
  try {
    normalizeInput(input, undefined, undefined, false, 'ignore', 'ignore');
    return undefined;
  } catch (e) {
    return explainSignerCheck(libraryReason(e));
  }
}

const SIGNER_CHECK_REASONS: [RegExp, string][] = [
  [/sh wrong redeemScript hash/, 'redeem_script does not hash to the P2SH scriptPubKey of the spent output'],
  [/wsh wrong witnessScript hash/, 'witness_script does not hash to the P2WSH program of the spent output'],
  [/redeemScript without P2SH/, 'a redeem_script is given but the spent output is not P2SH'],
  [/witnessScript without P2WSH/, 'a witness_script is given but the spent output is not P2WSH'],
  [/non-wrapped (\w+)/, 'the spent output is a bare $1 script, which we do not sign'],
  [/Taproot metadata without P2TR/, 'taproot fields are given but the spent output is not P2TR'],
  [/does not match/, 'the taproot fields do not commit to the spent output key'],
];

function explainSignerCheck(reason: string): string {
  for (const [re, text] of SIGNER_CHECK_REASONS) {
    const m = re.exec(reason);
    if (m) return text.replace('$1', m[1] ?? '');
  }
  return reason;
}

function malformed(message: string, detail?: Record<string, unknown>): MalformedInputError {
  return new MalformedInputError(CODE, message, detail);
}

function notPsbtReason(bytes: Uint8Array): string {
  const start = toHex(bytes.subarray(0, 8));
  const text = new TextDecoder('latin1').decode(bytes.subarray(0, 8));
  if (/^cHNidP[89+/]/.test(text)) return 'not a binary PSBT: this is base64 text; decode it first';
  if (text.toLowerCase().startsWith('70736274')) return 'not a binary PSBT: this is hex text; decode it first';
  // A raw transaction starts with a small little-endian version (1, 2 or 3).
  const looksLikeTx = bytes.length > 9 && bytes[0]! >= 1 && bytes[0]! <= 3 && bytes[1] === 0 && bytes[2] === 0 && bytes[3] === 0;
  const hint = looksLikeTx ? '; it looks like a raw network transaction' : '';
  return `not a PSBT: the data starts with ${start || '(nothing)'}, not the magic bytes 70736274ff ('psbt' 0xff)${hint}`;
}
