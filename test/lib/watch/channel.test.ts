/**
 * The channel party's watcher decisions (src/lib/watch/channel.ts, BOLT 5 "Revoked Transaction
 * Close Handling"): one narrated cheat — the peer's revoked commitment mined at 800,000 with
 * to_self_delay 144 — then the module's INVARIANTS as properties over any spender, output set,
 * held justice transaction, fee facts and tip. Expected values are worked out here from the
 * rules' words (the deadline: H + to_self_delay − 1; the schedule: linear from the start at the
 * first chance to the budget at the last, rounded up; BOLT 3's fee: feerate_per_kw × weight /
 * 1000, rounded down), never read from the module.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decideChannel, type ChannelFacts, type FundingSpend, type JusticeItem } from '../../../src/lib/watch/channel.ts';
import { FINAL_DEPTH, SENDING } from '../../../src/lib/watch/decision.ts';

const REVOKED = 'aa'.repeat(32);
const CHANNEL = `${'cc'.repeat(32)}:0`;
/** A to_local justice transaction: BOLT 3 counts 4·41 + 1 + 74 + 2 + 80 for its input and 174 for the rest (a P2WPKH destination). */
const WEIGHT = 500;

const item = (extra: Partial<JusticeItem> = {}): JusticeItem => ({ outpoint: `${REVOKED}:0`, valueSat: 260_000, weight: WEIGHT, inputs: 1, confirmedAt: 800_000, sentBefore: false, ...extra });
const facts = (tip: number, extra: Partial<ChannelFacts> = {}): ChannelFacts => ({
  channel: CHANNEL, tip, toSelfDelay: 144, spend: { kind: 'revoked', txid: REVOKED, confirmations: tip - 800_000 + 1, commitmentNumber: 7 },
  items: [item()], startRate: 1_000, incrementalRate: 100, limits: { maxFeeRate: 20, maxFeeShare: 0.5 }, dustSat: 294, ...extra,
});

