/**
 * The nonce ledger's set of ids it opened (src/lib/store/id-set.ts): exact membership against a
 * JavaScript Set over random and adversarial ids (equal XOR of words, so one probe chain),
 * across its growth; malformed ids refused.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IdSet } from '../../../src/lib/store/id-set.ts';

const hexId = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b).toString('hex'));

describe('IdSet', () => {
  it('holds exactly what was added, as a Set would, through its growth', () => {
    fc.assert(
      fc.property(fc.array(hexId, { maxLength: 400 }), fc.array(hexId, { maxLength: 100 }), (added, probes) => {
        const set = new IdSet();
        const model = new Set<string>();
        for (const id of added) {
          set.add(id);
          model.add(id);
        }
        expect(set.size).toBe(model.size);
        for (const id of [...added, ...probes]) expect(set.has(id)).toBe(model.has(id));
      }),
      { numRuns: 200 },
    );
  });

  it('ids that share one probe chain (the same XOR of their words) are told apart by all 16 bytes', () => {
    const set = new IdSet();
    // w0 ^ w1 ^ w2 ^ w3 = 0 for each: one slot for all; they differ only in their last words.
    const ids = Array.from({ length: 300 }, (_, i) => {
      const w = [i, 0x5a5a5a5a, 0x12345678, (i ^ 0x5a5a5a5a ^ 0x12345678) >>> 0];
      return w.map((x) => x.toString(16).padStart(8, '0')).join('');
    });
    for (const id of ids.filter((_, i) => i % 2 === 0)) set.add(id);
    ids.forEach((id, i) => expect(set.has(id)).toBe(i % 2 === 0));
    expect(set.size).toBe(150);
  });

  it('refuses what is not 32 lowercase hex digits', () => {
    const set = new IdSet();
    for (const bad of ['', 'ab', 'A'.repeat(32), 'g'.repeat(32), '0'.repeat(33)]) expect(() => set.add(bad)).toThrow(/32 lowercase hex/);
  });
});
