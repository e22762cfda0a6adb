/**
 * SHA-256 (FIPS 180-4) in JavaScript, for the short messages BOLT 4 hashes several times
 * per hop: generate_key's HMACs over a 32-byte secret, their outer hashes, a blinding
 * factor SHA256(E || ss). Each of those is one or two 64-byte blocks, which this
 * compresses in ~0.45 µs per block where a call into Node's crypto costs 1–2.5 µs before
 * it hashes anything. Long messages stay on OpenSSL (../hash.ts). Also the midstate after
 * a first block, so an HMAC key's pads are compressed once (../onion/crypto.ts). Add, XOR,
 * AND and rotate only: constant time. Pure.
 */

const K = Int32Array.of(
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
);

/** The initial hash value H(0): the state before any block. */
export const IV: Readonly<Int32Array> = Int32Array.of(0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19);

/** One compression: the 64-byte block into the state h (in place); w is 16 words of room. */
function compress(h: Int32Array, block: Uint8Array, w: Int32Array): void {
  let a = h[0]!, b = h[1]!, c = h[2]!, d = h[3]!, e = h[4]!, f = h[5]!, g = h[6]!, hh = h[7]!;
  for (let t = 0; t < 64; t++) {
    let wt: number;
    if (t < 16) wt = w[t] = (block[4 * t]! << 24) | (block[4 * t + 1]! << 16) | (block[4 * t + 2]! << 8) | block[4 * t + 3]!;
    else {
      // The schedule in a ring of 16 words: W[t] = σ1(W[t−2]) + W[t−7] + σ0(W[t−15]) + W[t−16].
      const w15 = w[(t - 15) & 15]!, w2 = w[(t - 2) & 15]!;
      const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
      const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
      wt = w[t & 15] = (w[t & 15]! + s0 + w[(t - 7) & 15]! + s1) | 0;
    }
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (hh + S1 + ((e & f) ^ (~e & g)) + K[t]! + wt) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    hh = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  h[0] = (h[0]! + a) | 0;
  h[1] = (h[1]! + b) | 0;
  h[2] = (h[2]! + c) | 0;
  h[3] = (h[3]! + d) | 0;
  h[4] = (h[4]! + e) | 0;
  h[5] = (h[5]! + f) | 0;
  h[6] = (h[6]! + g) | 0;
  h[7] = (h[7]! + hh) | 0;
}

/** The state after one 64-byte first block (an HMAC key's inner or outer pad). */
export function midstate(block: Uint8Array): Int32Array {
  if (block.length !== 64) throw new RangeError(`a SHA-256 block is 64 bytes, not ${block.length}`);
  const h = IV.slice();
  compress(h, block, new Int32Array(16));
  return h;
}

/**
 * SHA256(prefix || parts) where `state` is the state after the prefix, `prefixLength`
 * bytes (a multiple of 64; 0 with IV). Meant for short messages (a block or two).
 */
export function sha256From(state: Readonly<Int32Array>, prefixLength: number, ...parts: Uint8Array[]): Uint8Array {
  const h = state.slice();
  const w = new Int32Array(16);
  const block = new Uint8Array(64);
  let at = 0;
  let length = prefixLength;
  for (let j = 0; j < parts.length; j++) {
    const p = parts[j]!;
    for (let i = 0; i < p.length; i++) {
      block[at++] = p[i]!;
      if (at === 64) {
        compress(h, block, w);
        at = 0;
      }
    }
    length += p.length;
  }
  // Padding: 0x80, zeros, the length in bits as a 64-bit big-endian integer.
  block[at++] = 0x80;
  if (at > 56) {
    while (at < 64) block[at++] = 0;
    compress(h, block, w);
    at = 0;
  }
  while (at < 56) block[at++] = 0;
  const bits = length * 8;
  const high = Math.floor(bits / 2 ** 32);
  block[56] = high >>> 24;
  block[57] = high >>> 16;
  block[58] = high >>> 8;
  block[59] = high;
  block[60] = bits >>> 24;
  block[61] = bits >>> 16;
  block[62] = bits >>> 8;
  block[63] = bits;
  compress(h, block, w);
  block.fill(0);
  w.fill(0);
  const out = new Uint8Array(32);
  for (let j = 0; j < 8; j++) {
    out[4 * j] = h[j]! >>> 24;
    out[4 * j + 1] = h[j]! >>> 16;
    out[4 * j + 2] = h[j]! >>> 8;
    out[4 * j + 3] = h[j]!;
  }
  return out;
}
