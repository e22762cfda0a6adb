/**
 * The party's own commitment's HTLC outputs in the watcher's decisions (src/lib/watch/channel.ts
 * decideOwn, secondStageDue): BOLT 3's second stages — an HTLC-success (incoming, its preimage held)
 * sent at once to be mined by its cltv_expiry, and still past it (a race with the peer's timeout it
 * cannot lose by trying), an HTLC-timeout (outgoing, nLockTime = cltv_expiry) sent once the tip
 * reaches its cltv_expiry — then each one's output swept from its confirmation + to_self_delay.
 * Expected values are worked out from BOLT 3's words (a transaction with nLockTime L is final in
 * block L + 1: sent with the tip at L), never read from the module.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decideChannel, type ChannelFacts, type JusticeItem, type OwnHtlc } from '../../../src/lib/watch/channel.ts';

const OWN = 'aa'.repeat(32);
const SECOND = 'bb'.repeat(32);
const CLTV_IN = 800_040;
const CLTV_OUT = 800_060;
const success = (extra: Partial<OwnHtlc> = {}): OwnHtlc => ({ outpoint: `${OWN}:2`, kind: 'htlc-success', cltvExpiry: CLTV_IN, preimage: true, state: 'open', feeSat: 1_000, sentBefore: false, ...extra });
const timeout = (extra: Partial<OwnHtlc> = {}): OwnHtlc => ({ outpoint: `${OWN}:3`, kind: 'htlc-timeout', cltvExpiry: CLTV_OUT, preimage: false, state: 'open', feeSat: 1_000, sentBefore: false, ...extra });
const sweepOf = (from: number, extra: Partial<JusticeItem> = {}): JusticeItem => ({ outpoint: `${SECOND}:0`, valueSat: 48_000, weight: 500, inputs: 1, sentBefore: false, deadline: from + 144, from, ...extra });
/** Alice's own commitment mined at 800,000; her to_self_delay 144 (no to_local of hers here). */
const facts = (tip: number, own: NonNullable<ChannelFacts['own']>): ChannelFacts => ({
  channel: `${'cc'.repeat(32)}:0`, tip, toSelfDelay: 144, spend: { kind: 'own', txid: OWN, confirmations: tip - 800_000 + 1 },
  own, startRate: 1_000, incrementalRate: 100, limits: { maxFeeRate: 20, maxFeeShare: 0.5 }, dustSat: 294,
});

