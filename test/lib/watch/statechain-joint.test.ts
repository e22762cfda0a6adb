/**
 * A pair's statechain coin as the watcher decides it (src/lib/watch/statechain.ts decideOwner with
 * `joint`, the INVARIANTS' pair item): the same coin as test/lib/watch/statechain.test.ts's Bob —
 * the pair's backup final at 800,090, the previous owner's at 800,100, mined by 800,099 — then, over
 * any coin and facts, the pair's decision is the owner's with only its kind (and, without a wallet,
 * the shortfall said) changed. Expected values are the rules' words, not the module's.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decideOwner, type OwnerCoin, type OwnerFacts, type Spender } from '../../../src/lib/watch/statechain.ts';
import { SENDING } from '../../../src/lib/watch/decision.ts';

const L_OWN = 800_090;
const L_OLDER = 800_100;
const DEADLINE = L_OLDER - 1;
const pair = (extra: Partial<OwnerCoin> = {}): OwnerCoin => ({ coin: 'c0ffee', status: 'active', own: { txid: 'pair', lockTime: L_OWN }, older: { txid: 'alice', lockTime: L_OLDER }, joint: true, ...extra });
const facts = (tip: number, extra: Partial<OwnerFacts> = {}): OwnerFacts => ({ tip, margin: 6, startRate: 1_000, budgetRate: 10_000, incrementalRate: 100, confirmations: null, finalDepth: 6, ...extra });
const NO_WALLET = 'E_CHAIN_OFFLINE: no node';

describe('the pair\'s coin: its backup final at 800,090, the previous owner\'s at 800,100 — mined by 800,099', () => {
  it('kept as statechain-joint: nothing before the window; at 800,093 the backup goes out at the start rate, 1 sat/vB', () => {
    expect(decideOwner(pair(), facts(L_OWN - 1))).toMatchObject({ kind: 'statechain-joint', action: 'none', deadline: DEADLINE, blocks_left: 10 });
    expect(decideOwner(pair(), facts(DEADLINE - 6))).toMatchObject({ kind: 'statechain-joint', action: 'backup', rate: 1_000, fee_rate: 1 });
  });

  it('a block later, in the mempool at 1,000: rebid at 1,000 + ⌈9,000 / 5⌉ = 2,800 sat/kvB; at the last chance the whole budget', () => {
    const bid = { start_tip: DEADLINE - 6, rate: 1_000, tip: DEADLINE - 6, block: 'b' };
    expect(decideOwner(pair(), facts(DEADLINE - 5, { bid, confirmations: 0, mempoolRate: 1_000 }))).toMatchObject({ kind: 'statechain-joint', action: 'rebid', rate: 2_800 });
    expect(decideOwner(pair(), facts(DEADLINE - 1, { bid, confirmations: 0, mempoolRate: 8_200 }))).toMatchObject({ action: 'rebid', rate: 10_000 });
  });

  it('without a wallet (offline, none loaded) it says what it would send — shortfall wallet, the reason naming why; nothing to say when nothing is due', () => {
    const d = decideOwner(pair(), facts(DEADLINE - 6, { noWallet: NO_WALLET }));
    expect(d).toMatchObject({ kind: 'statechain-joint', action: 'backup', shortfall: 'wallet' });
    expect(d.reason).toContain(NO_WALLET);
    expect(decideOwner(pair(), facts(L_OWN - 1, { noWallet: NO_WALLET }))).not.toHaveProperty('shortfall');
    expect(decideOwner(pair(), facts(DEADLINE, { confirmations: 1, noWallet: NO_WALLET }))).toMatchObject({ action: 'wait' });
  });

  it('the previous owner\'s backup in the mempool: replaced by the pair\'s within the budget; mined first, lost and reported', () => {
    const older: Spender = { who: 'older', where: 'mempool', txid: 'alice' };
    expect(decideOwner(pair(), facts(L_OLDER, { spender: older, replaceRate: 2_000 }))).toMatchObject({ kind: 'statechain-joint', action: 'backup', rate: 10_000 });
    expect(decideOwner(pair(), facts(L_OLDER, { spender: { ...older, where: 'block' } }))).toMatchObject({ action: 'hold', error: expect.stringMatching(/^E_WATCH_FOREIGN_SPEND/) });
  });

  it('the pair\'s signed withdrawal: sent while the node lacks it, waited for, done six deep', () => {
    const w = pair({ status: 'withdrawn', withdrawal: 'w1' });
    expect(decideOwner(w, facts(DEADLINE - 10))).toMatchObject({ kind: 'statechain-joint', action: 'rebroadcast', withdrawal: 'alone', txid: 'w1' });
    expect(decideOwner(w, facts(DEADLINE - 10, { withdrawalConfirmations: 0, spender: { who: 'withdrawal', where: 'mempool', txid: 'w1' } }))).toMatchObject({ action: 'wait' });
    expect(decideOwner(w, facts(DEADLINE, { withdrawalConfirmations: 6 }))).toMatchObject({ action: 'done' });
  });
});

// ---- INVARIANTS: the pair's decision is the owner's --------------------------------------------

const rate = fc.integer({ min: 0, max: 50_000 });
const rarely = <T>(arb: fc.Arbitrary<T>) => fc.oneof({ arbitrary: fc.constant(undefined), weight: 3 }, { arbitrary: arb, weight: 1 });
const arbCoin = fc.record({
  status: fc.constantFrom('depositing', 'active', 'sending', 'sent', 'receiving', 'withdrawing', 'withdrawn' as const),
  lockOwn: fc.integer({ min: 100, max: 1_000 }), interval: fc.integer({ min: 2, max: 50 }), first: fc.boolean(), withdrawal: fc.boolean(), later: fc.boolean(),
}).map(({ status, lockOwn, interval, first, withdrawal, later }): OwnerCoin => ({
  coin: 'c1', status, own: { txid: 'own', lockTime: lockOwn }, ...(first ? {} : { older: { txid: 'older', lockTime: lockOwn + interval } }),
  ...(withdrawal ? { withdrawal: 'w' } : {}), ...(later ? { newer: ['newer'] } : {}),
}));
const arbFacts = (c: OwnerCoin) => fc.record({
  tip: fc.integer({ min: c.own!.lockTime - 10, max: (c.older?.lockTime ?? c.own!.lockTime) + 10 }),
  margin: fc.integer({ min: 0, max: 20 }), startRate: rate, budgetRate: rate, incrementalRate: fc.integer({ min: 1, max: 1_000 }),
  confirmations: fc.oneof(fc.constant(null), fc.constant(0), fc.integer({ min: 1, max: 10 })),
  withdrawalConfirmations: rarely(fc.oneof(fc.constant(null), fc.constant(0), fc.integer({ min: 1, max: 10 }))),
  spender: rarely(fc.record({ who: fc.constantFrom('older', 'newer', 'withdrawal', 'unknown'), where: fc.constantFrom('mempool', 'block'), txid: fc.constantFrom('older', 'x') }) as fc.Arbitrary<Spender>),
  mempoolRate: rarely(rate), pinRate: rarely(rate), replaceRate: rarely(rate), unbuildable: rarely(fc.constant('E_X: no')),
  bidBack: rarely(fc.integer({ min: 0, max: 30 })), noWallet: rarely(fc.constant(NO_WALLET)),
}).map(({ bidBack, ...f }): OwnerFacts => {
  const out = { ...f, finalDepth: 6 } as OwnerFacts;
  for (const k of ['withdrawalConfirmations', 'spender', 'mempoolRate', 'pinRate', 'replaceRate', 'unbuildable', 'noWallet'] as const) if (out[k] === undefined) delete out[k];
  if (bidBack !== undefined) out.bid = { start_tip: f.tip - bidBack, rate: 0, tip: f.tip, block: 'b' };
  return out;
});
const cases = arbCoin.chain((c) => arbFacts(c).map((f) => ({ c, f })));

describe('INVARIANTS (a pair\'s coin)', () => {
  it('the pair\'s decision is the owner\'s on the same facts — the same action, bid, deadline and txid — its kind statechain-joint', () => {
    fc.assert(fc.property(cases, ({ c, f }) => {
      const { noWallet: _n, ...withWallet } = f;
      const owner = decideOwner(c, withWallet);
      const joint = decideOwner({ ...c, joint: true }, withWallet);
      expect(owner.kind).toBe('statechain-owner');
      expect(joint).toEqual({ ...owner, kind: 'statechain-joint' });
    }), { numRuns: 3_000 });
  });

  it('without a wallet, a backup it would send says shortfall wallet (nothing else changes but the reason); any other decision is the one with a wallet', () => {
    fc.assert(fc.property(cases, ({ c, f }) => {
      const { noWallet: _n, ...withWallet } = f;
      const joint = { ...c, joint: true };
      const sure = decideOwner(joint, withWallet);
      const without = decideOwner(joint, { ...withWallet, noWallet: NO_WALLET });
      const backup = SENDING.has(sure.action) && sure.withdrawal === undefined;
      if (!backup) {
        expect(without).toEqual(sure);
        return;
      }
      const { reason, shortfall, ...rest } = without;
      const { reason: r0, shortfall: _s, ...rest0 } = sure;
      expect(rest).toEqual(rest0);
      expect(shortfall).toBe('wallet');
      expect(reason.startsWith(r0)).toBe(true);
    }), { numRuns: 3_000 });
  });

  it('an owner\'s coin never reads the wallet fact: its decision is the same with or without it', () => {
    fc.assert(fc.property(cases, ({ c, f }) => {
      const { noWallet: _n, ...withWallet } = f;
      expect(decideOwner(c, { ...withWallet, noWallet: NO_WALLET })).toEqual(decideOwner(c, withWallet));
    }), { numRuns: 1_000 });
  });
});
