/**
 * The statechain owner's watcher decisions (src/lib/watch/statechain.ts): one narrated coin — Bob's
 * backup final at 800,090, Alice's (the previous owner's) at 800,100, so Bob's must be mined by
 * block 800,099 — then the module's INVARIANTS as properties over any coin, stored bid, node
 * facts and tip. Expected values are worked out here from the rules' words (deadline-fee.ts:
 * linear from the start at the first chance to the budget at the last, rounded up), never read
 * from the module.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decideOwner, type OwnerCoin, type OwnerFacts, type Spender, type WithdrawalFacts } from '../../../src/lib/watch/statechain.ts';
import type { ExitBid } from '../../../src/lib/watch/credit.ts';
import { SENDING } from '../../../src/lib/watch/decision.ts';

const L_OWN = 800_090;
const L_OLDER = 800_100;
const DEADLINE = L_OLDER - 1;

const coin = (extra: Partial<OwnerCoin> = {}): OwnerCoin => ({
  coin: 'c0ffee', status: 'active', own: { txid: 'bob', lockTime: L_OWN }, older: { txid: 'alice', lockTime: L_OLDER }, ...extra,
});
const facts = (tip: number, extra: Partial<OwnerFacts> = {}): OwnerFacts => ({
  tip, margin: 6, startRate: 1_000, budgetRate: 10_000, incrementalRate: 100, confirmations: null, finalDepth: 6, ...extra,
});
const bid = (start: number): ExitBid => ({ start_tip: start, rate: 1_000, tip: start, block: `b${start}` });

describe('Bob\'s coin: his backup final at 800,090, Alice\'s at 800,100 — his mined by 800,099', () => {
  it('before his backup is final, and before the margin (6 blocks before 800,099), nothing', () => {
    expect(decideOwner(coin(), facts(L_OWN - 1))).toMatchObject({ kind: 'statechain-owner', action: 'none', deadline: DEADLINE, blocks_left: 10 });
    expect(decideOwner(coin(), facts(DEADLINE - 7))).toMatchObject({ action: 'none' });
  });

  it('at 800,093 (6 blocks before the deadline) the backup and its child go out at the start rate, 1 sat/vB', () => {
    expect(decideOwner(coin(), facts(DEADLINE - 6))).toMatchObject({ action: 'backup', rate: 1_000, fee_rate: 1, blocks_left: 6 });
  });

  it('with a margin of 20 it goes out as soon as it is final, at 800,090', () => {
    expect(decideOwner(coin(), facts(L_OWN - 1, { margin: 20 })).action).toBe('none');
    expect(decideOwner(coin(), facts(L_OWN, { margin: 20 })).action).toBe('backup');
  });

  it('in the mempool a block later at 1,000: the child replaced at 1,000 + ⌈9,000 / 5⌉ = 2,800 sat/kvB; at 800,098 (the last chance) the whole budget', () => {
    expect(decideOwner(coin(), facts(DEADLINE - 5, { bid: bid(DEADLINE - 6), confirmations: 0, mempoolRate: 1_000 }))).toMatchObject({ action: 'rebid', rate: 2_800 });
    expect(decideOwner(coin(), facts(DEADLINE - 1, { bid: bid(DEADLINE - 6), confirmations: 0, mempoolRate: 8_200 }))).toMatchObject({ action: 'rebid', rate: 10_000 });
  });

  it('a package in the node above the schedule stands: hold, nothing to send', () => {
    const d = decideOwner(coin(), facts(DEADLINE - 5, { bid: bid(DEADLINE - 6), confirmations: 0, mempoolRate: 9_000 }));
    expect(d).toMatchObject({ action: 'hold', txid: 'bob' });
    expect(d.rate).toBeUndefined();
  });

  it('the node lost it (a reorganisation, an eviction): sent again at the schedule\'s rate', () => {
    expect(decideOwner(coin(), facts(DEADLINE - 5, { bid: bid(DEADLINE - 6) }))).toMatchObject({ action: 'rebroadcast', rate: 2_800 });
  });

  it('mined: wait, then done six deep', () => {
    expect(decideOwner(coin(), facts(DEADLINE, { confirmations: 1 }))).toMatchObject({ action: 'wait', txid: 'bob' });
    expect(decideOwner(coin(), facts(DEADLINE + 5, { confirmations: 6 }))).toMatchObject({ action: 'done', txid: 'bob' });
  });

  it('Alice\'s backup in the mempool (the tip at 800,100, past the deadline): replaced by Bob\'s at the budget when the budget outbids it; held, short of the budget, when it cannot', () => {
    const alice: Spender = { who: 'older', where: 'mempool', txid: 'alice' };
    expect(decideOwner(coin(), facts(L_OLDER, { spender: alice, replaceRate: 3_000 }))).toMatchObject({ action: 'backup', rate: 10_000, shortfall: 'deadline-passed' });
    const held = decideOwner(coin(), facts(L_OLDER, { spender: alice, replaceRate: 9_950 }));
    expect(held).toMatchObject({ action: 'hold', shortfall: 'budget', txid: 'alice' });
    expect(held.rate).toBeUndefined();
  });

  it('Alice\'s backup mined first: the coin is lost to it, reported, nothing sent; a later owner\'s backup mined: done (it was handed on)', () => {
    const lost = decideOwner(coin(), facts(L_OLDER + 1, { spender: { who: 'older', where: 'block', txid: 'alice' } }));
    expect(lost).toMatchObject({ action: 'hold', txid: 'alice' });
    expect(lost.error).toMatch(/^E_WATCH_FOREIGN_SPEND: coin c0ffee: the previous owner's backup alice was mined first/);
    expect(decideOwner(coin({ status: 'sending' }), facts(L_OWN, { spender: { who: 'newer', where: 'block', txid: 'carol' } }))).toMatchObject({ action: 'done', txid: 'carol' });
  });

  it('backup 1 (no older backup) and a coin handed on or not yet received send nothing', () => {
    expect(decideOwner(coin({ older: undefined }), facts(L_OWN + 5)).action).toBe('none');
    expect(decideOwner(coin({ status: 'sent' }), facts(DEADLINE - 1)).action).toBe('done');
    expect(decideOwner(coin({ status: 'receiving', own: undefined }), facts(DEADLINE - 1)).action).toBe('none');
  });

  it('a signed withdrawal: sent while unknown to the node and the coin unspent; waited for; done six deep; held over another spend', () => {
    const w = coin({ status: 'withdrawn', withdrawal: 'w1' });
    expect(decideOwner(w, facts(800_000))).toMatchObject({ action: 'rebroadcast', txid: 'w1' });
    expect(decideOwner(w, facts(800_000, { withdrawalConfirmations: 0 }))).toMatchObject({ action: 'wait', txid: 'w1' });
    expect(decideOwner(w, facts(800_006, { withdrawalConfirmations: 6 }))).toMatchObject({ action: 'done', txid: 'w1' });
    expect(decideOwner(w, facts(800_000, { spender: { who: 'unknown', where: 'mempool', txid: 'x' } })).error).toMatch(/^E_WATCH_FOREIGN_SPEND/);
  });

  it('a withdrawal not mined by 800,093 (6 blocks before the deadline): Bob\'s backup goes out in its place — replacing it in the mempool — and pays Bob, not the payee; mined, it is waited for', () => {
    const w = coin({ status: 'withdrawn', withdrawal: 'w1' });
    expect(decideOwner(w, facts(DEADLINE - 7))).toMatchObject({ action: 'rebroadcast', txid: 'w1' });
    expect(decideOwner(w, facts(DEADLINE - 6))).toMatchObject({ action: 'backup', rate: 1_000 });
    const inPool = (replaceRate: number) => decideOwner(w, facts(DEADLINE - 6, { withdrawalConfirmations: 0, spender: { who: 'withdrawal', where: 'mempool', txid: 'w1' }, replaceRate }));
    expect(inPool(500)).toMatchObject({ action: 'backup', rate: 1_000 });
    expect(inPool(500).reason).toMatch(/not to the withdrawal's payee/);
    // A withdrawal there paying more than the schedule asks yet is left to be mined.
    expect(inPool(2_000)).toMatchObject({ action: 'hold', txid: 'w1' });
    expect(decideOwner(w, facts(DEADLINE - 5, { bid: bid(DEADLINE - 6), confirmations: 0, mempoolRate: 2_100 }))).toMatchObject({ action: 'rebid', rate: 2_800 });
    expect(decideOwner(w, facts(DEADLINE, { confirmations: 1 }))).toMatchObject({ action: 'wait', txid: 'bob' });
    // The withdrawal mined first: it is the withdrawal's coin.
    expect(decideOwner(w, facts(DEADLINE - 3, { withdrawalConfirmations: 1 }))).toMatchObject({ action: 'wait', txid: 'w1' });
  });

  it('a withdrawal paying Bob\'s own key, signed at 0.5 sat/vB and first sent at 800,083: a child brings it to the schedule\'s 1 sat/vB, rising 1,000 + ⌈9,000 · k / 15⌉ toward 800,099 (the coin\'s deadline)', () => {
    const w = coin({ status: 'withdrawn', withdrawal: 'w1' });
    const first = 800_083;
    const wbid = { start_tip: first, rate: 1_000, tip: first, block: 'b' };
    expect(decideOwner(w, facts(first, { withdrawal: { ownRate: 500 } }))).toMatchObject({ action: 'rebroadcast', withdrawal: 'child', rate: 1_000, deadline: DEADLINE, txid: 'w1' });
    // Paying what the schedule asks alone: sent as signed.
    expect(decideOwner(w, facts(first, { withdrawal: { ownRate: 2_000 } }))).toMatchObject({ action: 'rebroadcast', withdrawal: 'alone', rate: 2_000 });
    const inPool = (tip: number, extra: Partial<WithdrawalFacts>, more: Partial<OwnerFacts> = {}) =>
      decideOwner(w, facts(tip, { withdrawalConfirmations: 0, spender: { who: 'withdrawal', where: 'mempool', txid: 'w1' }, withdrawal: { ownRate: 500, bid: wbid, ...extra }, ...more }));
    // A block later, the package at 1,000: its child replaced at 1,600; the package at 2,000 stands.
    expect(inPool(first + 1, { mempoolRate: 1_000 })).toMatchObject({ action: 'rebid', withdrawal: 'child', rate: 1_600 });
    const kept = inPool(first + 1, { mempoolRate: 2_000 });
    expect(kept).toMatchObject({ action: 'wait', txid: 'w1' });
    expect(kept.withdrawal).toBeUndefined();
    // A stranger's child on its anchor: replaced at what Core asks for it, within the budget, else held and said.
    expect(inPool(first + 1, { mempoolRate: 1_000, pinRate: 3_000 })).toMatchObject({ action: 'rebid', rate: 3_000 });
    expect(inPool(first + 1, { mempoolRate: 1_000, pinRate: 12_000 })).toMatchObject({ action: 'hold', shortfall: 'budget' });
    // From 1.5 to 1.6 sat/vB, the package at 1.55 at 800,092: the schedule asks 1,500 + ⌈100 · 9 / 15⌉ = 1,560, outbidding it needs 1,650: held, short of the budget.
    expect(inPool(first + 9, { mempoolRate: 1_550 }, { startRate: 1_500, budgetRate: 1_600 })).toMatchObject({ action: 'hold', shortfall: 'budget', txid: 'w1' });
  });

  it('not mined by 800,093: the backup replaces the withdrawal\'s package, its schedule going on from the withdrawal\'s first bid (1,000 + 600 · 10), not starting again', () => {
    const w = coin({ status: 'withdrawn', withdrawal: 'w1' });
    const there = { withdrawalConfirmations: 0, spender: { who: 'withdrawal' as const, where: 'mempool' as const, txid: 'w1' }, replaceRate: 500 };
    expect(decideOwner(w, facts(DEADLINE - 6, { ...there, scheduleStart: 800_083 }))).toMatchObject({ action: 'backup', rate: 7_000 });
    expect(decideOwner(w, facts(DEADLINE - 6, there))).toMatchObject({ action: 'backup', rate: 1_000 });
  });

  it('a withdrawal paying the payee\'s address: never bumped (no key for its output; the operator signs no second one) — sent as signed, waited for, the shortfall said (wallet) when the schedule asks more than it pays', () => {
    const w = coin({ status: 'withdrawn', withdrawal: 'w1' });
    const payee = { ownRate: 500, unbumpable: 'E_NO_CHILD: the withdrawal pays 0014…, not this owner\'s key nor its share' };
    const sent = decideOwner(w, facts(800_083, { withdrawal: payee }));
    expect(sent).toMatchObject({ action: 'rebroadcast', withdrawal: 'alone', shortfall: 'wallet', txid: 'w1' });
    expect(sent.rate).toBeUndefined();
    expect(sent.reason).toMatch(/cannot bump it \(E_NO_CHILD/);
    const waiting = decideOwner(w, facts(800_084, { withdrawalConfirmations: 0, withdrawal: { ...payee, mempoolRate: 500 } }));
    expect(waiting).toMatchObject({ action: 'wait', shortfall: 'wallet', txid: 'w1' });
    expect(decideOwner(w, facts(800_084, { withdrawalConfirmations: 0, withdrawal: { ...payee, mempoolRate: 5_000 } })).shortfall).toBeUndefined();
  });

  it('backup 1\'s coin withdrawn (no older backup to outrun): the schedule aims 1,008 blocks past its first bid, LND\'s deadline for a sweep without one', () => {
    const w = coin({ status: 'withdrawn', withdrawal: 'w1', older: undefined });
    expect(decideOwner(w, facts(800_000, { withdrawal: { ownRate: 500 } }))).toMatchObject({ action: 'rebroadcast', withdrawal: 'child', rate: 1_000, deadline: 801_008, blocks_left: 1_008 });
  });

  it('a stranger\'s large child on the anchor (a pin): once the schedule asks more than the package there pays, the child is replaced at what Core asks — its absolute fee and the incremental fee — within the budget, else held', () => {
    const pinned = { bid: bid(DEADLINE - 6), confirmations: 0, mempoolRate: 1_000, pinRate: 3_666 };
    expect(decideOwner(coin(), facts(DEADLINE - 6, pinned))).toMatchObject({ action: 'hold' });
    expect(decideOwner(coin(), facts(DEADLINE - 5, pinned))).toMatchObject({ action: 'rebid', rate: 3_666 });
    const short = decideOwner(coin(), facts(DEADLINE - 5, { ...pinned, pinRate: 12_000 }));
    expect(short).toMatchObject({ action: 'hold', shortfall: 'budget' });
    expect(short.rate).toBeUndefined();
  });

  it('a later owner\'s backup in the record (Bob handed the coin to Carol, then asked to withdraw or send again, refused): his backup is never sent', () => {
    for (const status of ['active', 'sending', 'withdrawing'] as const) {
      const d = decideOwner(coin({ status, newer: ['carol'] }), facts(DEADLINE - 1));
      expect(d.action).toBe('none');
      expect(d.reason).toMatch(/a later owner's backup/);
    }
    // A withdrawal the operator signed (the receiver never finished) is still sent; the backup never is.
    const w = coin({ status: 'withdrawn', withdrawal: 'w1', newer: ['carol'] });
    expect(decideOwner(w, facts(DEADLINE - 1))).toMatchObject({ action: 'rebroadcast', txid: 'w1' });
    expect(decideOwner(w, facts(L_OLDER, { spender: { who: 'older', where: 'mempool', txid: 'alice' }, replaceRate: 1_000 })).action).toBe('hold');
  });
});

// ---- arbitraries ---------------------------------------------------------------------------

const rate = fc.oneof(fc.integer({ min: 0, max: 2_000 }), fc.integer({ min: 0, max: 200_000 }));
const rarely = <T>(arb: fc.Arbitrary<T>) => fc.oneof({ arbitrary: fc.constant(undefined), weight: 4 }, { arbitrary: arb, weight: 1 });
const STATUSES = ['depositing', 'active', 'sending', 'sent', 'receiving', 'withdrawing', 'withdrawn'] as const;

const arbCoin = fc.record({
  status: fc.constantFrom(...STATUSES),
  lockOwn: fc.integer({ min: 100, max: 1_000 }),
  interval: fc.integer({ min: 2, max: 200 }),
  first: fc.boolean(),
  withdrawal: fc.boolean(),
  later: fc.boolean(),
}).map(({ status, lockOwn, interval, first, withdrawal, later }): OwnerCoin => ({
  coin: 'c1', status, own: { txid: 'own', lockTime: lockOwn }, ...(first ? {} : { older: { txid: 'older', lockTime: lockOwn + interval } }), ...(withdrawal ? { withdrawal: 'w' } : {}),
  ...(later ? { newer: ['newer'] } : {}),
}));

const arbFacts = (c: OwnerCoin) => fc.record({
  tip: fc.integer({ min: c.own!.lockTime - 30, max: (c.older?.lockTime ?? c.own!.lockTime) + 30 }),
  margin: fc.integer({ min: 0, max: 20 }),
  startRate: rate,
  budgetRate: rate,
  incrementalRate: fc.integer({ min: 1, max: 1_000 }),
  startBack: fc.integer({ min: 0, max: 50 }),
  hasBid: fc.boolean(),
  confirmations: fc.oneof(fc.constant(null), fc.constant(0), fc.integer({ min: 1, max: 20 })),
  withdrawalConfirmations: rarely(fc.oneof(fc.constant(null), fc.constant(0), fc.integer({ min: 1, max: 20 }))),
  spender: rarely(fc.record({ who: fc.constantFrom('older', 'newer', 'withdrawal', 'unknown'), where: fc.constantFrom('mempool', 'block'), txid: fc.constantFrom('older', 'x') }) as fc.Arbitrary<Spender>),
  mempoolRate: rarely(rate),
  pinRate: rarely(rate),
  replaceRate: rarely(rate),
  unbuildable: rarely(fc.constant('E_X: no')),
  withdrawal: fc.option(fc.record({
    ownRate: rate,
    unbumpable: rarely(fc.constant('E_NO_CHILD: it pays the payee')),
    bidBack: rarely(fc.integer({ min: 0, max: 50 })),
    mempoolRate: rarely(rate),
    pinRate: rarely(rate),
  }), { nil: undefined }),
  scheduleBack: rarely(fc.integer({ min: 0, max: 50 })),
}).map(({ startBack, hasBid, withdrawal, scheduleBack, ...f }): OwnerFacts => {
  const out: OwnerFacts = { ...f, finalDepth: 6 } as OwnerFacts;
  for (const k of ['spender', 'mempoolRate', 'pinRate', 'replaceRate', 'unbuildable', 'withdrawalConfirmations'] as const) if (out[k] === undefined) delete out[k];
  if (hasBid) out.bid = { start_tip: f.tip - startBack, rate: 0, tip: f.tip, block: 'b' };
  if (scheduleBack !== undefined) out.scheduleStart = f.tip - scheduleBack;
  if (withdrawal) {
    const { bidBack, ...w } = withdrawal;
    const wf: WithdrawalFacts = { ownRate: w.ownRate };
    for (const k of ['unbumpable', 'mempoolRate', 'pinRate'] as const) if (w[k] !== undefined) (wf as Record<string, unknown>)[k] = w[k];
    if (bidBack !== undefined) wf.bid = { start_tip: f.tip - bidBack, rate: 0, tip: f.tip, block: 'b' };
    out.withdrawal = wf;
  }
  return out;
});

const cases = arbCoin.chain((c) => arbFacts(c).map((f) => ({ c, f })));
const sendsBackup = (d: { action: string; withdrawal?: string }) => d.withdrawal === undefined && (d.action === 'backup' || d.action === 'rebid' || d.action === 'rebroadcast');

describe('INVARIANTS', () => {
  it('nothing is sent for a coin not held, backup 1, before the backup is final or the margin, or once it (or a later owner\'s, or the withdrawal) is mined', () => {
    fc.assert(fc.property(cases, ({ c, f }) => {
      const d = decideOwner(c, f);
      if (!SENDING.has(d.action)) return;
      const withdrawn = c.status === 'withdrawn' && c.withdrawal !== undefined;
      if (withdrawn) expect(f.withdrawalConfirmations ?? null).toBeNull();
      if (d.withdrawal !== undefined) {
        // The withdrawal: as signed only while unknown to the node, the coin unspent, our backup not sent in its place;
        // with a child also over itself in the mempool — never over anything else.
        expect(withdrawn).toBe(true);
        expect(d.txid).toBe('w');
        expect(f.confirmations).toBeNull();
        if (d.withdrawal === 'alone') expect({ action: d.action, spender: f.spender, pool: f.withdrawalConfirmations }).toEqual({ action: 'rebroadcast', spender: undefined, pool: undefined });
        if (f.spender) expect(f.spender).toMatchObject({ who: 'withdrawal', where: 'mempool' });
        return;
      }
      // A backup: never with a later owner's backup in the record.
      expect(c.newer ?? []).toEqual([]);
      expect(['active', 'sending', 'withdrawing', ...(withdrawn ? ['withdrawn'] : [])]).toContain(c.status);
      expect(c.older).toBeDefined();
      expect(f.tip).toBeGreaterThanOrEqual(c.own!.lockTime);
      expect(c.older!.lockTime - 1 - f.tip).toBeLessThanOrEqual(f.margin);
      expect(f.confirmations === null || f.confirmations === 0).toBe(true);
      expect(f.unbuildable).toBeUndefined();
      // Never over a spend that is not an older backup (or, withdrawn, the withdrawal) in the mempool.
      if (f.spender) expect(f.spender).toMatchObject({ who: withdrawn && f.spender.who === 'withdrawal' ? 'withdrawal' : 'older', where: 'mempool' });
    }), { numRuns: 3_000 });
  });

  it('a bid is never above the budget, and outbids what the node holds (ours, or an older backup) by the incremental relay fee', () => {
    fc.assert(fc.property(cases, ({ c, f }) => {
      const d = decideOwner(c, f);
      if (!sendsBackup(d) || d.rate === undefined) return;
      expect(d.rate).toBeLessThanOrEqual(f.budgetRate);
      expect(d.fee_rate).toBe(d.rate / 1000);
      const replacing = f.spender?.where === 'mempool' && (f.spender.who === 'older' || (f.spender.who === 'withdrawal' && c.status === 'withdrawn'));
      const held = replacing ? f.replaceRate : f.confirmations === 0 ? f.mempoolRate : undefined;
      if (held !== undefined) expect(d.rate).toBeGreaterThanOrEqual(held + f.incrementalRate);
      // Over our backup in the mempool, at least what replacing its child costs (a stranger's pin included).
      if (!replacing && f.confirmations === 0 && f.mempoolRate !== undefined && f.pinRate !== undefined) expect(d.rate).toBeGreaterThanOrEqual(f.pinRate);
    }), { numRuns: 3_000 });
  });

  it('the same facts with any stored bid rate: the same decision (only its start tip steers the schedule)', () => {
    fc.assert(fc.property(cases, fc.integer({ min: 0, max: 1e9 }), ({ c, f }, forged) => {
      if (!f.bid) return;
      expect(decideOwner(c, { ...f, bid: { ...f.bid, rate: forged } })).toEqual(decideOwner(c, f));
    }), { numRuns: 1_000 });
  });

  it('a withdrawal is bumped only when this owner can (a child of its payout), never above the budget, and over itself in the mempool only above the package there by the incremental relay fee — and above what replacing its child costs', () => {
    fc.assert(fc.property(cases, ({ c, f }) => {
      const d = decideOwner(c, f);
      if (d.withdrawal !== 'child') return;
      const wf = f.withdrawal!;
      expect(wf.unbumpable).toBeUndefined();
      expect(d.rate).toBeLessThanOrEqual(f.budgetRate);
      expect(d.rate).toBeGreaterThan(wf.ownRate);
      const inPool = f.spender !== undefined || f.withdrawalConfirmations === 0;
      if (inPool) expect(d.rate).toBeGreaterThanOrEqual((wf.mempoolRate ?? wf.ownRate) + f.incrementalRate);
      if (inPool && wf.pinRate !== undefined) expect(d.rate).toBeGreaterThanOrEqual(wf.pinRate);
    }), { numRuns: 3_000 });
  });

  it('a withdrawal this owner cannot bump is never sent with a child, and a shortfall over it is the wallet\'s; a hold over its own package says the budget falls short', () => {
    fc.assert(fc.property(cases, ({ c, f }) => {
      const d = decideOwner(c, f);
      if (d.withdrawal === undefined && !(d.txid === 'w' && f.withdrawal)) return;
      if (f.withdrawal?.unbumpable !== undefined) {
        expect(d.withdrawal === 'child').toBe(false);
        if (d.shortfall !== undefined) expect(d.shortfall).toBe('wallet');
      }
      if (d.action === 'hold' && d.txid === 'w' && !d.error) expect(d.shortfall).toBe('budget');
    }), { numRuns: 3_000 });
  });

  it('an older backup in the mempool that the budget cannot outbid is held, saying the budget falls short', () => {
    fc.assert(fc.property(cases, ({ c, f }) => {
      const d = decideOwner(c, f);
      if (d.action !== 'hold' || f.spender?.who !== 'older' || f.spender.where !== 'mempool' || f.replaceRate === undefined) return;
      if (f.replaceRate + f.incrementalRate > f.budgetRate) expect(d.shortfall).toBe('budget');
    }), { numRuns: 2_000 });
  });
});
