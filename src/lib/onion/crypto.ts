/**
 * The symmetric primitives of BOLT 4. Pure functions: no I/O.
 *
 * - generate_key(key_type, secret) = HMAC-SHA256(key = ASCII key_type, msg = secret)
 *   for key_type in rho, mu, um, ammag, ammagext (attribution data), pad.
 * - the pseudo-random byte stream: ChaCha20 with the key, a 96-bit zero nonce and
 *   counter 0, encrypting zeros (./chacha20.ts).
 *
 * Where each runs: generate_key in JavaScript (../hash.ts) from the key types' pads,
 * compressed once (they are public), so two compressions and no call; a packet's HMAC on
 * OpenSSL, in one call for the inner hash with its inner pad in the 64 bytes the caller
 * keeps in front of the message (hmacSha256Framed) and one for the outer hash; a blinding
 * factor (./sphinx.ts) one call too. With the SHA extensions (sha_ni) one-shot
 * `crypto.hash` of two blocks costs ~0.6 µs, a JavaScript compression ~0.5–0.8 µs: a
 * hash that needs no precomputed state goes to OpenSSL.
 */
import { equalBytes } from '../bytes.ts';
import { hmacPads as padsOf, hmacSha256, hmacSha256Framed, sha256, sha256From, type HmacPads as Pads } from '../hash.ts';
import { chacha20XorInto } from './chacha20.ts';

export { chacha20XorInto };

export type KeyType = 'rho' | 'mu' | 'um' | 'ammag' | 'ammagext' | 'pad';

export { sha256, hmacSha256, hmacSha256Framed };

const KEY_TYPES = Object.fromEntries(
  (['rho', 'mu', 'um', 'ammag', 'ammagext', 'pad'] as const).map((k) => [k, padsOf(new TextEncoder().encode(k))]),
) as Record<KeyType, Pads>;

export function generateKey(keyType: KeyType, secret: Uint8Array): Uint8Array {
  const pads = KEY_TYPES[keyType];
  return sha256From(pads.outer, 64, sha256From(pads.inner, 64, secret));
}

/** `length` bytes of the ChaCha20 stream keyed by `key` (nonce 0, counter 0). */
export function cipherStream(key: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  chacha20XorInto(key, out, 0, length);
  return out;
}

/** `data` XOR the ChaCha20 stream keyed by `key`, in a new array. */
export function chacha20Xor(key: Uint8Array, data: Uint8Array): Uint8Array {
  const out = Uint8Array.from(data);
  chacha20XorInto(key, out, 0, out.length);
  return out;
}

/**
 * Comparison of two HMACs without a branch on the data: bytes.ts's equalBytes, which ORs
 * every byte pair's difference (a call into timingSafeEqual costs more than the 32 bytes).
 */
export const hmacEquals = equalBytes;
