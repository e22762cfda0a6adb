/**
 * PSBT bytes in and out (BIP-174 version 0, BIP-370 version 2, with the BIP-371 taproot
 * and BIP-373 MuSig2 fields), at our trust boundary: every PSBT we accept comes through
 * `parsePsbt`, and every failure becomes one `MalformedInputError('E_MALFORMED_PSBT')`
 * whose message names the map, the field and what is wrong with it — never a raw library
 * error. @scure/btc-signer does the parsing; the map scanner below exists only to explain
 * *why* a PSBT was rejected, and to hand `decode.ts` the raw records (unknown and
 * proprietary keys) in wire form.
 *
 * Deliberately not here: base64/hex detection (the CLI layer), and any judgement about
 * whether a well-formed PSBT is one we should sign (the protocol modules).
 */
import { Transaction } from '@scure/btc-signer';
import { RawOutput, RawTx } from '@scure/btc-signer/script.js';
import type { TxOpts } from '@scure/btc-signer';
import { PSBTGlobal, PSBTInput, PSBTOutput } from '@scure/btc-signer/psbt.js';
import { normalizeInput } from '@scure/btc-signer/transaction.js';
import { toHex } from '../bytes.ts';
import { MalformedInputError, OffchainError } from '../errors.ts';
import { MAX_MONEY, PSBT_MAGIC } from '../constants.ts';
import { describeRecord, fieldName, type MapScope } from './fields.ts';
import { psbtBytesFromBase64 } from './base64-field.ts';
import { FramingError, readCompactSize, splitPsbtMaps, type PsbtRecord } from './maps.ts';
import { readPsbt } from './read.ts';


const CODE = 'E_MALFORMED_PSBT';

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
const INSPECT_TX_OPTS: Readonly<TxOpts> = Object.freeze({ ...PSBT_TX_OPTS, disableScriptCheck: true });

export type ParsePsbtOptions = {
  /**
   * BIP-174 signer checks (redeemScript/witnessScript hash to the spent script, taproot
   * fields commit to the spent output key). On by default, so a PSBT that a signer must
   * refuse never enters a protocol step. Turn off only to inspect such a PSBT (decode/analyze).
   */
  scriptChecks?: boolean;
};

/** Cheap content sniffing: does this start with the PSBT magic bytes? */
export function looksLikePsbt(bytes: Uint8Array): boolean {
  if (bytes.length < PSBT_MAGIC.length) return false;
  for (let i = 0; i < PSBT_MAGIC.length; i++) if (bytes[i] !== PSBT_MAGIC[i]) return false;
  return true;
}

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

/** 21 million BTC in satoshis: no output, and no sum of outputs, can ever hold more. */

/**
 * Amounts no valid transaction can carry (consensus: each output and their sum at most
 * MAX_MONEY; the same bounds the coins being spent). Checked so that every amount and fee we
 * print is a real satoshi value, well inside JSON's exact integers.
 */
function amountProblem(tx: Transaction): Problem | undefined {
  const tooMuch = (amount: bigint) => amount > MAX_MONEY;
  let totalOut = 0n;
  for (let o = 0; o < tx.outputsLength; o++) {
    const amount = tx.getOutput(o).amount ?? 0n;
    if (tooMuch(amount)) return { message: `output ${o} pays ${amount} sat, more than 21 million BTC`, detail: { map: `output ${o}` } };
    totalOut += amount;
  }
  if (tooMuch(totalOut)) return { message: `the outputs together pay ${totalOut} sat, more than 21 million BTC`, detail: {} };
  let totalIn = 0n;
  for (let i = 0; i < tx.inputsLength; i++) {
    const input = tx.getInput(i);
    const label = `input ${i}`;
    for (const [n, out] of (input.nonWitnessUtxo?.outputs ?? []).entries()) {
      if (tooMuch(out.amount)) return { message: `${label}: output ${n} of PSBT_IN_NON_WITNESS_UTXO holds ${out.amount} sat, more than 21 million BTC`, detail: { map: label } };
    }
    const spent = input.nonWitnessUtxo && input.index !== undefined ? input.nonWitnessUtxo.outputs[input.index] : input.witnessUtxo;
    if (spent && tooMuch(spent.amount)) return { message: `${label}: PSBT_IN_WITNESS_UTXO holds ${spent.amount} sat, more than 21 million BTC`, detail: { map: label } };
    totalIn += spent?.amount ?? 0n;
  }
  if (tooMuch(totalIn)) return { message: `the inputs together claim ${totalIn} sat, more than 21 million BTC`, detail: {} };
  return undefined;
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

/** A library message reduced to one readable line: no decoder paths, no hex dumps. */
export function libraryReason(e: unknown): string {
  let text = e instanceof Error ? e.message : String(e);
  text = text.replace(/Reader\([^)]*\):\s*/g, '').replace(/\b(?:Type|Range)?Error:\s*/g, '');
  text = text.replace(/\s*\((?:key|value)=[^)]*\)?/g, '').replace(/\b[0-9a-f]{65,}\b/gi, (h) => `${h.slice(0, 16)}…`);
  text = text.replace(/(\d+) bytes \d+ bits left after unpack.*/, '$1 unexpected bytes after its end');
  text = text.replace(/\s+/g, ' ').trim();
  return text.length > 200 ? `${text.slice(0, 200)}…` : text || 'unknown error';
}

