/**
 * The credit contract's watcher decisions (src/lib/watch/credit.ts, BRIEF §3.1): one narrated
 * contract per kind — the mint racing its exit to block `expiry`, the user waiting for its
 * refund to become final — then the module's INVARIANTS as properties over any row, stored bid,
 * fee facts and tip, an attacker's and an operator's alike. Expected values are worked out here
 * from the rules' words (deadline-fee.ts: linear from the start at the first chance to the
 * budget at the last, rounded up), never read from the module.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decideMint, decideUser, type ExitBid, type MintFacts, type MintRow, type UserFacts } from '../../../src/lib/watch/credit.ts';
import { SENDING } from '../../../src/lib/watch/decision.ts';

const FINISHED = ['closed', 'rolled-over', 'exited', 'refunded'];
const STATUSES = ['open', 'closing', 'rolling-over', 'exiting', 'refunding', ...FINISHED];

describe('the mint: contract c1 expires at 800,100; from 2 to 10 sat/vB over its last ten chances', () => {
  const row = (extra: Partial<MintRow> = {}): MintRow => ({
    contract_id: 'c1', status: 'open', state: 7, expiry_height: 800_100, must_exit: true, next: 'exit before 800100',
    exit: { state: 7, txid: 'state7' }, ...extra,
  });
  const facts = (tip: number, extra: Partial<MintFacts> = {}): MintFacts => ({ tip, startRate: 2_000, budgetRate: 10_000, incrementalRate: 100, ...extra });
  const bid = (rate: number, tip: number): ExitBid => ({ start_tip: 800_090, rate, tip, block: `b${tip}`, state_txid: 'state7', child_txid: `child@${rate}` });

  it('ten blocks before expiry the safety margin is reached: it exits at the start rate, 2 sat/vB, with 10 blocks (800,091 … 800,100) to mine it', () => {
    expect(decideMint(row(), facts(800_090))).toEqual({
      kind: 'credit-mint', contract: 'c1', deadline: 800_100, blocks_left: 10, action: 'exit', rate: 2_000, fee_rate: 2,
      reason: 'exit now: 10 block(s) can still mine the state before the user\'s refund is final',
    });
  });

  it('a block later its package sits in the mempool at 2,000: it replaces the child at 2,000 + ⌈8,000 / 9⌉ = 2,889 sat/kvB (more than 2,000 + 100)', () => {
    expect(decideMint(row(), facts(800_091, { bid: bid(2_000, 800_090), mempoolRate: 2_000 }))).toMatchObject({ action: 'rebid', rate: 2_889, fee_rate: 2.889, blocks_left: 9 });
  });

  it('with the tip at 800,099 — the bid for block 800,100, the last that can mine it — it bids the whole budget, not one block late (lnd#8741)', () => {
    expect(decideMint(row(), facts(800_099, { bid: bid(9_112, 800_098), mempoolRate: 9_112 }))).toMatchObject({ action: 'rebid', rate: 10_000, fee_rate: 10, blocks_left: 1 });
  });

  it('a package at 9 sat/vB in the node (a child bumped by hand, the user\'s, or a store rolled back to a bid of 5,556) above the schedule\'s 6,445 sat/kvB stands: hold, nothing sent', () => {
    const d = decideMint(row(), facts(800_095, { bid: bid(5_556, 800_094), mempoolRate: 9_000 }));
    expect(d).toMatchObject({ action: 'hold', fee_rate: 9 });
    expect(d.rate).toBeUndefined();
    expect(d.error).toBeUndefined();
  });

  it('the store says 9,000 (committed, then a crash before it was sent; or forged) but the node holds 5,556: the child is replaced at the schedule\'s 6,445', () => {
    expect(decideMint(row(), facts(800_095, { bid: bid(9_000, 800_094), mempoolRate: 5_556 }))).toMatchObject({ action: 'rebid', rate: 6_445 });
    // Whatever the store claims: the same decision for a stored rate of 10^12 and of 0.
    expect(decideMint(row(), facts(800_095, { bid: bid(1e12, 800_094), mempoolRate: 5_556 }))).toEqual(decideMint(row(), facts(800_095, { bid: bid(0, 800_094), mempoolRate: 5_556 })));
  });

  it('someone else\'s child at 6,400 sat/kvB: the schedule\'s 6,445 would not outbid it by 100, so the least replacement, 6,500', () => {
    expect(decideMint(row(), facts(800_095, { bid: bid(5_556, 800_094), mempoolRate: 6_400 }))).toMatchObject({ action: 'rebid', rate: 6_500 });
  });

  it('the node lost the state (evicted, a reorganisation): sent again at the schedule\'s 6,445 sat/kvB, whatever the stored bid says', () => {
    expect(decideMint(row(), facts(800_095, { bid: bid(9_000, 800_094) }))).toMatchObject({ action: 'rebroadcast', rate: 6_445 });
    expect(decideMint(row(), facts(800_095, { bid: bid(1e12, 800_094) }))).toMatchObject({ action: 'rebroadcast', rate: 6_445 });
  });

  it('once the exit, or the user\'s refund, is mined it waits; a reorganisation that un-mines the exit makes it act again', () => {
    const mined = row({ exit: { state: 7, txid: 'state7', confirmations: 1 } });
    expect(decideMint(mined, facts(800_096, { bid: bid(7_334, 800_095) }))).toMatchObject({ action: 'wait', txid: 'state7' });
    expect(decideMint(row({ refund: { txid: 'refund', confirmations: 2 } }), facts(800_102))).toMatchObject({ action: 'wait', txid: 'refund' });
    expect(decideMint(row(), facts(800_096, { bid: bid(7_334, 800_095) }))).toMatchObject({ action: 'rebroadcast', rate: 7_334 });
  });

  it('the funding spent by a state the store does not know (a restored backup behind the chain): held with E_WATCH_FOREIGN_SPEND, even at the last chance', () => {
    const inMempool = decideMint(row(), facts(800_099, { bid: bid(9_112, 800_098), foreignSpend: { where: 'mempool', txid: 'state9' } }));
    expect(inMempool).toMatchObject({ action: 'hold', txid: 'state9' });
    expect(inMempool.error).toMatch(/^E_WATCH_FOREIGN_SPEND: contract c1's funding is spent in the node's mempool by state9/);
    expect(inMempool.rate).toBeUndefined();
    expect(inMempool.fee_rate).toBeUndefined();
    const inBlock = decideMint(row(), facts(800_095, { foreignSpend: { where: 'block' } }));
    expect(inBlock).toMatchObject({ action: 'hold' });
    expect(inBlock.error).toMatch(/^E_WATCH_FOREIGN_SPEND: .* in a block/);
    expect(inBlock.rate).toBeUndefined();
    expect(inBlock.txid).toBeUndefined();
  });

  it('an exit that cannot be built: held with the refusal as its error, nothing sent', () => {
    const d = decideMint(row(), facts(800_095, { unbuildable: 'E_FEE_TOO_HIGH: the child cannot pay the package' }));
    expect(d).toMatchObject({ action: 'hold', error: 'E_FEE_TOO_HIGH: the child cannot pay the package' });
    expect(d.rate).toBeUndefined();
  });

  it('a settled contract is done; one far from expiry needs nothing — whatever the node says of its funding', () => {
    expect(decideMint(row({ status: 'closed', next: 'nothing' }), facts(800_099, { foreignSpend: { where: 'block' } }))).toMatchObject({ action: 'done', reason: 'nothing', txid: 'state7' });
    expect(decideMint(row({ must_exit: false, exit: undefined }), facts(796_000, { unbuildable: 'E_X: y' }))).toMatchObject({ action: 'none', blocks_left: 4_100 });
  });
});

describe('the user: contract u1 with its refund r1 locked to 800,100', () => {
  const user = (tip: number, extra: Partial<UserFacts> = {}): UserFacts => ({
    contract: 'u1', status: 'open', expiry: 800_100, tip, refundTxid: 'r1', refundConfirmations: null, fundingUnspent: true, minConfirmations: 6, ...extra,
  });

  it('at 800,099 the refund is not final yet (it could be mined only in block 800,101): nothing', () => {
    expect(decideUser(user(800_099))).toMatchObject({ kind: 'credit-user', action: 'none', deadline: 800_100, blocks_left: 1 });
  });

  it('at 800,100 the mint neither closed nor exited: the refund is sent', () => {
    expect(decideUser(user(800_100))).toMatchObject({ action: 'refund', txid: 'r1', blocks_left: 0 });
  });

  it('the refund in the mempool, then mined: it waits for six confirmations, then is done', () => {
    expect(decideUser(user(800_100, { refundConfirmations: 0 }))).toMatchObject({ action: 'wait', txid: 'r1' });
    expect(decideUser(user(800_103, { refundConfirmations: 3 }))).toMatchObject({ action: 'wait' });
    expect(decideUser(user(800_106, { refundConfirmations: 6 }))).toMatchObject({ action: 'done', txid: 'r1' });
  });

  it('the funding spent by the mint\'s state (or a close, a rollover): waited for while in the mempool, done once mined — that spend pays the user what the state says', () => {
    expect(decideUser(user(800_120, { fundingUnspent: false, fundingSpentInMempool: true }))).toMatchObject({ action: 'wait' });
    expect(decideUser(user(800_121, { fundingUnspent: false, fundingSpentInMempool: false }))).toMatchObject({ action: 'done' });
    expect(decideUser(user(800_121, { fundingUnspent: false }))).toMatchObject({ action: 'done' });
    expect(decideUser(user(800_120, { status: 'closed' }))).toMatchObject({ action: 'done' });
    expect(decideUser(user(800_120, { refundTxid: undefined }))).toMatchObject({ action: 'none' });
  });
});

// ---- arbitraries ---------------------------------------------------------------------------

const TIP = 800_000;
const rate = fc.oneof(fc.integer({ min: 0, max: 2_000 }), fc.integer({ min: 0, max: 200_000 }), fc.integer({ min: 0, max: 5_000_000 }));
/** What a stored bid may claim once the store is rolled back, restored or tampered with: anything a number can be. */
const forgedRate = fc.oneof(fc.constant(1e12), fc.constant(0), rate, fc.integer({ min: -1e15, max: 1e15 }), fc.double());
/** expiry − tip: passed, at the door, near, far. */
const blocksLeft = fc.oneof(fc.integer({ min: -50, max: -1 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 4, max: 200 }), fc.integer({ min: 201, max: 5_000 }));
const confirmations = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 200 }));
/** Mostly absent: the facts that stop every send must not starve the properties of the schedule. */
const rarely = <T>(arb: fc.Arbitrary<T>) => fc.oneof({ arbitrary: fc.constant(undefined), weight: 5 }, { arbitrary: arb, weight: 1 });

