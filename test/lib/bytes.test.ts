/** toHex is Node's native hex encoder: the same text as @scure/base's, on views at any offset too. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { hex } from '@scure/base';
import { toHex } from '../../src/lib/bytes.ts';

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
