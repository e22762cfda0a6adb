/**
 * src/lib/hash.ts: SHA-256 in JS for inputs of up to two blocks (119 bytes), OpenSSL beyond —
 * one function either way. Checked against FIPS 180-2's examples and, on every length from 0
 * to 300 bytes (both sides of the 55/56 and 119/120 padding edges) and random contents,
 * against node:crypto's createHash and @noble/hashes; hash256 against SHA-256 applied twice.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { toHex } from '../../src/lib/bytes.ts';
import { hash256, sha256 } from '../../src/lib/hash.ts';

const openssl = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('sha256 / hash256', () => {
  it('example: FIPS 180-2 Appendix B\'s one- and two-block messages, and the empty message', () => {
    expect(toHex(sha256(ascii('abc')))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(toHex(sha256(ascii('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')))).toBe('248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1');
    expect(toHex(sha256(new Uint8Array(0)))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('every length 0..300 (the JS path up to 119 bytes, OpenSSL beyond) equals node:crypto and @noble/hashes', () => {
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
});
