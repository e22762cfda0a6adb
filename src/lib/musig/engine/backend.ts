/**
 * The secp256k1 operations BIP-327 and BIP-340 verification need, and nothing else:
 * decode / encode a compressed point, lift_x, parity, negation, addition, k·P, k·G and
 * BIP-340 Verify. Each backend (noble, the native binding, the system's libsecp256k1
 * through koffi) implements
 * them over its own point representation `P`; the BIP-327 engine (./keyagg.ts,
 * ./nonces.ts, ./session.ts) is written once against this interface, with scalars as
 * bigints (./scalar.ts).
 *
 * `null` is the point at infinity (BIP-327's cbytes_ext encodes it as 33 zero bytes).
 * Scalars are integers in [0, n); 0 times anything is infinity.
 */
import { invert } from '@noble/curves/abstract/modular.js';
import { N, P as FIELD_P, bytes32, int, taggedScalar } from './scalar.ts';

export type BackendName = 'noble' | 'native' | 'libsecp256k1';

export interface Secp256k1Backend<P = unknown> {
  readonly name: BackendName;
  /** cpoint(x): a 33-byte compressed encoding (02/03 prefix) → point; undefined when invalid. */
  pointFromBytes(bytes: Uint8Array): P | undefined;
  /** lift_x(x) of BIP-340: the point with this 32-byte x and even y; undefined when none. */
  liftX(x: Uint8Array): P | undefined;
  /** cbytes(P): the 33-byte compressed encoding of a finite point. */
  pointToBytes(p: P): Uint8Array;
  /** The 65-byte uncompressed SEC1 encoding 04 ‖ x ‖ y of a finite point (Cashu's NUT-12 hashes it); read-only: it may be the point itself. */
  pointToUncompressed(p: P): Uint8Array;
  hasEvenY(p: P): boolean;
  equals(a: P | null, b: P | null): boolean;
  negate(p: P): P;
  add(a: P | null, b: P | null): P | null;
  /** k·P for a PUBLIC scalar (variable time is allowed). */
  mul(p: P, k: bigint): P | null;
  /**
   * k·P for a SECRET scalar, constant time: libsecp256k1's ECDH multiplication
   * (secp256k1_ecmult_const), in the libsecp256k1 backends (absent on noble, whose
   * constant-time `multiply` ./secret-mul.ts calls instead). The ecash mint's C_ = k·B_
   * uses it when the stream selected such a backend.
   */
  mulSecret?(p: P, k: bigint): P | null;
  /**
   * BOLT 4's shared secret SHA256(compressed(k·P)) for a SECRET k in [1, n), given as its
   * 32 bytes big-endian (a node key as it is stored: no integer made of it), constant time:
   * libsecp256k1's secp256k1_ecdh with its default hash, in the backends that have it.
   * Throws for k = 0, k ≥ n or a length other than 32.
   */
  ecdhSha256?(p: P, k: Uint8Array): Uint8Array;
  /** k·G for any scalar, secret ones included (constant time in every backend). */
  mulBase(k: bigint): P | null;
  /** P + k·G for a PUBLIC scalar, in one library call where the library has one (a BOLT 3 key derivation); else add(P, mulBase(k)). */
  addMulBase?(p: P, k: bigint): P | null;
  /**
   * a·P + b·G for PUBLIC scalars a, b in [0, n), in one library call (one multi-multiplication)
   * where the library has one; variable time. Absent: mul, then addMulBase.
   */
  mulAddBase?(p: P, a: bigint, b: bigint): P | null;
  /**
   * a·P + b·Q for PUBLIC scalars a, b in [0, n), in one multi-multiplication (Strauss–Shamir:
   * one doubling chain for both) where the library has one; variable time. Absent: two `mul`
   * and an `add` (`mulPlusMul`). noble has it (~1.5 ms here where the two cost ~2.2 ms);
   * libsecp256k1's API has no a·P + b·Q for two arbitrary points.
   */
  mulAdd?(p: P, a: bigint, q: P, b: bigint): P | null;
  /** BIP-340 Verify(pk, m, sig): false, never a throw, for any invalid key or signature. */
  verifySchnorr(sig: Uint8Array, msg: Uint8Array, xOnlyPubkey: Uint8Array): boolean;
}

/** xbytes(P): the 32-byte x coordinate. */
export function xBytes<P>(ec: Secp256k1Backend<P>, p: P): Uint8Array {
  return ec.pointToBytes(p).subarray(1);
}

