/**
 * The secp256k1 arithmetic Cashu's blind Diffie-Hellman needs (NUT-00, NUT-12), on the
 * backend the CLI selected for all curve work (../musig/engine/select.ts activeSecp256k1:
 * noble, or libsecp256k1 natively, through koffi or in WASM): points from and to their
 * compressed SEC1 form with a coded refusal for anything that is not a point, the
 * uncompressed form NUT-12 hashes, k·G, k·P, sums; scalars from 32-byte big-endian strings.
 *
 * Invariants (tests: test/lib/ecash/backends.test.ts, curve-mutants.test.ts):
 * - Every backend gives the same bytes and the same refusals: a non-point, the identity
 *   (none is a Point: an operation whose result would be infinity throws, or answers null
 *   where a verifier must say "no"), a secret scalar outside [1, n).
 * - A secret scalar (a mint key k, a DLEQ nonce r, a blinding factor r) reaches only a
 *   constant-time multiplication: k·G on every backend, k·P on the backend's `mulSecret`
 *   (libsecp256k1's ecmult_const) or else noble's `multiply` (../musig/engine/secret-mul.ts).
 *   Variable-time multiplication (`mulPublic`, `baseMinusMul`, `mulMinusMul`) is for
 *   public scalars: a DLEQ's e and s, a token's r.
 * - A Point remembers the backend that made it; used under another one (a keyset derived
 *   before a backend was selected) it crosses as its encoding, so mixing is slower, never
 *   wrong.
 */
import { MalformedInputError } from '../errors.ts';
import { fromHex } from '../bytes.ts';
import { activeSecp256k1 } from '../musig/engine/select.ts';
import { baseMinusMul as baseMinusMulOn, mulPlusMul, type Secp256k1Backend } from '../musig/engine/backend.ts';
import { N, bytes32, int } from '../musig/engine/scalar.ts';
import { secretMul } from '../musig/engine/secret-mul.ts';

type Backend = Secp256k1Backend<unknown>;

/** A finite point, in the representation of the backend that made it (opaque outside this module). */
export type Point = { readonly ec: Backend; readonly raw: unknown };

export { N };

/** Big-endian bytes as an integer (32 bytes: four 64-bit reads, no hex string; any other length as well). */
export const bytesToScalar = (b: Uint8Array): bigint => int(b);
/** An integer in [0, 2^256) as 32 big-endian bytes (RangeError outside). */
export const scalarToBytes = (k: bigint): Uint8Array => bytes32(k);

const point = (ec: Backend, raw: unknown): Point => ({ ec, raw });

const orNull = (ec: Backend, raw: unknown | null): Point | null => (raw === null ? null : point(ec, raw));

/** A result that must be a point: infinity throws (the same refusal on every backend). */
export function expectFinite(P: Point | null, what: string): Point {
  if (P === null) throw new Error(`${what} is the point at infinity`);
  return P;
}

const finite = (ec: Backend, raw: unknown | null, what: string): Point => expectFinite(orNull(ec, raw), what);

/** P's representation on `ec`: itself, or (made on another backend) through its encoding. */
function on(ec: Backend, P: Point): unknown {
  return P.ec === ec ? P.raw : ec.pointFromBytes(P.ec.pointToBytes(P.raw))!;
}

/** A secret scalar (a key, a nonce, a blinding factor) must be in [1, n); refused alike on every backend. */
function secretScalar(k: bigint): bigint {
  if (k <= 0n || k >= N) throw new RangeError('a secret scalar must be in [1, n)');
  return k;
}

/** A public scalar (a DLEQ's e or s, a token's r) in [0, n). */
function publicScalar(k: bigint): bigint {
  if (k < 0n || k >= N) throw new RangeError('a scalar must be in [0, n)');
  return k;
}

