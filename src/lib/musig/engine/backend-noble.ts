/**
 * The pure-JS backend: @noble/curves' projective points. Always available, the default,
 * and the reference every other backend is checked against. k·G uses noble's
 * constant-time multiply with its base-point table; k·P (public scalars only) uses
 * multiplyUnsafe, noble's faster variable-time path, and a·P + b·Q its Strauss–Shamir
 * mulAddUnsafe (one doubling chain for both: ~1.5 ms here where two multiplications cost
 * ~2.2 ms).
 *
 * BIP-340 Verify is ./backend.ts's verifySchnorrWith over these points, not noble's
 * schnorr.verify: ~1.55 ms against ~1.74 ms here, and a key it has lifted before (a
 * contract's output key, verified at every update) is not lifted again (~0.1 ms, a square
 * root). The BIP-340 vectors run on it (test/lib/musig/engine-backends.test.ts).
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { verifySchnorrWith, type Secp256k1Backend } from './backend.ts';
import { Lru, keyOf } from '../../lru.ts';

const Point = secp256k1.Point;
type Point = InstanceType<typeof Point>;

/** x-only keys lifted by verifySchnorr (public values; noble's points are immutable). Its caller has checked the length. */
const lifted = new Lru<Point | null>(1024);

function liftXRemembered(x: Uint8Array): Point | undefined {
  const key = keyOf([x]);
  const hit = lifted.get(key);
  if (hit !== undefined) return hit ?? undefined;
  return lifted.set(key, nobleBackend.liftX(x) ?? null) ?? undefined;
}

export const nobleBackend: Secp256k1Backend<Point> = {
  name: 'noble',
  pointFromBytes(bytes) {
    if (bytes.length !== 33) return undefined;
    try {
      return Point.fromBytes(bytes);
    } catch {
      return undefined;
    }
  },
  liftX(x) {
    if (x.length !== 32) return undefined;
    const compressed = new Uint8Array(33);
    compressed[0] = 2;
    compressed.set(x, 1);
    return nobleBackend.pointFromBytes(compressed);
  },
  pointToBytes: (p) => p.toBytes(true),
  pointToUncompressed: (p) => p.toBytes(false),
  hasEvenY: (p) => (p.toAffine().y & 1n) === 0n,
  equals: (a, b) => (a === null || b === null ? a === b : a.equals(b)),
  negate: (p) => p.negate(),
  add(a, b) {
    if (a === null) return b;
    if (b === null) return a;
    const sum = a.add(b);
    return sum.is0() ? null : sum;
  },
  mul: (p, k) => (k === 0n ? null : p.multiplyUnsafe(k)),
  mulBase: (k) => (k === 0n ? null : Point.BASE.multiply(k)),
  // The scalar is public (a tweak): variable time, as taproot tweaks are computed.
  addMulBase(p, k) {
    if (k === 0n) return p;
    const sum = p.add(Point.BASE.multiplyUnsafe(k));
    return sum.is0() ? null : sum;
  },
  mulAdd(p, a, q, b) {
    const sum = p.mulAddUnsafe(a, q, b);
    return sum.is0() ? null : sum;
  },
  verifySchnorr: (sig, msg, pk) => verifySchnorrWith(nobleBackend, sig, msg, pk, liftXRemembered),
};
