/**
 * The bid of an anchors commitment's CPFP child (src/lib/watch/channel-cpfp.ts, its invariants): one
 * narrated case whose numbers are worked out here by hand, then adversarial property tests — within
 * the budget, the package at the rate asked (the least child fee that reaches it), no child while
 * the commitment alone pays the schedule, a replacement paying the one it replaces plus the
 * incremental relay fee.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { bidAnchorChild, commitmentSchedule, type AnchorChildFacts } from '../../../src/lib/watch/channel-cpfp.ts';

// A commitment of 330 vB paying 3,300 sat (10 sat/vB, feerate_per_kw 2,500), a child of 180 vB: the package 510 vB.
const facts = (o: Partial<AnchorChildFacts> = {}): AnchorChildFacts => ({
  tip: 104, startTip: 100, deadline: 109, startRate: 1000, incrementalRate: 100, floorRate: 1000, limits: { maxFeeRate: 20, maxFeeShare: 0.5 },
  parent: { vsize: 330, feeSat: 3300 }, childVsize: 180, stakeSat: 20_000, coinsMaxFeeSat: 50_000, ...o,
});

describe('Alice\'s anchors commitment went out at tip 100 for an HTLC expiring at 110 (the commitment mined by 109); a 20 sat/vB budget', () => {
  it('the schedule: 1 sat/vB at tip 100 rising to 20 at tip 108 — while the commitment\'s 10 sat/vB is enough, a child at its rate only, holding her place in its cluster', () => {
    // tip 103: 1,000 + ceil(19,000 × 3 / 8) = 8,125 sat/kvB < 10,000: the child pays the commitment's 10 sat/vB × 180 vB, the package 10.
    expect(bidAnchorChild(facts({ tip: 103 }))).toEqual({ action: 'send', rate: 10_000, childFeeSat: 1800, reserve: true });
    // No stake, no budget for a child (the commitment's own fee is all the package may pay): alone.
    expect(bidAnchorChild(facts({ tip: 103, stakeSat: 0 }))).toMatchObject({ action: 'alone', rate: 10_000, childFeeSat: 0 });
  });
  it('tip 104: 1,000 + 19,000 × 4 / 8 = 10,500 sat/kvB — the child pays ceil(10.5 × 510) − 3,300 = 2,055 sat', () => {
    expect(bidAnchorChild(facts())).toEqual({ action: 'send', rate: 10_500, childFeeSat: 2055 });
  });
  it('tip 108 (the last chance): the budget, 20 × 510 = 10,200 sat in all — but --max-fee-share 0.5 of the 20,000 sat HTLC caps the child at 10,000: 6,900 sat', () => {
    expect(bidAnchorChild(facts({ tip: 108 }))).toEqual({ action: 'send', rate: 20_000, childFeeSat: 6900 });
    expect(bidAnchorChild(facts({ tip: 108, stakeSat: 6000 }))).toEqual({ action: 'send', rate: 12_352, childFeeSat: 3000, shortfall: undefined } as never);
  });
  it('a child of 2,055 sat in the mempool, tip 105: replaced at the schedule (12,875 sat/kvB: 3,267 sat), which pays it plus 100 sat/kvB × 180 vB', () => {
    const held = { descendantFee: 5355n, descendantVsize: 510, chunkFee: 5355n, chunkWeight: 2040, childFeeSat: 2055 };
    expect(bidAnchorChild(facts({ tip: 105, held }))).toEqual({ action: 'replace', rate: 12_876, childFeeSat: 3267 });
    // The same tip again: nothing above it to bid — it stands.
    const now = { descendantFee: 6567n, descendantVsize: 510, chunkFee: 6567n, chunkWeight: 2040, childFeeSat: 3267 };
    expect(bidAnchorChild(facts({ tip: 105, held: now }))).toMatchObject({ action: 'keep' });
  });
  it('a child of hers paying less than the commitment (180 sat: a full mempool\'s floor was all it paid) beside it: it stands while the schedule asks less than the commitment\'s own 10 sat/vB; above it, replaced at the schedule', () => {
    // The package (3,480 sat / 510 vB) is 6.8 sat/vB, but the commitment mines at its own 10: its chunk is itself (3,300 sat / 1,320 WU).
    const held = { descendantFee: 3480n, descendantVsize: 510, chunkFee: 3300n, chunkWeight: 1320, childFeeSat: 180 };
    expect(bidAnchorChild(facts({ tip: 103, held }))).toEqual({ action: 'keep', rate: 10_000, childFeeSat: 0 });
    // tip 104: 10,500 sat/kvB — ceil(10.5 × 510) − 3,300 = 2,055 sat, above 180 + 18 and its chunk's 10,001.
    expect(bidAnchorChild(facts({ tip: 104, held }))).toEqual({ action: 'replace', rate: 10_500, childFeeSat: 2055 });
  });
  it('the schedule\'s deadline: a received HTLC\'s cltv_expiry − 1 (its HTLC-success waits a block, CSV 1); an offered one, 10 blocks after it was due', () => {
    expect(commitmentSchedule([{ trimmed: false, direction: 'received', cltvExpiry: 110, preimage: true }], 104)).toEqual({ startTip: 100, deadline: 109 });
    expect(commitmentSchedule([{ trimmed: false, direction: 'offered', cltvExpiry: 110, preimage: false }], 115)).toEqual({ startTip: 113, deadline: 123 });
  });
});

const arbFacts = fc.record({
  tip: fc.integer({ min: 100, max: 130 }), startTip: fc.integer({ min: 90, max: 130 }), deadline: fc.integer({ min: 95, max: 140 }),
  startRate: fc.integer({ min: 100, max: 30_000 }), incrementalRate: fc.integer({ min: 0, max: 1000 }), floorRate: fc.integer({ min: 100, max: 5000 }),
  limits: fc.record({ maxFeeRate: fc.integer({ min: 1, max: 100 }), maxFeeShare: fc.double({ min: 0.01, max: 1, noNaN: true }) }),
  parent: fc.record({ vsize: fc.integer({ min: 200, max: 2000 }), feeSat: fc.integer({ min: 0, max: 40_000 }) }),
  childVsize: fc.integer({ min: 120, max: 600 }), stakeSat: fc.integer({ min: 0, max: 1_000_000 }), coinsMaxFeeSat: fc.integer({ min: 0, max: 200_000 }),
  held: fc.option(fc.record({ childFeeSat: fc.integer({ min: 1, max: 50_000 }), extra: fc.integer({ min: -200_000_000, max: 0 }) }), { nil: undefined }),
}).map(({ held, ...f }): AnchorChildFacts => {
  if (!held) return f;
  const fee = BigInt(f.parent.feeSat + held.childFeeSat + held.extra);
  return { ...f, held: { descendantFee: fee, descendantVsize: f.parent.vsize + f.childVsize, chunkFee: fee, chunkWeight: 4 * (f.parent.vsize + f.childVsize), childFeeSat: held.childFeeSat } };
});

describe('properties', () => {
  it('within the budget: the package within --max-fee-rate on its size, the child within --max-fee-share of the stake and what its coins hold', () => {
    fc.assert(fc.property(arbFacts, (f) => {
      const b = bidAnchorChild(f);
      if (b.action !== 'send' && b.action !== 'replace') {
        expect(b.childFeeSat).toBe(0);
        return;
      }
      expect(b.childFeeSat).toBeGreaterThan(0);
      expect(f.parent.feeSat + b.childFeeSat).toBeLessThanOrEqual(f.limits.maxFeeRate * (f.parent.vsize + f.childVsize));
      expect(b.childFeeSat).toBeLessThanOrEqual(f.limits.maxFeeShare * f.stakeSat);
      expect(b.childFeeSat).toBeLessThanOrEqual(f.coinsMaxFeeSat);
    }), { numRuns: 2000 });
  });
  it('the package at the rate it says, and a first child the least that reaches it; no child while the commitment alone pays the schedule', () => {
    fc.assert(fc.property(arbFacts, (f) => {
      const b = bidAnchorChild(f);
      const pkg = f.parent.vsize + f.childVsize;
      if (b.action === 'send' || b.action === 'replace') {
        expect(((f.parent.feeSat + b.childFeeSat) * 1000) / pkg).toBeGreaterThanOrEqual(b.rate);
      }
      if (b.action === 'send' && !b.reserve) expect(((f.parent.feeSat + b.childFeeSat - 1) * 1000) / pkg).toBeLessThan(b.rate + 1000 / pkg);
      if (b.action === 'alone') expect(f.held).toBeUndefined();
      // A child the schedule does not ask for pays the commitment's own rate (the node's floor at least) on its own size, no more.
      const parentRate = Math.floor((f.parent.feeSat * 1000) / f.parent.vsize);
      if (b.reserve) expect(b.childFeeSat).toBe(Math.max(1, Math.ceil((Math.max(f.floorRate, parentRate) * f.childVsize) / 1000)));
    }), { numRuns: 2000 });
  });
  it('a replacement pays the child it replaces plus the incremental relay fee on its own size (Core\'s rules 3 and 4)', () => {
    fc.assert(fc.property(arbFacts, (f) => {
      const b = bidAnchorChild(f);
      if (b.action === 'replace') expect(b.childFeeSat).toBeGreaterThanOrEqual(f.held!.childFeeSat + (f.incrementalRate * f.childVsize) / 1000);
      if (f.held) expect(b.action).not.toBe('send');
    }), { numRuns: 2000 });
  });
});
