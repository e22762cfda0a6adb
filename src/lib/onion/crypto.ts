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
import { hash } from 'node:crypto';
import { equalBytes } from '../bytes.ts';
import { sha256, sha256From, sha256Midstate as midstate } from '../hash.ts';
import { chacha20XorInto } from './chacha20.ts';

export { chacha20XorInto };

export type KeyType = 'rho' | 'mu' | 'um' | 'ammag' | 'ammagext' | 'pad';

export { sha256 };

/** The longest message an HMAC here hashes in JavaScript: two blocks with their padding. */
const SHORT = 119;

/** An HMAC key's pads, compressed: the SHA-256 states after (key ⊕ ipad) and after (key ⊕ opad). */
type Pads = { readonly inner: Int32Array; readonly outer: Int32Array };

/** RFC 2104: a key longer than the block is hashed first; both pads are the key XOR 0x36 / 0x5c, zero-padded to 64 bytes. */
function padBlock(key: Uint8Array, pad: number): Uint8Array {
  const k = key.length > 64 ? sha256(key) : key;
  const block = new Uint8Array(64).fill(pad);
  for (let i = 0; i < k.length; i++) block[i]! ^= k[i]!;
  return block;
}

function padsOf(key: Uint8Array): Pads {
  const inner = padBlock(key, 0x36);
  const outer = padBlock(key, 0x5c);
  const pads = { inner: midstate(inner), outer: midstate(outer) };
  inner.fill(0);
  outer.fill(0);
  return pads;
}

const KEY_TYPES = Object.fromEntries(
  (['rho', 'mu', 'um', 'ammag', 'ammagext', 'pad'] as const).map((k) => [k, padsOf(new TextEncoder().encode(k))]),
) as Record<KeyType, Pads>;

export function generateKey(keyType: KeyType, secret: Uint8Array): Uint8Array {
  const pads = KEY_TYPES[keyType];
  return sha256From(pads.outer, 64, sha256From(pads.inner, 64, secret));
}

/** HMAC-SHA256(key, the parts concatenated). */
export function hmacSha256(key: Uint8Array, ...msg: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const m of msg) length += m.length;
  if (length <= SHORT) {
    const pads = padsOf(key);
    const mac = sha256From(pads.outer, 64, sha256From(pads.inner, 64, ...msg));
    pads.inner.fill(0);
    pads.outer.fill(0);
    return mac;
  }
  const framed = new Uint8Array(64 + length);
  let at = 64;
  for (const m of msg) {
    framed.set(m, at);
    at += m.length;
  }
  return hmacSha256Framed(key, framed);
}

/** The outer hash's message: (key XOR opad) || the inner digest; zeroed after each use. */
const OUTER = new Uint8Array(64 + 32);

/** The 32 bytes of a digest that came back as a latin1 ('binary') string. */
function latin1Bytes(digest: string, into: Uint8Array, at: number): Uint8Array {
  for (let i = 0; i < 32; i++) into[at + i] = digest.charCodeAt(i);
  return into;
}

/**
 * HMAC-SHA256(key, framed[64..]): the first 64 bytes of `framed` are room for the inner
 * pad (written, hashed with the message by OpenSSL in one call, then zeroed); the outer
 * hash, two blocks, is a second call (on SHA-extension hardware, one call costs less than a
 * block hashed in JavaScript). Digests come back as latin1 ('binary') strings: as Buffers
 * they would cost an off-heap allocation each, ~0.8 µs, longer than the hash.
 */
export function hmacSha256Framed(key: Uint8Array, framed: Uint8Array): Uint8Array {
  const k = key.length > 64 ? sha256(key) : key;
  framed.fill(0x36, 0, 64);
  for (let i = 0; i < k.length; i++) framed[i]! ^= k[i]!;
  const inner = hash('sha256', framed, 'binary'); // latin1
  framed.fill(0, 0, 64);
  OUTER.fill(0x5c, 0, 64);
  for (let i = 0; i < k.length; i++) OUTER[i]! ^= k[i]!;
  latin1Bytes(inner, OUTER, 64);
  const mac = latin1Bytes(hash('sha256', OUTER, 'binary'), new Uint8Array(32), 0);
  OUTER.fill(0);
  return mac;
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
