/**
 * Points as 65-byte uncompressed encodings (04 || x || y), the representation of the
 * libsecp256k1 backends: parsing it costs libsecp256k1 no square root, and parity,
 * negation, equality and compression are byte operations done here in JS.
 */
import { P as FIELD_P, bytes32, int } from './scalar.ts';

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
