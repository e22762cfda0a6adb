/**
 * The statechain's additive Schnorr signer (BRIEF §3.2, issue 13 item 2): a coin's key is
 * the plain sum of the parties' shares, P = X₁ + … + Xₙ (owner and operator; three
 * parties on a channel coin), so the operator's share can be rotated at every transfer
 * without changing P. BIP-327's KeyAgg coefficients would change with every rotation,
 * so it cannot be used; everything else follows MuSig2:
 *
 *     Q = lift_x(xbytes(P)) + t·G, t = TapTweak(xbytes(P))   (key-path-only P2TR, BIP-86 style;
 *                                                    gp = −1 when P has odd y: the shares count negated)
 *     nonces: each party two points Rᵢ₁, Rᵢ₂; R₁ = ΣRᵢ₁, R₂ = ΣRᵢ₂
 *     b = H_offchain/statechain/noncecoef(cbytes(R₁) ‖ cbytes(R₂) ‖ xbytes(Q) ‖ m)
 *     R = R₁ + b·R₂,  e = H_BIP0340/challenge(xbytes(R) ‖ xbytes(Q) ‖ m)
 *     g = 1 if Q has even y else −1;  kᵢ = kᵢ₁ + b·kᵢ₂, negated if R has odd y
 *     sᵢ = kᵢ + e·g·(gp·xᵢ  [+ t for the one designated party, index 0])
 *     signature = xbytes(R) ‖ Σsᵢ, a BIP-340 signature for xbytes(Q)
 *
 * Invariants: a plain sum of keys is open to key cancellation (a party announcing
 * X' = Y − X_other), so no share is used before its owner proves possession of it
 * (`provePossession` / `verifyPossession`, a BIP-340 signature over a domain-separated
 * message naming the coin and the key); a secret nonce signs once (the caller keeps it in
 * the single-use nonce store and this function zeroes it); a partial signature is checked
 * against its signer's nonce and share before aggregation, and a bad one names its signer.
 *
 * Deliberately absent: transport, the nonce store, and the share rotation itself.
 */
import { concatBytes, equalBytes } from '../bytes.ts';
import { Lru, keyOf as cacheKey } from '../lru.ts';
import { N, bytes32, int, mod, taggedHash, taggedScalar } from '../musig/engine/scalar.ts';
import { mulPlusMul, plusMulBase, type Secp256k1Backend } from '../musig/engine/backend.ts';
import { activeSecp256k1 } from '../musig/engine/select.ts';
import { InvalidContributionError, MalformedInputError } from '../errors.ts';
import { schnorrSign } from '../taproot/schnorr.ts';
import { tapTweak } from '../taproot/taproot.ts';

/**
 * Point arithmetic runs on the selected secp256k1 backend (../musig/engine/select.ts:
 * noble by default, libsecp256k1 in WASM or native when chosen), the one MuSig2 uses;
 * every backend gives the same bytes (test/lib/statechain/signer.test.ts runs on each).
 */
type Ec = Secp256k1Backend<unknown>;
type Pt = unknown;
const xOf = (ec: Ec, p: Pt) => ec.pointToBytes(p).subarray(1);

export type AdditiveKey = {
  /** P = ΣXᵢ, 33 bytes. */
  aggregate: Uint8Array;
  /** The TapTweak scalar t and the x-only output key Q = P + t·G. */
  tweak: Uint8Array;
  outputKey: Uint8Array;
  /** P2TR scriptPubKey of Q. */
  script: Uint8Array;
};

/** A party's share (a key that is not a point: malformed, E_BAD_PUBKEY as wherever a key is parsed) or nonce half (a refused contribution, E_BAD_PUBNONCE). */
function point(ec: Ec, bytes: Uint8Array, who: number, what: 'public share' | 'nonce'): Pt {
  const p = bytes.length === 33 ? ec.pointFromBytes(bytes) : undefined;
  if (p !== undefined) return p;
  const message = `party ${who}'s ${what} is not a valid point`;
  throw what === 'nonce' ? new InvalidContributionError('E_BAD_PUBNONCE', String(who), message) : new MalformedInputError('E_BAD_PUBKEY', message, { participant: String(who) });
}

