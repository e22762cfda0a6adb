/**
 * The device ↔ gateway HTLC's watcher decisions (src/lib/watch/device.ts): one narrated payment
 * per side — the gateway racing its claim to block L, the device taking the HTLC back from the
 * tip at L — then the module's INVARIANTS as properties over any row, stored bid, spend, fee
 * facts and tip. Expected values are worked out here from the rules' words (deadline-fee.ts:
 * linear from the start at the first chance to the budget at the last, rounded up).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decideDevice, decideGateway, type DeviceFacts, type GatewayFacts, type GatewayRow, type HtlcSpend } from '../../../src/lib/watch/device.ts';
import type { ExitBid } from '../../../src/lib/watch/credit.ts';
import { SENDING } from '../../../src/lib/watch/decision.ts';

const L = 900_000;
const row: GatewayRow = { contract_id: 'g1', payment_hash: 'h1', htlc_expiry: L, margin: 4 };
const facts = (tip: number, extra: Partial<GatewayFacts> = {}): GatewayFacts => ({
  tip, startRate: 1_000, budgetRate: 10_000, incrementalRate: 100, stateConfirmations: null, htlc: { where: 'none' }, minConfirmations: 6, ...extra,
});
const bid = (rate: number, tip: number, txid?: string): ExitBid => ({ start_tip: L - 4, rate, tip, block: `b${tip}`, ...(txid ? { txid } : {}) });

describe('the gateway: payment h1\'s HTLC expires at 900,000, its margin 4 blocks; from 1 to 10 sat/vB', () => {
  it('five blocks before, the state not out: nothing (the device may still settle)', () => {
    expect(decideGateway(row, facts(L - 5))).toMatchObject({ kind: 'gateway', action: 'none', deadline: L, blocks_left: 5 });
  });

  it('at the margin it claims at the start rate, 4 chances (blocks L − 3 … L) to mine it', () => {
    expect(decideGateway(row, facts(L - 4))).toMatchObject({ action: 'claim', rate: 1_000, fee_rate: 1, blocks_left: 4 });
  });

  it('before the margin, with the state already on chain (an exit began: in a block or the mempool), it claims at once', () => {
    expect(decideGateway(row, facts(L - 50, { stateConfirmations: 0 }))).toMatchObject({ action: 'claim' });
    expect(decideGateway(row, facts(L - 50, { stateConfirmations: 3 }))).toMatchObject({ action: 'claim' });
  });

  it('its claim in the mempool at 1,000 a block later: replaced at 1,000 + ⌈9,000 / 3⌉ = 4,000; at L − 1 the whole budget (lnd#8741)', () => {
    const held: HtlcSpend = { where: 'mempool', txid: 'c1', leaf: 'claim', rate: 1_000 };
    expect(decideGateway(row, facts(L - 3, { bid: bid(1_000, L - 4), htlc: held }))).toMatchObject({ action: 'rebid', rate: 4_000 });
    expect(decideGateway(row, facts(L - 1, { bid: bid(7_000, L - 2), htlc: { ...held, rate: 7_000 } }))).toMatchObject({ action: 'rebid', rate: 10_000, blocks_left: 1 });
  });

  it('the device\'s refund in the mempool at 12 sat/vB (after L): above the budget, held and said (shortfall budget); at 3 sat/vB it is replaced', () => {
    const refund: HtlcSpend = { where: 'mempool', txid: 'r1', leaf: 'refund', rate: 12_000 };
    expect(decideGateway(row, facts(L, { bid: bid(10_000, L - 1), stateConfirmations: 2, htlc: refund }))).toMatchObject({ action: 'hold', shortfall: 'budget', txid: 'r1' });
    expect(decideGateway(row, facts(L, { bid: bid(10_000, L - 1), stateConfirmations: 2, htlc: { ...refund, rate: 3_000 } }))).toMatchObject({ action: 'claim', rate: 10_000 });
  });

  it('its claim mined: wait for the depth, then done; the HTLC spent in a block by anything else: done, said', () => {
    expect(decideGateway(row, facts(L, { bid: bid(10_000, L - 1, 'c9'), claim: { txid: 'c9', confirmations: 1 }, htlc: { where: 'block' } }))).toMatchObject({ action: 'wait', txid: 'c9' });
    expect(decideGateway(row, facts(L + 5, { claim: { txid: 'c9', confirmations: 6 }, htlc: { where: 'block' } }))).toMatchObject({ action: 'done', txid: 'c9' });
    expect(decideGateway(row, facts(L + 5, { stateConfirmations: 7, htlc: { where: 'block' } })).reason).toMatch(/device's refund/);
  });

  it('a spend through neither leaf (the key path: both parties) is not replaced: hold, E_WATCH_FOREIGN_SPEND', () => {
    const d = decideGateway(row, facts(L - 2, { stateConfirmations: 1, htlc: { where: 'mempool', txid: 'k1', leaf: 'other', rate: 1_000 } }));
    expect(d).toMatchObject({ action: 'hold', txid: 'k1' });
    expect(d.error).toMatch(/^E_WATCH_FOREIGN_SPEND: /);
  });
});

describe('the device: payment h2 in state s2, its HTLC\'s refund final from the tip at 900,000', () => {
  const drow = { contract_id: 'd1', payment_hash: 'h2', state_txid: 's2', htlc_expiry: L };
  const dfacts = (tip: number, extra: Partial<DeviceFacts> = {}): DeviceFacts => ({ tip, stateConfirmations: 1, htlc: { where: 'none' }, ...extra });
  it('the state on chain, one block before: nothing; at L: refund', () => {
    expect(decideDevice(drow, dfacts(L - 1))).toMatchObject({ kind: 'device', action: 'none', blocks_left: 1 });
    expect(decideDevice(drow, dfacts(L))).toMatchObject({ action: 'refund', blocks_left: 0 });
  });
  it('the state not on chain: nothing to take back, whatever the tip', () => {
    expect(decideDevice(drow, dfacts(L + 100, { stateConfirmations: null }))).toMatchObject({ action: 'none' });
  });
});

// Properties: any row, bid, spend and tip.
const spendArb: fc.Arbitrary<HtlcSpend> = fc.oneof(
  fc.constant({ where: 'none' as const }),
  fc.constant({ where: 'block' as const }),
  fc.record({ where: fc.constant('mempool' as const), txid: fc.constantFrom('c', 'r', 'k'), leaf: fc.constantFrom('claim' as const, 'refund' as const, 'other' as const), rate: fc.integer({ min: 0, max: 50_000 }) }),
);
const gatewayCase = fc.record({
  expiry: fc.integer({ min: 100, max: 1_000_000 }),
  margin: fc.integer({ min: 1, max: 144 }),
  back: fc.integer({ min: -20, max: 300 }),
  startRate: fc.integer({ min: 0, max: 20_000 }),
  budgetRate: fc.integer({ min: 0, max: 20_000 }),
  incrementalRate: fc.integer({ min: 0, max: 1_000 }),
  stateConfirmations: fc.option(fc.integer({ min: 0, max: 20 }), { nil: null }),
  htlc: spendArb,
  bidBack: fc.option(fc.integer({ min: 0, max: 50 }), { nil: undefined }),
  claimConfirmations: fc.option(fc.option(fc.integer({ min: 0, max: 20 }), { nil: null }), { nil: undefined }),
  unbuildable: fc.option(fc.constant('E_X: no'), { nil: undefined }),
});
type GatewayCase = typeof gatewayCase extends fc.Arbitrary<infer T> ? T : never;
function decide(c: GatewayCase) {
  const tip = Math.max(0, c.expiry - c.back);
  const f: GatewayFacts = {
    tip, startRate: c.startRate, budgetRate: c.budgetRate, incrementalRate: c.incrementalRate, stateConfirmations: c.stateConfirmations, htlc: c.htlc, minConfirmations: 6,
    ...(c.bidBack !== undefined ? { bid: { start_tip: Math.max(0, tip - c.bidBack), rate: 1, tip, block: 'b' } } : {}),
    ...(c.claimConfirmations !== undefined ? { claim: { txid: 'c', confirmations: c.claimConfirmations } } : {}),
    ...(c.unbuildable ? { unbuildable: c.unbuildable } : {}),
  };
  return { tip, f, d: decideGateway({ contract_id: 'g', payment_hash: 'h', htlc_expiry: c.expiry, margin: c.margin }, f) };
}

describe('the gateway\'s invariants, over any facts', () => {
  it('nothing is sent once its claim is mined, nor over a spend in a block, nor over a spend through neither leaf', () => {
    fc.assert(fc.property(gatewayCase, (c) => {
      const { d } = decide(c);
      const mined = c.claimConfirmations !== undefined && c.claimConfirmations !== null && c.claimConfirmations >= 1;
      const foreign = c.htlc.where === 'block' || (c.htlc.where === 'mempool' && c.htlc.leaf === 'other');
      if (mined || foreign) expect(SENDING.has(d.action)).toBe(false);
    }));
  });
  it('a bid is never above the budget, and over anything in the mempool it outbids what is there by the incremental relay fee', () => {
    fc.assert(fc.property(gatewayCase, (c) => {
      const { d } = decide(c);
      if (!SENDING.has(d.action)) return;
      expect(d.rate).toBeLessThanOrEqual(c.budgetRate);
      if (c.htlc.where === 'mempool') expect(d.rate).toBeGreaterThanOrEqual(c.htlc.rate + c.incrementalRate);
    }));
  });
  it('before the margin, with the state not out and no bid, nothing is sent; within it, with nothing spent, something is (or the claim cannot be built)', () => {
    fc.assert(fc.property(gatewayCase, (c) => {
      const { d, tip } = decide(c);
      const quiet = c.stateConfirmations === null && c.htlc.where === 'none' && c.bidBack === undefined && (c.claimConfirmations ?? null) === null;
      if (quiet && tip < c.expiry - c.margin) expect(d.action).toBe('none');
      if (quiet && tip >= c.expiry - c.margin) expect(c.unbuildable ? d.action === 'hold' : SENDING.has(d.action)).toBe(true);
    }));
  });
  it('at the last chance (tip L − 1) a first claim bids the whole budget', () => {
    fc.assert(fc.property(gatewayCase, (c) => {
      const { d } = decide({ ...c, back: 1, htlc: { where: 'none' }, claimConfirmations: undefined, unbuildable: undefined, bidBack: undefined });
      expect(d).toMatchObject({ action: 'claim', rate: c.budgetRate });
    }));
  });
});

describe('the device\'s invariants, over any facts', () => {
  it('a refund only from the tip at the expiry, with the state on chain and the HTLC unspent', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 1_000_000 }), fc.integer({ min: -50, max: 50 }), fc.option(fc.integer({ min: 0, max: 10 }), { nil: null }), spendArb, (expiry, back, conf, htlc) => {
      const tip = Math.max(0, expiry - back);
      const d = decideDevice({ contract_id: 'd', payment_hash: 'h', state_txid: 's', htlc_expiry: expiry }, { tip, stateConfirmations: conf, htlc });
      expect(d.action === 'refund').toBe(tip >= expiry && conf !== null && htlc.where === 'none');
      expect(['none', 'wait', 'refund', 'done']).toContain(d.action);
    }));
  });
});