/** A compressed (33-byte) point, as every Cashu message carries them; the identity is not a point. */
export function pointFromBytes(bytes: Uint8Array, field: string): Point {
  if (bytes.length !== 33 || (bytes[0] !== 2 && bytes[0] !== 3)) {
    throw new MalformedInputError('E_BAD_POINT', `${field} is not a compressed secp256k1 point (33 bytes, 02/03 prefix)`);
  }
  const ec = activeSecp256k1();
  const raw = ec.pointFromBytes(bytes);
  if (raw === undefined) throw new MalformedInputError('E_BAD_POINT', `${field} is not a point on secp256k1`);
  return point(ec, raw);
}

export const pointFromHex = (hex: string, field: string): Point => pointFromBytes(fromHex(hex, field), field);

/** 02 ‖ x as a point, or undefined when x is no point's x coordinate (hash_to_curve's trial). */
export function liftEvenX(x: Uint8Array): Point | undefined {
  const ec = activeSecp256k1();
  const raw = ec.liftX(x);
  return raw === undefined ? undefined : point(ec, raw);
}

/** A private scalar in [1, n-1] from 32 bytes (E_BAD_SCALAR otherwise). */
export function scalarFromBytes(bytes: Uint8Array, field: string): bigint {
  const k = bytes.length === 32 ? bytesToScalar(bytes) : 0n;
  if (k === 0n || k >= N) throw new MalformedInputError('E_BAD_SCALAR', `${field} is not a secp256k1 scalar in [1, n-1] (32 bytes)`);
  return k;
}

export const compressed = (P: Point): Uint8Array => P.ec.pointToBytes(P.raw);
export const uncompressed = (P: Point): Uint8Array => P.ec.pointToUncompressed(P.raw);

export function equals(P: Point, Q: Point): boolean {
  const ec = activeSecp256k1();
  return ec.equals(on(ec, P), on(ec, Q));
}

/** k·G for a secret k in [1, n) (a mint key's public key, a DLEQ's r·G, a blinding r·G): constant time on every backend. */
export function mulBase(k: bigint): Point {
  const ec = activeSecp256k1();
  return finite(ec, ec.mulBase(secretScalar(k)), 'k·G');
}

/** k·P for a secret k in [1, n) (the mint's C_ = k·B_, the DLEQ's r·B_, the user's r·K): constant time. */
export function mulSecret(P: Point, k: bigint): Point {
  const ec = activeSecp256k1();
  return finite(ec, secretMul(ec, on(ec, P), secretScalar(k)), 'k·P');
}

/** k·P for a PUBLIC k in [0, n) (variable time); null for infinity. */
export function mulPublic(P: Point, k: bigint): Point | null {
  const ec = activeSecp256k1();
  return orNull(ec, ec.mul(on(ec, P), publicScalar(k)));
}

/** P + Q; null for infinity (Q = −P). */
export function add(P: Point, Q: Point): Point | null {
  const ec = activeSecp256k1();
  return orNull(ec, ec.add(on(ec, P), on(ec, Q)));
}

/** P − Q; null for infinity (Q = P). */
export function subtract(P: Point, Q: Point): Point | null {
  const ec = activeSecp256k1();
  return orNull(ec, ec.add(on(ec, P), ec.negate(on(ec, Q))));
}

/** s·G − e·P for public s, e in [0, n), in one multi-multiplication where the backend has one; null for infinity. */
export function baseMinusMul(s: bigint, e: bigint, P: Point): Point | null {
  const ec = activeSecp256k1();
  return orNull(ec, baseMinusMulOn(ec, publicScalar(s), publicScalar(e), on(ec, P)));
}

/** a·P − b·Q for public a, b in [0, n); null for infinity. */
export function mulMinusMul(P: Point, a: bigint, Q: Point, b: bigint): Point | null {
  const ec = activeSecp256k1();
  return orNull(ec, mulPlusMul(ec, on(ec, P), publicScalar(a), on(ec, Q), (N - publicScalar(b)) % N));
}
