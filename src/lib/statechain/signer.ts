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
import { secp256k1, schnorr } from '@noble/curves/secp256k1.js';
import { concatBytes, equalBytes } from '../bytes.ts';
import { N, bytes32, int, mod, taggedScalar } from '../musig/engine/scalar.ts';
import { InvalidContributionError, MalformedInputError } from '../errors.ts';
import { tapTweak } from '../taproot/taproot.ts';

const Point = secp256k1.Point;
type Pt = InstanceType<typeof Point>;
const hasEvenY = (p: Pt) => p.toAffine().y % 2n === 0n;
const xbytes = (p: Pt) => p.toBytes(true).subarray(1);

export type AdditiveKey = {
  /** P = ΣXᵢ, 33 bytes. */
  aggregate: Uint8Array;
  /** The TapTweak scalar t and the x-only output key Q = P + t·G. */
  tweak: Uint8Array;
  outputKey: Uint8Array;
  /** P2TR scriptPubKey of Q. */
  script: Uint8Array;
};

function point(bytes: Uint8Array, who: number, what: string): Pt {
  try {
    return Point.fromBytes(bytes);
  } catch {
    throw new InvalidContributionError('E_BAD_PUBKEY', String(who), `party ${who}'s ${what} is not a valid point`);
  }
}

/** P = ΣXᵢ tweaked to its key-path-only taproot output. */
export function additiveKey(shares: readonly Uint8Array[]): AdditiveKey {
  if (shares.length < 2) throw new MalformedInputError('E_STATECHAIN_PARTIES', 'an additive key needs at least two shares');
  const P = shares.map((s, i) => point(s, i, 'public share')).reduce((a, b) => a.add(b));
  const tweak = tapTweak(xbytes(P));
  const Q = (hasEvenY(P) ? P : P.negate()).add(Point.BASE.multiply(int(tweak)));
  return { aggregate: P.toBytes(true), tweak, outputKey: xbytes(Q), script: Uint8Array.from([0x51, 0x20, ...xbytes(Q)]) };
}

/** Two secret nonces (from 64 bytes of fresh randomness) and their public points. */
export function nonceGen(rand: Uint8Array): { secnonce: Uint8Array; pubnonce: Uint8Array } {
  if (rand.length !== 64) throw new MalformedInputError('E_BAD_LENGTH', 'nonce randomness must be 64 bytes');
  const k1 = taggedScalar('offchain/statechain/nonce', rand, Uint8Array.of(1));
  const k2 = taggedScalar('offchain/statechain/nonce', rand, Uint8Array.of(2));
  if (k1 === 0n || k2 === 0n) throw new Error('internal: zero nonce');
  return {
    secnonce: concatBytes(bytes32(k1), bytes32(k2)),
    pubnonce: concatBytes(Point.BASE.multiply(k1).toBytes(true), Point.BASE.multiply(k2).toBytes(true)),
  };
}

export type SessionInput = { shares: readonly Uint8Array[]; pubnonces: readonly Uint8Array[]; msg: Uint8Array };

type Session = { key: AdditiveKey; R: Pt; b: bigint; e: bigint; g: bigint; gp: bigint; points: Pt[]; nonces: [Pt, Pt][] };