const mintRow = fc.record({
  contract_id: fc.constantFrom('c1', 'c2'),
  status: fc.constantFrom(...STATUSES),
  state: fc.integer({ min: 0, max: 1_000 }),
  left: blocksLeft,
  must_exit: fc.boolean(),
  next: fc.constant('next step'),
  exit: fc.option(fc.record({ state: fc.integer({ min: 0, max: 1_000 }), txid: fc.constant('exit'), confirmations: fc.option(confirmations, { nil: undefined }) }), { nil: undefined }),
  refund: fc.option(fc.record({ txid: fc.constant('refund'), confirmations }), { nil: undefined }),
});

/** A stored bid: usually made at or before this tip, sometimes from a chain a reorganisation replaced (its start above the tip); its rate anything. */
const exitBid = (tip: number) => fc.record({
  start_tip: fc.oneof(fc.integer({ min: tip - 5_000, max: tip }), fc.integer({ min: tip + 1, max: tip + 20 })),
  rate: forgedRate,
  tip: fc.integer({ min: tip - 5_000, max: tip + 20 }),
  block: fc.constant('b'),
  state_txid: fc.constant('exit'),
  child_txid: fc.constant('child'),
});

const foreignSpend = fc.oneof(
  fc.record({ where: fc.constant('mempool' as const), txid: fc.constantFrom('state5', 'close') }),
  fc.record({ where: fc.constant('block' as const) }),
);
const unbuildable = fc.constantFrom('E_FEE_TOO_HIGH: the child cannot pay the package', 'E_INTERNAL: boom', 'E_CREDIT_NO_STATE: nothing signed');