/** Valid keys (or nonces) that sum to infinity: a party chose its own to cancel the others' — refused, E_BAD_DERIVED_KEY for keys. */
function sum(ec: Ec, points: Pt[], what: string, code = 'E_BAD_DERIVED_KEY'): Pt {
  const total = points.reduce<Pt | null>((a, b) => ec.add(a, b), null);
  if (total === null) throw new InvalidContributionError(code, String(points.length - 1), `the ${what} sum to infinity`);
  return total;
}

type Key = AdditiveKey & { P: Pt; Q: Pt; points: Pt[] };

/**
 * Coin keys computed, per backend and list of shares (public values only): a coin's
 * operator derives its key at each co-signing step and again in the signing session.
 */
const keys = new Lru<Key>(1024);

function keyOf(ec: Ec, shares: readonly Uint8Array[]): Key {
  if (shares.length < 2) throw new MalformedInputError('E_STATECHAIN_PARTIES', 'an additive key needs at least two shares');
  // Only lists of 33-byte shares are looked up: other lengths are refused below, and their concatenation could equal a valid list's.
  const id = shares.every((s) => s.length === 33) ? `${ec.name}:${cacheKey(shares)}` : undefined;
  const hit = id === undefined ? undefined : keys.get(id);
  if (hit !== undefined) return hit;
  const points = shares.map((s, i) => point(ec, s, i, 'public share'));
  const P = sum(ec, points, 'public shares');
  const key = { P, points, aggregate: ec.pointToBytes(P), ...outputOf(ec, P) };
  return id === undefined ? key : keys.set(id, key);
}

/** The taproot output of P, per backend and P: a coin's P outlives every rotation of its shares. */
const outputs = new Lru<Pick<Key, 'Q' | 'tweak' | 'outputKey' | 'script'>>(1024);

function outputOf(ec: Ec, P: Pt): Pick<Key, 'Q' | 'tweak' | 'outputKey' | 'script'> {
  const aggregate = ec.pointToBytes(P);
  const id = `${ec.name}:${cacheKey([aggregate])}`;
  const hit = outputs.get(id);
  if (hit !== undefined) return hit;
  const tweak = tapTweak(aggregate.subarray(1));
  const Q = plusMulBase(ec, ec.hasEvenY(P) ? P : ec.negate(P), int(tweak));
  if (Q === null) throw new InvalidContributionError('E_BAD_DERIVED_KEY', '0', 'the tweaked key is infinity');
  const outputKey = xOf(ec, Q);
  return outputs.set(id, { Q, tweak, outputKey, script: Uint8Array.from([0x51, 0x20, ...outputKey]) });
}

/** BIP-86 P2TR of an x-only key (its key-path-only output), on the selected backend. */
export function keyPathOnlyScript(xOnly: Uint8Array): Uint8Array {
  const ec = activeSecp256k1();
  const P = xOnly.length === 32 ? ec.liftX(xOnly) : undefined;
  if (P === undefined) throw new MalformedInputError('E_BAD_PUBKEY', 'not the x coordinate of a point on the curve');
  const Q = plusMulBase(ec, P, int(tapTweak(xOnly)));
  if (Q === null) throw new MalformedInputError('E_BAD_PUBKEY', 'the tweaked key is infinity');
  return Uint8Array.from([0x51, 0x20, ...xOf(ec, Q)]);
}

/** P = ΣXᵢ tweaked to its key-path-only taproot output. */
export function additiveKey(shares: readonly Uint8Array[]): AdditiveKey {
  const { aggregate, tweak, outputKey, script } = keyOf(activeSecp256k1(), shares);
  // Copies: the cached key's bytes are never the caller's to change.
  return { aggregate: aggregate.slice(), tweak: tweak.slice(), outputKey: outputKey.slice(), script: script.slice() };
}

