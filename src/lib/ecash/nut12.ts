/**
 * NUT-12 DLEQ proofs: the mint shows that the key a in A = a·G is the key in C_ = a·B_,
 * so a user can tell, offline, that its ecash was signed with the advertised key for its
 * amount (a mint signing with another key could later refuse, or tag, those tokens).
 *
 * The nonce is NUT-12's deterministic one: r = HMAC-SHA256(key = a, "Cashu_DLEQ_R_v1" ‖
 * A ‖ B_ ‖ C_ ‖ ctr) over uncompressed points, ctr from 0 until 0 < r < n. So the same
 * B_ always gets the same (e, s), and a nonce never meets two challenges: two different
 * challenges under one r would reveal a.
 */
import { concatBytes, toHex, utf8 } from '../bytes.ts';
import { hmacSha256, sha256 } from '../hash.ts';
import { N, add, baseMinusMul, bytesToScalar, mulBase, mulMinusMul, mulPublic, mulSecret, scalarToBytes, uncompressed, type Point } from './curve.ts';
import { secretPoint } from './nut00.ts';

/** hash_e: SHA-256 over the concatenated lowercase hex of the uncompressed points. */
export function hashE(...points: Point[]): Uint8Array {
  return sha256(utf8(points.map((p) => toHex(uncompressed(p))).join('')));
}

const DLEQ_R_TAG = utf8('Cashu_DLEQ_R_v1');

export function dleqNonce(a: bigint, A: Point, B_: Point, C_: Point): bigint {
  const key = scalarToBytes(a);
  const data = concatBytes(DLEQ_R_TAG, uncompressed(A), uncompressed(B_), uncompressed(C_));
  try {
    // HMAC on OpenSSL (../hash.ts): noble's was ~7–35 µs a nonce, five a payment.
    for (let ctr = 0; ctr < 256; ctr++) {
      const r = bytesToScalar(hmacSha256(key, data, Uint8Array.of(ctr)));
      if (r !== 0n && r < N) return r;
    }
  } finally {
    key.fill(0);
  }
  throw new Error('no DLEQ nonce in 256 tries');
}

export type Dleq = { e: Uint8Array; s: Uint8Array };

/** Bob: (e, s) for C_ = a·B_, with the deterministic nonce (A = a·G, given when the caller has it). */
export function createDleq(a: bigint, B_: Point, C_: Point, A: Point = mulBase(a)): Dleq {
  const r = dleqNonce(a, A, B_, C_);
  // r is as secret as a (s = r + e·a): constant-time multiplications only.
  const e = hashE(mulBase(r), mulSecret(B_, r), A, C_);
  const s = (r + bytesToScalar(e) * a) % N;
  return { e, s: scalarToBytes(s) };
}

/** Alice: R1 = s·G − e·A, R2 = s·B_ − e·C_, e == hash_e(R1, R2, A, C_). */
export function verifyDleq(dleq: Dleq, A: Point, B_: Point, C_: Point): boolean {
  if (dleq.e.length !== 32 || dleq.s.length !== 32) return false;
  const e = bytesToScalar(dleq.e);
  const s = bytesToScalar(dleq.s);
  if (e === 0n || e >= N || s === 0n || s >= N) return false;
  // Every input is public: variable-time multiplication is safe here.
  const R1 = baseMinusMul(s, e, A);
  const R2 = mulMinusMul(B_, s, C_, e);
  if (R1 === null || R2 === null) return false;
  return toHex(hashE(R1, R2, A, C_)) === toHex(dleq.e);
}

/**
 * Carol: a proof (x, C) with its DLEQ and Alice's blinding factor r: rebuild
 * B_ = Y + r·G and C_ = C + r·A, then verify as Alice.
 */
export function verifyProofDleq(dleq: Dleq & { r: Uint8Array }, A: Point, secret: string, C: Point): boolean {
  if (dleq.r.length !== 32) return false;
  const r = bytesToScalar(dleq.r);
  if (r === 0n || r >= N) return false;
  // r travels in the token: public, so variable-time multiplication is safe here too.
  const B_ = add(secretPoint(secret), mulBase(r));
  const C_ = add(C, mulPublic(A, r)!);
  return B_ !== null && C_ !== null && verifyDleq(dleq, A, B_, C_);
}