const mintCase = fc.record({ r: mintRow, tip: fc.integer({ min: TIP - 100, max: TIP + 100 }), budgetRate: rate, incrementalRate: fc.oneof(fc.constant(100), fc.integer({ min: 0, max: 5_000 })) })
  .chain(({ r, tip, budgetRate, incrementalRate }) => fc.record({
    row: fc.constant({ contract_id: r.contract_id, status: r.status, state: r.state, expiry_height: tip + r.left, must_exit: r.must_exit, next: r.next, exit: r.exit, refund: r.refund } as MintRow),
    facts: fc.record({
      startRate: rate,
      bid: fc.option(exitBid(tip), { nil: undefined }),
      // The package the node holds: none, anything, just under or over the budget (where outbidding by one increment matters), or out of reach.
      mempoolRate: fc.oneof(
        { arbitrary: fc.constant(undefined), weight: 3 },
        { arbitrary: rate, weight: 2 },
        { arbitrary: fc.integer({ min: Math.max(0, budgetRate - 2 * incrementalRate - 2), max: budgetRate + 2 }), weight: 2 },
        { arbitrary: fc.integer({ min: 0, max: 1e12 }), weight: 1 },
      ),
      foreignSpend: rarely(foreignSpend),
      unbuildable: rarely(unbuildable),
    }).map(({ bid, mempoolRate, foreignSpend, unbuildable, startRate }): MintFacts => ({
      tip, startRate, budgetRate, incrementalRate,
      ...(bid !== undefined ? { bid } : {}),
      ...(mempoolRate !== undefined ? { mempoolRate } : {}),
      ...(foreignSpend !== undefined ? { foreignSpend } : {}),
      ...(unbuildable !== undefined ? { unbuildable } : {}),
    })),
  }));