/** k·G, compressed, for a secret scalar k in [1, n), on the selected backend (constant time on each). */
export function publicShare(k: bigint): Uint8Array {
  const ec = activeSecp256k1();
  return ec.pointToBytes(ec.mulBase(k)!);
}

/** The sum of compressed keys equals `total` (another compressed key): false when they sum to infinity. */
export function sumIs(keys: readonly Uint8Array[], total: Uint8Array): boolean {
  const ec = activeSecp256k1();
  const sum = keys.reduce<Pt | null>((a, k) => ec.add(a, ec.pointFromBytes(k)!), null);
  return ec.equals(sum, ec.pointFromBytes(total)!);
}

/** Two secret nonces (from 64 bytes of fresh randomness) and their public points. */
export function nonceGen(rand: Uint8Array): { secnonce: Uint8Array; pubnonce: Uint8Array } {
  if (rand.length !== 64) throw new MalformedInputError('E_BAD_LENGTH', 'nonce randomness must be 64 bytes');
  const k1 = taggedScalar('offchain/statechain/nonce', rand, Uint8Array.of(1));
  const k2 = taggedScalar('offchain/statechain/nonce', rand, Uint8Array.of(2));
  if (k1 === 0n || k2 === 0n) throw new Error('internal: zero nonce');
  const ec = activeSecp256k1();
  return { secnonce: concatBytes(bytes32(k1), bytes32(k2)), pubnonce: concatBytes(ec.pointToBytes(ec.mulBase(k1)!), ec.pointToBytes(ec.mulBase(k2)!)) };
}

export type SessionInput = { shares: readonly Uint8Array[]; pubnonces: readonly Uint8Array[]; msg: Uint8Array };

type Session = { ec: Ec; key: Key; R: Pt; b: bigint; e: bigint; g: bigint; gp: bigint; points: Pt[]; nonces: [Pt, Pt][] };

function session({ shares, pubnonces, msg }: SessionInput): Session {
  const ec = activeSecp256k1();
  if (pubnonces.length !== shares.length) throw new MalformedInputError('E_STATECHAIN_PARTIES', 'one public nonce per share');
  const key = keyOf(ec, shares);
  const points = key.points;
  const nonces = pubnonces.map((n, i): [Pt, Pt] => {
    if (n.length !== 66) throw new InvalidContributionError('E_BAD_PUBNONCE', String(i), `party ${i}'s public nonce must be 66 bytes`);
    return [point(ec, n.subarray(0, 33), i, 'nonce'), point(ec, n.subarray(33), i, 'nonce')];
  });
  // A party that chose its nonce after seeing the others' could make a sum infinity: refused, never a crash.
  const R1 = sum(ec, nonces.map((n) => n[0]), 'first nonces', 'E_BAD_PUBNONCE');
  const R2 = sum(ec, nonces.map((n) => n[1]), 'second nonces', 'E_BAD_PUBNONCE');
  const b = taggedScalar('offchain/statechain/noncecoef', ec.pointToBytes(R1), ec.pointToBytes(R2), key.outputKey, msg);
  const R = ec.add(R1, ec.mul(R2, b)) ?? ec.mulBase(1n)!;
  const e = taggedScalar('BIP0340/challenge', xOf(ec, R), key.outputKey, msg);
  return { ec, key, R, b, e, g: ec.hasEvenY(key.Q) ? 1n : N - 1n, gp: ec.hasEvenY(key.P) ? 1n : N - 1n, points, nonces };
}

