/**
 * The deadline fee schedule (src/lib/tx/deadline-fee.ts): one narrated schedule, then its
 * invariants as properties over any tips, deadlines, rates, wallets and earlier bids. Expected
 * values are worked out here from the rule's words (linear from the start at the first chance
 * to the budget at the last, rounded up), never read from the module.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { deadlineBid, type DeadlineFeeInput } from '../../../src/lib/tx/deadline-fee.ts';

describe('a schedule from 2 to 10 sat/vB over ten chances (blocks 101 to 110, the deadline 110)', () => {
  const at = (tip: number, extra: Partial<DeadlineFeeInput> = {}) => deadlineBid({ startTip: 100, tip, deadline: 110, startRate: 2_000, budgetRate: 10_000, ...extra });

  it('rises by (10,000 − 2,000) / 9 sat/kvB a block, rounded up, from 2 sat/vB at the first chance to the budget at the last', () => {
    const bids = Array.from({ length: 10 }, (_, k) => at(100 + k).rate);
    expect(bids).toEqual([2_000, 2_889, 3_778, 4_667, 5_556, 6_445, 7_334, 8_223, 9_112, 10_000]);
  });

  it('reaches the budget with the tip at 109 — the bid for block 110, the last that can mine it — not one block late (lnd#8741)', () => {
    expect(at(108)).toMatchObject({ rate: 9_112, chancesLeft: 1, hold: false });
    expect(at(109)).toMatchObject({ rate: 10_000, chancesLeft: 0, hold: false });
    expect(at(110)).toMatchObject({ rate: 10_000, chancesLeft: -1, shortfall: 'deadline-passed' });
  });

  it('a replacement outbids what it replaces by the incremental relay fee, or holds it', () => {
    // Core's default -incrementalrelayfee (0.1 sat/vB): the schedule's step of 889 sat/kvB is enough.
    expect(at(103, { previousRate: 3_778 })).toMatchObject({ rate: 4_667, scheduled: 4_667, hold: false });
    // A node at -incrementalrelayfee=0.00001 (1 sat/vB).
    const node = { incrementalRate: 1_000 };
    // Block 103's bid replaces block 102's: the schedule's step (889) is under 1,000, so the least replacement.
    expect(at(103, { previousRate: 3_778, ...node })).toMatchObject({ rate: 4_778, scheduled: 4_667, hold: false });
    // The schedule still under the earlier bid (it was bumped by hand): hold it, send nothing.
    expect(at(103, { previousRate: 6_000, ...node })).toMatchObject({ rate: 6_000, hold: true });
    // At the last chance with the budget already bid: nothing more to send (all the budget is bid).
    expect(at(109, { previousRate: 10_000, ...node })).toEqual({ rate: 10_000, scheduled: 10_000, chancesLeft: 0, hold: true });
    // The schedule above the earlier bid, but no replacement fits in the budget: hold, and say the budget is short.
    expect(at(109, { previousRate: 9_500, ...node })).toEqual({ rate: 9_500, scheduled: 10_000, chancesLeft: 0, hold: true, shortfall: 'budget' });
  });

  it('a wallet that covers part of the budget still bids what it can (lnd#9627), and says so', () => {
    expect(at(109, { affordableRate: 7_000 })).toMatchObject({ rate: 7_000, scheduled: 10_000, hold: false, shortfall: 'wallet' });
  });

  it('an estimate above the budget starts at the budget and says the budget is short', () => {
    expect(at(100, { startRate: 20_000 })).toMatchObject({ rate: 10_000, shortfall: 'budget' });
  });

  it('one chance only (the deadline is the next block): the budget at once', () => {
    expect(deadlineBid({ startTip: 109, tip: 109, deadline: 110, startRate: 2_000, budgetRate: 10_000 }).rate).toBe(10_000);
  });

  it('refuses what is not a schedule: a tip below its start, a fraction, a negative rate', () => {
    expect(() => at(99)).toThrow(RangeError);
    expect(() => at(101, { startRate: 1.5 })).toThrow(RangeError);
    expect(() => at(101, { previousRate: -1 })).toThrow(RangeError);
  });
});

const rate = fc.integer({ min: 0, max: 2_000_000 });
const schedule = fc
  .record({ startTip: fc.integer({ min: 0, max: 1_000_000 }), span: fc.integer({ min: 0, max: 3_000 }), startRate: rate, budgetRate: rate })
  .chain((s) => fc.record({ s: fc.constant(s), used: fc.integer({ min: 0, max: s.span + 5 }) }))
  .map(({ s, used }) => ({ startTip: s.startTip, tip: s.startTip + used, deadline: s.startTip + s.span, startRate: s.startRate, budgetRate: s.budgetRate }));

describe('invariants, for any schedule', () => {
  it('a bid sent is within the budget and the wallet, and at least the start unless either is below it', () => {
    fc.assert(fc.property(schedule, fc.option(rate, { nil: undefined }), fc.option(rate, { nil: undefined }), (i, affordableRate, previousRate) => {
      const b = deadlineBid({ ...i, affordableRate, previousRate });
      if (b.hold) {
        expect(b.rate).toBe(previousRate);
        return;
      }
      expect(b.rate).toBeLessThanOrEqual(Math.min(i.budgetRate, affordableRate ?? Infinity));
      expect(b.rate).toBeGreaterThanOrEqual(Math.min(i.startRate, i.budgetRate, affordableRate ?? Infinity));
      if (previousRate !== undefined) expect(b.rate).toBeGreaterThanOrEqual(previousRate + 100); // Core's default -incrementalrelayfee, 0.1 sat/vB
    }));
  });

  it('never falls as the tip rises', () => {
    fc.assert(fc.property(schedule, fc.integer({ min: 1, max: 50 }), (i, later) => {
      expect(deadlineBid({ ...i, tip: i.tip + later }).scheduled).toBeGreaterThanOrEqual(deadlineBid(i).scheduled);
    }));
  });

  it('is the budget at the last chance (tip = deadline − 1) and after, and the start at the first when there is more than one', () => {
    fc.assert(fc.property(schedule, (i) => {
      if (i.deadline - 1 < i.startTip) return;
      expect(deadlineBid({ ...i, tip: i.deadline - 1 }).scheduled).toBe(i.budgetRate);
      expect(deadlineBid({ ...i, tip: i.deadline + 3 }).scheduled).toBe(i.budgetRate);
      if (i.deadline - i.startTip > 1) expect(deadlineBid({ ...i, tip: i.startTip }).scheduled).toBe(Math.min(i.startRate, i.budgetRate));
    }));
  });

  it('says why it is short whenever the bid sent is under the schedule or the deadline has passed', () => {
    fc.assert(fc.property(schedule, fc.option(rate, { nil: undefined }), (i, affordableRate) => {
      const b = deadlineBid({ ...i, affordableRate });
      if (b.rate < b.scheduled || b.chancesLeft < 0 || i.startRate > i.budgetRate) expect(b.shortfall).toBeDefined();
      else expect(b.shortfall).toBeUndefined();
    }));
  });
});