describe('the peer broadcast its revoked commitment 7, mined at 800,000; to_self_delay 144; a budget of 20 sat/vB', () => {
  it('the justice transaction must be mined by 800,143 (from 800,144 the cheater takes to_local): at the first chance it bids the start, 1 sat/vB, as 1,000 × 125 / 1,000 = 125 sat → feerate_per_kw ⌈125,000 / 500⌉ = 250', () => {
    const d = decideChannel(facts(800_000, { startTip: 800_000 }));
    expect(d).toMatchObject({ kind: 'channel', contract: CHANNEL, action: 'penalty', deadline: 800_143, blocks_left: 143, fee_rate: 1, txid: REVOKED });
    expect(d.sends).toEqual([{ outpoint: `${REVOKED}:0`, perKw: 250, feeSat: 125, rate: 1_000 }]);
  });

  it('at the last chance (tip 800,142) it bids the whole budget: 20 sat/vB on the smallest real size, ⌈(500 − 4) / 4⌉ = 124 vB → 2,480 sat at most', () => {
    const d = decideChannel(facts(800_142, { startTip: 800_000, items: [item({ sentBefore: true })] }));
    expect(d.action).toBe('rebroadcast');
    // 2,480 sat over the counted 125 vB is 19,840 sat/kvB: feerate_per_kw 4,960 pays ⌊4,960 × 500 / 1,000⌋ = 2,480.
    expect(d.sends).toEqual([{ outpoint: `${REVOKED}:0`, perKw: 4_960, feeSat: 2_480, rate: 19_840 }]);
  });

  it('halfway (tip 800,071: 71 of the 142 steps from the first chance to the last gone) its own transaction in the mempool at 125 sat is replaced at 1,000 + ⌈18,840 × 71 / 142⌉ = 10,420 sat/kvB', () => {
    const d = decideChannel(facts(800_071, { startTip: 800_000, items: [item({ sentBefore: true, held: { txid: 'bb'.repeat(32), feeSat: 125 } })] }));
    expect(d.action).toBe('rebid');
    expect(d.sends).toHaveLength(1);
    expect(d.sends[0]).toMatchObject({ rate: 10_420, replaces: 'bb'.repeat(32) });
    expect(d.sends[0]!.feeSat).toBeGreaterThanOrEqual(Math.ceil((10_420 * 125) / 1_000));
  });

  it('a justice transaction of its own already above the schedule stands: hold, nothing sent', () => {
    const d = decideChannel(facts(800_010, { startTip: 800_000, items: [item({ sentBefore: true, held: { txid: 'bb'.repeat(32), feeSat: 2_000 } })] }));
    expect(d.action).toBe('hold');
    expect(d.sends).toEqual([]);
  });

  it('a replacement that only the last sat of the budget could pay, and no feerate_per_kw pays exactly: its own in the mempool stands (hold), never a replacement Core would refuse', () => {
    // Weight 1,749: the budget is 20 × ⌈1,745 / 4⌉ = 8,740 sat, the least replacement of 8,696 sat is 8,696 + ⌈100 × 438 / 1,000⌉ = 8,740;
    // feerate_per_kw 4,997 pays ⌊4,997 × 1.749⌋ = 8,739 and 4,998 pays 8,741: one too little, the other above the budget.
    const d = decideChannel(facts(800_142, { startTip: 800_000, items: [item({ weight: 1_749, sentBefore: true, held: { txid: 'bb'.repeat(32), feeSat: 8_696 } })] }));
    expect(d).toMatchObject({ action: 'hold', sends: [] });
  });

  it('in the mempool, not mined yet: the deadline is the tip + 144 (it may be mined in the next block)', () => {
    const d = decideChannel(facts(800_000, { spend: { kind: 'revoked', txid: REVOKED, confirmations: 0 }, items: [item({ confirmedAt: undefined })] }));
    expect(d).toMatchObject({ action: 'penalty', deadline: 800_144, blocks_left: 144 });
  });

  it('a small HTLC output (1,000 sat): the share (0.5) is its budget — 500 sat, not 20 sat/vB', () => {
    const d = decideChannel(facts(800_142, { startTip: 800_000, items: [item({ valueSat: 1_000 })] }));
    expect(d.sends[0]!.feeSat).toBeLessThanOrEqual(500);
    expect(d.sends[0]!.feeSat).toBeGreaterThan(480);
  });

  it('nothing left to take, the justice transactions 3 deep: wait; 6 deep: done (one the node finds only in a stale block, 0, or not at all, null, is none of them)', () => {
    expect(decideChannel(facts(800_010, { items: [], mined: [3, null, 7] })).action).toBe('wait');
    expect(decideChannel(facts(800_010, { items: [], mined: [6, null, 7, 0] })).action).toBe('done');
  });

  it('the peer\'s current commitment, the party\'s own, a mutual close: wait, then done at 6 confirmations, nothing sent; an unknown spender: hold, E_WATCH_FOREIGN_SPEND', () => {
    for (const kind of ['peer-current', 'own', 'mutual-close'] as const) {
      expect(decideChannel(facts(800_001, { spend: { kind, txid: REVOKED, confirmations: 2 } }))).toMatchObject({ action: 'wait', sends: [] });
      expect(decideChannel(facts(800_005, { spend: { kind, txid: REVOKED, confirmations: 6 } }))).toMatchObject({ action: 'done', sends: [] });
    }
    const foreign = decideChannel(facts(800_001, { spend: { kind: 'foreign', txid: REVOKED, confirmations: 1 } }));
    expect(foreign).toMatchObject({ action: 'hold', sends: [] });
    expect(foreign.error).toMatch(/^E_WATCH_FOREIGN_SPEND: /);
  });

  it('the party\'s own commitment mined at 800,000, its own to_self_delay making to_local its from 800,144: wait until the tip is 800,143 (BIP-68: the sweep may be in block 800,144), then sweep; spent and 6 deep: done', () => {
    const own = (tip: number, extra: Partial<NonNullable<ChannelFacts['own']>> = {}) =>
      facts(tip, { spend: { kind: 'own', txid: REVOKED, confirmations: tip - 800_000 + 1 }, items: undefined, own: { from: 800_144, items: [item({ deadline: 800_144 + 144 })], mined: [], ...extra } });
    expect(decideChannel(own(800_142))).toMatchObject({ action: 'wait', deadline: 800_144, sends: [] });
    const d = decideChannel(own(800_143, { items: [item({ deadline: 800_144 + 144 })] }));
    expect(d.action).toBe('sweep');
    expect(d.sends).toHaveLength(1);
    expect(decideChannel(own(800_150, { items: [], mined: [3] })).action).toBe('wait');
    expect(decideChannel(own(800_150, { items: [], mined: [6] })).action).toBe('done');
    // Without the delayed key (no `own` facts): nothing sent, as for the peer's current commitment.
    expect(decideChannel(facts(800_150, { spend: { kind: 'own', txid: REVOKED, confirmations: 151 } }))).toMatchObject({ action: 'done', sends: [] });
  });

  it('the peer\'s current commitment, mined at 800,000: its HTLC offered to the party claimed at once, by its cltv_expiry; the party\'s own HTLC waits for its cltv_expiry (800,020); nothing left and 6 deep: done', () => {
    const current = (tip: number, claims: NonNullable<ChannelFacts['claims']>) => facts(tip, { spend: { kind: 'peer-current', txid: REVOKED, confirmations: tip - 800_000 + 1 }, items: undefined, claims });
    const d = decideChannel(current(800_001, { items: [item({ deadline: 800_040 })], later: 800_020, mined: [] }));
    expect(d).toMatchObject({ action: 'sweep', deadline: 800_040 });
    expect(d.sends).toHaveLength(1);
    expect(decideChannel(current(800_010, { items: [], later: 800_020, mined: [9] }))).toMatchObject({ action: 'wait', deadline: 800_020, sends: [] });
    // Nothing of the party's, the commitment 3 deep: wait (a reorganisation could still replace it); 6 deep: done.
    expect(decideChannel(current(800_002, { items: [], mined: [] })).action).toBe('wait');
    expect(decideChannel(current(800_005, { items: [], mined: [] })).action).toBe('done');
  });

  it('the funding unspent: none, the punishment window as the deadline', () => {
    expect(decideChannel(facts(800_000, { spend: { kind: 'unspent' } }))).toMatchObject({ action: 'none', deadline: 800_144, blocks_left: 144, sends: [] });
  });
});

