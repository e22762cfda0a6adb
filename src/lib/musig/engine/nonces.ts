/**
 * BIP-327 "Nonce Generation" (NonceGen) and "Nonce Aggregation" (NonceAgg), with the
 * cpoint / cbytes_ext encodings they use. NonceGen takes its 32 bytes of randomness
 * from the caller (rand'), who owns the random source; nonce *storage* is elsewhere.
 */
import { concatBytes, equalBytes } from '../../bytes.ts';
import type { Secp256k1Backend } from './backend.ts';
import { Bip327Error, badArgument, invalidContribution } from './errors.ts';
import { Lru, keyOf } from '../../lru.ts';
import { bytes32, taggedHash, taggedScalar, uintBE, xorBytes } from './scalar.ts';

/** cbytes_ext(P): cbytes(P), or 33 zero bytes for infinity. */
export function cbytesExt<P>(ec: Secp256k1Backend<P>, p: P | null): Uint8Array {
  return p === null ? new Uint8Array(33) : ec.pointToBytes(p);
}

/** sk XOR hash_MuSig/aux(rand): NonceGen's and DeterministicSign's blinding of rand. */
export function auxBlind(sk: Uint8Array, rand: Uint8Array): Uint8Array {
  return xorBytes(sk, taggedHash('MuSig/aux', rand));
}

export function nonceGen<P>(
  ec: Secp256k1Backend<P>,
  pk: Uint8Array,
  sk: Uint8Array | undefined,
  aggpk: Uint8Array | undefined,
  msg: Uint8Array | undefined,
  extraIn: Uint8Array | undefined,
  randPrime: Uint8Array,
): { secnonce: Uint8Array; pubnonce: Uint8Array; points: readonly [P, P] } {
  if (pk.length !== 33) throw badArgument(`pk must be 33 bytes, got ${pk.length}`);
  if (sk !== undefined && sk.length !== 32) throw badArgument('sk must be 32 bytes');
  if (aggpk !== undefined && aggpk.length !== 0 && aggpk.length !== 32) throw badArgument('wrong aggPublicKey');
  if (randPrime.length !== 32) throw badArgument('rand must be 32 bytes');
  const rand = sk !== undefined ? auxBlind(sk, randPrime) : randPrime;
  const agg = aggpk ?? new Uint8Array(0);
  const extra = extraIn ?? new Uint8Array(0);
  // An absent message and an empty one are different inputs.
  const mPrefixed = msg === undefined ? Uint8Array.of(0) : concatBytes(Uint8Array.of(1), uintBE(msg.length, 8), msg);
  // k_i = int(hash_MuSig/nonce(rand || len(pk) || pk || len(aggpk) || aggpk || m_prefixed || len(extra_in) || extra_in || i)) mod n
  const input = [rand, Uint8Array.of(pk.length), pk, Uint8Array.of(agg.length), agg, mPrefixed, uintBE(extra.length, 4), extra];
  const k1 = taggedScalar('MuSig/nonce', ...input, Uint8Array.of(0));
  const k2 = taggedScalar('MuSig/nonce', ...input, Uint8Array.of(1));
  if (sk !== undefined) rand.fill(0); // sk XOR aux: as secret as sk
  if (k1 === 0n || k2 === 0n) throw new Bip327Error('NonceGen produced a zero nonce');
  const R1 = ec.mulBase(k1)!;
  const R2 = ec.mulBase(k2)!;
  return {
    secnonce: concatBytes(bytes32(k1), bytes32(k2), pk),
    pubnonce: concatBytes(ec.pointToBytes(R1), ec.pointToBytes(R2)),
    points: [R1, R2],
  };
}

/** cpoint of both halves of one signer's pubnonce, blaming that signer if either fails. */
export function decodePubnonce<P>(ec: Secp256k1Backend<P>, pubnonce: Uint8Array, signer: number): [P, P] {
  const R1 = ec.pointFromBytes(pubnonce.subarray(0, 33));
  const R2 = ec.pointFromBytes(pubnonce.subarray(33, 66));
  if (R1 === undefined || R2 === undefined) throw invalidContribution(signer, 'pubnonce');
  return [R1, R2];
}

/** `sums`: the aggregate nonce's two points (R1, R2; null for infinity), as decodeAggregateNonce would read them. */
export type NonceAggregate<P> = { readonly aggnonce: Uint8Array; readonly points: readonly (readonly [P, P])[]; readonly sums: readonly [P | null, P | null] };

/**
 * NonceAgg, also handing back the decoded points so PartialSigVerify need not decode a
 * pubnonce again. Each signer's nonce is checked whole, in signer order (the spec loops
 * over the two halves first; either way the blamed signer sent an invalid point).
 */
