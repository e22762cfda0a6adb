/**
 * BIP-327 "Key Generation and Aggregation": KeySort, KeyAgg (HashKeys, GetSecondKey,
 * KeyAggCoeffInternal) and ApplyTweak, on any secp256k1 backend.
 *
 * Everything KeyAgg derives from a set of participant keys (the coefficients a_i, the
 * decoded points P_i, the aggregate Q and, per tweak list, the tweaked Q with its
 * gacc / tacc) is public and depends on the keys alone, so it is computed once and kept
 * in a `KeyAggCache`: an LRU of the last 4,096 key sets (in KeyAgg order), each holding
 * its last 8 tweak lists. A mint signing update after update with the same two keys
 * pays for KeyAgg once — with as many contracts in rotation as its other per-contract
 * caches hold (credit/codec.ts: 4,096); at 256 a mint serving 300 contracts in turn did
 * KeyAgg again on every update. Nothing secret ever enters the cache.
 */
import { compareBytes, equalBytes } from '../../bytes.ts';
import { Lru, keyOf } from '../../lru.ts';
import { plusMulBase, xBytes, type Secp256k1Backend } from './backend.ts';
import { Bip327Error, badArgument, invalidContribution } from './errors.ts';
import { N, int, mod, taggedHash, taggedScalar } from './scalar.ts';

/** BIP-327's keygen_ctx = (Q, gacc, tacc), with xbytes(Q) and has_even_y(Q) kept. */
export type KeyGenContext<P> = {
  readonly Q: P;
  readonly gacc: bigint;
  readonly tacc: bigint;
  readonly xOnly: Uint8Array;
  readonly evenY: boolean;
};

/** What KeyAggInternal computes from pk_1..u; read-only once made. */
export type KeySet<P> = {
  readonly pubkeys: readonly Uint8Array[];
  readonly points: readonly P[];
  readonly coefficients: readonly bigint[];
  /** KeyAgg(pk_1..u) with no tweak applied. */
  readonly plain: KeyGenContext<P>;
  readonly tweaked: Lru<KeyGenContext<P>>;
};

const KEY_SETS = 4096;
const TWEAK_LISTS = 8;

/** KeySort: the keys in lexicographic order (a new array; the input is untouched). */
export function keySort(pubkeys: readonly Uint8Array[]): Uint8Array[] {
  checkPubkeys(pubkeys);
  return [...pubkeys].sort(compareBytes);
}

function checkPubkeys(pubkeys: readonly Uint8Array[]): void {
  if (pubkeys.length === 0) throw badArgument('KeyAgg needs at least one public key');
  pubkeys.forEach((pk, i) => {
    if (pk.length !== 33) throw badArgument(`public key ${i} must be 33 bytes, got ${pk.length}`);
  });
}

/** GetSecondKey: the first key different from pk_1, else 33 zero bytes. */
function getSecondKey(pubkeys: readonly Uint8Array[]): Uint8Array {
  for (const pk of pubkeys) if (!equalBytes(pk, pubkeys[0]!)) return pk;
  return new Uint8Array(33);
}

function keyGenContext<P>(ec: Secp256k1Backend<P>, Q: P, gacc: bigint, tacc: bigint): KeyGenContext<P> {
  return { Q, gacc, tacc, xOnly: xBytes(ec, Q), evenY: ec.hasEvenY(Q) };
}

/** KeyAggInternal(pk_1..u) with every per-key value kept. */
function keyAggInternal<P>(ec: Secp256k1Backend<P>, pubkeys: readonly Uint8Array[]): KeySet<P> {
  const keys = pubkeys.map((pk) => Uint8Array.from(pk));
  const pk2 = getSecondKey(keys);
  const L = taggedHash('KeyAgg list', ...keys); // HashKeys
  const points: P[] = [];
  const coefficients: bigint[] = [];
  let Q: P | null = null;
  keys.forEach((pk, i) => {
    const Pi = ec.pointFromBytes(pk);
    if (Pi === undefined) throw invalidContribution(i, 'pubkey');
    // KeyAggCoeffInternal: the second distinct key gets 1, saving a multiplication.
    const a = equalBytes(pk, pk2) ? 1n : taggedScalar('KeyAgg coefficient', L, pk);
    points.push(Pi);
    coefficients.push(a);
    Q = ec.add(Q, a === 1n ? Pi : ec.mul(Pi, a));
  });
  if (Q === null) throw new Bip327Error('keyAggregate: aggregate public key cannot be infinity');
  return { pubkeys: keys, points, coefficients, plain: keyGenContext(ec, Q, 1n, 0n), tweaked: new Lru(TWEAK_LISTS) };
}

/** ApplyTweak(keygen_ctx, tweak, is_xonly_t). Messages worded as callers have always seen them. */
function applyTweak<P>(ec: Secp256k1Backend<P>, ctx: KeyGenContext<P>, tweak: Uint8Array, isXonly: boolean): KeyGenContext<P> {
  const negate = isXonly && !ctx.evenY; // g = n − 1
  const t = int(tweak);
  if (t >= N) throw new Bip327Error('invalid scalar: out of range');
  const Q = plusMulBase(ec, negate ? ec.negate(ctx.Q) : ctx.Q, t); // t is public: one tweak-add where the backend has it
  if (Q === null) throw new Bip327Error('The result of tweaking cannot be infinity');
  const gacc = negate ? mod(-ctx.gacc) : ctx.gacc;
  const tacc = mod(t + (negate ? -ctx.tacc : ctx.tacc));
  return keyGenContext(ec, Q, gacc, tacc);
}

function checkTweaks(tweaks: readonly Uint8Array[], isXonly: readonly boolean[]): void {
  tweaks.forEach((t, i) => {
    if (t.length !== 32) throw badArgument(`tweak ${i} must be 32 bytes, got ${t.length}`);
  });
  if (isXonly.some((x) => typeof x !== 'boolean')) throw badArgument('is_xonly flags must be booleans');
  if (tweaks.length !== isXonly.length) throw badArgument('The tweaks and isXonly arrays must have the same length');
}

/** The per-key-set LRU described in the header; one per backend (points differ). */
export class KeyAggCache<P> {
  private readonly sets = new Lru<KeySet<P>>(KEY_SETS);
  constructor(private readonly ec: Secp256k1Backend<P>) {}

  /** KeyAggInternal(pk_1..u), cached. Throws InvalidContributionError(i, "pubkey"). */
  keySet(pubkeys: readonly Uint8Array[]): KeySet<P> {
    checkPubkeys(pubkeys);
    const id = keyOf(pubkeys);
    return this.sets.get(id) ?? this.sets.set(id, keyAggInternal(this.ec, pubkeys));
  }

  /** KeyAgg followed by ApplyTweak for each tweak in order, cached per key set. */
  keyGen(set: KeySet<P>, tweaks: readonly Uint8Array[], isXonly: readonly boolean[]): KeyGenContext<P> {
    checkTweaks(tweaks, isXonly);
    if (tweaks.length === 0) return set.plain;
    const id = keyOf(tweaks) + isXonly.map((x) => (x ? 'x' : 'p')).join('');
    const hit = set.tweaked.get(id);
    if (hit) return hit;
    let ctx = set.plain;
    tweaks.forEach((t, i) => (ctx = applyTweak(this.ec, ctx, t, isXonly[i]!)));
    return set.tweaked.set(id, ctx);
  }
}
