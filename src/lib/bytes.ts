/**
 * Byte helpers shared by every module: hex in/out with validation that yields our
 * error type, concatenation and comparison. Kept tiny; `@scure/base` does the codecs.
 */
import { hex as scureHex } from '@scure/base';
import { MalformedInputError } from './errors.ts';

export type Bytes = Uint8Array;

const HEX_RE = /^(?:[0-9a-fA-F]{2})*$/;

type Slice = (this: Uint8Array, start: number, end: number) => string;
/**
 * Node's own encoders (Buffer's toString calls them), called on the view itself: reading
 * `view.buffer` for Buffer.from makes V8 move a small array's bytes off its heap first, and a
 * fresh 32-byte array then costs ~1 µs to print against ~0.45. Node has had them on
 * Buffer.prototype since its first releases; where one is missing, the documented path.
 */
const native = Buffer.prototype as unknown as { hexSlice?: Slice; latin1Slice?: Slice };
/** The encoder of `slice`, or without one the documented path (exported for its tests). */
export const viewEncoder = (slice: Slice | undefined, encoding: 'hex' | 'latin1') =>
  typeof slice === 'function'
    ? (bytes: Uint8Array) => slice.call(bytes, 0, bytes.length)
    : (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString(encoding);
const hexOf = viewEncoder(native.hexSlice, 'hex');

/** One latin1 character per byte, a flat string (cache keys: ./lru.ts keyOf). */
export const latin1Of = viewEncoder(native.latin1Slice, 'latin1');

/** Lowercase hex, by Node's native encoder (a credit update prints and compares a dozen: ~10× the JS codec's speed); anything not bytes refused by @scure/base as before. */
export function toHex(bytes: Uint8Array): string {
  if (!(bytes instanceof Uint8Array)) return scureHex.encode(bytes);
  return hexOf(bytes);
}

/**
 * Parse hex, naming the field in the error. `length` (bytes) is checked when given.
 */
export function fromHex(text: string, field = 'hex', length?: number): Bytes {
  if (typeof text !== 'string' || !HEX_RE.test(text)) {
    throw new MalformedInputError('E_BAD_HEX', `${field} is not valid hex`);
  }
  const out = scureHex.decode(text.toLowerCase());
  if (length !== undefined && out.length !== length) {
    throw new MalformedInputError('E_BAD_LENGTH', `${field} must be ${length} bytes, got ${out.length}`);
  }
  return out;
}

export function isHex(text: string): boolean {
  return HEX_RE.test(text);
}

export function concatBytes(...parts: Uint8Array[]): Bytes {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** Lexicographic order, as BIP-327 KeySort and BIP-174 key ordering use. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!;
  }
  return a.length - b.length;
}

export function utf8(text: string): Bytes {
  return new TextEncoder().encode(text);
}

/** Overwrite secret material we hold in a buffer once it is no longer needed. */
export function wipe(bytes: Uint8Array | undefined): void {
  if (bytes) bytes.fill(0);
}

/** A reused buffer of at least `n` bytes, for bytes that are hashed at once and never kept. */
export function scratchBuffer(): (n: number) => Uint8Array {
  let buf = new Uint8Array(1024);
  return (n) => (n <= buf.length ? buf : (buf = new Uint8Array(Math.max(n, 2 * buf.length))));
}