const finished = (row: MintRow) => FINISHED.includes(row.status);
const mined = (row: MintRow) => (row.exit?.confirmations ?? 0) >= 1 || (row.refund?.confirmations ?? 0) >= 1;
const due = (row: MintRow) => row.must_exit || row.status === 'exiting';
/** A row the mint must still act on: the only one the node's facts (a foreign spend, a refusal, the mempool) may change. */
const live = (row: MintRow) => !finished(row) && !mined(row) && due(row);
/** Nothing stops the exit from being sent: no foreign spend of the funding, no refusal to build it. */
const clear = (f: MintFacts) => f.foreignSpend === undefined && f.unbuildable === undefined;

// ---- the mint ------------------------------------------------------------------------------

describe('the mint, for any row, stored bid and fee facts', () => {
  it('sends nothing for a contract settled, exited or refunded, or whose exit or the user\'s refund is mined', () => {
    fc.assert(fc.property(mintCase, ({ row, facts }) => {
      const d = decideMint(row, facts);
      if (finished(row)) expect(d.action).toBe('done');
      if (finished(row) || mined(row)) {
        expect(SENDING.has(d.action)).toBe(false);
        expect(d.action).not.toBe('hold');
        expect(d.rate).toBeUndefined();
        expect(d.error).toBeUndefined();
      }
    }), { numRuns: 400 });
  });

  it('exits every contract that must exit (or is exiting) until its exit is mined: a send or a hold, never none or wait; and sends nothing for one that need not', () => {
    fc.assert(fc.property(mintCase, ({ row, facts }) => {
      const d = decideMint(row, facts);
      if (live(row)) expect(SENDING.has(d.action) || d.action === 'hold').toBe(true);
      if (!due(row)) expect(['none', 'wait', 'done']).toContain(d.action);
    }), { numRuns: 400 });
  });

  it('never sends over a spend of the funding it does not know, nor an exit it cannot build: a hold that says why, with no rate to store', () => {
    fc.assert(fc.property(mintCase, ({ row, facts }) => {
      const d = decideMint(row, facts);
      if (!clear(facts)) {
        expect(SENDING.has(d.action)).toBe(false);
        expect(d.rate).toBeUndefined();
      }
      if (!live(row) || clear(facts)) return;
      expect(d.action).toBe('hold');
      expect(d.fee_rate).toBeUndefined();
      if (facts.unbuildable !== undefined) expect(d.error).toBe(facts.unbuildable);
      else {
        expect(d.error).toMatch(/^E_WATCH_FOREIGN_SPEND: /);
        expect(d.error).toContain(row.contract_id);
        if (facts.foreignSpend!.txid !== undefined) {
          expect(d.txid).toBe(facts.foreignSpend!.txid);
          expect(d.error).toContain(facts.foreignSpend!.txid);
        }
      }
    }), { numRuns: 400 });
  });

  it('a stored bid steers only by its start_tip: its rate (10^12, 0, negative, NaN …), tip, block and txids change nothing', () => {
    fc.assert(fc.property(mintCase, fc.integer({ min: TIP - 5_200, max: TIP + 200 }), forgedRate, ({ row, facts }, start, forged) => {
      const start_tip = facts.bid?.start_tip ?? start;
      const honest: ExitBid = { start_tip, rate: 0, tip: 0, block: '', state_txid: '', child_txid: '' };
      const expected = decideMint(row, { ...facts, bid: honest });
      expect(decideMint(row, { ...facts, bid: { ...(facts.bid ?? honest), start_tip, rate: 1e12 } })).toEqual(expected);
      expect(decideMint(row, { ...facts, bid: { ...(facts.bid ?? honest), start_tip, rate: forged } })).toEqual(expected);
      expect(decideMint(row, { ...facts, bid: { start_tip, rate: forged, tip: start_tip + 7, block: 'elsewhere', state_txid: 'forged', child_txid: 'forged' } })).toEqual(expected);
    }), { numRuns: 400 });
  });

  it('a bid sent is the schedule\'s: never above the budget, never below the start unless the budget is, fee_rate = rate / 1000, and never a refund', () => {
    fc.assert(fc.property(mintCase, ({ row, facts }) => {
      const d = decideMint(row, facts);
      expect(d.action).not.toBe('refund');
      if (!SENDING.has(d.action)) return;
      expect(Number.isSafeInteger(d.rate)).toBe(true);
      expect(d.rate!).toBeGreaterThanOrEqual(Math.min(facts.startRate, facts.budgetRate));
      expect(d.rate!).toBeLessThanOrEqual(facts.budgetRate);
      expect(d.fee_rate).toBe(d.rate! / 1000);
      expect(d.error).toBeUndefined();
    }), { numRuns: 400 });
  });

  it('while the exit\'s state is in the mempool, a send outbids the package there by the incremental relay fee (whoever made its child); otherwise that package is held', () => {
    fc.assert(fc.property(mintCase, ({ row, facts }) => {
      const d = decideMint(row, facts);
      if (facts.mempoolRate === undefined || !clear(facts) || !live(row)) return;
      expect(['rebid', 'hold']).toContain(d.action);
      if (d.action === 'hold') {
        expect(d.fee_rate).toBe(facts.mempoolRate / 1000);
        expect(d.rate).toBeUndefined(); // nothing new to store, nothing sent
        expect(d.error).toBeUndefined();
      } else {
        expect(d.rate!).toBeGreaterThanOrEqual(facts.mempoolRate + facts.incrementalRate);
      }
    }), { numRuns: 400 });
  });

  it('holds only a package the node has, a foreign spend or a refusal; names the send by what the node has (rebid) and what the store has (exit, rebroadcast)', () => {
    fc.assert(fc.property(mintCase, ({ row, facts }) => {
      const d = decideMint(row, facts);
      if (d.action === 'hold') expect(facts.mempoolRate !== undefined || !clear(facts)).toBe(true);
      if (!SENDING.has(d.action)) return;
      const expected = facts.mempoolRate !== undefined ? 'rebid' : facts.bid === undefined ? 'exit' : 'rebroadcast';
      expect(d.action).toBe(expected);
    }), { numRuns: 400 });
  });

  it('says where it stands: deadline = expiry, blocks_left = expiry − tip, the contract and the kind', () => {
    fc.assert(fc.property(mintCase, ({ row, facts }) => {
      const d = decideMint(row, facts);
      expect(d).toMatchObject({ kind: 'credit-mint', contract: row.contract_id, deadline: row.expiry_height, blocks_left: row.expiry_height - facts.tip });
      expect(d.reason.length).toBeGreaterThan(0);
    }), { numRuns: 200 });
  });

  it('at the last chance (tip = expiry − 1) it sends the whole budget, or holds a package no replacement within the budget can outbid', () => {
    fc.assert(fc.property(mintCase, ({ row, facts }) => {
      const last = { ...facts, tip: row.expiry_height - 1 };
      const d = decideMint(row, last);
      if (!live(row) || !clear(last)) return;
      if (d.action === 'hold') expect(last.mempoolRate! + last.incrementalRate).toBeGreaterThan(last.budgetRate);
      else expect(d).toMatchObject({ rate: last.budgetRate });
    }), { numRuns: 400 });
  });

  it('acts on the chain it sees now: the same row un-mined by a reorganisation is exited again (or held, by what the node says)', () => {
    fc.assert(fc.property(mintCase, ({ row, facts }) => {
      if (finished(row) || !due(row)) return;
      const unmined: MintRow = { ...row, exit: row.exit ? { ...row.exit, confirmations: undefined } : undefined, refund: row.refund ? { ...row.refund, confirmations: 0 } : undefined };
      const d = decideMint(unmined, facts);
      expect(SENDING.has(d.action) || d.action === 'hold').toBe(true);
      if (clear(facts) && facts.mempoolRate === undefined) expect(SENDING.has(d.action)).toBe(true);
    }), { numRuns: 200 });
  });
});

