/**
 * The secp256k1 arithmetic Cashu's blind Diffie-Hellman needs (NUT-00): points from and
 * to their compressed SEC1 form with a coded refusal for anything that is not a point,
 * scalars from 32-byte big-endian strings. noble does the arithmetic.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToNumberBE, numberToBytesBE } from '@noble/curves/utils.js';
import { MalformedInputError } from '../errors.ts';
import { fromHex } from '../bytes.ts';

export const Point = secp256k1.Point;
export type Point = InstanceType<typeof secp256k1.Point>;
export const N = secp256k1.Point.Fn.ORDER;
export const G = secp256k1.Point.BASE;

export const bytesToScalar = (b: Uint8Array): bigint => bytesToNumberBE(b);
export const scalarToBytes = (k: bigint): Uint8Array => numberToBytesBE(k, 32);

/** A compressed (33-byte) point, as every Cashu message carries them; the identity is not a point. */
export function pointFromBytes(bytes: Uint8Array, field: string): Point {
  if (bytes.length !== 33 || (bytes[0] !== 2 && bytes[0] !== 3)) {
    throw new MalformedInputError('E_BAD_POINT', `${field} is not a compressed secp256k1 point (33 bytes, 02/03 prefix)`);
  }
  try {
    return Point.fromBytes(bytes);
  } catch {
    throw new MalformedInputError('E_BAD_POINT', `${field} is not a point on secp256k1`);
  }
}

export const pointFromHex = (hex: string, field: string): Point => pointFromBytes(fromHex(hex, field), field);

/** A private scalar in [1, n-1] from 32 bytes (E_BAD_SCALAR otherwise). */
export function scalarFromBytes(bytes: Uint8Array, field: string): bigint {
  const k = bytes.length === 32 ? bytesToScalar(bytes) : 0n;
  if (k === 0n || k >= N) throw new MalformedInputError('E_BAD_SCALAR', `${field} is not a secp256k1 scalar in [1, n-1] (32 bytes)`);
  return k;
}

export const compressed = (p: Point): Uint8Array => p.toBytes(true);
export const uncompressed = (p: Point): Uint8Array => p.toBytes(false);

/**
 * k·P for a secret k (the mint's C_ = k·B_, the DLEQ's r·B_): noble's constant-time
 * multiply, or — once a long-running mint chose a libsecp256k1 backend — that library's
 * constant-time tweak_mul, through 65-byte uncompressed points (no square root either
 * way). Results are identical; only speed changes.
 */
export type SecretMultiplier = (uncompressedP: Uint8Array, k: bigint) => Uint8Array | null;
let secretMultiplier: SecretMultiplier | undefined;

export function useSecretMultiplier(m: SecretMultiplier | undefined): void {
  secretMultiplier = m;
}

export function mulSecret(P: Point, k: bigint): Point {
  if (!secretMultiplier) return P.multiply(k);
  const out = secretMultiplier(P.toBytes(false), k);
  if (!out) throw new Error('k·P is the point at infinity');
  return Point.fromBytes(out);
}