describe('a channel on a statechain coin: its funding is a backup with nLockTime 800,050 (final in block 800,051, so sent with the tip at 800,050)', () => {
  const onCoin = (tip: number, spend: Omit<Extract<FundingSpend, { kind: 'not-mined' }>, 'kind'>) => decideChannel(facts(tip, { spend: { kind: 'not-mined', ...spend } }));
  it('unmined: none, nothing sent — non-final 50 blocks from tip 800,000; at 800,050 final and to be sent; in the mempool, there — each reason naming the locktime', () => {
    const early = onCoin(800_000, { known: false, locktime: 800_050 });
    expect(early).toMatchObject({ action: 'none', sends: [] });
    expect(early.reason).toContain('non-final until the tip reaches its nLockTime 800050 (50 block(s) to go; block 800051');
    expect(onCoin(800_049, { known: false, locktime: 800_050 }).reason).toContain('(1 block(s) to go');
    const final = onCoin(800_050, { known: false, locktime: 800_050 });
    expect(final).toMatchObject({ action: 'none', sends: [] });
    expect(final.reason).toContain('final (nLockTime 800050) but not sent');
    expect(onCoin(800_060, { known: true, locktime: 800_050 }).reason).toContain('in the node\'s mempool (nLockTime 800050)');
  });
  it('its coin\'s outpoint spent by another transaction: the channel can never be on chain — none, no error, while the rival is in the mempool or shallow; done at 6 confirmations', () => {
    const lost = (confirmations: number) => onCoin(800_100, { known: false, locktime: 800_050, lost: { coin: `${'ab'.repeat(32)}:0`, txid: 'ef'.repeat(32), confirmations } });
    for (const c of [0, 1, 5]) {
      expect(lost(c)).toMatchObject({ action: 'none', sends: [], txid: 'ef'.repeat(32) });
      expect(lost(c).error).toBeUndefined();
      expect(lost(c).reason).toContain(`can never be on chain: its coin's outpoint ${'ab'.repeat(32)}:0 is spent by ${'ef'.repeat(32)}`);
    }
    expect(lost(6)).toMatchObject({ action: 'done', sends: [] });
  });
});

// ---- the INVARIANTS, over anything -------------------------------------------------------------