/** What happens around the watcher at one block: the node's estimate; the node evicting the package; someone else replacing its child; the store's record tampered with. */
type Around = { startRate: number; evicted?: boolean; foreign?: number; forged?: number };

/**
 * A watcher that decides at every block from `from` to `to`, sends when told to and stores the
 * bid it sent (start_tip kept from the first), as src/topics/watch/credit.ts does — beside a
 * node that keeps what it accepts (the package rate it reports is what the watcher last sent,
 * unless evicted or outbid by someone else's child under the replacement rule).
 */
function watch(row: MintRow, from: number, to: number, budgetRate: number, incrementalRate: number, around: (tip: number) => Around) {
  let bid: ExitBid | undefined;
  let held: number | undefined;
  const log: { tip: number; action: string; fee_rate?: number; sent?: number; fed?: number; after?: number; around: Around; hadBid: boolean }[] = [];
  for (let tip = from; tip <= to; tip++) {
    const a = around(tip);
    if (a.evicted) held = undefined;
    if (a.foreign !== undefined) held = held === undefined ? a.foreign : held + incrementalRate + a.foreign; // the user (it holds the state too) or anyone with a child
    const stored = bid && a.forged !== undefined ? { ...bid, rate: a.forged } : bid;
    const fed = held;
    const d = decideMint(row, { tip, startRate: a.startRate, budgetRate, incrementalRate, ...(stored ? { bid: stored } : {}), ...(fed !== undefined ? { mempoolRate: fed } : {}) });
    const hadBid = bid !== undefined;
    if (SENDING.has(d.action)) {
      bid = { start_tip: bid?.start_tip ?? tip, rate: d.rate!, tip, block: `b${tip}`, state_txid: 'exit', child_txid: `child${tip}` };
      held = d.rate!;
    }
    log.push({
      tip, action: d.action, around: a, hadBid,
      ...(d.fee_rate !== undefined ? { fee_rate: d.fee_rate } : {}), ...(SENDING.has(d.action) ? { sent: d.rate! } : {}),
      ...(fed !== undefined ? { fed } : {}), ...(held !== undefined ? { after: held } : {}),
    });
  }
  return log;
}

