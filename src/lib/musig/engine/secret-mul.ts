/**
 * k·P for a SECRET scalar on any backend, constant time. The interface's `mul` is for
 * public scalars and variable time on every backend (noble's multiplyUnsafe,
 * libsecp256k1's pubkey_tweak_mul), so a secret goes only to the backend's `mulSecret`
 * (libsecp256k1's ecmult_const, behind secp256k1_ecdh) where it has one, else to noble's
 * constant-time `multiply` — on noble itself, and on a backend without `mulSecret` (the
 * point crosses to noble as its encoding and back).
 *
 * Shared by BOLT 4's ECDH (../../onion/ecdh.ts) and Cashu's blind signatures and DLEQ
 * nonces (../../ecash/curve.ts).
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import type { Secp256k1Backend } from './backend.ts';

type NoblePoint = InstanceType<typeof secp256k1.Point>;

/** k·P in constant time on noble, for a backend's point that has no constant-time k·P of its own. */
export function nobleSecretMul<P>(ec: Secp256k1Backend<P>, p: P, k: bigint): NoblePoint {
  return ec.name === 'noble' ? (p as unknown as NoblePoint).multiply(k) : secp256k1.Point.fromBytes(ec.pointToBytes(p)).multiply(k);
}

/** k·P for a secret k in [0, n) (0: infinity, null), constant time on every backend. */
export function secretMul<P>(ec: Secp256k1Backend<P>, p: P, k: bigint): P | null {
  if (k === 0n) return null;
  if (ec.mulSecret) return ec.mulSecret(p, k);
  const product = nobleSecretMul(ec, p, k);
  return ec.name === 'noble' ? (product as unknown as P) : ec.pointFromBytes(product.toBytes(true))!;
}