describe('Alice\'s own commitment mined at 800,000: an incoming HTLC (cltv_expiry 800,040, preimage held) and an outgoing one (800,060)', () => {
  it('at once: the HTLC-success is sent as signed (fixed fee), the HTLC-timeout waits for its cltv_expiry', () => {
    const d = decideChannel(facts(800_001, { items: [], mined: [], htlcs: [success(), timeout()] }));
    expect(d.action).toBe('sweep');
    expect(d.sends).toEqual([{ outpoint: `${OWN}:2`, perKw: 0, feeSat: 1_000, rate: 0, stage: 'htlc-success' }]);
    expect(d.deadline).toBe(CLTV_IN);
  });

  it('the HTLC-timeout goes with the tip at 800,060 (final in block 800,061), not a block earlier; the success in the mempool is left alone', () => {
    expect(decideChannel(facts(800_059, { items: [], mined: [], htlcs: [success({ state: 'held' }), timeout()] }))).toMatchObject({ action: 'wait', sends: [], deadline: CLTV_IN });
    const d = decideChannel(facts(800_060, { items: [], mined: [], htlcs: [success({ state: 'gone' }), timeout()] }));
    expect(d.sends).toEqual([{ outpoint: `${OWN}:3`, perKw: 0, feeSat: 1_000, rate: 0, stage: 'htlc-timeout' }]);
  });

  it('no preimage: nothing sent, waiting for one until the cltv_expiry; from then the peer\'s timeout is valid: nothing of hers left, done', () => {
    expect(decideChannel(facts(800_010, { items: [], mined: [], htlcs: [success({ preimage: false })] }))).toMatchObject({ action: 'wait', sends: [] });
    expect(decideChannel(facts(800_040, { items: [], mined: [], htlcs: [success({ preimage: false })] }))).toMatchObject({ action: 'done', sends: [] });
  });

  it('with the preimage, the HTLC-success still goes at and past its cltv_expiry while the output is unspent (it races the peer\'s timeout, its fee the HTLC\'s): never given up to the peer', () => {
    for (const tip of [800_040, 800_041, 800_100]) {
      const d = decideChannel(facts(tip, { items: [], mined: [], htlcs: [success()] }));
      expect(d).toMatchObject({ action: 'sweep', deadline: CLTV_IN });
      expect(d.sends).toEqual([{ outpoint: `${OWN}:2`, perKw: 0, feeSat: 1_000, rate: 0, stage: 'htlc-success' }]);
    }
    // Sent before and not in the node's mempool any more (evicted): sent again.
    expect(decideChannel(facts(800_050, { items: [], mined: [], htlcs: [success({ sentBefore: true })] })).sends.map((x) => x.stage)).toEqual(['htlc-success']);
  });

  it('the success mined at 800,005: its output swept with the tip at 800,148 (800,005 + 144 − 1), not at 800,147; then done once 6 deep', () => {
    expect(decideChannel(facts(800_147, { items: [sweepOf(800_149)], mined: [143], htlcs: [success({ state: 'gone' })] }))).toMatchObject({ action: 'wait', sends: [], deadline: 800_149 });
    const d = decideChannel(facts(800_148, { items: [sweepOf(800_149)], mined: [144], htlcs: [success({ state: 'gone' })] }));
    expect(d.action).toBe('sweep');
    expect(d.sends.map((s) => s.outpoint)).toEqual([`${SECOND}:0`]);
    expect(decideChannel(facts(800_200, { items: [], mined: [190, 3], htlcs: [success({ state: 'gone' })] })).action).toBe('wait');
    expect(decideChannel(facts(800_200, { items: [], mined: [190, 6], htlcs: [success({ state: 'gone' })] })).action).toBe('done');
  });
});

const htlcArb = fc.record({
  kind: fc.constantFrom('htlc-success' as const, 'htlc-timeout' as const), cltvAhead: fc.integer({ min: -4, max: 4 }), preimage: fc.boolean(),
  state: fc.constantFrom('open' as const, 'held' as const, 'gone' as const), sentBefore: fc.boolean(),
});
const caseArb = fc.record({
  tip: fc.integer({ min: 800_000, max: 801_000 }), htlcs: fc.array(htlcArb, { maxLength: 4 }),
  sweeps: fc.array(fc.record({ fromAhead: fc.integer({ min: -4, max: 4 }), held: fc.option(fc.integer({ min: 1, max: 5_000 })) }), { maxLength: 3 }),
  toLocalAhead: fc.option(fc.integer({ min: -30, max: 30 })),
}).map((c) => {
  const htlcs = c.htlcs.map((h, i): OwnHtlc => ({ outpoint: `${OWN}:${i}`, kind: h.kind, cltvExpiry: c.tip + h.cltvAhead, preimage: h.preimage, state: h.state, feeSat: 1_000, sentBefore: h.sentBefore }));
  const items = c.sweeps.map((s, i) => sweepOf(c.tip + s.fromAhead, { outpoint: `${i.toString(16).padStart(2, '0').repeat(32)}:0`, ...(s.held !== null ? { held: { txid: 'ee'.repeat(32), feeSat: s.held } } : {}) }));
  return facts(c.tip, { items, mined: [], htlcs, ...(c.toLocalAhead !== null ? { from: c.tip + c.toLocalAhead } : {}) });
});