const sequence = fc.record({
  span: fc.integer({ min: 1, max: 60 }),
  late: fc.integer({ min: 0, max: 3 }),
  budgetRate: rate,
  incrementalRate: fc.oneof(fc.constant(100), fc.integer({ min: 0, max: 3_000 })),
  /** The node's estimate moves from block to block (it may fall). */
  startRates: fc.array(rate, { minLength: 70, maxLength: 70 }),
});

describe('the mint over a run of blocks', () => {
  const expiry = TIP + 100;
  const row: MintRow = { contract_id: 'c1', status: 'open', state: 3, expiry_height: expiry, must_exit: true, next: 'exit', exit: { state: 3, txid: 'exit' } };

  it('its package staying in the mempool (the node reporting the last bid): the bid never falls, never leaves the budget, and is the budget by the tip expiry − 1 unless the last bid is within one increment of it (lnd#8741)', () => {
    fc.assert(fc.property(sequence, (s) => {
      const from = expiry - s.span;
      const log = watch(row, from, expiry + s.late, s.budgetRate, s.incrementalRate, (tip) => ({ startRate: s.startRates[tip - from]! }));
      expect(log[0]!.action).toBe('exit');
      for (const [k, step] of log.entries()) {
        expect(['exit', 'rebid', 'hold']).toContain(step.action);
        if (step.sent !== undefined) expect(step.sent).toBeLessThanOrEqual(s.budgetRate);
        if (k === 0) continue;
        expect(step.fed).toBe(log[k - 1]!.after);
        expect(step.after!).toBeGreaterThanOrEqual(log[k - 1]!.after!);
        if (step.sent !== undefined) expect(step.sent).toBeGreaterThanOrEqual(step.fed! + s.incrementalRate);
        if (step.action === 'hold') expect(step.fee_rate).toBe(step.fed! / 1000);
      }
      const last = log.find((step) => step.tip === expiry - 1)!;
      if (last.action === 'hold') expect(last.fed! + s.incrementalRate).toBeGreaterThan(s.budgetRate);
      else expect(last.sent).toBe(s.budgetRate);
    }), { numRuns: 200 });
  });

  it('with a steady estimate and Core\'s incremental fee small against the schedule\'s step, it bids exactly the budget with the tip at expiry − 1', () => {
    fc.assert(fc.property(fc.integer({ min: 2, max: 50 }), fc.integer({ min: 1_000, max: 10_000 }), fc.integer({ min: 0, max: 1_000 }), (span, budget, start) => {
      // Each step is (budget − start) / (span − 1) ≥ 100 sat/kvB here, so no hold below the budget.
      fc.pre((budget - start) / Math.max(1, span - 1) >= 100);
      const log = watch(row, expiry - span, expiry, budget, 100, () => ({ startRate: start }));
      expect(log.find((step) => step.tip === expiry - 1)).toMatchObject({ action: span === 1 ? 'exit' : 'rebid', sent: budget });
      expect(log.filter((step) => step.tip < expiry - 1).every((step) => step.after! < budget)).toBe(true);
    }), { numRuns: 200 });
  });

  it('the node evicting it now and then, someone else outbidding its child, the store\'s bid tampered with: every send outbids the package the node holds, the package never falls while it stays, and the last chance is still the budget or a hold', () => {
    const around = fc.array(fc.record({
      evicted: fc.boolean(),
      foreign: rarely(rate),
      forged: forgedRate,
    }), { minLength: 70, maxLength: 70 });
    fc.assert(fc.property(sequence, around, (s, events) => {
      const from = expiry - s.span;
      const at = (forge: boolean) => (tip: number): Around => {
        const e = events[tip - from]!;
        return { startRate: s.startRates[tip - from]!, ...(e.evicted && tip > from ? { evicted: true } : {}), ...(e.foreign !== undefined ? { foreign: e.foreign } : {}), ...(forge ? { forged: e.forged } : {}) };
      };
      const log = watch(row, from, expiry + s.late, s.budgetRate, s.incrementalRate, at(false));
      for (const [k, step] of log.entries()) {
        const named = step.fed !== undefined ? ['rebid', 'hold'] : step.hadBid ? ['rebroadcast'] : ['exit'];
        expect(named).toContain(step.action);
        if (step.sent !== undefined) {
          expect(step.sent).toBeLessThanOrEqual(s.budgetRate);
          expect(step.sent).toBeGreaterThanOrEqual(Math.min(step.around.startRate, s.budgetRate));
          if (step.fed !== undefined) expect(step.sent).toBeGreaterThanOrEqual(step.fed + s.incrementalRate);
        }
        if (step.action === 'hold') expect(step.fee_rate).toBe(step.fed! / 1000);
        // The package in the node never falls from block to block while it stays there.
        if (k > 0 && !step.around.evicted && log[k - 1]!.after !== undefined) expect(step.after!).toBeGreaterThanOrEqual(log[k - 1]!.after!);
      }
      const last = log.find((step) => step.tip === expiry - 1)!;
      if (last.action === 'hold') expect(last.fed! + s.incrementalRate).toBeGreaterThan(s.budgetRate);
      else expect(last.sent).toBe(s.budgetRate);
      // What the store claims it bid changes nothing: the same run, block for block.
      expect(watch(row, from, expiry + s.late, s.budgetRate, s.incrementalRate, at(true)).map(({ around: _, ...step }) => step)).toEqual(log.map(({ around: _, ...step }) => step));
    }), { numRuns: 200 });
  });
});