// ---------------------------------------------------------------------------------------
// Diagnosis: find the first concrete problem in a PSBT that btc-signer rejected.

type Problem = { message: string; detail: Record<string, unknown> };
type FieldTable = Readonly<Record<string, readonly [number, unknown, unknown, readonly number[], readonly number[], boolean]>>;
type Coder = { decode(bytes: Uint8Array): unknown };

const TABLES: Record<MapScope, FieldTable> = { global: PSBTGlobal, input: PSBTInput, output: PSBTOutput };

function fieldInfo(scope: MapScope, type: number) {
  for (const entry of Object.values(TABLES[scope])) {
    if (entry[0] === type) return { keyCoder: entry[1] as Coder | false, valueCoder: entry[2] as Coder, required: entry[3], allowed: entry[4] };
  }
  return undefined;
}

function decodeOrReason(coder: Coder, bytes: Uint8Array): string | undefined {
  try {
    coder.decode(bytes);
    return undefined;
  } catch (e) {
    return libraryReason(e);
  }
}

/** Check every record of one map on its own: duplicates, key shape, value shape, version. */
function checkMap(scope: MapScope, label: string, records: PsbtRecord[], version: number): Problem | undefined {
  const seen = new Set<string>();
  const at = (r: PsbtRecord, message: string): Problem => ({
    message: `${label}: ${message}`,
    detail: { map: label, field: fieldName(scope, r.keyType), offset: r.offset },
  });
  for (const r of records) {
    const id = toHex(r.key);
    if (seen.has(id)) return at(r, `duplicate key ${id} (${fieldName(scope, r.keyType)})`);
    seen.add(id);
    const info = fieldInfo(scope, r.keyType);
    if (!info) continue; // unknown or future fields pass through untouched
    const name = fieldName(scope, r.keyType);
    if (!info.allowed.includes(version)) return at(r, `${name} is not allowed in PSBT version ${version}`);
    if (!info.keyCoder && r.keyData.length > 0) {
      return at(r, `${name} must have no key data, but the key carries ${r.keyData.length} extra byte(s)`);
    }
    const { key: expectKey, value: expectValue } = describeRecord(scope, r.keyType);
    if (info.keyCoder) {
      const why = decodeOrReason(info.keyCoder, r.keyData);
      if (why) return at(r, `${name} key data (${r.keyData.length} bytes) is not ${expectKey} (${why})`);
    }
    const why = decodeOrReason(info.valueCoder, r.value);
    if (why) {
      if (scope === 'global' && r.keyType === 0 && isWitnessTx(r.value)) {
        return at(r, 'the unsigned transaction uses the witness serialization; BIP-174 requires the legacy (non-witness) format');
      }
      return at(r, `${name} value (${r.value.length} bytes) is not ${expectValue} (${why})`);
    }
  }
  for (const entry of Object.values(TABLES[scope])) {
    if (entry[3].includes(version) && !records.some((r) => r.keyType === entry[0])) {
      return { message: `${label}: the required field ${fieldName(scope, entry[0])} is missing (PSBT version ${version})`, detail: { map: label } };
    }
  }
  return undefined;
}

/**
 * BIP-144 serialization of an unsigned transaction: marker 00, flag 01, then the legacy body
 * with one empty witness stack (a 00 byte) per input before the locktime.
 */
function isWitnessTx(bytes: Uint8Array): boolean {
  if (bytes.length < 10 || bytes[4] !== 0 || bytes[5] !== 1) return false;
  try {
    const [inputs] = readCompactSize(bytes, 6, 'input count');
    const witnessAt = bytes.length - 4 - inputs;
    if (inputs === 0 || witnessAt <= 6 || bytes.subarray(witnessAt, bytes.length - 4).some((b) => b !== 0)) return false;
    const legacy = new Uint8Array(bytes.length - 2 - inputs);
    legacy.set(bytes.subarray(0, 4));
    legacy.set(bytes.subarray(6, witnessAt), 4);
    legacy.set(bytes.subarray(bytes.length - 4), legacy.length - 4);
    PSBTGlobal.unsignedTx[2].decode(legacy);
    return true;
  } catch {
    return false;
  }
}

type UnsignedTxShape = { inputs: { txid: Uint8Array; index: number; finalScriptSig?: Uint8Array }[]; outputs: unknown[] };

