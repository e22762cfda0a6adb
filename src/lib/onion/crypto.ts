/**
 * The symmetric primitives of BOLT 4, on Node's built-in crypto (ChaCha20 and
 * HMAC-SHA256 over ~1.3 kB are on every build/peel's critical path; OpenSSL is far
 * faster than pure JS there). Pure functions: no I/O.
 *
 * - generate_key(key_type, secret) = HMAC-SHA256(key = ASCII key_type, msg = secret)
 *   for key_type in rho, mu, um, ammag, ammagext (attribution data), pad.
 * - the pseudo-random byte stream: ChaCha20 with the key, a 96-bit zero nonce and
 *   counter 0, encrypting zeros. Node's 'chacha20' takes a 16-byte IV:
 *   4-byte little-endian counter || 12-byte nonce; all zero here.
 */
import { createCipheriv, createHmac, timingSafeEqual } from 'node:crypto';

export type KeyType = 'rho' | 'mu' | 'um' | 'ammag' | 'ammagext' | 'pad';

const ZERO_IV = new Uint8Array(16);
const KEY_TYPES: Record<KeyType, Uint8Array> = {
  rho: new TextEncoder().encode('rho'), mu: new TextEncoder().encode('mu'), um: new TextEncoder().encode('um'),
  ammag: new TextEncoder().encode('ammag'), ammagext: new TextEncoder().encode('ammagext'), pad: new TextEncoder().encode('pad'),
};

export function generateKey(keyType: KeyType, secret: Uint8Array): Uint8Array {
  return hmacSha256(KEY_TYPES[keyType], secret);
}

export function hmacSha256(key: Uint8Array, ...msg: Uint8Array[]): Uint8Array {
  const h = createHmac('sha256', key);
  for (const m of msg) h.update(m);
  return new Uint8Array(h.digest());
}

/** SHA256 of the parts, concatenated (OpenSSL's one-shot hash for one part). */
export { sha256 } from '../hash.ts';

/** `length` bytes of the ChaCha20 stream keyed by `key` (nonce 0, counter 0). */
export function cipherStream(key: Uint8Array, length: number): Uint8Array {
  return chacha20Xor(key, new Uint8Array(length));
}

/** `data` XOR the ChaCha20 stream keyed by `key`. */
export function chacha20Xor(key: Uint8Array, data: Uint8Array): Uint8Array {
  const c = createCipheriv('chacha20', key, ZERO_IV);
  const out = c.update(data);
  c.final();
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** Constant-time comparison of two 32-byte HMACs. */
export function hmacEquals(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
