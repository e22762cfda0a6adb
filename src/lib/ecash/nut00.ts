/**
 * NUT-00 blind Diffie-Hellman key exchange (BDHKE), the cryptography of Cashu ecash.
 *
 *   Alice (user)                 Bob (mint, key k, K = k·G for one amount)
 *   Y  = hash_to_curve(x)
 *   B_ = Y + r·G           ──B_──▶
 *                          ◀──C_──  C_ = k·B_
 *   C  = C_ − r·K  (= k·Y)
 *   later: Bob accepts (x, C) iff C == k·hash_to_curve(x) and x was never spent.
 *
 * Bob never sees x or C while signing, so he cannot link issuance to redemption. This
 * module is the arithmetic only: which B_ the mint may sign, and once, is the credit
 * mint's business (src/lib/credit/ecash.ts), and spending is the mint we front's.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, utf8 } from '../bytes.ts';
import { MalformedInputError } from '../errors.ts';
import { N, add, equals, expectFinite, liftEvenX, mulBase, mulSecret, subtract, type Point as PointT } from './curve.ts';

const DOMAIN_SEPARATOR = utf8('Secp256k1_HashToCurve_Cashu_');

/**
 * hash_to_curve(x): Y = the first valid point 02‖SHA256(SHA256(DST‖x)‖counter_le32),
 * counter from 0. A valid x-coordinate turns up with probability ~1/2 per try; 2^16
 * tries all failing has probability 2^-65536.
 */
export function hashToCurve(message: Uint8Array): PointT {
  const msgToHash = sha256(concatBytes(DOMAIN_SEPARATOR, message));
  const counter = new Uint8Array(4);
  for (let i = 0; i < 2 ** 16; i++) {
    new DataView(counter.buffer).setUint32(0, i, true);
    // Not an x coordinate on the curve (or ≥ p): the next counter.
    const Y = liftEvenX(sha256(concatBytes(msgToHash, counter)));
    if (Y) return Y;
  }
  throw new Error('hash_to_curve found no point in 2^16 tries');
}

/** A proof's secret is a string; the curve point is hashed from its UTF-8 bytes. */
export const secretPoint = (secret: string): PointT => hashToCurve(utf8(secret));

/** Alice: B_ = Y + r·G. */
export function blindMessage(Y: PointT, r: bigint): PointT {
  return expectFinite(add(Y, mulBase(r)), 'B_');
}

/** Bob: C_ = k·B_. B_ must be a point (not the identity: pointFromBytes refuses it). */
export function signBlindedMessage(k: bigint, B_: PointT): PointT {
  return mulSecret(B_, k);
}

/** Alice: C = C_ − r·K. */
export function unblindSignature(C_: PointT, r: bigint, K: PointT): PointT {
  return expectFinite(subtract(C_, mulSecret(K, r)), 'C');
}

/** Bob, at redemption: C == k·hash_to_curve(x). */
export function verifyProofSignature(k: bigint, secret: string, C: PointT): boolean {
  return equals(mulSecret(secretPoint(secret), k), C);
}

/** Amounts a keyset signs: powers of two 2^0 … 2^63. */
export const MAX_ORDER = 64;

export function isPowerOfTwo(a: bigint): boolean {
  return a > 0n && a < 1n << BigInt(MAX_ORDER) && (a & (a - 1n)) === 0n;
}

/** An amount as the powers of two a wallet asks for, largest first (NUT-00's split). */
export function splitAmount(amount: bigint): bigint[] {
  if (amount <= 0n || amount >= 1n << BigInt(MAX_ORDER)) throw new MalformedInputError('E_BAD_AMOUNT', `amount ${amount} cannot be split into ecash denominations`);
  const out: bigint[] = [];
  for (let i = MAX_ORDER - 1; i >= 0; i--) if ((amount >> BigInt(i)) & 1n) out.push(1n << BigInt(i));
  return out;
}

export { N };