/** Explain why `bytes` (which start with the magic) are not a valid PSBT, or undefined. */
export function diagnose(bytes: Uint8Array): Problem | undefined {
  let maps: PsbtRecord[][];
  try {
    maps = splitPsbtMaps(bytes);
  } catch (e) {
    if (e instanceof FramingError) return { message: e.message, detail: { offset: e.offset } };
    return undefined;
  }
  const global = maps[0];
  if (!global) return { message: 'the PSBT has no global map after the magic bytes', detail: {} };
  const versionRecord = global.find((r) => r.keyType === 0xfb && r.keyData.length === 0);
  const version = versionRecord && versionRecord.value.length === 4 ? new DataView(versionRecord.value.buffer, versionRecord.value.byteOffset).getUint32(0, true) : 0;
  if (version !== 0 && version !== 2) return { message: `unsupported PSBT version ${version} (we read versions 0 and 2)`, detail: { map: 'global' } };
  const globalProblem = checkMap('global', 'global', global, version);
  if (globalProblem) return globalProblem;

  let inputCount: number;
  let outputCount: number;
  let unsigned: UnsignedTxShape | undefined;
  if (version === 0) {
    unsigned = PSBTGlobal.unsignedTx[2].decode(global.find((r) => r.keyType === 0)!.value) as UnsignedTxShape;
    const filled = unsigned.inputs.findIndex((i) => (i.finalScriptSig?.length ?? 0) > 0);
    if (filled >= 0) {
      return { message: `global: input ${filled} of the unsigned transaction has a non-empty scriptSig; signatures belong in PSBT_IN_FINAL_SCRIPTSIG`, detail: { map: 'global' } };
    }
    inputCount = unsigned.inputs.length;
    outputCount = unsigned.outputs.length;
  } else {
    inputCount = PSBTGlobal.inputCount[2].decode(global.find((r) => r.keyType === 4)!.value);
    outputCount = PSBTGlobal.outputCount[2].decode(global.find((r) => r.keyType === 5)!.value);
  }
  const found = maps.length - 1;
  if (found < inputCount + outputCount) {
    const inputsFound = Math.min(found, inputCount);
    const what = inputsFound < inputCount ? `${inputsFound} of ${inputCount} input maps` : `${found - inputCount} of ${outputCount} output maps`;
    return { message: `the PSBT ends after ${what}; the unsigned transaction has ${inputCount} input(s) and ${outputCount} output(s)`, detail: {} };
  }
  for (let i = 0; i < inputCount; i++) {
    const problem = checkMap('input', `input ${i}`, maps[1 + i]!, version) ?? checkUtxo(maps[1 + i]!, i, unsigned);
    if (problem) return problem;
  }
  for (let o = 0; o < outputCount; o++) {
    const problem = checkMap('output', `output ${o}`, maps[1 + inputCount + o]!, version);
    if (problem) return problem;
  }
  const extra = maps.slice(1 + inputCount + outputCount);
  // bip174js writes one extra empty map in some cases; btc-signer tolerates it, so do we.
  if (extra.length > 1 || (extra.length === 1 && extra[0]!.length > 0)) {
    return { message: `${extra.length} map(s) follow the last output map; the unsigned transaction has only ${outputCount} output(s)`, detail: {} };
  }
  return undefined;
}

/** PSBT_IN_NON_WITNESS_UTXO must be the transaction the input spends (BIP-174 v0 inputs). */
function checkUtxo(records: PsbtRecord[], index: number, unsigned: UnsignedTxShape | undefined): Problem | undefined {
  const record = records.find((r) => r.keyType === 0);
  const spends = unsigned?.inputs[index];
  if (!record || !spends) return undefined;
  const label = `input ${index}`;
  let prev: Transaction;
  try {
    prev = Transaction.fromRaw(record.value, { ...INSPECT_TX_OPTS, allowUnknownInputs: true });
  } catch {
    return undefined; // already reported as a value problem, or left to the library's reason
  }
  const want = toHex(spends.txid);
  if (prev.id !== want) {
    return { message: `${label}: PSBT_IN_NON_WITNESS_UTXO is transaction ${prev.id}, but the input spends ${want}`, detail: { map: label, field: 'PSBT_IN_NON_WITNESS_UTXO' } };
  }
  if (spends.index >= prev.outputsLength) {
    return { message: `${label}: spends output ${spends.index}, but PSBT_IN_NON_WITNESS_UTXO has only ${prev.outputsLength} output(s)`, detail: { map: label } };
  }
  const witness = records.find((r) => r.keyType === 1);
  const spent = prev.getOutput(spends.index) as { amount: bigint; script: Uint8Array };
  if (witness && toHex(witness.value) !== toHex(RawOutput.encode(spent))) {
    return { message: `${label}: PSBT_IN_WITNESS_UTXO disagrees with output ${spends.index} of PSBT_IN_NON_WITNESS_UTXO`, detail: { map: label, field: 'PSBT_IN_WITNESS_UTXO' } };
  }
  return undefined;
}
