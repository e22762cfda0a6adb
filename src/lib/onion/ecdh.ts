/**
 * BOLT 4's ECDH: shared_secret = SHA256(compressed(k·P)) for a SECRET k (session key
 * chain, node key, path key), and k·P for the blindings. The backend interface's `mul` is
 * documented for public scalars, and noble's (multiplyUnsafe) is variable time, so on
 * noble this uses the constant-time `multiply`; the libsecp256k1 backends' point
 * multiplication (tweak_mul / pointMultiply) is constant time already, through
 * `mulSecret` where the backend has it (it wipes its copy of the scalar).
 */
import type { Secp256k1Backend } from '../musig/engine/backend.ts';
import { sha256 } from '../hash.ts';

type NoblePoint = { multiply(k: bigint): unknown };

/**
 * A backend that computes the shared secret in one library call (libsecp256k1's
 * secp256k1_ecdh with its default hash: SHA256 of the compressed point). Optional; the
 * name is ours until the backend interface (../musig/engine/backend.ts) has it.
 */
type WithEcdh<P> = Secp256k1Backend<P> & { ecdhSha256?(p: P, k: bigint): Uint8Array };

export function secretMul<P>(ec: Secp256k1Backend<P>, p: P, k: bigint): P | null {
  if (k === 0n) return null;
  if (ec.name === 'noble') return (p as unknown as NoblePoint).multiply(k) as P;
  return ec.mulSecret ? ec.mulSecret(p, k) : ec.mul(p, k);
}

/**
 * SHA256(compressed(k·P)) for a secret k: the backend's one call when it has one, else
 * k·P here and SHA-256 of its encoding; null for infinity (k = 0: callers refuse it first,
 * and for k in [1, n) k·P is never infinity in the prime-order group).
 */
export function sharedSecret<P>(ec: Secp256k1Backend<P>, p: P, k: bigint): Uint8Array | null {
  if (k === 0n) return null;
  const one = (ec as WithEcdh<P>).ecdhSha256;
  if (one) return one.call(ec, p, k);
  const S = secretMul(ec, p, k);
  return S === null ? null : sha256(ec.pointToBytes(S));
}
