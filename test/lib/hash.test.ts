/**
 * src/lib/hash.ts: SHA-256 in JS for inputs of one block (55 bytes), OpenSSL beyond (its digest
 * read from a latin1 string; inputs of at most 64 bytes and several parts copied into a scratch
 * buffer first) — one function either way. Checked against FIPS 180-2's examples and, on every
 * length from 0 to 300 bytes (both sides of the 55/56, 64/65 and 119/120 edges) and random
 * contents, against node:crypto's createHash and @noble/hashes; hash256 against SHA-256 applied
 * twice; RIPEMD160 against @noble/hashes.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { ripemd160 as nobleRipemd160 } from '@noble/hashes/legacy.js';
import { toHex } from '../../src/lib/bytes.ts';
import { SHA256_IV, hash256, hash256Into, ripemd160, sha256, sha256From, sha256Midstate } from '../../src/lib/hash.ts';

const openssl = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('sha256 / hash256', () => {
  it('example: FIPS 180-2 Appendix B\'s one- and two-block messages, and the empty message', () => {
    expect(toHex(sha256(ascii('abc')))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(toHex(sha256(ascii('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')))).toBe('248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1');
    expect(toHex(sha256(new Uint8Array(0)))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('every length 0..300 (the JS path up to 55 bytes, OpenSSL beyond) equals node:crypto and @noble/hashes', () => {
    for (let n = 0; n <= 300; n++) {
      const m = Uint8Array.from({ length: n }, (_, i) => (i * 151 + n * 7) & 0xff);
      expect(toHex(sha256(m)), `length ${n}`).toBe(openssl(m));
      expect(toHex(hash256(m)), `length ${n}`).toBe(openssl(createHash('sha256').update(m).digest()));
    }
  });

  it('random contents and lengths, one part or several, equal node:crypto and @noble/hashes; a result is never overwritten by the next call', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 160 }), { minLength: 1, maxLength: 3 }), (parts) => {
        const whole = Uint8Array.from(parts.flatMap((p) => [...p]));
        const got = sha256(...parts);
        const twice = hash256(whole);
        expect(toHex(got)).toBe(openssl(whole));
        expect(toHex(got)).toBe(toHex(nobleSha256(whole)));
        sha256(Uint8Array.of(1, 2, 3));
        expect(toHex(got)).toBe(openssl(whole));
        expect(toHex(twice)).toBe(toHex(nobleSha256(nobleSha256(whole))));
      }),
      { numRuns: 400 },
    );
  });

  it('several parts whose total straddles each edge (55/56 JS or OpenSSL, 64/65 copied or not, 1024/1025 the scratch buffer growing) equal @noble/hashes; the scratch buffer lends nothing to a result or the next hash', () => {
    const edge = fc.constantFrom(0, 1, 32, 55, 56, 63, 64, 65, 66, 119, 120, 1024, 1025, 2100);
    fc.assert(
      fc.property(edge, fc.array(fc.nat(), { maxLength: 3 }), fc.nat(), (total, cuts, seed) => {
        const whole = Uint8Array.from({ length: total }, (_, i) => (i * 97 + seed) & 0xff);
        const at = [...new Set(cuts.map((c) => c % (total + 1)))].sort((a, b) => a - b);
        const parts = [0, ...at].map((from, i, all) => whole.subarray(from, all[i + 1] ?? total));
        const got = sha256(...parts);
        expect(toHex(got)).toBe(toHex(nobleSha256(whole)));
        expect(got.byteOffset === 0 && got.buffer.byteLength === 32).toBe(true);
        // The next hash, of other bytes and of fewer, starts from nothing the last one left behind.
        expect(toHex(sha256(whole.subarray(0, total >> 1)))).toBe(toHex(nobleSha256(whole.subarray(0, total >> 1))));
        expect(toHex(got)).toBe(toHex(nobleSha256(whole)));
      }),
      { numRuns: 300 },
    );
  });

  it('hash256Into writes SHA-256 applied twice (@noble/hashes) at the offset and nothing else, for lengths on both sides of 55/56 and 64/65; its own input region may be the target (read before written); an offset without 32 bytes is refused', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(40), fc.nat(), (m, at, fillByte) => {
        const out = new Uint8Array(at + 32 + 7).fill(fillByte & 0xff);
        hash256Into(m, out, at);
        const want = nobleSha256(nobleSha256(m));
        expect(toHex(out.subarray(at, at + 32))).toBe(toHex(want));
        expect([...out.subarray(0, at), ...out.subarray(at + 32)].every((b) => b === (fillByte & 0xff))).toBe(true);
        // In place: the 36 bytes at 68 (a preimage's outpoint) hashed into 4, and over themselves.
        const pre = Uint8Array.from({ length: 104 }, (_, i) => (i * 31 + m.length) & 0xff);
        const outpoint = pre.slice(68, 104);
        hash256Into(pre.subarray(68, 104), pre, 4);
        expect(toHex(pre.subarray(4, 36))).toBe(toHex(nobleSha256(nobleSha256(outpoint))));
        const big = Uint8Array.from(m);
        if (big.length >= 32) {
          hash256Into(big, big, 0);
          expect(toHex(big.subarray(0, 32))).toBe(toHex(want));
        }
      }),
      { numRuns: 300 },
    );
    for (const n of [55, 56, 64, 65]) {
      const m = Uint8Array.from({ length: n }, (_, i) => i);
      const out = new Uint8Array(32);
      hash256Into(m, out, 0);
      expect(toHex(out), `length ${n}`).toBe(openssl(createHash('sha256').update(m).digest()));
    }
    expect(() => hash256Into(new Uint8Array(3), new Uint8Array(40), 9)).toThrow(RangeError);
    expect(() => hash256Into(new Uint8Array(3), new Uint8Array(40), -1)).toThrow(RangeError);
  });

  it('ripemd160 of random lengths (0..300) equals @noble/hashes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (m) => {
        expect(toHex(ripemd160(m))).toBe(toHex(nobleRipemd160(m)));
      }),
      { numRuns: 200 },
    );
  });

  it('sha256From a midstate: SHA256(block || parts) for any 64-byte first block and parts of any length equals node:crypto; a wrong-length block is refused', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), fc.array(fc.uint8Array({ maxLength: 150 }), { maxLength: 3 }), (block, parts) => {
        const whole = Uint8Array.from([...block, ...parts.flatMap((p) => [...p])]);
        expect(toHex(sha256From(sha256Midstate(block), 64, ...parts))).toBe(openssl(whole));
        expect(toHex(sha256From(SHA256_IV, 0, block, ...parts))).toBe(openssl(whole));
      }),
      { numRuns: 300 },
    );
    expect(() => sha256Midstate(new Uint8Array(63))).toThrow(RangeError);
  });
});
