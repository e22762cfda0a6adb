/**
 * BIP-143 signature hashes (segwit v0), which every BOLT 3 signature signs: the
 * commitment with SIGHASH_ALL over the funding script, HTLC transactions with
 * SIGHASH_ALL or, on zero-fee HTLC formats, the remote party's SIGHASH_SINGLE |
 * SIGHASH_ANYONECANPAY (so the broadcaster can add inputs and outputs to pay the fee).
 *
 *     double-SHA256(nVersion | hashPrevouts | hashSequence | outpoint | scriptCode |
 *                   amount | nSequence | hashOutputs | nLockTime | nHashType)
 */
import { hash256, internal, type Tx } from './tx.ts';

export const SIGHASH_ALL = 0x01;
export const SIGHASH_NONE = 0x02;
export const SIGHASH_SINGLE = 0x03;
export const SIGHASH_ANYONECANPAY = 0x80;

const ZERO32: Uint8Array = new Uint8Array(32);

/** hashSequence of a one-input transaction: BOLT 3 uses a handful of nSequence values, over and over. */
const sequenceHashes = new Map<number, Uint8Array>();
function singleSequenceHash(sequence: number): Uint8Array {
  let h = sequenceHashes.get(sequence);
  if (!h) {
    const w = new internal.Writer();
    w.u32(sequence);
    h = hash256(w.done());
    if (sequenceHashes.size < 64) sequenceHashes.set(sequence, h);
  }
  return h;
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
  const { Writer, writeOutpoint } = internal;

  let hashPrevouts = ZERO32;
  if (!anyoneCanPay) {
    const w = new Writer();
    for (const i of tx.inputs) writeOutpoint(w, i);
    hashPrevouts = hash256(w.done());
  }
  let hashSequence = ZERO32;
  if (!anyoneCanPay && base !== SIGHASH_SINGLE && base !== SIGHASH_NONE) {
    if (tx.inputs.length === 1) hashSequence = singleSequenceHash(tx.inputs[0]!.sequence);
    else {
      const w = new Writer();
      for (const i of tx.inputs) w.u32(i.sequence);
      hashSequence = hash256(w.done());
    }
  }
  let hashOutputs = ZERO32;
  if (base !== SIGHASH_SINGLE && base !== SIGHASH_NONE) {
    const w = new Writer();
    for (const o of tx.outputs) {
      w.u64(o.amount);
      w.varBytes(o.script);
    }
    hashOutputs = hash256(w.done());
  } else if (base === SIGHASH_SINGLE && index < tx.outputs.length) {
    const w = new Writer();
    w.u64(tx.outputs[index]!.amount);
    w.varBytes(tx.outputs[index]!.script);
    hashOutputs = hash256(w.done());
  }

  const w = new Writer();
  w.u32(tx.version);
  w.bytes(hashPrevouts);
  w.bytes(hashSequence);
  writeOutpoint(w, input);
  w.varBytes(witnessScript);
  w.u64(amount);
  w.u32(input.sequence);
  w.bytes(hashOutputs);
  w.u32(tx.lockTime);
  w.u32(hashType);
  return hash256(w.done());
}