// ---- the user ------------------------------------------------------------------------------

const userFacts = fc.record({
  contract: fc.constantFrom('u1', 'u2'),
  status: fc.constantFrom(...STATUSES, 'opening'),
  tip: fc.integer({ min: TIP - 100, max: TIP + 100 }),
  left: blocksLeft,
  refundTxid: fc.option(fc.constant('r1'), { nil: undefined }),
  confirmations: fc.option(confirmations, { nil: null }),
  /** The funding: unspent, spent by a transaction in the mempool, or by one mined (the flag false or left out). */
  funding: fc.constantFrom('unspent', 'unspent-said-so', 'mempool', 'mined', 'mined-said-so'),
  minConfirmations: fc.oneof(fc.constant(6), fc.integer({ min: 0, max: 10 })),
}).map(({ left, confirmations, refundTxid, funding, ...f }): UserFacts => ({
  ...f,
  expiry: f.tip + left,
  ...(refundTxid !== undefined ? { refundTxid } : {}),
  // The node is asked about the refund only when there is one.
  refundConfirmations: refundTxid === undefined ? null : confirmations,
  fundingUnspent: funding.startsWith('unspent'),
  ...(funding === 'mempool' ? { fundingSpentInMempool: true } : funding.endsWith('said-so') ? { fundingSpentInMempool: false } : {}),
}));

const settled = (f: UserFacts) => ['closed', 'rolled-over'].includes(f.status);
const spentInMempool = (f: UserFacts) => !f.fundingUnspent && f.fundingSpentInMempool === true;
const spentMined = (f: UserFacts) => !f.fundingUnspent && !f.fundingSpentInMempool;

