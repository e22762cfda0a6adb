/**
 * BIP-340's hash_tag(x) = SHA256(SHA256(tag) || SHA256(tag) || x), as the engine computes it
 * (one OpenSSL call over the joined parts, ../../../src/lib/hash.ts), against the definition
 * written here with @noble/hashes: any tag, any split of x into parts, across the one- and
 * two-block edges after the 64-byte prefix.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { taggedHash } from '../../../src/lib/musig/engine/scalar.ts';
import { sha256 } from '../../../src/lib/hash.ts';

const reference = (tag: string, x: Uint8Array): Uint8Array => {
  const t = nobleSha256(new TextEncoder().encode(tag));
  const all = new Uint8Array(64 + x.length);
  all.set(t);
  all.set(t, 32);
  all.set(x, 64);
  return nobleSha256(all);
};

/** `x` cut at the given points (sorted, within it). */
const split = (x: Uint8Array, cuts: number[]): Uint8Array[] => {
  const at = [...new Set(cuts.map((c) => c % (x.length + 1)))].sort((a, b) => a - b);
  const parts: Uint8Array[] = [];
  let from = 0;
  for (const c of at) {
    parts.push(x.subarray(from, c));
    from = c;
  }
  parts.push(x.subarray(from));
  return parts;
};

describe('taggedHash', () => {
  it('is SHA256(SHA256(tag) || SHA256(tag) || x) for any tag and any split of x into parts', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(), { maxLength: 4 }), (tag, x, cuts) => {
        expect(Buffer.from(taggedHash(tag, ...split(x, cuts))).toString('hex')).toBe(Buffer.from(reference(tag, x)).toString('hex'));
      }),
      { numRuns: 1500 },
    );
  });

  it('at the block edges after the prefix (x of 0, 55, 56, 63, 64, 65, 119, 120 bytes), for BIP-340 and BIP-327 tags', () => {
    for (const tag of ['BIP0340/challenge', 'BIP0340/nonce', 'BIP0340/aux', 'MuSig/noncecoef', 'KeyAgg coefficient', 'TapTweak', '']) {
      for (const n of [0, 1, 31, 32, 55, 56, 63, 64, 65, 96, 119, 120, 128]) {
        const x = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff);
        expect(Buffer.from(taggedHash(tag, x)).toString('hex'), `${tag} ${n}`).toBe(Buffer.from(reference(tag, x)).toString('hex'));
      }
    }
  });

  it('the same answer again after other tags and inputs (the tag hashes it keeps are not overwritten)', () => {
    const x = new Uint8Array(96).fill(0x5e);
    const first = taggedHash('BIP0340/challenge', x);
    for (let i = 0; i < 50; i++) taggedHash(`other ${i}`, new Uint8Array(i).fill(i), sha256(new Uint8Array([i])));
    expect(taggedHash('BIP0340/challenge', x)).toEqual(first);
    expect(first).toEqual(reference('BIP0340/challenge', x));
  });
});
