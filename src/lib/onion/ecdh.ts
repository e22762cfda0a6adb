/**
 * k·P where k is SECRET (session key chain, node key, path key): the backend
 * interface's `mul` is documented for public scalars, and noble's (multiplyUnsafe) is
 * variable time, so on noble this uses the constant-time `multiply`; the libsecp256k1
 * backends' point multiplication (tweak_mul / pointMultiply) is constant time already.
 */
import type { Secp256k1Backend } from '../musig/engine/backend.ts';

type NoblePoint = { multiply(k: bigint): unknown };

export function secretMul<P>(ec: Secp256k1Backend<P>, p: P, k: bigint): P | null {
  if (k === 0n) return null;
  if (ec.name === 'noble') return (p as unknown as NoblePoint).multiply(k) as P;
  return ec.mul(p, k);
}
