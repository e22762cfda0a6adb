/**
 * NUT-00's amounts (src/lib/ecash/nut00.ts) pinned where `npm run mutate` found a planted
 * change passing every test (issue 42, deliverable 2): a keyset signs the powers of two
 * 2^0 … 2^63 and nothing else (0, 2^64 and every non-power refused), and an amount splits
 * into its binary digits, largest first — both bounds exact. Expected values are written
 * from the spec (the binary expansion), never computed by src/.
 */
import { describe, expect, it } from 'vitest';
import { isPowerOfTwo, splitAmount } from '../../../src/lib/ecash/nut00.ts';
import { thrown } from '../../setup/refusal.ts';

describe('NUT-00 amounts', () => {
  it('powers of two: 1, 2, 2^62 and 2^63 are; 0, 3, 2^63 + 1, 2^64 and 2^65 are not', () => {
    for (const a of [1n, 2n, 1n << 62n, 1n << 63n]) expect(isPowerOfTwo(a), String(a)).toBe(true);
    for (const a of [0n, 3n, (1n << 63n) + 1n, 1n << 64n, 1n << 65n, -2n]) expect(isPowerOfTwo(a), String(a)).toBe(false);
  });

  it('split: 13 → 8, 4, 1; 1 → 1; 2^63 → 2^63; 2^64 − 1 → all 64 powers, largest first', () => {
    expect(splitAmount(13n)).toEqual([8n, 4n, 1n]);
    expect(splitAmount(1n)).toEqual([1n]);
    expect(splitAmount(1n << 63n)).toEqual([1n << 63n]);
    const all = splitAmount((1n << 64n) - 1n);
    expect(all).toHaveLength(64);
    expect(all[0]).toBe(1n << 63n);
    expect(all[63]).toBe(1n);
  });

  it('split: 0, −1 and 2^64 are refused (E_BAD_AMOUNT) naming the amount', () => {
    for (const a of [0n, -1n, 1n << 64n]) {
      const e = thrown(() => splitAmount(a));
      expect([e.code, e.message]).toEqual(['E_BAD_AMOUNT', `amount ${a} cannot be split into ecash denominations`]);
    }
  });
});