const spendArb: fc.Arbitrary<FundingSpend> = fc.oneof(
  fc.constant({ kind: 'unspent' as const }),
  fc.constant({ kind: 'unknown-offline' as const }),
  fc.constant({ kind: 'not-found' as const }),
  // A channel on a statechain coin: its funding backup unmined (or its coin taken by another transaction).
  fc.record({ kind: fc.constant('not-mined' as const), known: fc.boolean(), locktime: fc.integer({ min: 1, max: 900_000 }), lost: fc.option(fc.record({ coin: fc.constant(`${'ab'.repeat(32)}:0`), confirmations: fc.integer({ min: 0, max: 20 }) }), { nil: undefined }) }),
  fc.record({ kind: fc.constantFrom('revoked' as const, 'peer-current' as const, 'own' as const, 'mutual-close' as const, 'foreign' as const), txid: fc.constant(REVOKED), confirmations: fc.integer({ min: 0, max: 300 }) }),
);

const caseArb = fc.record({
  tip: fc.integer({ min: 1_000, max: 900_000 }),
  toSelfDelay: fc.integer({ min: 1, max: 2_016 }),
  spend: spendArb,
  startBack: fc.integer({ min: 0, max: 300 }),
  startRate: fc.integer({ min: 100, max: 500_000 }),
  incrementalRate: fc.integer({ min: 0, max: 5_000 }),
  maxFeeRate: fc.oneof(fc.integer({ min: 1, max: 10_000 }), fc.double({ min: 0.1, max: 100, noNaN: true })),
  maxFeeShare: fc.double({ min: 0.01, max: 1, noNaN: true }),
  dustSat: fc.integer({ min: 0, max: 600 }),
  items: fc.array(fc.record({
    valueSat: fc.integer({ min: 1, max: 100_000_000 }),
    weight: fc.integer({ min: 400, max: 4_000 }),
    confirmedBack: fc.option(fc.integer({ min: 0, max: 300 })),
    held: fc.option(fc.integer({ min: 0, max: 2_000_000 })),
    sentBefore: fc.boolean(),
  }), { maxLength: 5 }),
  mined: fc.array(fc.option(fc.integer({ min: 0, max: 20 })), { maxLength: 4 }),
  own: fc.option(fc.record({ fromAhead: fc.integer({ min: -50, max: 50 }), value: fc.integer({ min: 1, max: 100_000_000 }), weight: fc.integer({ min: 400, max: 1_000 }), held: fc.option(fc.integer({ min: 0, max: 200_000 })), spent: fc.boolean() })),
}).map((c) => ({
  ...c,
  facts: {
    channel: CHANNEL, tip: c.tip, toSelfDelay: c.toSelfDelay, spend: c.spend, startTip: c.tip - c.startBack, startRate: c.startRate, incrementalRate: c.incrementalRate,
    limits: { maxFeeRate: c.maxFeeRate, maxFeeShare: c.maxFeeShare }, dustSat: c.dustSat, mined: c.mined,
    ...(c.own ? {
      own: {
        from: c.tip + c.own.fromAhead, mined: c.mined,
        items: c.own.spent ? [] : [{
          outpoint: `${'dd'.repeat(32)}:0`, valueSat: c.own.value, weight: c.own.weight, inputs: 1, sentBefore: false, deadline: c.tip + c.own.fromAhead + 144,
          ...(c.own.held !== null ? { held: { txid: 'ee'.repeat(32), feeSat: c.own.held } } : {}),
        }],
      },
    } : {}),
    items: c.items.map((i, k): JusticeItem => ({
      outpoint: `${REVOKED}:${k}`, valueSat: i.valueSat, weight: i.weight, inputs: 1, sentBefore: i.sentBefore,
      ...(i.confirmedBack !== null ? { confirmedAt: c.tip - i.confirmedBack } : {}),
      ...(i.held !== null ? { held: { txid: `${k}`.padStart(64, '0'), feeSat: i.held } } : {}),
    })),
  } satisfies ChannelFacts,
}));

