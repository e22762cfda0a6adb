/**
 * The onion's ChaCha20 (JavaScript, src/lib/onion/crypto.ts) against OpenSSL's through
 * node:crypto, the reference here: RFC 8439's nonce-0 key stream, and any range of the
 * stream XORed into any range of a buffer, from any stream position (block boundaries,
 * inside a block, past the first 64 bytes, long and empty ranges).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createCipheriv } from 'node:crypto';
import { toHex } from '../../../src/lib/bytes.ts';
import { chacha20Xor, chacha20XorInto, cipherStream } from '../../../src/lib/onion/crypto.ts';

/** OpenSSL's stream bytes [0, length): the 16-byte IV is counter 0 || nonce 0. */
const openssl = (key: Uint8Array, length: number): Uint8Array => new Uint8Array(createCipheriv('chacha20', key, new Uint8Array(16)).update(new Uint8Array(length)));

describe('ChaCha20 (nonce 0) against node:crypto', () => {
  it('RFC 8439 A.1 test vectors #1 and #2: the all-zero key, blocks 0 and 1', () => {
    const s = cipherStream(new Uint8Array(32), 128);
    expect(toHex(s.subarray(0, 64))).toBe(
      '76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586',
    );
    expect(toHex(s.subarray(64))).toBe(
      '9f07e7be5551387a98ba977c732d080dcb0f29a048e3656912c6533e32ee7aed29b721769ce64e43d57133b074d839d531ed1f28510afb45ace10a1f4b794d6f',
    );
    expect(toHex(s)).toBe(toHex(openssl(new Uint8Array(32), 128)));
  });

  it('any stream range XORed into any range of a buffer is OpenSSL\'s stream there; the rest of the buffer is untouched', () => {
    const len = fc.oneof(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 1200, max: 2700 }));
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.nat(2700), len, fc.nat(40), fc.nat(40), (key, streamOffset, length, before, after) => {
        const target = Uint8Array.from({ length: before + length + after }, (_, i) => (i * 31 + 7) & 0xff);
        const want = target.slice();
        const s = openssl(key, streamOffset + length);
        for (let i = 0; i < length; i++) want[before + i]! ^= s[streamOffset + i]!;
        chacha20XorInto(key, target, before, length, streamOffset);
        expect(toHex(target)).toBe(toHex(want));
      }),
      { numRuns: 300 },
    );
  });

  it('chacha20Xor returns a new array and leaves its input as it was', () => {
    const key = Uint8Array.from({ length: 32 }, (_, i) => i);
    const data = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
    const out = chacha20Xor(key, data);
    const s = openssl(key, 300);
    expect(toHex(out)).toBe(toHex(data.map((b, i) => b ^ s[i]!)));
    expect(toHex(data)).toBe(toHex(Uint8Array.from({ length: 300 }, (_, i) => i & 0xff)));
  });

  it('refuses a key that is not 32 bytes and a range outside the buffer', () => {
    expect(() => chacha20XorInto(new Uint8Array(31), new Uint8Array(8), 0, 8)).toThrow(RangeError);
    expect(() => chacha20XorInto(new Uint8Array(32), new Uint8Array(8), 4, 5)).toThrow(RangeError);
    expect(() => chacha20XorInto(new Uint8Array(32), new Uint8Array(8), -1, 2)).toThrow(RangeError);
  });
});
