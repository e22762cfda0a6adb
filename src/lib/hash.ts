/**
 * SHA-256 on Node's built-in crypto (OpenSSL): on the hot paths of signing — a BOLT 3
 * commitment's 21 BIP-143 signature hashes, its 20 HTLC scripts' P2WSH hashes, each over
 * a few hundred bytes — where the pure-JS hash takes ~0.45 µs a block. The one-shot
 * `crypto.hash` is asked for a 'binary' (latin1) string, not a Buffer: the digest comes back as a
 * 32-character string on V8's heap, read into the result here, where a Buffer's own
 * ArrayBuffer (allocated, registered and later swept for every call) cost more than the
 * hashing (measured at load 4, 32 to 1,100 bytes: ~0.5–0.9 µs a call against ~1.4–2.5 µs).
 * Same results as @noble/hashes' sha256, which the tests and the vectors check. Pure: no I/O.
 *
 * Except for inputs of one block (at most 55 bytes: keys, outpoints, an output, a digest
 * hashed again): there `compress` below does them in JS for about that call's cost
 * (~0.65 µs against ~0.5 µs; two blocks in JS cost twice as much). FIPS 180-4 word for word; constant time (no branch or memory index depends
 * on the data); its scratch words are zeroed after every hash, so no input (secrets
 * included) outlives the call — nor one sent to OpenSSL (see opensslSha256).
 */
import { ripemd160 as nobleRipemd160 } from '@noble/hashes/legacy.js';
import { scratchBuffer } from './bytes.ts';

/**
 * node:crypto's one-shot `hash`, loaded at the first hash that needs OpenSSL rather than with this
 * module: `psbt decode`'s second shortcut bundle (bin/run.js, src/fast-decode/signer.ts) reaches
 * this module through the MuSig2 engine's tagged hashes and never hashes, and loading
 * node:crypto is ~10 ms of its cold start (as ./taproot/sighash.ts found).
 */
let nodeHash: typeof import('node:crypto').hash | undefined;
const hash = (algorithm: 'sha256' | 'ripemd160', data: Uint8Array, encoding: 'binary' | 'hex'): string =>
  (nodeHash ??= process.getBuiltinModule('node:crypto').hash)(algorithm, data, encoding);

/** The bytes of a digest `crypto.hash` returned as a latin1 string (one character per byte). */
function digestBytes(latin1: string, length: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = latin1.charCodeAt(i);
  return out;
}

/**
 * SHA256 of the parts, concatenated, on OpenSSL. Node copies a view of at most 64 bytes that
 * has no ArrayBuffer of its own yet (V8 keeps such small arrays inside the heap) onto the C++
 * stack before hashing it, where nothing clears it; so those, and several parts, are put
 * together in `joined` — an ArrayBuffer's own memory, read in place — which is zeroed after.
 */
function opensslSha256(parts: Uint8Array[], length: number): Uint8Array<ArrayBuffer> {
  return digestBytes(opensslSha256Latin1(parts, length), 32);
}

/** opensslSha256's digest as `crypto.hash` gives it: a latin1 string of 32 characters. */
function opensslSha256Latin1(parts: Uint8Array[], length: number): string {
  if (parts.length === 1 && length > 64) return hash('sha256', parts[0]!, 'binary');
  const joined = joinedScratch(length);
  let at = 0;
  for (const p of parts) {
    joined.set(p, at);
    at += p.length;
  }
  try {
    return hash('sha256', joined.subarray(0, length), 'binary');
  } finally {
    joined.fill(0, 0, length);
  }
}

/** Where short or several parts are put together for one OpenSSL call (zeroed after it). */
const joinedScratch = scratchBuffer();

/** SHA256 of the parts, concatenated. */
export function sha256(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  return sha256Of(parts);
}

/**
 * sha256 of a list of parts (no spread: a caller with tens of thousands of parts — an ecash
 * payment's outputs digest, refused above 65,535 outputs — would pass them all on the stack).
 */
export function sha256Of(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  let length = 0;
  for (const p of parts) length += p.length;
  return length <= SHORT ? sha256From(SHA256_IV, 0, ...parts) : opensslSha256(parts, length);
}

/**
 * SHA256(SHA256(x)): Bitcoin's txid and signature-hash digest. The outer hash is one block, done
 * here from the inner digest's words (or OpenSSL's latin1 string) written straight into the block:
 * no 32-byte array between the two, and a short `x` is padded in place (a commitment's 21
 * signature hashes make ~60 of these).
 */