export function nonceAggPoints<P>(ec: Secp256k1Backend<P>, pubnonces: readonly Uint8Array[], generated?: Lru<readonly [P, P]>): NonceAggregate<P> {
  if (pubnonces.length === 0) throw badArgument('NonceAgg needs at least one public nonce');
  pubnonces.forEach((n, i) => {
    if (n.length !== 66) throw badArgument(`public nonce ${i} must be 66 bytes, got ${n.length}`);
  });
  const points = pubnonces.map((n, i) => generated?.get(keyOf([n])) ?? decodePubnonce(ec, n, i));
  let R1: P | null = null;
  let R2: P | null = null;
  for (const [a, b] of points) {
    R1 = ec.add(R1, a);
    R2 = ec.add(R2, b);
  }
  return { aggnonce: concatBytes(cbytesExt(ec, R1), cbytesExt(ec, R2)), points, sums: [R1, R2] };
}

export function nonceAgg<P>(ec: Secp256k1Backend<P>, pubnonces: readonly Uint8Array[]): Uint8Array {
  return nonceAggPoints(ec, pubnonces).aggnonce;
}

/**
 * The last 64 nonce aggregates: a signer aggregates the pubnonces to open its session,
 * then PartialSigVerify aggregates the same list again to check it against the session.
 * Public values only. Callers must not modify what `aggregate` returns.
 */
export class NonceAggCache<P> {
  private readonly lru = new Lru<NonceAggregate<P>>(64);
  /** The two points of each aggregate nonce made here (cpoint_ext of its halves), by its bytes. */
  private readonly sums = new Lru<readonly [P | null, P | null]>(64);
  /**
   * The last aggregate asked for, with a copy of its pubnonces: a signer asks for the same one
   * three or four times in a row (aggregate, open the session, verify the other's partial
   * signature, sign), and comparing 2 × 66 bytes is cheaper than making and hashing a key.
   */
  private last: { readonly pubnonces: readonly Uint8Array[]; readonly made: NonceAggregate<P> } | undefined;
  /**
   * The two points of each public nonce this engine generated, by its 66 bytes: NonceGen
   * computed them (k1·G, k2·G) before compressing, and the signer meets its own pubnonce
   * again when it aggregates — a mint, one state later — so it need not decompress it
   * (two square roots, two library calls). Public values; exactly cpoint of each half.
   */
  private readonly generated = new Lru<readonly [P, P]>(4096);
  constructor(private readonly ec: Secp256k1Backend<P>) {}

  /** NonceGen on this cache's backend, keeping the points of the pubnonce it returns. */
  nonceGen(
    pk: Uint8Array, sk: Uint8Array | undefined, aggpk: Uint8Array | undefined, msg: Uint8Array | undefined, extraIn: Uint8Array | undefined, rand: Uint8Array,
  ): { secnonce: Uint8Array; pubnonce: Uint8Array } {
    const { secnonce, pubnonce, points } = nonceGen(this.ec, pk, sk, aggpk, msg, extraIn, rand);
    this.generated.set(keyOf([pubnonce]), points);
    return { secnonce, pubnonce };
  }

  aggregate(pubnonces: readonly Uint8Array[]): NonceAggregate<P> {
    if (pubnonces.some((n) => n.length !== 66)) return nonceAggPoints(this.ec, pubnonces); // throws
    const last = this.last;
    if (last !== undefined && last.pubnonces.length === pubnonces.length && last.pubnonces.every((n, i) => equalBytes(n, pubnonces[i]!))) return last.made;
    const id = keyOf(pubnonces);
    let made = this.lru.get(id);
    if (made === undefined) {
      made = nonceAggPoints(this.ec, pubnonces, this.generated);
      this.sums.set(keyOf([made.aggnonce]), made.sums);
      this.lru.set(id, made);
    }
    this.last = { pubnonces: pubnonces.map((n) => Uint8Array.from(n)), made };
    return made;
  }

  /**
   * decodeAggregateNonce(aggnonce, 'aggnonce') without decoding: the points of an aggregate
   * this cache made (the session a signer opens right after aggregating), else undefined.
   */
  decoded(aggnonce: Uint8Array): readonly [P | null, P | null] | undefined {
    if (aggnonce.length !== 66) return undefined;
    const last = this.last;
    if (last !== undefined && equalBytes(last.made.aggnonce, aggnonce)) return last.made.sums;
    return this.sums.get(keyOf([aggnonce]));
  }
}


/**
 * An aggregate nonce as the session reads it: cpoint_ext of each half (33 zero bytes is
 * infinity). DeterministicSign's aggothernonce is read with plain cpoint, so infinity is
 * invalid there. Neither comes from one signer: the blame falls on the nonce itself.
 */
export function decodeAggregateNonce<P>(ec: Secp256k1Backend<P>, aggnonce: Uint8Array, kind: 'aggnonce' | 'aggothernonce'): [P | null, P | null] {
  const bad = () => new Bip327Error(`invalid ${kind}`, undefined, kind);
  if (aggnonce.length !== 66) throw bad();
  const half = (bytes: Uint8Array): P | null => {
    if (kind === 'aggnonce' && bytes.every((b) => b === 0)) return null;
    const p = ec.pointFromBytes(bytes);
    if (p === undefined) throw bad();
    return p;
  };
  return [half(aggnonce.subarray(0, 33)), half(aggnonce.subarray(33, 66))];
}
