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

describe('the device: payment h2 in state s2, its HTLC\'s refund final from the tip at 900,000, aimed at block 900,006; from 1 to 10 sat/vB', () => {
  const drow = { contract_id: 'd1', payment_hash: 'h2', state_txid: 's2', htlc_expiry: L };
  const dfacts = (tip: number, extra: Partial<DeviceFacts> = {}): DeviceFacts => ({ tip, stateConfirmations: 1, htlc: { where: 'none' }, startRate: 1_000, budgetRate: 10_000, incrementalRate: 100, ...extra });
  const started = (tip: number): ExitBid => ({ start_tip: L, rate: 1_000, tip, block: `b${tip}` });
  const own = (rate: number): HtlcSpend => ({ where: 'mempool', txid: 'r2', leaf: 'refund', rate });
  it('the state on chain, one block before: nothing; at L the refund at the start rate, 6 chances (blocks L + 1 … L + 6)', () => {
    expect(decideDevice(drow, dfacts(L - 1))).toMatchObject({ kind: 'device', action: 'none', deadline: L + 6, blocks_left: 7 });
    expect(decideDevice(drow, dfacts(L))).toMatchObject({ action: 'refund', rate: 1_000, fee_rate: 1, blocks_left: 6 });
  });
  it('its refund in the mempool at 1,000 a block later: replaced at 1,000 + ⌈9,000 / 5⌉ = 2,800; at L + 5 (the last chance) the whole budget', () => {
    expect(decideDevice(drow, dfacts(L + 1, { bid: started(L), htlc: own(1_000) }))).toMatchObject({ action: 'rebid', rate: 2_800 });
    expect(decideDevice(drow, dfacts(L + 5, { bid: started(L + 4), htlc: own(8_200) }))).toMatchObject({ action: 'rebid', rate: 10_000, blocks_left: 1 });
  });
  it('a refund in the mempool paying what the schedule asks (5,000 ≥ 4,600 at L + 2) stands: wait, nothing to send', () => {
    const d = decideDevice(drow, dfacts(L + 2, { bid: started(L + 1), htlc: own(5_000) }));
    expect(d).toMatchObject({ action: 'wait', txid: 'r2' });
    expect(d.rate).toBeUndefined();
  });
  it('at L + 5 a refund at 9,950: outbidding it needs 10,050, above the budget — held, the shortfall said; the schedule between: the least replacement, 9,950 + 100', () => {
    const d = decideDevice(drow, dfacts(L + 5, { bid: started(L + 4), htlc: own(9_950) }));
    expect(d).toMatchObject({ action: 'hold', shortfall: 'budget', txid: 'r2' });
    expect(d.rate).toBeUndefined();
    expect(decideDevice(drow, dfacts(L + 4, { bid: started(L + 3), htlc: own(8_000) }))).toMatchObject({ action: 'rebid', rate: 8_200 });
    expect(decideDevice(drow, dfacts(L + 4, { bid: started(L + 3), htlc: own(8_150) }))).toMatchObject({ action: 'rebid', rate: 8_250 });
  });
  it('the node lost it (a reorganisation, an eviction): sent again at the schedule\'s rate; past the aim, at the budget, the deadline said passed', () => {
    expect(decideDevice(drow, dfacts(L + 3, { bid: started(L + 2) }))).toMatchObject({ action: 'rebroadcast', rate: 6_400 });
    expect(decideDevice(drow, dfacts(L + 9, { bid: started(L + 2) }))).toMatchObject({ action: 'rebroadcast', rate: 10_000, shortfall: 'deadline-passed' });
  });
  it('the gateway\'s claim in the mempool is waited on, never replaced; a refund that cannot be built (another key) is held with its error', () => {
    expect(decideDevice(drow, dfacts(L + 2, { htlc: { where: 'mempool', txid: 'c2', leaf: 'claim', rate: 1 } }))).toMatchObject({ action: 'wait', txid: 'c2' });
    expect(decideDevice(drow, dfacts(L, { unbuildable: 'E_WRONG_KEY: no' }))).toMatchObject({ action: 'hold', error: 'E_WRONG_KEY: no' });
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

const deviceCase = fc.record({
  expiry: fc.integer({ min: 100, max: 1_000_000 }),
  back: fc.integer({ min: -50, max: 50 }),
  stateConfirmations: fc.option(fc.integer({ min: 0, max: 10 }), { nil: null }),
  htlc: spendArb,
  startRate: fc.integer({ min: 0, max: 20_000 }),
  budgetRate: fc.integer({ min: 0, max: 20_000 }),
  incrementalRate: fc.integer({ min: 0, max: 1_000 }),
  bidBack: fc.option(fc.integer({ min: 0, max: 50 }), { nil: undefined }),
  unbuildable: fc.option(fc.constant('E_X: no'), { nil: undefined }),
});
type DeviceCase = typeof deviceCase extends fc.Arbitrary<infer T> ? T : never;
function decideD(c: DeviceCase) {
  const tip = Math.max(0, c.expiry - c.back);
  const f: DeviceFacts = {
    tip, stateConfirmations: c.stateConfirmations, htlc: c.htlc, startRate: c.startRate, budgetRate: c.budgetRate, incrementalRate: c.incrementalRate,
    ...(c.bidBack !== undefined ? { bid: { start_tip: Math.max(0, tip - c.bidBack), rate: 1, tip, block: 'b' } } : {}),
    ...(c.unbuildable ? { unbuildable: c.unbuildable } : {}),
  };
  return { tip, d: decideDevice({ contract_id: 'd', payment_hash: 'h', state_txid: 's', htlc_expiry: c.expiry }, f) };
}

describe('the device\'s invariants, over any facts', () => {
  it('a refund is sent only from the tip at the expiry, with the state on chain and the HTLC unspent or held by its own refund — never over a claim, a key-path spend or a spend in a block', () => {
    fc.assert(fc.property(deviceCase, (c) => {
      const { d, tip } = decideD(c);
      const open = c.htlc.where === 'none' || (c.htlc.where === 'mempool' && c.htlc.leaf === 'refund');
      if (SENDING.has(d.action)) expect(tip >= c.expiry && c.stateConfirmations !== null && open).toBe(true);
      if (tip >= c.expiry && c.stateConfirmations !== null && c.htlc.where === 'none') expect(c.unbuildable ? d.action === 'hold' : SENDING.has(d.action)).toBe(true);
    }));
  });
  it('a bid is never above the budget, and over its own refund in the mempool it outbids it by the incremental relay fee (never a worse one)', () => {
    fc.assert(fc.property(deviceCase, (c) => {
      const { d } = decideD(c);
      if (!SENDING.has(d.action)) {
        expect(d.rate).toBeUndefined();
        return;
      }
      expect(d.rate).toBeLessThanOrEqual(c.budgetRate);
      if (c.htlc.where === 'mempool') expect(d.rate).toBeGreaterThanOrEqual(c.htlc.rate + c.incrementalRate);
    }));
  });
  it('a hold over its own refund says the budget is short; a wait over it means it pays at least what the schedule asks', () => {
    fc.assert(fc.property(deviceCase, (c) => {
      const { d } = decideD(c);
      if (c.htlc.where !== 'mempool' || c.htlc.leaf !== 'refund' || c.unbuildable || c.stateConfirmations === null || d.action === 'done') return;
      if (d.action === 'hold') expect(d.shortfall).toBe('budget');
      if (d.action === 'hold') expect(c.htlc.rate + c.incrementalRate).toBeGreaterThan(c.budgetRate);
    }));
  });
  it('at the last chance (tip L + 5) a first refund bids the whole budget', () => {
    fc.assert(fc.property(deviceCase, (c) => {
      const { d } = decideD({ ...c, back: -5, htlc: { where: 'none' }, stateConfirmations: 1, bidBack: undefined, unbuildable: undefined });
      expect(d).toMatchObject({ action: 'refund', rate: c.budgetRate, blocks_left: 1 });
    }));
  });
});