export function hash256(data: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(32);
  hash256Into(data, out, 0);
  return out;
}

/**
 * hash256(data) written into `out` at `at` (a BIP-143 preimage's hashPrevouts or hashOutputs
 * slot) instead of a fresh array; `data` is read before anything is written.
 */
export function hash256Into(data: Uint8Array, out: Uint8Array, at: number): void {
  if (at < 0 || at + 32 > out.length) throw new RangeError('hash256Into: no 32 bytes at that offset');
  H.set(SHA256_IV);
  if (data.length <= SHORT) {
    BLOCK.set(data, 0);
    finish(data.length, data.length);
    for (let i = 0; i < 8; i++) putWord(BLOCK, 4 * i, H[i]!);
    H.set(SHA256_IV);
  } else {
    const inner = opensslSha256Latin1([data], data.length);
    for (let i = 0; i < 32; i++) BLOCK[i] = inner.charCodeAt(i);
  }
  finish(32, 32);
  digestInto(out, at);
}

// ---- SHA-256 of short messages, in JS (FIPS 180-4 §6.2) -----------------------------------

/** The longest message `sha256` hashes here rather than on OpenSSL: one block less the 0x80 byte and the 8-byte length. */
const SHORT = 55;

const K = Int32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
/** The initial hash value H(0): the state before any block. */
export const SHA256_IV: Readonly<Int32Array> = Int32Array.from([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
/** The message schedule, the chaining value and the block being filled: zeroed after each hash. */
const W = new Int32Array(64);
const H = new Int32Array(8);
const BLOCK = new Uint8Array(64);

/** One compression of the 64-byte block at `at` into H. */
function compress(block: Uint8Array, at: number): void {
  for (let t = 0; t < 16; t++, at += 4) W[t] = (block[at]! << 24) | (block[at + 1]! << 16) | (block[at + 2]! << 8) | block[at + 3]!;
  for (let t = 16; t < 64; t++) {
    const x = W[t - 15]!;
    const y = W[t - 2]!;
    const sigma0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const sigma1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    W[t] = (sigma1 + W[t - 7]! + sigma0 + W[t - 16]!) | 0;
  }
  let a = H[0]!, b = H[1]!, c = H[2]!, d = H[3]!, e = H[4]!, f = H[5]!, g = H[6]!, h = H[7]!;
  for (let t = 0; t < 64; t++) {
    const Sigma1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const T1 = (h + Sigma1 + ((e & f) ^ (~e & g)) + K[t]! + W[t]!) | 0;
    const Sigma0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const T2 = (Sigma0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + T1) | 0;
    d = c;
    c = b;
    b = a;
    a = (T1 + T2) | 0;
  }
  H[0] = (H[0]! + a) | 0;
  H[1] = (H[1]! + b) | 0;
  H[2] = (H[2]! + c) | 0;
  H[3] = (H[3]! + d) | 0;
  H[4] = (H[4]! + e) | 0;
  H[5] = (H[5]! + f) | 0;
  H[6] = (H[6]! + g) | 0;
  H[7] = (H[7]! + h) | 0;
}

/** The state after one 64-byte first block (an HMAC key's inner or outer pad, compressed once). */
export function sha256Midstate(block: Uint8Array): Int32Array {
  if (block.length !== 64) throw new RangeError(`a SHA-256 block is 64 bytes, not ${block.length}`);
  H.set(SHA256_IV);
  compress(block, 0);
  const state = H.slice();
  H.fill(0);
  W.fill(0);
  return state;
}

/**
 * SHA256(prefix || parts), where `state` is the state after the prefix of `prefixLength`
 * bytes (a multiple of 64; SHA256_IV and 0 for no prefix). Any length, but meant for a block
 * or two, from a midstate OpenSSL cannot start from (a one-shot call costs about as much as
 * one block here). Constant time (no branch or index depends on the data); the block, the schedule
 * and the chaining value are zeroed before it returns, so no input (secrets included)
 * outlives the call.
 */
export function sha256From(state: Readonly<Int32Array>, prefixLength: number, ...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  H.set(state);
  let at = 0;
  let length = prefixLength;
  for (const p of parts) {
    length += p.length;
    if (at + p.length < 64) {
      BLOCK.set(p, at);
      at += p.length;
      continue;
    }
    for (let i = 0; i < p.length; ) {
      const take = Math.min(64 - at, p.length - i);
      BLOCK.set(p.subarray(i, i + take), at);
      at += take;
      i += take;
      if (at === 64) {
        compress(BLOCK, 0);
        at = 0;
      }
    }
  }
  finish(at, length);
  return digestOut();
}

/** Big-endian 32-bit word `v` into `b` at `at`. */
function putWord(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 24;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}

/** The padding of a message of `length` bytes whose last `at` bytes are in BLOCK — 0x80, zeros, the length in bits as a 64-bit big-endian integer — compressed into H. */
function finish(at: number, length: number): void {
  BLOCK[at++] = 0x80;
  if (at > 56) {
    BLOCK.fill(0, at);
    compress(BLOCK, 0);
    at = 0;
  }
  BLOCK.fill(0, at, 56);
  const bits = length * 8;
  putWord(BLOCK, 56, Math.floor(bits / 2 ** 32));
  putWord(BLOCK, 60, bits);
  compress(BLOCK, 0);
}

/** H as 32 digest bytes; the block, the schedule and the chaining value zeroed. */
function digestOut(): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(32);
  digestInto(out, 0);
  return out;
}

/** H's 32 digest bytes into `out` at `at`; the block, the schedule and the chaining value zeroed. */
function digestInto(out: Uint8Array, at: number): void {
  for (let i = 0; i < 8; i++) putWord(out, at + 4 * i, H[i]!);
  BLOCK.fill(0);
  W.fill(0);
  H.fill(0);
}

/**
 * RIPEMD160 on Node's crypto when its OpenSSL provides it (a BOLT 3 commitment hashes
 * each HTLC's payment hash with it: ~1 µs there, ~1.8 µs and an object per call in pure
 * JS), read from a latin1 string as SHA-256 is; else @noble/hashes' — the same function;
 * the BOLT 3 vectors check the bytes.
 */
let nodeRipemd160: boolean | undefined; // asked at the first call (node:crypto is loaded then, not with this module)
function hasNodeRipemd160(): boolean {
  try {
    return hash('ripemd160', new Uint8Array(0), 'hex') === '9c1185a5c5e9fc54612808977ee8f548b2258d31';
  } catch {
    return false;
  }
}
export function ripemd160(data: Uint8Array): Uint8Array {
  return (nodeRipemd160 ??= hasNodeRipemd160()) ? digestBytes(hash('ripemd160', data, 'binary'), 20) : nobleRipemd160(data);
}

// ——— HMAC-SHA256 (moved from ../onion/crypto.ts; NUT-12's DLEQ nonce uses it too) ———

/** The longest message an HMAC here hashes in JavaScript (BOLT 4's and NUT-12's HMACs: ../onion/crypto.ts, ./ecash/nut12.ts): two blocks with their padding. */
const HMAC_SHORT = 119;

/** An HMAC key's pads, compressed: the SHA-256 states after (key ⊕ ipad) and after (key ⊕ opad). */
export type HmacPads = { readonly inner: Int32Array; readonly outer: Int32Array };

/** RFC 2104: a key longer than the block is hashed first; both pads are the key XOR 0x36 / 0x5c, zero-padded to 64 bytes. */
function padBlock(key: Uint8Array, pad: number): Uint8Array {
  const k = key.length > 64 ? sha256(key) : key;
  const block = new Uint8Array(64).fill(pad);
  for (let i = 0; i < k.length; i++) block[i]! ^= k[i]!;
  return block;
}

/** An HMAC key's pads, compressed once (a key used for many HMACs: BOLT 4's key types). */
export function hmacPads(key: Uint8Array): HmacPads {
  const inner = padBlock(key, 0x36);
  const outer = padBlock(key, 0x5c);
  const pads = { inner: sha256Midstate(inner), outer: sha256Midstate(outer) };
  inner.fill(0);
  outer.fill(0);
  return pads;
}

/** HMAC-SHA256(key, the parts concatenated). */
export function hmacSha256(key: Uint8Array, ...msg: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const m of msg) length += m.length;
  if (length <= HMAC_SHORT) {
    const pads = hmacPads(key);
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
function latin1Into(digest: string, into: Uint8Array, at: number): Uint8Array {
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
  latin1Into(inner, OUTER, 64);
  const mac = digestBytes(hash('sha256', OUTER, 'binary'), 32);
  OUTER.fill(0);
  return mac;
}
