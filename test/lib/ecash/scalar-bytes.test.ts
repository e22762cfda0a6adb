/**
 * The ecash path's conversions that skip strings (issue 73 row 1: a payment's DLEQs convert
 * ~20 scalars and hash 20 uncompressed points): bytes → integer and back without a hex string,
 * and hash_e's hex written as ASCII bytes. Each is held to what the test computes its own way
 * here — BigInt of the hex, the hex padded, SHA-256 (node:crypto) of the lowercase hex joined
 * — over edge values and random ones.
 */
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { G as IG, N as IN, encodeCompressed, pointMul } from '../../independent/secp256k1.ts';
import { bytesToScalar, pointFromBytes, scalarToBytes, uncompressed } from '../../../src/lib/ecash/curve.ts';
import { hashE } from '../../../src/lib/ecash/nut12.ts';

const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const viaHex = (b: Uint8Array) => (b.length === 0 ? 0n : BigInt('0x' + toHex(b)));
const TWO_256 = 1n << 256n;

describe('scalars and bytes, without hex strings', () => {
  const edges = [0n, 1n, 255n, 256n, (1n << 64n) - 1n, 1n << 64n, 1n << 128n, 1n << 192n, IN - 1n, IN, TWO_256 - 1n];

  it('32 bytes → the big-endian integer, edges and random', () => {
    for (const k of edges) expect(bytesToScalar(Uint8Array.from(Buffer.from(k.toString(16).padStart(64, '0'), 'hex')))).toBe(k);
    for (let i = 0; i < 200; i++) {
      const b = new Uint8Array(randomBytes(32));
      expect(bytesToScalar(b)).toBe(viaHex(b));
    }
  });

  it('other lengths read the same way (0, 1, 31, 33 bytes), and the input is left as it was', () => {
    for (const n of [0, 1, 31, 33, 64]) {
      const b = new Uint8Array(randomBytes(n));
      const copy = b.slice();
      expect(bytesToScalar(b)).toBe(viaHex(b));
      expect(b).toEqual(copy);
    }
    // A view into a larger buffer at an odd offset: its own 32 bytes only.
    const big = new Uint8Array(randomBytes(70));
    expect(bytesToScalar(big.subarray(3, 35))).toBe(viaHex(big.subarray(3, 35)));
  });

  it('an integer in [0, 2^256) → 32 big-endian bytes, a fresh array each time; outside: RangeError', () => {
    for (const k of edges) expect(toHex(scalarToBytes(k))).toBe(k.toString(16).padStart(64, '0'));
    for (let i = 0; i < 200; i++) {
      const k = viaHex(new Uint8Array(randomBytes(32)));
      expect(toHex(scalarToBytes(k))).toBe(k.toString(16).padStart(64, '0'));
    }
    const a = scalarToBytes(5n);
    expect(scalarToBytes(5n)).not.toBe(a);
    a.fill(9);
    expect(toHex(scalarToBytes(5n))).toBe('00'.repeat(31) + '05');
    expect(() => scalarToBytes(-1n)).toThrow(RangeError);
    expect(() => scalarToBytes(TWO_256)).toThrow(RangeError);
  });
});

describe('hash_e', () => {
  it('SHA-256 of the lowercase hex of the uncompressed points, joined (1 to 4 points)', () => {
    const points = [1n, 2n, 3n, IN - 1n, 0xdeadbeefn].map((k) => pointFromBytes(encodeCompressed(pointMul(IG, k)), 'P'));
    for (let n = 1; n <= 4; n++) {
      const ps = points.slice(points.length - n);
      const expected = createHash('sha256').update(ps.map((p) => toHex(uncompressed(p))).join(''), 'utf8').digest('hex');
      expect(toHex(hashE(...ps))).toBe(expected);
    }
  });
});