describe('INVARIANTS: the party\'s own commitment\'s second stages', () => {
  it('never an HTLC-success without its preimage; with it, one for every open output, whatever the tip', () => {
    fc.assert(fc.property(caseArb, (f) => {
      const sent = decideChannel(f).sends.filter((x) => x.stage === 'htlc-success').map((s) => s.outpoint);
      for (const outpoint of sent) expect(f.own!.htlcs!.find((x) => x.outpoint === outpoint)!.preimage).toBe(true);
      expect(sent).toEqual(f.own!.htlcs!.filter((h) => h.kind === 'htlc-success' && h.preimage && h.state === 'open').map((h) => h.outpoint));
    }));
  });

  it('never an HTLC-timeout before its cltv_expiry is final for the next block (the tip below it)', () => {
    fc.assert(fc.property(caseArb, (f) => {
      for (const s of decideChannel(f).sends.filter((x) => x.stage === 'htlc-timeout')) {
        expect(f.tip).toBeGreaterThanOrEqual(f.own!.htlcs!.find((x) => x.outpoint === s.outpoint)!.cltvExpiry);
      }
    }));
  });

  it('never a sweep before to_self_delay (its block `from` beyond the next); never a second stage for an output held or spent; an open one due is always sent', () => {
    fc.assert(fc.property(caseArb, (f) => {
      const d = decideChannel(f);
      for (const s of d.sends.filter((x) => !x.stage)) expect(f.own!.items.find((i) => i.outpoint === s.outpoint)!.from!).toBeLessThanOrEqual(f.tip + 1);
      for (const s of d.sends.filter((x) => x.stage)) expect(f.own!.htlcs!.find((x) => x.outpoint === s.outpoint)!.state).toBe('open');
      for (const h of f.own!.htlcs!) {
        const due = h.state === 'open' && (h.kind === 'htlc-timeout' ? f.tip >= h.cltvExpiry : h.preimage);
        expect(d.sends.some((s) => s.outpoint === h.outpoint)).toBe(due);
      }
    }));
  });

  it('done only when nothing is left: no second stage in the mempool or to come, no sweep to come', () => {
    fc.assert(fc.property(caseArb, (f) => {
      if (decideChannel(f).action !== 'done') return;
      expect(f.own!.items).toEqual([]);
      expect(f.own!.from === undefined || f.own!.from <= f.tip + 1).toBe(true);
      for (const h of f.own!.htlcs!) {
        expect(h.state).not.toBe('held');
        if (h.state === 'open') expect(h.kind === 'htlc-success' && !h.preimage && f.tip >= h.cltvExpiry).toBe(true);
      }
    }));
  });
});

/** Anchors: the second stage's fee comes from the wallet — an HTLC of 20,000 sat, its funded transaction 1,200 WU (300 vB). */
const anchored = (h: OwnHtlc, held?: { txid: string; feeSat: number }): OwnHtlc => ({ ...h, feeSat: 0, funded: { valueSat: 20_000, weight: 1_200, inputs: 2, ...(held ? { held } : {}) } });
/** The budget by hand: --max-fee-rate 20 × its smallest size ((1,200 − 6 × 2) / 4 = 297 vB) = 5,940; --max-fee-share 0.5 × 20,000 = 10,000; dust: 19,706. */
const BUDGET_SAT = 5_940;