/**
 * BIP-340 Verify spelled out with the backend's point operations, for backends without
 * a Schnorr verifier of their own and for inputs theirs refuses (messages not 32 bytes).
 * `liftX`: the backend's, or one that remembers the keys it lifted (./backend-noble.ts).
 */
export function verifySchnorrWith<P>(
  ec: Secp256k1Backend<P>, sig: Uint8Array, msg: Uint8Array, pk: Uint8Array,
  liftX: (x: Uint8Array) => P | undefined = (x) => ec.liftX(x),
): boolean {
  // The interface's "false, never a throw, for any invalid key or signature", for callers
  // outside the type system too (noble's schnorr.verify, which this replaced on noble, did so).
  if (!(sig instanceof Uint8Array && msg instanceof Uint8Array && pk instanceof Uint8Array)) return false;
  if (sig.length !== 64 || pk.length !== 32) return false;
  const P = liftX(pk);
  if (P === undefined) return false;
  const r = int(sig.subarray(0, 32));
  const s = int(sig.subarray(32, 64));
  if (r >= FIELD_P || s >= N) return false;
  const e = taggedScalar('BIP0340/challenge', sig.subarray(0, 32), pk, msg);
  const R = baseMinusMul(ec, s, e, P);
  if (R === null || !ec.hasEvenY(R)) return false;
  const x = xBytes(ec, R);
  for (let i = 0; i < 32; i++) if (x[i] !== sig[i]) return false;
  return true;
}

/**
 * ECDSA public key recovery (SEC 1 §4.1.6, as noble's `recoverPublicKey`): the key Q with
 * s·R = e·G + r·Q for the compact signature r ‖ s (64 bytes), its recovery id (R's y parity,
 * and whether R's x is r + n) and the 32-byte hash e — Q = (s/r)·R − (e/r)·G, one
 * multi-multiplication where the backend has one. Undefined when no key recovers: r or s
 * outside [1, n), R's x not below p or no point, Q infinity. Public values only (variable time).
 */
export function recoverEcdsa<P>(ec: Secp256k1Backend<P>, sig: Uint8Array, recoveryId: number, hash: Uint8Array): P | undefined {
  if (sig.length !== 64 || hash.length !== 32 || !Number.isInteger(recoveryId) || recoveryId < 0 || recoveryId > 3) return undefined;
  const r = int(sig.subarray(0, 32));
  const s = int(sig.subarray(32, 64));
  if (r < 1n || r >= N || s < 1n || s >= N) return undefined;
  const x = recoveryId >= 2 ? r + N : r;
  if (x >= FIELD_P) return undefined;
  const encoded = new Uint8Array(33);
  encoded[0] = 0x02 + (recoveryId & 1);
  encoded.set(bytes32(x), 1);
  const R = ec.pointFromBytes(encoded);
  if (R === undefined) return undefined;
  const rInverse = invert(r, N);
  const e = int(hash) % N;
  const a = (s * rInverse) % N;
  const b = (N - ((e * rInverse) % N)) % N;
  const Q = ec.mulAddBase ? ec.mulAddBase(R, a, b) : plusMulBase(ec, ec.mul(R, a)!, b);
  return Q ?? undefined;
}

/** a·P + b·Q for public scalars a, b in [0, n): one multi-multiplication where the backend has one, else two and their sum. */
export function mulPlusMul<P>(ec: Secp256k1Backend<P>, p: P, a: bigint, q: P, b: bigint): P | null {
  return ec.mulAdd ? ec.mulAdd(p, a, q, b) : ec.add(ec.mul(p, a), ec.mul(q, b));
}

/** P + t·G for a public t: one library call where the backend has one, else k·G then the sum. */
export function plusMulBase<P>(ec: Secp256k1Backend<P>, p: P, t: bigint): P | null {
  return ec.addMulBase ? ec.addMulBase(p, t) : ec.add(p, ec.mulBase(t));
}

/**
 * s·G − c·P for public scalars s, c in [0, n): (n − c)·P + s·G in one multi-multiplication
 * where the backend has one (`mulAddBase`); else (n − c)·P, then s·G added in the same
 * library call where the backend has one (libsecp256k1's tweak-add) — two calls where
 * s·G, c·P and their sum were three.
 */
export function baseMinusMul<P>(ec: Secp256k1Backend<P>, s: bigint, c: bigint, P: P): P | null {
  if (c !== 0n && ec.mulAddBase) return ec.mulAddBase(P, N - c, s);
  const minusCP = c === 0n ? null : ec.mul(P, N - c);
  if (minusCP === null) return ec.mulBase(s);
  return plusMulBase(ec, minusCP, s);
}
