/**
 * Keys derived outside the project's key code: BIP-327 KeySort and KeyAgg (with plain
 * and x-only tweaks, ApplyTweak) and the BIP-341 TapTweak, in test code on ./secp256k1.ts.
 * A test that claims an output key is right computes it here, from the participants'
 * public keys (or their secret keys), never from src/lib/musig/keyagg.ts,
 * src/lib/credit/terms.ts or src/lib/taproot/.
 *
 * Checked against the BIP-327 key_sort/key_agg vectors and the BIP-341 scriptPubKey
 * vectors in ./independent.test.ts.
 */
import {
  G, N, decodeCompressed, encodeCompressed, hasEvenY, int, liftX, pointAdd, pointMul, publicKeyOf,
  taggedHash, xOnly, type Point,
} from './secp256k1.ts';

const compare = (a: Uint8Array, b: Uint8Array): number => Buffer.compare(a, b);
const equal = (a: Uint8Array, b: Uint8Array): boolean => compare(a, b) === 0;

/** BIP-327 KeySort: lexicographic order of the 33-byte keys. */
export function keySort(pubkeys: readonly Uint8Array[]): Uint8Array[] {
  return [...pubkeys].sort(compare);
}

export type KeyAggContext = { Q: Point; gacc: bigint; tacc: bigint };

/** BIP-327 KeyAgg (keys in the order given; sort them first for KeySort semantics). */
export function keyAgg(pubkeys: readonly Uint8Array[]): KeyAggContext {
  const L = taggedHash('KeyAgg list', ...pubkeys);
  const second = pubkeys.find((pk) => !equal(pk, pubkeys[0]!)) ?? new Uint8Array(33);
  let Q: Point = null;
  pubkeys.forEach((pk, i) => {
    const point = decodeCompressed(pk);
    if (point === null) throw new Error(`KeyAgg: public key ${i} is not a valid compressed point`);
    const a = equal(pk, second) ? 1n : int(taggedHash('KeyAgg coefficient', L, pk)) % N;
    Q = pointAdd(Q, pointMul(point, a));
  });
  if (Q === null) throw new Error('KeyAgg: the aggregate is the point at infinity');
  return { Q, gacc: 1n, tacc: 0n };
}

/** BIP-327 ApplyTweak. */
export function applyTweak(ctx: KeyAggContext, tweak: Uint8Array, isXonly: boolean): KeyAggContext {
  const g = isXonly && !hasEvenY(ctx.Q!) ? N - 1n : 1n;
  const t = int(tweak);
  if (tweak.length !== 32 || t >= N) throw new Error('ApplyTweak: the tweak must be less than n');
  const Q = pointAdd(pointMul(ctx.Q, g), pointMul(G, t));
  if (Q === null) throw new Error('ApplyTweak: the result of tweaking cannot be infinity');
  return { Q, gacc: (g * ctx.gacc) % N, tacc: (t + g * ctx.tacc) % N };
}

/** The aggregate x-only key after the given tweaks (BIP-327 GetXonlyPubkey). */
export function aggregateXOnly(pubkeys: readonly Uint8Array[], tweaks: readonly Uint8Array[] = [], isXonly: readonly boolean[] = []): Uint8Array {
  let ctx = keyAgg(pubkeys);
  tweaks.forEach((t, i) => (ctx = applyTweak(ctx, t, isXonly[i]!)));
  return xOnly(ctx.Q);
}

/** The untweaked aggregate as a 33-byte point (BIP-327 GetPlainPubkey; BIP-373's aggregate key). */
export function aggregatePlain(pubkeys: readonly Uint8Array[]): Uint8Array {
  return encodeCompressed(keyAgg(pubkeys).Q);
}

/** BIP-341 t = hash_TapTweak(P || merkle_root). */
export function tapTweak(internalKey: Uint8Array, merkleRoot: Uint8Array = new Uint8Array(0)): Uint8Array {
  return taggedHash('TapTweak', internalKey, merkleRoot);
}

export type TaprootOutput = { outputKey: Uint8Array; parity: 0 | 1; tweak: Uint8Array; script: Uint8Array };

/** BIP-341 taproot_tweak_pubkey: Q = lift_x(P) + t·G, and the output's scriptPubKey OP_1 <x(Q)>. */
export function taprootOutput(internalKey: Uint8Array, merkleRoot?: Uint8Array): TaprootOutput {
  const P = liftX(int(internalKey));
  if (internalKey.length !== 32 || P === null) throw new Error('taproot: the internal key is not an x-only point');
  const tweak = tapTweak(internalKey, merkleRoot);
  const t = int(tweak);
  if (t >= N) throw new Error('taproot: tweak out of range');
  const Q = pointAdd(P, pointMul(G, t));
  if (Q === null) throw new Error('taproot: output key at infinity');
  const outputKey = xOnly(Q);
  return { outputKey, parity: hasEvenY(Q) ? 0 : 1, tweak, script: p2trScript(outputKey) };
}

export const p2trScript = (outputKey: Uint8Array): Uint8Array => Uint8Array.from([0x51, 0x20, ...outputKey]);

/**
 * A two-party (or n-party) key-path-only MuSig2 output as this project's contracts and
 * `musig init` build it: KeyAgg of the *sorted* participant keys, then the BIP-341
 * tweak with no script tree.
 */
export function musigTaprootOutput(pubkeys: readonly Uint8Array[]): TaprootOutput {
  return taprootOutput(xOnly(keyAgg(keySort(pubkeys)).Q));
}

/** A single key's key-path-only P2TR output (BIP-86 style): the wallet's own output. */
export function singleKeyTaprootOutput(publicKey: Uint8Array): TaprootOutput {
  return taprootOutput(publicKey.length === 33 ? publicKey.subarray(1) : publicKey);
}

export { publicKeyOf };
