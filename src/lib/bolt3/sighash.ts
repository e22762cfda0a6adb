/**
 * BIP-143 signature hashes (segwit v0), which every BOLT 3 signature signs: the
 * commitment with SIGHASH_ALL over the funding script, HTLC transactions with
 * SIGHASH_ALL or, on zero-fee HTLC formats, the remote party's SIGHASH_SINGLE |
 * SIGHASH_ANYONECANPAY (so the broadcaster can add inputs and outputs to pay the fee).
 *
 *     double-SHA256(nVersion | hashPrevouts | hashSequence | outpoint | scriptCode |
 *                   amount | nSequence | hashOutputs | nLockTime | nHashType)
 *
 * A commitment's 21 signatures make 21 of these, each three double hashes: the preimage
 * is sized and written once into a reused buffer (public transaction data, hashed at once
 * and never kept), and so are the parts hashPrevouts and hashOutputs hash.
 */
import { scratchBuffer } from '../bytes.ts';
import { hash256, hash256Into } from '../hash.ts';
import { compactSizeLength } from '../tx/policy.ts';
import {
  outputLength, putOutpoint, putOutput, putU32, putU64, putVarBytes, type OutPoint, type Tx, type TxOutput,
} from './tx.ts';

export const SIGHASH_ALL = 0x01;
export const SIGHASH_NONE = 0x02;
export const SIGHASH_SINGLE = 0x03;
export const SIGHASH_ANYONECANPAY = 0x80;

/** hashSequence of a one-input transaction: BOLT 3 uses a handful of nSequence values, over and over. */
const sequenceHashes = new Map<number, Uint8Array>();
function singleSequenceHash(sequence: number): Uint8Array {
  let h = sequenceHashes.get(sequence);
  if (!h) {
    const b = new Uint8Array(4);
    putU32(b, 0, sequence);
    h = hash256(b);
    if (sequenceHashes.size < 64) sequenceHashes.set(sequence, h);
  }
  return h;
}

const preimageScratch = scratchBuffer();
const partsScratch = scratchBuffer();

/** The one outpoint of a one-input transaction, in an array of its own (hashPrevouts hashes it whole: no view of the preimage made for it). */
const ONE_OUTPOINT = new Uint8Array(36);
function oneOutpoint(input: OutPoint): Uint8Array {
  putOutpoint(ONE_OUTPOINT, 0, input);
  return ONE_OUTPOINT;
}

/** hashPrevouts of several inputs, or hashSequence with `sequences`, into `pre` at `at`. */
function hashInputsInto(pre: Uint8Array, at: number, inputs: Tx['inputs'], sequences: boolean): void {
  const b = partsScratch(inputs.length * 36);
  let w = 0;
  for (const i of inputs) w = sequences ? putU32(b, w, i.sequence) : putOutpoint(b, w, i);
  hash256Into(b.subarray(0, w), pre, at);
}

/** hashOutputs: hash256 of the serialized outputs[from, to), into `pre` at `at`. */
function hashOutputsInto(pre: Uint8Array, at: number, outputs: readonly TxOutput[], from: number, to: number): void {
  let n = 0;
  for (let i = from; i < to; i++) n += outputLength(outputs[i]!);
  const b = partsScratch(n);
  let w = 0;
  for (let i = from; i < to; i++) w = putOutput(b, w, outputs[i]!);
  hash256Into(b.subarray(0, w), pre, at);
}

/**
 * The BIP-143 digest for input `index` spending `amount` sat locked by P2WSH
 * `witnessScript` (the scriptCode), under `hashType`.
 */
export function segwitV0Sighash(tx: Tx, index: number, witnessScript: Uint8Array, amount: bigint, hashType: number): Uint8Array {
  const input = tx.inputs[index];
  if (!input) throw new RangeError(`no input ${index}`);
  const anyoneCanPay = (hashType & SIGHASH_ANYONECANPAY) !== 0;
  const base = hashType & 0x1f;

  // nVersion | hashPrevouts | hashSequence | outpoint | scriptCode | amount | nSequence | hashOutputs | nLockTime | nHashType
  const OUTPOINT_AT = 4 + 32 + 32;
  const outputsAt = OUTPOINT_AT + 36 + compactSizeLength(witnessScript.length) + witnessScript.length + 8 + 4;
  const length = outputsAt + 32 + 4 + 4;
  const pre = preimageScratch(length);
  putU32(pre, 0, tx.version);
  putU64(pre, putVarBytes(pre, putOutpoint(pre, OUTPOINT_AT, input), witnessScript), amount);
  putU32(pre, outputsAt - 4, input.sequence);

  if (anyoneCanPay) pre.fill(0, 4, 36);
  else if (tx.inputs.length === 1) hash256Into(oneOutpoint(input), pre, 4);
  else hashInputsInto(pre, 4, tx.inputs, false);

  if (anyoneCanPay || base === SIGHASH_SINGLE || base === SIGHASH_NONE) pre.fill(0, 36, 68);
  else if (tx.inputs.length === 1) pre.set(singleSequenceHash(tx.inputs[0]!.sequence), 36);
  else hashInputsInto(pre, 36, tx.inputs, true);

  if (base !== SIGHASH_SINGLE && base !== SIGHASH_NONE) hashOutputsInto(pre, outputsAt, tx.outputs, 0, tx.outputs.length);
  else if (base === SIGHASH_SINGLE && index < tx.outputs.length) hashOutputsInto(pre, outputsAt, tx.outputs, index, index + 1);
  else pre.fill(0, outputsAt, outputsAt + 32);
  putU32(pre, outputsAt + 32, tx.lockTime);
  putU32(pre, outputsAt + 36, hashType);
  return hash256(pre.subarray(0, length));
}
