/**
 * The integer side of BIP-327 and BIP-340: arithmetic mod the group order n, the
 * spec's int(x) / bytes(32, x) conversions, and tagged hashes (BIP-340's
 * hash_tag(x) = SHA256(SHA256(tag) || SHA256(tag) || x)). Scalars are bigints; every
 * backend does only the point arithmetic.
 */
import { sha256, sha256Of } from '../../hash.ts';

/** The secp256k1 group order n. */
export const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
/** The secp256k1 field size p. */
export const P = 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2fn;

export function mod(a: bigint): bigint {
  const r = a % N;
  return r < 0n ? r + N : r;
}

/**
 * The 32 bytes int and bytes32 read and write through, with a DataView over them: a fresh
 * 32-byte array lives on V8's heap, and a DataView of its own needs its buffer, which moves
 * it to a backing store (an allocation, ~0.5 µs — more than the conversion). Copying 32
 * bytes in or out costs nanoseconds. Wiped after each use (the value may be a secret key).
 */
const WORDS = new Uint8Array(32);
const WORDS_VIEW = new DataView(WORDS.buffer, WORDS.byteOffset, 32);
const TWO_256 = 1n << 256n;

/** int(x): a big-endian byte string as an integer (32 bytes, the common case, as four 64-bit words). */
export function int(bytes: Uint8Array): bigint {
  if (bytes.length === 32) {
    WORDS.set(bytes);
    const v = WORDS_VIEW;
    const x = (((v.getBigUint64(0) << 64n) | v.getBigUint64(8)) << 128n) | (v.getBigUint64(16) << 64n) | v.getBigUint64(24);
    WORDS.fill(0);
    return x;
  }
  let hex = '';
  for (let i = 0; i < bytes.length; i++) hex += HEX[bytes[i]!];
  return hex === '' ? 0n : BigInt('0x' + hex);
}

/** Whether 32 bytes big-endian are a secret key: an integer in [1, n), decided on the bytes. */
export function isSecretKey32(b: Uint8Array): boolean {
  if (b.length !== 32) return false;
  let nonzero = 0;
  for (let i = 0; i < 32; i++) nonzero |= b[i]!;
  if (nonzero === 0) return false;
  for (let i = 0; i < 32; i++) if (b[i] !== ORDER_BYTES[i]) return b[i]! < ORDER_BYTES[i]!;
  return false; // n itself
}

/** bytes(32, x) for 0 ≤ x < 2^256 (a RangeError for any other x). */
export function bytes32(x: bigint): Uint8Array {
  if (x < 0n || x >= TWO_256) throw new RangeError('bytes32: the integer is not in [0, 2^256)');
  const v = WORDS_VIEW;
  v.setBigUint64(0, x >> 192n); // setBigUint64 keeps the low 64 bits
  v.setBigUint64(8, x >> 128n);
  v.setBigUint64(16, x >> 64n);
  v.setBigUint64(24, x);
  const out = WORDS.slice();
  WORDS.fill(0);
  return out;
}

/** bytes(len, x) for a small non-negative integer (lengths and counters in hashes). */
export function uintBE(x: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = len - 1, v = x; i >= 0; i--, v = Math.floor(v / 256)) out[i] = v % 256;
  return out;
}

/** n, big-endian. */
const ORDER_BYTES = bytes32(N);

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

// SHA256(tag), computed once per tag; the tagged hash itself is one OpenSSL call over
// SHA256(tag) || SHA256(tag) || parts, joined in ../../hash.ts's scratch and wiped after it
// (~1.0 µs against ~2.2 for noble's saved state cloned and finished: a mint update and a
// statechain transfer make about ten).
const tagHashes = new Map<string, Uint8Array>();

export function taggedHash(tag: string, ...parts: Uint8Array[]): Uint8Array {
  let t = tagHashes.get(tag);
  if (!t) tagHashes.set(tag, (t = sha256(new TextEncoder().encode(tag))));
  return sha256Of([t, t, ...parts]); // an array, not a second spread: ecash's outputs digest passes ~200,000 parts
}

/** int(hash_tag(...)) mod n. */
export function taggedScalar(tag: string, ...parts: Uint8Array[]): bigint {
  return mod(int(taggedHash(tag, ...parts)));
}

export function xorBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}
