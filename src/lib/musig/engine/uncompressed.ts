/**
 * Points as 65-byte uncompressed encodings (04 || x || y), the representation of the
 * libsecp256k1 backends: parsing it costs libsecp256k1 no square root, and parity,
 * negation, equality and compression are byte operations done here in JS.
 */
import { P as FIELD_P, N, bytes32, int } from './scalar.ts';
import { verifySchnorrWith, type BackendName, type Secp256k1Backend } from './backend.ts';

export type Uncompressed = Uint8Array;

export const hasEvenY = (p: Uncompressed): boolean => (p[64]! & 1) === 0;

export function compress(p: Uncompressed): Uint8Array {
  const out = new Uint8Array(33);
  out[0] = hasEvenY(p) ? 2 : 3;
  out.set(p.subarray(1, 33), 1);
  return out;
}

export function equals(a: Uncompressed | null, b: Uncompressed | null): boolean {
  if (a === null || b === null) return a === b;
  for (let i = 0; i < 65; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function negate(p: Uncompressed): Uncompressed {
  const out = Uint8Array.from(p);
  out.set(bytes32(FIELD_P - int(p.subarray(33, 65))), 33);
  return out;
}

/** a + b is infinity exactly when b = −a: same x, different y. */
export function areOpposite(a: Uncompressed, b: Uncompressed): boolean {
  for (let i = 1; i < 33; i++) if (a[i] !== b[i]) return false;
  return !equals(a, b);
}

/** A compressed encoding as libsecp256k1 must see it: 33 bytes, prefix 02 or 03. */
export const isCompressedShape = (bytes: Uint8Array): boolean => bytes.length === 33 && (bytes[0] === 2 || bytes[0] === 3);

/** The four operations a library of uncompressed (65-byte) points must offer. */
export type UncompressedOps = {
  /** SEC1 compressed → uncompressed; throws on a non-point. */
  decompress(compressed: Uint8Array): Uncompressed;
  /** a + b for two points whose sum is not infinity. */
  add(a: Uncompressed, b: Uncompressed): Uncompressed | null;
  /** k·p for a 32-byte scalar k in [1, n). */
  mul(p: Uncompressed, k: Uint8Array): Uncompressed | null;
  /** k·G for a 32-byte scalar k in [1, n). */
  mulBase(k: Uint8Array): Uncompressed;
  /** p + k·G for a 32-byte public scalar k in [1, n) whose sum is not infinity (throws if it is). */
  addMulBase?(p: Uncompressed, k: Uint8Array): Uncompressed;
  /** k·p for a 32-byte SECRET scalar k in [1, n), in constant time (ECDH's multiplication); `mul` may be variable time. */
  mulConst?(p: Uncompressed, k: Uint8Array): Uncompressed;
  /** SHA256(compressed(k·p)) for a 32-byte secret scalar k in [1, n), constant time. */
  ecdhSha256?(p: Uncompressed, k: Uint8Array): Uint8Array;
};

/** bytes(32, k) for a scalar in [0, n); anything else is refused as noble refuses it (bytes32 would truncate k ≥ 2^256). */
function scalarBytes(k: bigint): Uint8Array {
  if (k < 0n || k >= N) throw new RangeError('a scalar must be in [0, n)');
  return bytes32(k);
}

/** Run `f` on bytes(32, k) and wipe them after: the scalar is secret. */
function withSecret<T>(k: bigint, f: (d: Uint8Array) => T): T {
  const d = scalarBytes(k);
  try {
    return f(d);
  } finally {
    d.fill(0);
  }
}

/**
 * A backend over a library of uncompressed points (libsecp256k1 in WASM or native):
 * the library never sees infinity or a zero scalar — those cases are decided here —
 * and BIP-340 verification is `verifySchnorr` when the library has one, else
 * ./backend.ts's verifySchnorrWith on these point operations.
 */
export function uncompressedBackend(
  name: BackendName,
  ops: UncompressedOps,
  verifySchnorr?: (ec: Secp256k1Backend<Uncompressed>, sig: Uint8Array, msg: Uint8Array, pk: Uint8Array) => boolean,
): Secp256k1Backend<Uncompressed> {
  const ec: Secp256k1Backend<Uncompressed> = {
    name,
    pointFromBytes(bytes) {
      if (!isCompressedShape(bytes)) return undefined;
      try {
        return ops.decompress(bytes);
      } catch {
        return undefined;
      }
    },
    liftX(x) {
      if (x.length !== 32) return undefined;
      const c = new Uint8Array(33);
      c[0] = 2;
      c.set(x, 1);
      return ec.pointFromBytes(c);
    },
    pointToBytes: compress,
    hasEvenY,
    equals,
    negate,
    add(a, b) {
      if (a === null) return b;
      if (b === null) return a;
      if (areOpposite(a, b)) return null;
      return ops.add(a, b);
    },
    // libsecp256k1's pubkey tweak_mul: secp256k1_ecmult, variable time — public scalars only.
    mul: (p, k) => (k === 0n ? null : ops.mul(p, scalarBytes(k))),
    ...(ops.mulConst ? { mulSecret: (p: Uncompressed, k: bigint) => (k === 0n ? null : withSecret(k, (d) => ops.mulConst!(p, d))) } : {}),
    ...(ops.ecdhSha256 ? { ecdhSha256: (p: Uncompressed, k: bigint) => withSecret(k, (d) => ops.ecdhSha256!(p, d)) } : {}),
    mulBase: (k) => (k === 0n ? null : withSecret(k, (d) => ops.mulBase(d))),
    ...(ops.addMulBase
      ? {
          addMulBase(p: Uncompressed, k: bigint): Uncompressed | null {
            if (k === 0n) return p;
            const d = scalarBytes(k);
            try {
              return ops.addMulBase!(p, d);
            } catch {
              return ec.add(p, ec.mulBase(k)); // infinity (or a refusal): decided by the general path
            }
          },
        }
      : {}),
    verifySchnorr: (sig, msg, pk) => (verifySchnorr ? verifySchnorr(ec, sig, msg, pk) : verifySchnorrWith(ec, sig, msg, pk)),
  };
  return ec;
}
