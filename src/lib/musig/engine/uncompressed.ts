/**
 * Points as 65-byte uncompressed encodings (04 || x || y), the representation of the
 * libsecp256k1 backends: parsing it costs libsecp256k1 no square root, and parity,
 * negation, equality and compression are byte operations done here in JS.
 */
import { P as FIELD_P, N, bytes32, int, mod, taggedScalar } from './scalar.ts';
import { plusMulBase, verifySchnorrWith, type BackendName, type Secp256k1Backend } from './backend.ts';

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
  /**
   * ECDSA public-key recovery (secp256k1_ecdsa_recover): r⁻¹·(s·R − z·G), R the point with
   * x = r (+ n when recid & 2) and y odd when recid & 1, from the 64-byte r || s, the
   * recovery id and the 32-byte z; throws when there is no such R, r or s is 0 or not below
   * n, or the result is infinity. Variable time: public values only. It is the one two-term
   * multiplication u·R + v·G these libraries expose (see `recoverMulAdd`).
   */
  recover?(rs: Uint8Array, recid: number, z: Uint8Array): Uncompressed;
};

/**
 * a·P + b·G, P given by its x (32 bytes) and y's parity, in one ECDSA recovery: with
 * r = x mod n, s = a·r and z = −b·r, recovery's r⁻¹·(s·P − z·G) is a·P + b·G. Undefined
 * where recovery cannot say: a = 0 or r = 0 (it refuses a zero s or r), no point with that
 * x, or a sum at infinity — the caller's general path decides those.
 */
function recoverMulAdd(recover: NonNullable<UncompressedOps['recover']>, x32: Uint8Array, odd: boolean, a: bigint, b: bigint): Uncompressed | undefined {
  const x = int(x32);
  const overflow = x >= N; // x in [n, p): recovery adds n back when recid & 2
  const r = overflow ? x - N : x;
  if (r === 0n || a === 0n) return undefined;
  const rs = new Uint8Array(64);
  rs.set(bytes32(r), 0);
  rs.set(bytes32(mod(a * r)), 32);
  try {
    return recover(rs, (odd ? 1 : 0) | (overflow ? 2 : 0), bytes32(mod(-(b * r))));
  } catch {
    return undefined;
  }
}

/**
 * BIP-340 Verify as s·G − e·P in one ECDSA recovery from P's x (lift_x: even y), which
 * also decides that x is a point: no decompression, no separate k·P and k·G. Whatever
 * recovery cannot answer (e = 0, r = 0, no such point, R at infinity) goes to
 * ./backend.ts's verifySchnorrWith, which answers it as before.
 */
function verifySchnorrByRecovery(
  ec: Secp256k1Backend<Uncompressed>,
  recover: NonNullable<UncompressedOps['recover']>,
  sig: Uint8Array,
  msg: Uint8Array,
  pk: Uint8Array,
): boolean {
  if (sig.length !== 64 || pk.length !== 32) return false;
  const rx = sig.subarray(0, 32);
  if (int(pk) >= FIELD_P || int(rx) >= FIELD_P) return false;
  const s = int(sig.subarray(32, 64));
  if (s >= N) return false;
  const e = taggedScalar('BIP0340/challenge', rx, pk, msg);
  const R = e === 0n ? undefined : recoverMulAdd(recover, pk, false, N - e, s);
  if (R === undefined) return verifySchnorrWith(ec, sig, msg, pk);
  if (!hasEvenY(R)) return false;
  for (let i = 0; i < 32; i++) if (R[i + 1] !== rx[i]) return false;
  return true;
}

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
    pointToUncompressed: (p) => p, // the representation is the encoding
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
    // The library refuses k = 0, k ≥ n and other lengths itself (secp256k1_ecdh returns 0).
    ...(ops.ecdhSha256 ? { ecdhSha256: (p: Uncompressed, k: Uint8Array) => ops.ecdhSha256!(p, k) } : {}),
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
    ...(ops.recover
      ? {
          mulAddBase(p: Uncompressed, a: bigint, b: bigint): Uncompressed | null {
            if (a < 0n || a >= N || b < 0n || b >= N) throw new RangeError('a scalar must be in [0, n)');
            const sum = recoverMulAdd(ops.recover!, p.subarray(1, 33), !hasEvenY(p), a, b);
            if (sum !== undefined) return sum;
            const aP = ec.mul(p, a); // a = 0, or a sum at infinity: the general path
            return aP === null ? ec.mulBase(b) : plusMulBase(ec, aP, b);
          },
        }
      : {}),
    verifySchnorr: verifySchnorr
      ? (sig, msg, pk) => verifySchnorr(ec, sig, msg, pk)
      : ops.recover
        ? (sig, msg, pk) => verifySchnorrByRecovery(ec, ops.recover!, sig, msg, pk)
        : (sig, msg, pk) => verifySchnorrWith(ec, sig, msg, pk),
  };
  return ec;
}
