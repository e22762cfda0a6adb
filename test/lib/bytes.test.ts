/**
 * toHex is Node's native hex encoder: the same text as @scure/base's, on views at any offset too;
 * latin1Of is one character per byte; both the same through the documented fallback.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { hex } from '@scure/base';
import { latin1Of, toHex, viewEncoder } from '../../src/lib/bytes.ts';

describe('toHex', () => {
  it('is @scure/base hex.encode, for whole arrays and for subarrays of a larger buffer', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), fc.nat(), (bytes, a, b) => {
      expect(toHex(bytes)).toBe(hex.encode(bytes));
      const from = bytes.length ? a % bytes.length : 0;
      const to = from + (bytes.length ? b % (bytes.length - from + 1) : 0);
      const view = bytes.subarray(from, to);
      expect(toHex(view)).toBe(hex.encode(view));
    }), { numRuns: 2000 });
  });

  it('refuses what is not bytes, as before', () => {
    expect(() => toHex('00' as never)).toThrow();
  });
});

/** A view of `bytes` from a fresh small array, from a larger buffer at an offset, and from Node's Buffer pool. */
const views = (bytes: Uint8Array, at: number): Uint8Array[] => {
  const big = new Uint8Array(bytes.length + 40);
  big.set(bytes, 7 + (at % 30));
  return [Uint8Array.from(bytes), big.subarray(7 + (at % 30), 7 + (at % 30) + bytes.length), Buffer.from(bytes)];
};

describe('latin1Of and the fallback encoders', () => {
  const hexFallback = viewEncoder(undefined, 'hex');
  const latin1Fallback = viewEncoder(undefined, 'latin1');
  it('latin1Of is one character per byte (String.fromCharCode), on every kind of view, as its fallback is', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(), (bytes, at) => {
      const expected = String.fromCharCode(...bytes);
      for (const v of views(bytes, at)) {
        expect(latin1Of(v)).toBe(expected);
        expect(latin1Fallback(v)).toBe(expected);
      }
    }), { numRuns: 1000 });
  });

  it('the fallback hex encoder is @scure/base hex.encode too', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(), (bytes, at) => {
      for (const v of views(bytes, at)) expect(hexFallback(v)).toBe(hex.encode(bytes));
    }), { numRuns: 1000 });
  });
});
