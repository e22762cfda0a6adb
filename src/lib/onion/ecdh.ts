/**
 * BOLT 4's ECDH: shared_secret = SHA256(compressed(k·P)) for a SECRET k (session key
 * chain, node key, path key), and k·P for the blindings (b is derived from the shared
 * secret, so it is treated as secret too). The backend interface's `mul` is for public
 * scalars and variable time on every backend (noble's multiplyUnsafe, libsecp256k1's
 * pubkey_tweak_mul), so a secret scalar goes only to a constant-time multiplication:
 * the backend's `ecdhSha256` or `mulSecret` (libsecp256k1's ecmult_const, behind
 * secp256k1_ecdh) where it has them, else noble's constant-time `multiply` — on noble
 * itself, and on tiny-secp256k1, whose only k·P is variable time (the point crosses to
 * noble as its encoding and back).
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import type { Secp256k1Backend } from '../musig/engine/backend.ts';
import { sha256 } from '../hash.ts';

type NoblePoint = InstanceType<typeof secp256k1.Point>;

/** k·P in constant time on noble, for a backend's point that has no constant-time k·P of its own. */
function nobleSecretMul<P>(ec: Secp256k1Backend<P>, p: P, k: bigint): NoblePoint {
  return ec.name === 'noble' ? (p as unknown as NoblePoint).multiply(k) : secp256k1.Point.fromBytes(ec.pointToBytes(p)).multiply(k);
}

export function secretMul<P>(ec: Secp256k1Backend<P>, p: P, k: bigint): P | null {
  if (k === 0n) return null;
  if (ec.mulSecret) return ec.mulSecret(p, k);
  const product = nobleSecretMul(ec, p, k);
  return ec.name === 'noble' ? (product as unknown as P) : ec.pointFromBytes(product.toBytes(true))!;
}

/**
 * SHA256(compressed(k·P)) for a secret k: the backend's one call when it has one, else a
 * constant-time k·P and SHA-256 of its encoding; null for infinity (k = 0: callers refuse it
 * first, and for k in [1, n) k·P is never infinity in the prime-order group).
 */
export function sharedSecret<P>(ec: Secp256k1Backend<P>, p: P, k: bigint): Uint8Array | null {
  if (k === 0n) return null;
  if (ec.ecdhSha256) return ec.ecdhSha256(p, k);
  if (ec.mulSecret) return sha256(ec.pointToBytes(ec.mulSecret(p, k)!));
  return sha256(nobleSecretMul(ec, p, k).toBytes(true));
}
