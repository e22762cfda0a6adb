/** The stream's hand-written fast paths agree with the general ones they replace. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { ripemd160 } from '@noble/hashes/legacy.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { sha256Small } from '../../../src/lib/openassets/sha256-small.ts';
import { hash160 } from '../../../src/lib/openassets/ids.ts';
import { txBytesFromText } from '../../../src/lib/openassets/decode.ts';

describe('stream fast paths', () => {
  it('sha256Small = node:crypto SHA-256 for every length 0..55, and refuses 56', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 55 }), (b) => {
      expect(Buffer.from(sha256Small(b)).toString('hex')).toBe(createHash('sha256').update(b).digest('hex'));
    }), { numRuns: 3000 });
    for (let n = 0; n <= 55; n++) expect(Buffer.from(sha256Small(new Uint8Array(n).fill(n))).toString('hex')).toBe(createHash('sha256').update(new Uint8Array(n).fill(n)).digest('hex'));
    expect(() => sha256Small(new Uint8Array(56))).toThrow(RangeError);
  });
  it('hash160 = noble RIPEMD-160(SHA-256)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), (b) => {
      expect(Buffer.from(hash160(b)).toString('hex')).toBe(Buffer.from(ripemd160(sha256(b))).toString('hex'));
    }), { numRuns: 500 });
  });
  it('{"tx":"<hex>"} lines read without JSON.parse give the same bytes as the JSON path', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 60 }), (b) => {
      const hex = Buffer.from(b).toString('hex');
      const fast = txBytesFromText(`{"tx":"${hex}"}`);
      const slow = txBytesFromText(`{ "tx": "${hex}" }`);
      expect(Buffer.from(fast).equals(Buffer.from(slow))).toBe(true);
    }), { numRuns: 500 });
    expect(() => txBytesFromText('{"tx":"0g"}')).toThrow(expect.objectContaining({ code: 'E_OA_BAD_TX' }));
    expect(() => txBytesFromText('{"tx":"ab\\u0030"}')).toThrow(expect.objectContaining({ code: 'E_OA_BAD_TX' }));
  });
});