/** Party `index`'s partial signature; the designated party (index 0) carries the tweak. */
export function partialSign(input: SessionInput, index: number, secnonce: Uint8Array, secretShare: Uint8Array): Uint8Array {
  const s = session(input);
  if (secnonce.length !== 64) throw new MalformedInputError('E_BAD_LENGTH', 'secret nonce must be 64 bytes');
  const k1 = int(secnonce.subarray(0, 32));
  const k2 = int(secnonce.subarray(32));
  secnonce.fill(0); // single use, from memory too
  const x = int(secretShare);
  if (x === 0n || x >= N) throw new MalformedInputError('E_BAD_KEY', 'secret share out of range');
  if (!equalBytes(s.ec.pointToBytes(s.ec.mulBase(x)!), input.shares[index]!)) {
    throw new InvalidContributionError('E_KEY_MISMATCH', String(index), `this secret share is not party ${index}'s public share`);
  }
  if (k1 === 0n || k1 >= N || !equalBytes(s.ec.pointToBytes(s.ec.mulBase(k1)!), input.pubnonces[index]!.subarray(0, 33))) {
    throw new InvalidContributionError('E_NONCE_MISMATCH', String(index), `this secret nonce is not party ${index}'s public nonce`);
  }
  let k = mod(k1 + s.b * k2);
  if (!s.ec.hasEvenY(s.R)) k = mod(-k);
  const tweakPart = index === 0 ? int(s.key.tweak) : 0n;
  return bytes32(mod(k + s.e * s.g * mod(s.gp * x + tweakPart)));
}

/** sᵢ·G = Rᵢ' + e·g·(Xᵢ [+ t·G for party 0]). */
export function partialVerify(input: SessionInput, index: number, psig: Uint8Array): boolean {
  const s = session(input);
  const { ec } = s;
  if (psig.length !== 32) return false;
  const si = int(psig);
  if (si >= N) return false;
  const [R1, R2] = s.nonces[index]!;
  const even = ec.hasEvenY(s.R);
  let X: Pt | null = s.gp === 1n ? s.points[index]! : ec.negate(s.points[index]!);
  if (index === 0) X = plusMulBase(ec, X, int(s.key.tweak));
  // Rᵢ' = ±(R1 + b·R2) by R's parity; the right side ±R1 ± b·R2 + e·g·X, its two public
  // products in one multi-multiplication where the backend has one (noble's mulAdd).
  const b = even ? s.b : mod(-s.b);
  const products = X === null ? ec.mul(R2, b) : mulPlusMul(ec, R2, b, X, mod(s.e * s.g));
  const right = ec.add(even ? R1 : ec.negate(R1), products);
  return ec.equals(si === 0n ? null : ec.mulBase(si), right);
}

/** Every partial signature checked (a bad one names its party), then summed to the BIP-340 signature. */
export function aggregate(input: SessionInput, psigs: readonly Uint8Array[]): Uint8Array {
  const s = session(input);
  psigs.forEach((p, i) => {
    if (!partialVerify(input, i, p)) throw new InvalidContributionError('E_BAD_PARTIAL_SIG', String(i), `party ${i}'s partial signature does not verify`);
  });
  const total = psigs.reduce((acc, p) => mod(acc + int(p)), 0n);
  const sig = concatBytes(xOf(s.ec, s.R), bytes32(total));
  if (!s.ec.verifySchnorr(sig, input.msg, s.key.outputKey)) throw new Error('internal: the aggregate signature does not verify');
  return sig;
}

const popMessage = (coinId: Uint8Array, share: Uint8Array) => taggedHash('offchain/statechain/possession', coinId, share);

/** A proof that the holder of `secretShare` controls its public share, for one coin. */
export function provePossession(secretShare: Uint8Array, coinId: Uint8Array, auxRand: Uint8Array): Uint8Array {
  const share = publicShare(int(secretShare));
  return schnorrSign(popMessage(coinId, share), secretShare, auxRand);
}

export function verifyPossession(share: Uint8Array, coinId: Uint8Array, proof: Uint8Array): boolean {
  if (share.length !== 33 || proof.length !== 64) return false;
  return activeSecp256k1().verifySchnorr(proof, popMessage(coinId, share), share.subarray(1));
}
