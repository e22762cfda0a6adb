/**
 * The keyless tower's decisions (src/lib/watch/tower.ts): one narrated coin — Bob's export, his
 * backup (n = 2) final at 800,090, Alice's at 800,100 — then the module's INVARIANTS as properties:
 * the newest export per coin and never an older one once a newer was kept; nothing sent over a
 * spender the export does not name; otherwise the statechain owner's own table, kind aside.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decideTower, newestExports, type TowerCoin } from '../../../src/lib/watch/tower.ts';
import { decideOwner, type OwnerFacts, type Spender } from '../../../src/lib/watch/statechain.ts';
import { SENDING } from '../../../src/lib/watch/decision.ts';

const L_OWN = 800_090;
const L_OLDER = 800_100;
const DEADLINE = L_OLDER - 1;

const bob: TowerCoin = { coin: 'c0ffee:0', backup: { txid: 'bob', lockTime: L_OWN }, previous: { txid: 'alice', lockTime: L_OLDER }, older: ['alice'] };
const facts = (tip: number, extra: Partial<OwnerFacts> = {}): OwnerFacts => ({
  tip, margin: 6, startRate: 1_000, budgetRate: 5_000, incrementalRate: 100, confirmations: null, finalDepth: 6, ...extra,
});

describe('Bob\'s export: his backup final at 800,090, Alice\'s at 800,100 — mined by 800,099, the tower paying', () => {
  it('nothing before his backup is final and before the margin; at 800,093 the backup and the tower\'s child go out', () => {
    expect(decideTower(bob, facts(L_OWN - 1))).toMatchObject({ kind: 'tower-statechain', action: 'none', deadline: DEADLINE });
    expect(decideTower(bob, facts(DEADLINE - 6))).toMatchObject({ kind: 'tower-statechain', action: 'backup', rate: 1_000 });
  });

  it('Alice\'s backup (named by the export) in the mempool: replaced within the budget', () => {
    const spender: Spender = { who: 'unknown', where: 'mempool', txid: 'alice' };
    expect(decideTower(bob, facts(DEADLINE, { spender, replaceRate: 2_000 }))).toMatchObject({ action: 'backup' });
    expect(decideTower(bob, facts(DEADLINE, { spender, replaceRate: 4_950 }))).toMatchObject({ action: 'hold', shortfall: 'budget' });
  });

  it('a stale export: the coin spent by a transaction it does not name (Carol\'s newer backup) — waited on in the mempool, done in a block; never an error, never a send', () => {
    expect(decideTower(bob, facts(DEADLINE - 3, { spender: { who: 'unknown', where: 'mempool', txid: 'carol' } }))).toMatchObject({ action: 'wait', txid: 'carol' });
    const d = decideTower(bob, facts(DEADLINE - 3, { spender: { who: 'unknown', where: 'block' } }));
    expect(d.action).toBe('done');
    expect(d.error).toBeUndefined();
  });

  it('Alice\'s backup mined first: the coin is lost to it, said as an error', () => {
    expect(decideTower(bob, facts(L_OLDER + 1, { spender: { who: 'older', where: 'block', txid: 'alice' } }))).toMatchObject({ action: 'hold', error: expect.stringMatching(/^E_WATCH_FOREIGN_SPEND/) });
  });
});

describe('newestExports', () => {
  const ex = (coin: string, lockTime: number, txid: string, deadline = lockTime + 9) => ({ coin, lockTime, txid, deadline });
  it('Carol\'s export (her backup\'s locktime the lower) replaces Bob\'s of the same coin, whatever number either claims; once kept, Bob\'s alone is not acted on', () => {
    const bobs = ex('c0ffee:0', 800_090, 'bob'), carols = ex('c0ffee:0', 800_085, 'carol'), other = ex('beef:1', 800_090, 'other', 800_070);
    expect(newestExports([bobs, other, carols], new Map())).toEqual([other, carols]);
    expect(newestExports([bobs, other], new Map([['c0ffee:0', 800_085]]))).toEqual([other]);
  });

  it('the same locktime twice: the same one chosen whatever the order (the lowest txid), never the file that sorts first', () => {
    const a = ex('c0ffee:0', 800_090, 'aa'), b = ex('c0ffee:0', 800_090, 'bb');
    expect(newestExports([b, a], new Map())).toEqual([a]);
    expect(newestExports([a, b], new Map())).toEqual([a]);
  });

  it('property: per coin at most one export, the lowest locktime given, none above what was kept; in deadline order', () => {
    const exp = fc.record({ coin: fc.constantFrom('a:0', 'b:0', 'c:1'), lockTime: fc.integer({ min: 100, max: 109 }), txid: fc.constantFrom('t1', 't2', 't3'), deadline: fc.integer({ min: 100, max: 130 }) });
    fc.assert(fc.property(fc.array(exp, { maxLength: 12 }), fc.dictionary(fc.constantFrom('a:0', 'b:0', 'c:1'), fc.integer({ min: 100, max: 109 })), (given, keptObj) => {
      const kept = new Map(Object.entries(keptObj));
      const out = newestExports(given, kept);
      expect(new Set(out.map((e) => e.coin)).size).toBe(out.length);
      for (const e of out) {
        expect(e.lockTime).toBe(Math.min(...given.filter((g) => g.coin === e.coin).map((g) => g.lockTime)));
        expect(e.lockTime).toBeLessThanOrEqual(kept.get(e.coin) ?? Infinity);
        expect(given).toContain(e);
      }
      for (let i = 1; i < out.length; i++) expect(out[i]!.deadline).toBeGreaterThanOrEqual(out[i - 1]!.deadline);
      for (const coin of new Set(given.map((g) => g.coin))) {
        const best = Math.min(...given.filter((g) => g.coin === coin).map((g) => g.lockTime));
        expect(out.some((e) => e.coin === coin)).toBe(best <= (kept.get(coin) ?? Infinity));
      }
    }));
  });
});

const spenderArb: fc.Arbitrary<Spender | undefined> = fc.option(fc.record({
  who: fc.constantFrom<Spender['who']>('older', 'newer', 'withdrawal', 'unknown'),
  where: fc.constantFrom<Spender['where']>('mempool', 'block'),
  txid: fc.constantFrom('alice', 'zed', 'carol', 'bob-withdrawal'),
}), { nil: undefined });
const factsArb = fc.record({
  tip: fc.integer({ min: L_OWN - 10, max: L_OLDER + 10 }),
  confirmations: fc.option(fc.integer({ min: 0, max: 8 }), { nil: null }),
  spender: spenderArb,
  mempoolRate: fc.option(fc.integer({ min: 0, max: 8_000 }), { nil: undefined }),
  replaceRate: fc.option(fc.integer({ min: 0, max: 8_000 }), { nil: undefined }),
}).map(({ tip, confirmations, spender, mempoolRate, replaceRate }) => facts(tip, {
  confirmations, ...(spender ? { spender } : {}), ...(mempoolRate !== undefined ? { mempoolRate } : {}), ...(replaceRate !== undefined ? { replaceRate } : {}),
}));

describe('decideTower: properties', () => {
  it('nothing is ever sent while the coin is spent by a transaction the export does not name, whatever the node or the chain says it is', () => {
    fc.assert(fc.property(factsArb, (f) => {
      fc.pre(f.spender !== undefined && !(f.spender.txid !== undefined && bob.older.includes(f.spender.txid)));
      const d = decideTower(bob, f);
      expect(SENDING.has(d.action)).toBe(false);
      expect(['wait', 'done', 'none']).toContain(d.action);
    }));
  });

  it('otherwise it is the statechain owner\'s own decision, with the export read as the owner\'s coin (only the kind differs)', () => {
    fc.assert(fc.property(factsArb, (f) => {
      // Named by the export, and not found a later owner's by the caller (its nLockTime below the backup's: 'newer').
      const named = f.spender === undefined || (f.spender.txid !== undefined && bob.older.includes(f.spender.txid) && f.spender.who !== 'newer');
      fc.pre(named);
      const ownerFacts = f.spender ? { ...f, spender: { ...f.spender, who: 'older' as const } } : f;
      const owner = decideOwner({ coin: bob.coin, status: 'active', own: { txid: 'bob', lockTime: L_OWN }, older: { txid: 'alice', lockTime: L_OLDER } }, ownerFacts);
      expect(decideTower(bob, f)).toEqual({ ...owner, kind: 'tower-statechain' });
    }));
  });

  it('a spender the export names as older but the caller found newer (its nLockTime below the backup\'s: a forged list) is a later owner\'s: waited on, never outbid', () => {
    expect(decideTower(bob, facts(DEADLINE - 3, { spender: { who: 'newer', where: 'mempool', txid: 'alice' }, replaceRate: 2_000 }))).toMatchObject({ action: 'wait', txid: 'alice' });
  });

  it('never a bid above the budget', () => {
    fc.assert(fc.property(factsArb, (f) => {
      const d = decideTower(bob, f);
      if (d.rate !== undefined) expect(d.rate).toBeLessThanOrEqual(f.budgetRate);
    }));
  });
});
