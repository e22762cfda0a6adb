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
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, sequence, true);
    h = hash256(b);
    if (sequenceHashes.size < 64) sequenceHashes.set(sequence, h);
  }
  return h;
}

const varintLength = (n: number): number => (n < 0xfd ? 1 : n <= 0xffff ? 3 : 5);

/**
 * The BIP-143 digest for input `index` spending `amount` sat locked by P2WSH
 * `witnessScript` (the scriptCode), under `hashType`. The preimage is sized and written
 * once (a commitment's 21 signatures make 21 of these, each three double hashes).
 */
export function segwitV0Sighash(tx: Tx, index: number, witnessScript: Uint8Array, amount: bigint, hashType: number): Uint8Array {
  const input = tx.inputs[index];
  if (!input) throw new RangeError(`no input ${index}`);
  const anyoneCanPay = (hashType & SIGHASH_ANYONECANPAY) !== 0;
  const base = hashType & 0x1f;
  const { Writer, writeOutpoint } = internal;

  // nVersion | hashPrevouts | hashSequence | outpoint | scriptCode | amount | nSequence | hashOutputs | nLockTime | nHashType
  const scriptAt = 4 + 32 + 32 + 36;
  const afterScript = scriptAt + varintLength(witnessScript.length) + witnessScript.length;
  const pre = new Uint8Array(afterScript + 8 + 4 + 32 + 4 + 4);
  const view = new DataView(pre.buffer);
  view.setUint32(0, tx.version, true);
  if (!anyoneCanPay) {
    const w = new Writer();
    for (const i of tx.inputs) writeOutpoint(w, i);
    pre.set(hash256(w.done()), 4);
  }
  if (!anyoneCanPay && base !== SIGHASH_SINGLE && base !== SIGHASH_NONE) {
    if (tx.inputs.length === 1) pre.set(singleSequenceHash(tx.inputs[0]!.sequence), 36);
    else {
      const w = new Writer();
      for (const i of tx.inputs) w.u32(i.sequence);
      pre.set(hash256(w.done()), 36);
    }
  }
  const w = new Writer();
  writeOutpoint(w, input);
  w.varBytes(witnessScript);
  w.u64(amount);
  w.u32(input.sequence);
  pre.set(w.buf.subarray(0, w.length), 68);
  const outputsAt = afterScript + 12;
  if (base !== SIGHASH_SINGLE && base !== SIGHASH_NONE) {
    const o = new Writer();
    for (const out of tx.outputs) {
      o.u64(out.amount);
      o.varBytes(out.script);
    }
    pre.set(hash256(o.buf.subarray(0, o.length)), outputsAt);
  } else if (base === SIGHASH_SINGLE && index < tx.outputs.length) {
    const o = new Writer();
    o.u64(tx.outputs[index]!.amount);
    o.varBytes(tx.outputs[index]!.script);
    pre.set(hash256(o.buf.subarray(0, o.length)), outputsAt);
  } else pre.set(ZERO32, outputsAt);
  view.setUint32(outputsAt + 32, tx.lockTime, true);
  view.setUint32(outputsAt + 36, hashType, true);
  return hash256(pre);
}