describe('INVARIANTS', () => {
  it('nothing is sent unless the spender is a commitment the peer revoked (or the party\'s own, its to_local once to_self_delay allows)', () => {
    fc.assert(fc.property(caseArb, ({ facts: f }) => {
      const d = decideChannel(f);
      const ownSweep = f.spend.kind === 'own' && f.spend.confirmations > 0 && f.own !== undefined && f.tip + 1 >= f.own.from;
      if (f.spend.kind !== 'revoked' && !ownSweep) {
        expect(d.sends).toEqual([]);
        expect(SENDING.has(d.action)).toBe(false);
      }
      if (ownSweep) for (const s of d.sends) expect(s.outpoint).toBe(`${'dd'.repeat(32)}:0`);
    }));
  });

  it('the deadline is the soonest output\'s: confirmed at H, H + to_self_delay − 1; in the mempool, tip + to_self_delay', () => {
    fc.assert(fc.property(caseArb, ({ facts: f }) => {
      const d = decideChannel(f);
      if (f.spend.kind === 'revoked' && f.items.length > 0) {
        const deadlines = f.items.map((i) => (i.confirmedAt === undefined ? f.tip + f.toSelfDelay : i.confirmedAt + f.toSelfDelay - 1));
        expect(d.deadline).toBe(Math.min(...deadlines));
        expect(d.blocks_left).toBe(d.deadline - f.tip);
      }
    }));
  });

  it('every justice transaction\'s fee is within --max-fee-rate on its smallest real size and --max-fee-share of the output, and leaves the output above dust', () => {
    fc.assert(fc.property(caseArb, ({ facts: f }) => {
      for (const s of decideChannel(f).sends) {
        const i = [...f.items, ...(f.own?.items ?? [])].find((x) => x.outpoint === s.outpoint)!;
        expect(s.feeSat).toBe(Math.floor((s.perKw * i.weight) / 1000)); // BOLT 3's fee at that feerate_per_kw
        expect(s.feeSat).toBeGreaterThan(0);
        expect(s.feeSat).toBeLessThanOrEqual(f.limits.maxFeeRate * Math.ceil((i.weight - 4) / 4));
        expect(s.feeSat).toBeLessThanOrEqual(f.limits.maxFeeShare * i.valueSat);
        expect(i.valueSat - s.feeSat).toBeGreaterThanOrEqual(f.dustSat);
      }
    }));
  });

  it('its own justice transaction in the mempool is replaced only by one paying its fee plus the incremental relay fee on the new size (rules 3 and 4); an output not held is always sent', () => {
    fc.assert(fc.property(caseArb, ({ facts: f }) => {
      const d = decideChannel(f);
      for (const s of d.sends) {
        const i = [...f.items, ...(f.own?.items ?? [])].find((x) => x.outpoint === s.outpoint)!;
        if (i.held) {
          expect(s.replaces).toBe(i.held.txid);
          expect(s.feeSat).toBeGreaterThanOrEqual(i.held.feeSat + (f.incrementalRate * Math.ceil(i.weight / 4)) / 1000);
        } else {
          expect(s.replaces).toBeUndefined();
        }
      }
      if (f.spend.kind === 'revoked') {
        // Every output not held, that its budget can pay anything for, goes out.
        for (const i of f.items.filter((x) => !x.held)) {
          const canPay = Math.min(Math.floor(f.limits.maxFeeRate * Math.ceil((i.weight - 4) / 4)), Math.floor(f.limits.maxFeeShare * i.valueSat), i.valueSat - f.dustSat) >= Math.ceil(i.weight / 1000) + 1;
          if (canPay) expect(d.sends.map((s) => s.outpoint)).toContain(i.outpoint);
        }
      }
    }));
  });

  it('a bid never falls as the tip rises (the same outputs, the same node facts)', () => {
    fc.assert(fc.property(caseArb, fc.integer({ min: 1, max: 50 }), ({ facts: f }, later) => {
      if (f.spend.kind !== 'revoked') return;
      const now = decideChannel(f).sends;
      const after = decideChannel({ ...f, tip: f.tip + later, spend: { ...f.spend, confirmations: f.spend.confirmations + (f.spend.confirmations > 0 ? later : 0) } }).sends;
      for (const s of now) {
        const t = after.find((x) => x.outpoint === s.outpoint);
        if (t) expect(t.feeSat).toBeGreaterThanOrEqual(s.feeSat);
      }
    }));
  });

  it('done only when nothing is left to take, every justice transaction the best chain holds FINAL_DEPTH deep, and so the funding\'s spender', () => {
    fc.assert(fc.property(caseArb, ({ facts: f }) => {
      const d = decideChannel(f);
      if (d.action === 'done' && 'confirmations' in f.spend) expect(f.spend.confirmations).toBeGreaterThanOrEqual(FINAL_DEPTH);
      if (d.action === 'done' && f.spend.kind === 'revoked') {
        expect(f.items).toEqual([]);
        for (const c of f.mined) if (c !== null && c > 0) expect(c).toBeGreaterThanOrEqual(FINAL_DEPTH);
      }
    }));
  });
});
