/**
 * The onion's symmetric primitives against OpenSSL's through node:crypto, the reference
 * here. ChaCha20 (JavaScript, src/lib/onion/chacha20.ts): RFC 8439's nonce-0 key stream,
 * and any range of the stream XORed into any range of a buffer, from any stream position
 * (block boundaries, inside a block, past the first 64 bytes, long and empty ranges).
 * SHA-256 (JavaScript for short messages, src/lib/hash.ts) and the HMACs built on
 * it: FIPS 180-2's examples, every length across the block boundaries, any key length.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createCipheriv, createHash, createHmac } from 'node:crypto';
import { toHex } from '../../../src/lib/bytes.ts';
import { chacha20Xor, chacha20XorInto, cipherStream, generateKey, hmacEquals, hmacSha256, hmacSha256Framed, sha256 } from '../../../src/lib/onion/crypto.ts';

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

describe('SHA-256 and HMAC-SHA256 (JavaScript for short messages, OpenSSL for long) against node:crypto', () => {
  const sha = (...parts: Uint8Array[]): string => {
    const h = createHash('sha256');
    for (const p of parts) h.update(p);
    return h.digest('hex');
  };
  const hmac = (key: Uint8Array | string, ...parts: Uint8Array[]): string => {
    const h = createHmac('sha256', key);
    for (const p of parts) h.update(p);
    return h.digest('hex');
  };
  const bytes = (max: number) => fc.oneof(fc.uint8Array({ maxLength: 140 }), fc.uint8Array({ minLength: 0, maxLength: max }));

  it('FIPS 180-2 examples: "abc" and the 56-byte two-block message, and the empty message', () => {
    const ascii = (s: string) => new TextEncoder().encode(s);
    expect(toHex(sha256(ascii('abc')))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(toHex(sha256(ascii('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')))).toBe('248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1');
    expect(toHex(sha256())).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('sha256 of any parts (every length around the one- and two-block boundaries, and long) is node:crypto\'s', () => {
    for (let n = 0; n <= 192; n++) {
      const m = Uint8Array.from({ length: n }, (_, i) => (i * 13 + n) & 0xff);
      expect(toHex(sha256(m))).toBe(sha(m));
      expect(toHex(sha256(m.subarray(0, n >> 1), m.subarray(n >> 1)))).toBe(sha(m));
    }
    fc.assert(fc.property(fc.array(bytes(3000), { maxLength: 4 }), (parts) => {
      expect(toHex(sha256(...parts))).toBe(sha(...parts));
    }), { numRuns: 300 });
  });

  it('hmacSha256 and hmacSha256Framed for any key (empty, short, 64 bytes, longer: hashed first) and message are node:crypto\'s; the frame\'s room is left zeroed', () => {
    const key = fc.oneof(fc.uint8Array({ maxLength: 70 }), fc.uint8Array({ minLength: 64, maxLength: 64 }), fc.uint8Array({ minLength: 65, maxLength: 200 }));
    fc.assert(
      fc.property(key, fc.array(bytes(1500), { maxLength: 3 }), (k, parts) => {
        expect(toHex(hmacSha256(k, ...parts))).toBe(hmac(k, ...parts));
        const length = parts.reduce((s, p) => s + p.length, 0);
        const framed = new Uint8Array(64 + length).fill(0xee, 0, 64);
        parts.reduce((at, p) => (framed.set(p, at), at + p.length), 64);
        expect(toHex(hmacSha256Framed(k, framed))).toBe(hmac(k, ...parts));
        expect(toHex(framed.subarray(0, 64))).toBe('00'.repeat(64));
      }),
      { numRuns: 300 },
    );
  });

  it('hmacEquals is true for equal bytes only: a difference in any bit of any byte, or another length, is false', () => {
    const a = Uint8Array.from({ length: 32 }, (_, i) => i * 37);
    expect(hmacEquals(a, Uint8Array.from(a))).toBe(true);
    expect(hmacEquals(new Uint8Array(0), new Uint8Array(0))).toBe(true);
    for (let i = 0; i < 32; i++) for (let bit = 0; bit < 8; bit++) {
      const b = Uint8Array.from(a);
      b[i]! ^= 1 << bit;
      expect(hmacEquals(a, b)).toBe(false);
    }
    expect(hmacEquals(a, a.subarray(0, 31))).toBe(false);
    expect(hmacEquals(a.subarray(0, 31), a)).toBe(false);
  });

  it('generateKey is HMAC-SHA256 keyed by the ASCII key type, for every key type', () => {
    fc.assert(
      fc.property(fc.constantFrom('rho', 'mu', 'um', 'ammag', 'ammagext', 'pad' as const), fc.uint8Array({ minLength: 32, maxLength: 32 }), (type, secret) => {
        expect(toHex(generateKey(type, secret))).toBe(hmac(type, secret));
      }),
      { numRuns: 200 },
    );
  });
});