describe('an anchors channel: Alice\'s second stages take a fee input of the node\'s wallet, bid on the schedule within the budget', () => {
  it('the HTLC-success at once, at the start rate (1 sat/vB on 300 vB), marked as a second stage; the HTLC-timeout waits for its cltv_expiry', () => {
    const d = decideChannel(facts(800_001, { items: [], mined: [], htlcs: [anchored(success()), anchored(timeout())] }));
    expect(d.action).toBe('sweep');
    expect(d.sends.map((s) => [s.outpoint, s.stage])).toEqual([[`${OWN}:2`, 'htlc-success']]);
    expect(d.sends[0]!.feeSat).toBe(300);
    expect(d.deadline).toBe(CLTV_IN);
  });

  it('the HTLC-timeout at the tip 800,060 (final in the next block), not at 800,059', () => {
    expect(decideChannel(facts(800_059, { items: [], mined: [], htlcs: [anchored(timeout())] }))).toMatchObject({ action: 'wait', sends: [], deadline: CLTV_OUT });
    expect(decideChannel(facts(800_060, { items: [], mined: [], htlcs: [anchored(timeout())] })).sends.map((s) => [s.stage, s.feeSat])).toEqual([['htlc-timeout', 300]]);
  });

  it('in the mempool, rebid as its deadline nears: replaced once the schedule outbids it by the incremental relay fee (100 sat/kvB × 300 vB = 30 sat), kept otherwise — never done while it is there', () => {
    const held = { txid: 'dd'.repeat(32), feeSat: 300 };
    const early = decideChannel(facts(800_002, { items: [], mined: [], htlcs: [anchored(success({ state: 'held', sentBefore: true }), held)] }));
    expect(early).toMatchObject({ action: 'hold', sends: [] });
    const late = decideChannel({ ...facts(800_039, { items: [], mined: [], htlcs: [anchored(success({ state: 'held', sentBefore: true }), held)] }), startTip: 800_001 });
    expect(late.action).toBe('rebid');
    expect(late.sends).toHaveLength(1);
    expect(late.sends[0]).toMatchObject({ outpoint: `${OWN}:2`, stage: 'htlc-success', replaces: held.txid });
    expect(late.sends[0]!.feeSat).toBeGreaterThanOrEqual(330);
    expect(late.sends[0]!.feeSat).toBeLessThanOrEqual(BUDGET_SAT);
  });

  it('no preimage: no HTLC-success, whatever the tip', () => {
    for (const tip of [800_001, 800_039, 800_040, 800_100]) expect(decideChannel(facts(tip, { items: [], mined: [], htlcs: [anchored(success({ preimage: false }))] })).sends).toEqual([]);
  });
});

describe('INVARIANTS: an anchors channel\'s second stages', () => {
  const anchorsArb = fc.record({
    f: caseArb, startBack: fc.integer({ min: 0, max: 200 }), held: fc.array(fc.integer({ min: 1, max: 8_000 }), { minLength: 4, maxLength: 4 }),
  }).map(({ f, startBack, held }) => ({
    ...f, startTip: f.tip - startBack,
    own: { ...f.own!, htlcs: f.own!.htlcs!.map((h, i) => anchored(h, h.state === 'held' ? { txid: 'dd'.repeat(32), feeSat: held[i]! } : undefined)) },
  }));

  it('each fee within its budget (--max-fee-rate on its smallest size, --max-fee-share of the HTLC); a replacement outbids the one held by the incremental relay fee', () => {
    fc.assert(fc.property(anchorsArb, (f) => {
      for (const s of decideChannel(f).sends.filter((x) => x.stage)) {
        expect(s.feeSat).toBeGreaterThan(0);
        expect(s.feeSat).toBeLessThanOrEqual(BUDGET_SAT);
        const h = f.own.htlcs.find((x) => x.outpoint === s.outpoint)!;
        if (h.funded!.held) expect(s.feeSat).toBeGreaterThanOrEqual(h.funded!.held.feeSat + 30);
      }
    }));
  });

  it('never an HTLC-success without its preimage, never an HTLC-timeout before its cltv_expiry is final for the next block, never one for a spent output', () => {
    fc.assert(fc.property(anchorsArb, (f) => {
      for (const s of decideChannel(f).sends.filter((x) => x.stage)) {
        const h = f.own.htlcs.find((x) => x.outpoint === s.outpoint)!;
        expect(h.state).not.toBe('gone');
        if (h.kind === 'htlc-success') expect(h.preimage).toBe(true);
        else expect(f.tip).toBeGreaterThanOrEqual(h.cltvExpiry);
        expect(s.replaces !== undefined).toBe(h.state === 'held');
      }
    }));
  });

  it('done never while a second stage of hers is in the mempool', () => {
    fc.assert(fc.property(anchorsArb, (f) => {
      if (decideChannel(f).action === 'done') for (const h of f.own.htlcs) expect(h.state).not.toBe('held');
    }));
  });
});
