/**
 * ChaCha20 (RFC 8439 block function) with a 96-bit zero nonce, the stream cipher of BOLT 4,
 * in JavaScript: an onion needs ~1.3 kB of stream per hop, which OpenSSL produces in well
 * under a microsecond but Node's cipher objects cost 2.5–3.5 µs to create and an output
 * buffer; the block function here makes 64 bytes and XORs them in ~0.12 µs, straight into
 * the caller's buffer from any stream position, so a build writes each layer in place and
 * a peel makes only the stream bytes it uses. Add, XOR and rotate only: no
 * data-dependent branch or index, so constant time as the C implementations. Pure.
 */

/** The little-endian 32-bit word at `at`. */
const word = (b: Uint8Array, at: number): number => b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24);

/**
 * XOR bytes [streamOffset, streamOffset + length) of the ChaCha20 stream keyed by `key`
 * (nonce 0) into target[offset, offset + length). On a zeroed target this writes the stream.
 */
export function chacha20XorInto(key: Uint8Array, target: Uint8Array, offset: number, length: number, streamOffset = 0): void {
  if (key.length !== 32) throw new RangeError(`ChaCha20 key is ${key.length} bytes, expected 32`);
  if (offset < 0 || length < 0 || offset + length > target.length) throw new RangeError('ChaCha20: range outside the target');
  if (streamOffset < 0 || streamOffset + length > 2 ** 38) throw new RangeError('ChaCha20: stream position outside the 32-bit block counter');
  // The key's words read byte by byte: a DataView needs key.buffer, and a fresh 32-byte key
  // (generateKey's) lives on V8's heap, where asking for its buffer moves it to a backing
  // store of its own — an allocation per key.
  const k0 = word(key, 0), k1 = word(key, 4), k2 = word(key, 8), k3 = word(key, 12);
  const k4 = word(key, 16), k5 = word(key, 20), k6 = word(key, 24), k7 = word(key, 28);
  let counter = Math.floor(streamOffset / 64);
  let skip = streamOffset % 64;
  let o = offset;
  const end = offset + length;
  const block = new Int32Array(16); // one block's output words
  const t = new DataView(target.buffer, target.byteOffset, target.byteLength);
  while (o < end) {
    // "expand 32-byte k", key, counter, nonce 0.
    let x0 = 0x61707865, x1 = 0x3320646e, x2 = 0x79622d32, x3 = 0x6b206574;
    let x4 = k0, x5 = k1, x6 = k2, x7 = k3, x8 = k4, x9 = k5, x10 = k6, x11 = k7;
    let x12 = counter, x13 = 0, x14 = 0, x15 = 0;
    for (let r = 0; r < 10; r++) {
      // Column rounds: QR(0,4,8,12) QR(1,5,9,13) QR(2,6,10,14) QR(3,7,11,15).
      x0 = (x0 + x4) | 0; x12 ^= x0; x12 = (x12 << 16) | (x12 >>> 16);
      x8 = (x8 + x12) | 0; x4 ^= x8; x4 = (x4 << 12) | (x4 >>> 20);
      x0 = (x0 + x4) | 0; x12 ^= x0; x12 = (x12 << 8) | (x12 >>> 24);
      x8 = (x8 + x12) | 0; x4 ^= x8; x4 = (x4 << 7) | (x4 >>> 25);
      x1 = (x1 + x5) | 0; x13 ^= x1; x13 = (x13 << 16) | (x13 >>> 16);
      x9 = (x9 + x13) | 0; x5 ^= x9; x5 = (x5 << 12) | (x5 >>> 20);
      x1 = (x1 + x5) | 0; x13 ^= x1; x13 = (x13 << 8) | (x13 >>> 24);
      x9 = (x9 + x13) | 0; x5 ^= x9; x5 = (x5 << 7) | (x5 >>> 25);
      x2 = (x2 + x6) | 0; x14 ^= x2; x14 = (x14 << 16) | (x14 >>> 16);
      x10 = (x10 + x14) | 0; x6 ^= x10; x6 = (x6 << 12) | (x6 >>> 20);
      x2 = (x2 + x6) | 0; x14 ^= x2; x14 = (x14 << 8) | (x14 >>> 24);
      x10 = (x10 + x14) | 0; x6 ^= x10; x6 = (x6 << 7) | (x6 >>> 25);
      x3 = (x3 + x7) | 0; x15 ^= x3; x15 = (x15 << 16) | (x15 >>> 16);
      x11 = (x11 + x15) | 0; x7 ^= x11; x7 = (x7 << 12) | (x7 >>> 20);
      x3 = (x3 + x7) | 0; x15 ^= x3; x15 = (x15 << 8) | (x15 >>> 24);
      x11 = (x11 + x15) | 0; x7 ^= x11; x7 = (x7 << 7) | (x7 >>> 25);
      // Diagonal rounds: QR(0,5,10,15) QR(1,6,11,12) QR(2,7,8,13) QR(3,4,9,14).
      x0 = (x0 + x5) | 0; x15 ^= x0; x15 = (x15 << 16) | (x15 >>> 16);
      x10 = (x10 + x15) | 0; x5 ^= x10; x5 = (x5 << 12) | (x5 >>> 20);
      x0 = (x0 + x5) | 0; x15 ^= x0; x15 = (x15 << 8) | (x15 >>> 24);
      x10 = (x10 + x15) | 0; x5 ^= x10; x5 = (x5 << 7) | (x5 >>> 25);
      x1 = (x1 + x6) | 0; x12 ^= x1; x12 = (x12 << 16) | (x12 >>> 16);
      x11 = (x11 + x12) | 0; x6 ^= x11; x6 = (x6 << 12) | (x6 >>> 20);
      x1 = (x1 + x6) | 0; x12 ^= x1; x12 = (x12 << 8) | (x12 >>> 24);
      x11 = (x11 + x12) | 0; x6 ^= x11; x6 = (x6 << 7) | (x6 >>> 25);
      x2 = (x2 + x7) | 0; x13 ^= x2; x13 = (x13 << 16) | (x13 >>> 16);
      x8 = (x8 + x13) | 0; x7 ^= x8; x7 = (x7 << 12) | (x7 >>> 20);
      x2 = (x2 + x7) | 0; x13 ^= x2; x13 = (x13 << 8) | (x13 >>> 24);
      x8 = (x8 + x13) | 0; x7 ^= x8; x7 = (x7 << 7) | (x7 >>> 25);
      x3 = (x3 + x4) | 0; x14 ^= x3; x14 = (x14 << 16) | (x14 >>> 16);
      x9 = (x9 + x14) | 0; x4 ^= x9; x4 = (x4 << 12) | (x4 >>> 20);
      x3 = (x3 + x4) | 0; x14 ^= x3; x14 = (x14 << 8) | (x14 >>> 24);
      x9 = (x9 + x14) | 0; x4 ^= x9; x4 = (x4 << 7) | (x4 >>> 25);
    }
    x0 = (x0 + 0x61707865) | 0; x1 = (x1 + 0x3320646e) | 0; x2 = (x2 + 0x79622d32) | 0; x3 = (x3 + 0x6b206574) | 0;
    x4 = (x4 + k0) | 0; x5 = (x5 + k1) | 0; x6 = (x6 + k2) | 0; x7 = (x7 + k3) | 0;
    x8 = (x8 + k4) | 0; x9 = (x9 + k5) | 0; x10 = (x10 + k6) | 0; x11 = (x11 + k7) | 0;
    x12 = (x12 + counter) | 0;
    // The block's bytes are its words little-endian: a whole block XORed a word at a time.
    if (skip === 0 && end - o >= 64) {
      t.setInt32(o, t.getInt32(o, true) ^ x0, true); t.setInt32(o + 4, t.getInt32(o + 4, true) ^ x1, true);
      t.setInt32(o + 8, t.getInt32(o + 8, true) ^ x2, true); t.setInt32(o + 12, t.getInt32(o + 12, true) ^ x3, true);
      t.setInt32(o + 16, t.getInt32(o + 16, true) ^ x4, true); t.setInt32(o + 20, t.getInt32(o + 20, true) ^ x5, true);
      t.setInt32(o + 24, t.getInt32(o + 24, true) ^ x6, true); t.setInt32(o + 28, t.getInt32(o + 28, true) ^ x7, true);
      t.setInt32(o + 32, t.getInt32(o + 32, true) ^ x8, true); t.setInt32(o + 36, t.getInt32(o + 36, true) ^ x9, true);
      t.setInt32(o + 40, t.getInt32(o + 40, true) ^ x10, true); t.setInt32(o + 44, t.getInt32(o + 44, true) ^ x11, true);
      t.setInt32(o + 48, t.getInt32(o + 48, true) ^ x12, true); t.setInt32(o + 52, t.getInt32(o + 52, true) ^ x13, true);
      t.setInt32(o + 56, t.getInt32(o + 56, true) ^ x14, true); t.setInt32(o + 60, t.getInt32(o + 60, true) ^ x15, true);
      o += 64;
    } else {
      block[0] = x0; block[1] = x1; block[2] = x2; block[3] = x3; block[4] = x4; block[5] = x5; block[6] = x6; block[7] = x7;
      block[8] = x8; block[9] = x9; block[10] = x10; block[11] = x11; block[12] = x12; block[13] = x13; block[14] = x14; block[15] = x15;
      const last = Math.min(64, skip + end - o);
      for (let j = skip; j < last; j++, o++) target[o]! ^= (block[j >>> 2]! >>> ((j & 3) << 3)) & 0xff;
      skip = 0;
    }
    counter++;
  }
  block.fill(0); // key stream
}