describe('the user, for any record and chain', () => {
  it('refunds exactly when the refund is final, the funding unspent, the refund unknown to the node, and it has one', () => {
    fc.assert(fc.property(userFacts, (f) => {
      const d = decideUser(f);
      const should = !settled(f) && f.refundTxid !== undefined && f.refundConfirmations === null && f.fundingUnspent && f.tip >= f.expiry;
      expect(d.action === 'refund').toBe(should);
      if (d.action === 'refund') expect(d.txid).toBe(f.refundTxid);
    }), { numRuns: 500 });
  });

  it('never refunds before the expiry, nor sends anything but its refund', () => {
    fc.assert(fc.property(userFacts, (f) => {
      const d = decideUser(f);
      if (f.tip < f.expiry) expect(d.action).not.toBe('refund');
      if (SENDING.has(d.action)) expect(d.action).toBe('refund');
      expect(d.action).not.toBe('hold');
    }), { numRuns: 500 });
  });

  it('is done exactly once settled, once the funding is spent by anything else and that spend mined, or once its refund has the confirmations it waits for', () => {
    fc.assert(fc.property(userFacts, (f) => {
      const d = decideUser(f);
      const spentElsewhere = f.refundTxid !== undefined && f.refundConfirmations === null && spentMined(f);
      const refunded = f.refundConfirmations !== null && f.refundConfirmations >= f.minConfirmations;
      expect(d.action === 'done').toBe(settled(f) || spentElsewhere || refunded);
      // A refund on its way (in the mempool, or short of its confirmations) is waited for, not done nor resent.
      if (!settled(f) && f.refundConfirmations !== null && f.refundConfirmations < f.minConfirmations) expect(d.action).toBe('wait');
    }), { numRuns: 500 });
  });

  it('waits — neither done nor refunding — while the funding is spent by a transaction still in the mempool', () => {
    fc.assert(fc.property(userFacts, (f) => {
      const d = decideUser(f);
      if (!settled(f) && f.refundTxid !== undefined && spentInMempool(f) && !(f.refundConfirmations !== null && f.refundConfirmations >= f.minConfirmations)) expect(d.action).toBe('wait');
    }), { numRuns: 500 });
  });

  it('says where it stands: deadline = expiry, blocks_left = expiry − tip', () => {
    fc.assert(fc.property(userFacts, (f) => {
      expect(decideUser(f)).toMatchObject({ kind: 'credit-user', contract: f.contract, deadline: f.expiry, blocks_left: f.expiry - f.tip });
    }), { numRuns: 200 });
  });

  it('over a run of blocks with the funding unspent, the first refund is at the tip = expiry, never one block before', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 0, max: 5 }), (before, after) => {
      const expiry = TIP + 50;
      const actions = [];
      for (let tip = expiry - before; tip <= expiry + after; tip++) {
        actions.push({ tip, action: decideUser({ contract: 'u1', status: 'open', expiry, tip, refundTxid: 'r1', refundConfirmations: null, fundingUnspent: true, minConfirmations: 6 }).action });
      }
      expect(actions.find((a) => a.action === 'refund')?.tip).toBe(expiry);
      expect(actions.filter((a) => a.tip < expiry).every((a) => a.action === 'none')).toBe(true);
    }), { numRuns: 50 });
  });

  it('over a run of blocks with the mint\'s state seen in the mempool (before or after the expiry), mined later, un-mined by a reorganisation now and then: from the sighting on it never refunds, waits while the spend is unmined, and is done while it is mined', () => {
    fc.assert(fc.property(fc.integer({ min: -10, max: 10 }), fc.integer({ min: 0, max: 10 }), fc.array(fc.boolean(), { minLength: 30, maxLength: 30 }), (seen, wait, reorged) => {
      const expiry = TIP + 50;
      const start = expiry - 12;
      for (let tip = start; tip < start + 30; tip++) {
        const spent = tip >= expiry + seen;
        const minedNow = spent && tip >= expiry + seen + wait && !reorged[tip - start];
        const d = decideUser({
          contract: 'u1', status: 'open', expiry, tip, refundTxid: 'r1', refundConfirmations: null, minConfirmations: 6,
          fundingUnspent: !spent, ...(spent ? { fundingSpentInMempool: !minedNow } : {}),
        });
        if (!spent) expect(d.action).toBe(tip >= expiry ? 'refund' : 'none');
        else expect(d.action).toBe(minedNow ? 'done' : 'wait');
      }
    }), { numRuns: 100 });
  });
});
