/**
 * BIP-341 key-path taproot: the TapTweak of an internal key (with or without a script
 * tree), the output key and its P2TR script, the tweaked secret key for single-key
 * signing, and the SIGHASH_DEFAULT key-path signature hash of a PSBT input.
 *
 * Deliberately absent: script trees and control blocks (./tree.ts builds them and gives
 * the Merkle root taken here) and script-path signature hashes.
 */
import { schnorr } from '@noble/curves/secp256k1.js';
import type { Transaction } from '@scure/btc-signer';
import { taprootTweakPrivKey } from '@scure/btc-signer/utils.js';
import { concatBytes } from '../bytes.ts';
import { Lru, keyOf } from '../lru.ts';
import { MalformedInputError, RefusedError } from '../errors.ts';
import { bytesToBigInt } from '../keys/keys.ts';
import { plusMulBase } from '../musig/engine/backend.ts';
import { activeSecp256k1 } from '../musig/engine/select.ts';
import { N } from '../musig/engine/scalar.ts';
import { inputView, outputView } from '../psbt/views.ts';
import { keyPathSighashAll, type SighashInput, type SighashOutput } from './sighash.ts';

/** nSequence when a PSBT input leaves it out (btc-signer's default too). */
const SEQUENCE_FINAL = 0xffffffff;

export const SIGHASH_DEFAULT = 0x00;

const EMPTY = new Uint8Array(0);

/** t = hash_TapTweak(P || merkle_root), the scalar added to the internal key. */
export function tapTweak(internalKey: Uint8Array, merkleRoot: Uint8Array = EMPTY): Uint8Array {
  if (internalKey.length !== 32) throw new MalformedInputError('E_BAD_PUBKEY', 'internal key must be 32-byte x-only');
  return schnorr.utils.taggedHash('TapTweak', concatBytes(internalKey, merkleRoot));
}

export type TaprootOutput = {
  internalKey: Uint8Array;
  merkleRoot: Uint8Array | undefined;
  tweak: Uint8Array;
  /** x-only output key Q = P + t·G. */
  outputKey: Uint8Array;
  /** Parity of Q's y (the control-block bit). */
  parity: 0 | 1;
  /** OP_1 <Q> */
  script: Uint8Array;
};

/**
 * The tweak and Q (compressed) of recent internal keys and merkle roots: public values, a pure
 * function of them. A mint derives each contract's output key from its terms (KeyAgg) and the
 * PSBT reader checks every update's internal key against the spent output (../psbt/read.ts):
 * one point multiplication per contract for both, not one each.
 */
const outputs = new Lru<{ tweak: Uint8Array; Q: Uint8Array }>(4096);

export function taprootOutput(internalKey: Uint8Array, merkleRoot?: Uint8Array): TaprootOutput {
  const id = internalKey.length === 32 ? keyOf(merkleRoot ? [internalKey, merkleRoot] : [internalKey]) : undefined;
  let known = id === undefined ? undefined : outputs.get(id);
  if (!known) {
    const tweak = tapTweak(internalKey, merkleRoot ?? EMPTY);
    known = { tweak, Q: tweakedKey(internalKey, tweak) };
    if (id !== undefined) outputs.set(id, known);
  }
  const outputKey = known.Q.slice(1);
  return { internalKey, merkleRoot, tweak: known.tweak.slice(), outputKey, parity: known.Q[0] === 0x03 ? 1 : 0, script: p2trScript(outputKey) };
}

/**
 * Q = lift_x(P) + t·G, compressed, on the selected secp256k1 backend (a mint derives one per
 * contract; the tweak is public, so variable-time arithmetic is safe). Anything the backend
 * cannot do — an x that is no point, t ≥ n, Q at infinity — goes to noble, which refuses
 * it the way it always has.
 */
function tweakedKey(internalKey: Uint8Array, tweak: Uint8Array): Uint8Array {
  const t = bytesToBigInt(tweak);
  const ec = activeSecp256k1();
  const P = t < N ? ec.liftX(internalKey) : undefined;
  const Q = P === undefined ? null : plusMulBase(ec, P, t);
  if (Q !== null) return ec.pointToBytes(Q);
  return schnorr.utils.lift_x(bytesToBigInt(internalKey)).add(schnorr.Point.BASE.multiplyUnsafe(t)).toBytes(true);
}

export function p2trScript(outputKey: Uint8Array): Uint8Array {
  return concatBytes(new Uint8Array([0x51, 0x20]), outputKey);
}

/** The secret key that signs for the tweaked output key (single-key wallets, tests). */
export function tweakSecretKey(secretKey: Uint8Array, merkleRoot?: Uint8Array): Uint8Array {
  return taprootTweakPrivKey(secretKey, merkleRoot ?? EMPTY);
}

/**
 * BIP-341 signature message digest for a key-path spend of input `index`. Needs every
 * input's spent output (witness_utxo) because SIGHASH_DEFAULT commits to all amounts
 * and scripts.
 */
export function keyPathSighash(tx: Transaction, index: number, hashType = SIGHASH_DEFAULT): Uint8Array {
  const scripts: Uint8Array[] = [];
  const amounts: bigint[] = [];
  const inputs: SighashInput[] = [];
  for (let i = 0; i < tx.inputsLength; i++) {
    const input = inputView(tx, i);
    const utxo = input.witnessUtxo;
    if (!utxo) {
      throw new RefusedError('E_PSBT_MISSING_UTXO', `input ${i} has no witness_utxo; a taproot signature hash needs every spent output`);
    }
    scripts.push(utxo.script);
    amounts.push(utxo.amount);
    if (input.txid && input.index !== undefined) inputs.push({ txid: input.txid, index: input.index, sequence: input.sequence ?? SEQUENCE_FINAL, amount: utxo.amount, script: utxo.script });
  }
  // SIGHASH_DEFAULT and SIGHASH_ALL from cached parts (./sighash.ts); every other type by btc-signer.
  if ((hashType === 0 || hashType === 1) && inputs.length === tx.inputsLength) {
    const outputs: SighashOutput[] = [];
    for (let o = 0; o < tx.outputsLength; o++) {
      const out = outputView(tx, o);
      if (out.amount === undefined || !out.script) return tx.preimageWitnessV1(index, scripts, hashType, amounts);
      outputs.push({ amount: out.amount, script: out.script });
    }
    return keyPathSighashAll(tx.version, tx.lockTime, inputs, outputs, index, hashType);
  }
  return tx.preimageWitnessV1(index, scripts, hashType, amounts);
}