function session({ shares, pubnonces, msg }: SessionInput): Session {
  if (pubnonces.length !== shares.length) throw new MalformedInputError('E_STATECHAIN_PARTIES', 'one public nonce per share');
  const key = additiveKey(shares);
  const points = shares.map((s, i) => point(s, i, 'public share'));
  const nonces = pubnonces.map((n, i): [Pt, Pt] => {
    if (n.length !== 66) throw new InvalidContributionError('E_BAD_PUBNONCE', String(i), `party ${i}'s public nonce must be 66 bytes`);
    return [point(n.subarray(0, 33), i, 'nonce'), point(n.subarray(33), i, 'nonce')];
  });
  const R1 = nonces.map((n) => n[0]).reduce((a, b) => a.add(b));
  const R2 = nonces.map((n) => n[1]).reduce((a, b) => a.add(b));
  const P = Point.fromBytes(key.aggregate);
  const fullQ = (hasEvenY(P) ? P : P.negate()).add(Point.BASE.multiply(int(key.tweak)));
  const b = taggedScalar('offchain/statechain/noncecoef', R1.toBytes(true), R2.toBytes(true), key.outputKey, msg);
  let R = R1.add(R2.multiply(b));
  if (R.equals(Point.ZERO)) R = Point.BASE;
  const e = taggedScalar('BIP0340/challenge', xbytes(R), key.outputKey, msg);
  return { key, R, b, e, g: hasEvenY(fullQ) ? 1n : N - 1n, gp: hasEvenY(P) ? 1n : N - 1n, points, nonces };
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
  if (!equalBytes(Point.BASE.multiply(x).toBytes(true), input.shares[index]!)) {
    throw new InvalidContributionError('E_KEY_MISMATCH', String(index), `this secret share is not party ${index}'s public share`);
  }
  if (!equalBytes(Point.BASE.multiply(k1).toBytes(true), input.pubnonces[index]!.subarray(0, 33))) {
    throw new InvalidContributionError('E_NONCE_MISMATCH', String(index), `this secret nonce is not party ${index}'s public nonce`);
  }
  let k = mod(k1 + s.b * k2);
  if (!hasEvenY(s.R)) k = mod(-k);
  const tweakPart = index === 0 ? int(s.key.tweak) : 0n;
  return bytes32(mod(k + s.e * s.g * mod(s.gp * x + tweakPart)));
}

/** sᵢ·G = Rᵢ' + e·g·(Xᵢ [+ t·G for party 0]). */
export function partialVerify(input: SessionInput, index: number, psig: Uint8Array): boolean {
  const s = session(input);
  if (psig.length !== 32) return false;
  const si = int(psig);
  if (si >= N) return false;
  const [R1, R2] = s.nonces[index]!;
  let Ri = R1.add(R2.multiply(s.b));
  if (!hasEvenY(s.R)) Ri = Ri.negate();
  let X = s.gp === 1n ? s.points[index]! : s.points[index]!.negate();
  if (index === 0) X = X.add(Point.BASE.multiply(int(s.key.tweak)));
  const right = Ri.add(X.multiply(mod(s.e * s.g)));
  return si === 0n ? right.equals(Point.ZERO) : Point.BASE.multiply(si).equals(right);
}

/** Every partial signature checked (a bad one names its party), then summed to the BIP-340 signature. */
export function aggregate(input: SessionInput, psigs: readonly Uint8Array[]): Uint8Array {
  const s = session(input);
  psigs.forEach((p, i) => {
    if (!partialVerify(input, i, p)) throw new InvalidContributionError('E_BAD_PARTIAL_SIG', String(i), `party ${i}'s partial signature does not verify`);
  });
  const sum = psigs.reduce((acc, p) => mod(acc + int(p)), 0n);
  const sig = concatBytes(xbytes(s.R), bytes32(sum));
  if (!schnorr.verify(sig, input.msg, s.key.outputKey)) throw new Error('internal: the aggregate signature does not verify');
  return sig;
}

const popMessage = (coinId: Uint8Array, share: Uint8Array) => schnorr.utils.taggedHash('offchain/statechain/possession', concatBytes(coinId, share));

/** A proof that the holder of `secretShare` controls its public share, for one coin. */
export function provePossession(secretShare: Uint8Array, coinId: Uint8Array, auxRand: Uint8Array): Uint8Array {
  const share = Point.BASE.multiply(int(secretShare)).toBytes(true);
  return schnorr.sign(popMessage(coinId, share), secretShare, auxRand);
}

export function verifyPossession(share: Uint8Array, coinId: Uint8Array, proof: Uint8Array): boolean {
  try {
    return schnorr.verify(proof, popMessage(coinId, share), share.subarray(1));
  } catch {
    return false;
  }
}

