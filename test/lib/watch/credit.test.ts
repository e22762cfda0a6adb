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
  const facts = (tip: number, extra: Partial<MintFacts> = {}): MintFacts => ({ tip, startRate: 2_000, budgetRate: 10_000, incrementalRate: 100, stateInMempool: false, ...extra });
  const bid = (rate: number, tip: number): ExitBid => ({ start_tip: 800_090, rate, tip, block: `b${tip}`, state_txid: 'state7', child_txid: `child@${rate}` });

  it('ten blocks before expiry the safety margin is reached: it exits at the start rate, 2 sat/vB, with 10 blocks (800,091 … 800,100) to mine it', () => {
    expect(decideMint(row(), facts(800_090))).toEqual({
      kind: 'credit-mint', contract: 'c1', deadline: 800_100, blocks_left: 10, action: 'exit', rate: 2_000, fee_rate: 2,
      reason: 'exit now: 10 block(s) can still mine the state before the user\'s refund is final',
    });
  });

  it('a block later the state sits in the mempool: it replaces its child at 2,000 + ⌈8,000 / 9⌉ = 2,889 sat/kvB (more than 2,000 + 100)', () => {
    expect(decideMint(row(), facts(800_091, { bid: bid(2_000, 800_090), stateInMempool: true }))).toMatchObject({ action: 'rebid', rate: 2_889, fee_rate: 2.889, blocks_left: 9 });
  });

  it('with the tip at 800,099 — the bid for block 800,100, the last that can mine it — it bids the whole budget, not one block late (lnd#8741)', () => {
    expect(decideMint(row(), facts(800_099, { bid: bid(9_112, 800_098), stateInMempool: true }))).toMatchObject({ action: 'rebid', rate: 10_000, fee_rate: 10, blocks_left: 1 });
  });

  it('an earlier child at 9 sat/vB (bumped by hand) above the schedule\'s 6,445 sat/kvB stands: hold, nothing sent', () => {
    const d = decideMint(row(), facts(800_095, { bid: bid(9_000, 800_094), stateInMempool: true }));
    expect(d).toMatchObject({ action: 'hold', fee_rate: 9, txid: 'child@9000' });
    expect(d.rate).toBeUndefined();
  });

  it('the same bid, but the node lost the state (evicted, a reorganisation): sent again at the schedule\'s 6,445 sat/kvB', () => {
    expect(decideMint(row(), facts(800_095, { bid: bid(9_000, 800_094) }))).toMatchObject({ action: 'rebroadcast', rate: 6_445 });
  });

  it('once the exit, or the user\'s refund, is mined it waits; a reorganisation that un-mines the exit makes it act again', () => {
    const mined = row({ exit: { state: 7, txid: 'state7', confirmations: 1 } });
    expect(decideMint(mined, facts(800_096, { bid: bid(7_334, 800_095) }))).toMatchObject({ action: 'wait', txid: 'state7' });
    expect(decideMint(row({ refund: { txid: 'refund', confirmations: 2 } }), facts(800_102))).toMatchObject({ action: 'wait', txid: 'refund' });
    expect(decideMint(row(), facts(800_096, { bid: bid(7_334, 800_095) }))).toMatchObject({ action: 'rebroadcast', rate: 7_334 });
  });

  it('a settled contract is done; one far from expiry needs nothing', () => {
    expect(decideMint(row({ status: 'closed', next: 'nothing' }), facts(800_099))).toMatchObject({ action: 'done', reason: 'nothing', txid: 'state7' });
    expect(decideMint(row({ must_exit: false, exit: undefined }), facts(796_000))).toMatchObject({ action: 'none', blocks_left: 4_100 });
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

  it('the funding spent by the mint\'s state (or a close, a rollover): done, that spend pays the user what the state says', () => {
    expect(decideUser(user(800_120, { fundingUnspent: false }))).toMatchObject({ action: 'done' });
    expect(decideUser(user(800_120, { status: 'closed' }))).toMatchObject({ action: 'done' });
    expect(decideUser(user(800_120, { refundTxid: undefined }))).toMatchObject({ action: 'none' });
  });
});

// ---- arbitraries ---------------------------------------------------------------------------

const TIP = 800_000;
const rate = fc.oneof(fc.integer({ min: 0, max: 2_000 }), fc.integer({ min: 0, max: 200_000 }), fc.integer({ min: 0, max: 5_000_000 }));
/** expiry − tip: passed, at the door, near, far. */
const blocksLeft = fc.oneof(fc.integer({ min: -50, max: -1 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 4, max: 200 }), fc.integer({ min: 201, max: 5_000 }));
const confirmations = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 200 }));

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

/** A stored bid: usually made at or before this tip, sometimes from a chain a reorganisation replaced (its start above the tip). */
const exitBid = (tip: number) => fc.record({
  start_tip: fc.oneof(fc.integer({ min: tip - 5_000, max: tip }), fc.integer({ min: tip + 1, max: tip + 20 })),
  rate,
  tip: fc.integer({ min: tip - 5_000, max: tip + 20 }),
  block: fc.constant('b'),
  state_txid: fc.constant('exit'),
  child_txid: fc.constant('child'),
});

const mintCase = fc.record({ r: mintRow, tip: fc.integer({ min: TIP - 100, max: TIP + 100 }) }).chain(({ r, tip }) => fc.record({
  row: fc.constant({ contract_id: r.contract_id, status: r.status, state: r.state, expiry_height: tip + r.left, must_exit: r.must_exit, next: r.next, exit: r.exit, refund: r.refund } as MintRow),
  facts: fc.record({
    tip: fc.constant(tip),
    startRate: rate,
    budgetRate: rate,
    affordableRate: fc.option(rate, { nil: undefined }),
    incrementalRate: fc.oneof(fc.constant(100), fc.integer({ min: 0, max: 5_000 })),
    bid: fc.option(exitBid(tip), { nil: undefined }),
    stateInMempool: fc.boolean(),
  }).map((f): MintFacts => {
    const { affordableRate, bid, ...rest } = f;
    return { ...rest, ...(affordableRate !== undefined ? { affordableRate } : {}), ...(bid !== undefined ? { bid } : {}) };
  }),
}));

const finished = (row: MintRow) => FINISHED.includes(row.status);
const mined = (row: MintRow) => (row.exit?.confirmations ?? 0) >= 1 || (row.refund?.confirmations ?? 0) >= 1;
const due = (row: MintRow) => row.must_exit || row.status === 'exiting';
const ceilingOf = (f: MintFacts) => Math.min(f.budgetRate, f.affordableRate ?? Infinity);

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
      }
    }), { numRuns: 400 });
  });

  it('exits every contract that must exit (or is exiting) until its exit is mined: a send or a hold, never none or wait; and sends nothing for one that need not', () => {
    fc.assert(fc.property(mintCase, ({ row, facts }) => {
      const d = decideMint(row, facts);
      if (!finished(row) && !mined(row) && due(row)) expect(SENDING.has(d.action) || d.action === 'hold').toBe(true);
      if (!due(row)) expect(['none', 'wait', 'done']).toContain(d.action);
    }), { numRuns: 400 });
  });

  it('a bid sent is the schedule\'s: never above the budget nor what the payout can pay, fee_rate = rate / 1000, and never a refund', () => {
    fc.assert(fc.property(mintCase, ({ row, facts }) => {
      const d = decideMint(row, facts);
      expect(d.action).not.toBe('refund');
      if (!SENDING.has(d.action)) return;
      expect(Number.isSafeInteger(d.rate)).toBe(true);
      expect(d.rate!).toBeGreaterThanOrEqual(0);
      expect(d.rate!).toBeLessThanOrEqual(facts.budgetRate);
      expect(d.rate!).toBeLessThanOrEqual(ceilingOf(facts));
      expect(d.fee_rate).toBe(d.rate! / 1000);
    }), { numRuns: 400 });
  });

  it('while the state is in the mempool with a stored bid, a send outbids it by the incremental relay fee; otherwise it holds that bid', () => {
    fc.assert(fc.property(mintCase, ({ row, facts }) => {
      const d = decideMint(row, facts);
      if (!facts.stateInMempool || facts.bid === undefined || !(SENDING.has(d.action) || d.action === 'hold')) return;
      if (d.action === 'hold') {
        expect(d.fee_rate).toBe(facts.bid.rate / 1000);
        expect(d.txid).toBe(facts.bid.child_txid);
        expect(d.rate).toBeUndefined(); // nothing new to store, nothing sent
      } else {
        expect(d.action).toBe('rebid');
        expect(d.rate!).toBeGreaterThanOrEqual(facts.bid.rate + facts.incrementalRate);
      }
    }), { numRuns: 400 });
  });

  it('holds only while the state is in the mempool with a stored bid; names the send by what the node has (exit, rebroadcast, rebid)', () => {
    fc.assert(fc.property(mintCase, ({ row, facts }) => {
      const d = decideMint(row, facts);
      if (d.action === 'hold') expect(facts.stateInMempool && facts.bid !== undefined).toBe(true);
      if (!SENDING.has(d.action)) return;
      const expected = facts.bid === undefined ? 'exit' : facts.stateInMempool ? 'rebid' : 'rebroadcast';
      expect(d.action).toBe(expected);
    }), { numRuns: 400 });
  });

  it('a first send (nothing of ours in the mempool) is at least the start, unless the budget or the payout is below it', () => {
    fc.assert(fc.property(mintCase, ({ row, facts }) => {
      const d = decideMint(row, facts);
      if (d.action !== 'exit' && d.action !== 'rebroadcast') return;
      expect(d.rate!).toBeGreaterThanOrEqual(Math.min(facts.startRate, ceilingOf(facts)));
    }), { numRuns: 400 });
  });

  it('says where it stands: deadline = expiry, blocks_left = expiry − tip, the contract and the kind', () => {
    fc.assert(fc.property(mintCase, ({ row, facts }) => {
      const d = decideMint(row, facts);
      expect(d).toMatchObject({ kind: 'credit-mint', contract: row.contract_id, deadline: row.expiry_height, blocks_left: row.expiry_height - facts.tip });
      expect(d.reason.length).toBeGreaterThan(0);
    }), { numRuns: 200 });
  });

  it('at the last chance (tip = expiry − 1) it sends the whole ceiling, or holds a bid no replacement within the ceiling can outbid', () => {
    fc.assert(fc.property(mintCase, ({ row, facts }) => {
      const last = { ...facts, tip: row.expiry_height - 1 };
      if (last.bid && last.bid.tip > last.tip) last.bid = { ...last.bid, tip: last.tip };
      const d = decideMint(row, last);
      if (d.action === 'hold') expect(last.bid!.rate + last.incrementalRate).toBeGreaterThan(ceilingOf(last));
      else if (SENDING.has(d.action)) expect(d.rate).toBe(ceilingOf(last));
    }), { numRuns: 400 });
  });

  it('acts on the chain it sees now: the same row un-mined by a reorganisation is exited again', () => {
    fc.assert(fc.property(mintCase, ({ row, facts }) => {
      if (finished(row) || !due(row)) return;
      const unmined: MintRow = { ...row, exit: row.exit ? { ...row.exit, confirmations: undefined } : undefined, refund: row.refund ? { ...row.refund, confirmations: 0 } : undefined };
      const d = decideMint(unmined, facts);
      expect(SENDING.has(d.action) || d.action === 'hold').toBe(true);
    }), { numRuns: 200 });
  });
});

/**
 * A watcher that decides at every block from `from` to past the expiry, sends when told to and
 * stores the bid it sent (start_tip kept from the first), as src/topics/watch/credit.ts does.
 */
function watch(row: MintRow, from: number, to: number, perTip: (tip: number) => Omit<MintFacts, 'tip' | 'bid'>) {
  let bid: ExitBid | undefined;
  const log: { tip: number; action: string; sent?: number; stored?: number; facts: Omit<MintFacts, 'tip' | 'bid'>; before?: ExitBid }[] = [];
  for (let tip = from; tip <= to; tip++) {
    const facts = perTip(tip);
    const before = bid;
    const d = decideMint(row, { tip, ...facts, ...(bid ? { bid } : {}) });
    if (SENDING.has(d.action)) bid = { start_tip: bid?.start_tip ?? tip, rate: d.rate!, tip, block: `b${tip}`, state_txid: 'exit', child_txid: `child${tip}` };
    log.push({ tip, action: d.action, ...(SENDING.has(d.action) ? { sent: d.rate! } : {}), ...(bid ? { stored: bid.rate } : {}), facts, ...(before ? { before } : {}) });
  }
  return log;
}

const sequence = fc.record({
  span: fc.integer({ min: 1, max: 60 }),
  late: fc.integer({ min: 0, max: 3 }),
  budgetRate: rate,
  affordableRate: fc.option(rate, { nil: undefined }),
  incrementalRate: fc.oneof(fc.constant(100), fc.integer({ min: 0, max: 3_000 })),
  /** The node's estimate moves from block to block (it may fall). */
  startRates: fc.array(rate, { minLength: 70, maxLength: 70 }),
});

describe('the mint over a run of blocks, the state staying in the mempool', () => {
  const expiry = TIP + 100;
  const row: MintRow = { contract_id: 'c1', status: 'open', state: 3, expiry_height: expiry, must_exit: true, next: 'exit', exit: { state: 3, txid: 'exit' } };

  it('the bid never falls, never leaves the ceiling, and is the ceiling by the tip expiry − 1 unless the last bid is within one increment of it (lnd#8741)', () => {
    fc.assert(fc.property(sequence, (s) => {
      const log = watch(row, expiry - s.span, expiry + s.late, (tip) => ({
        startRate: s.startRates[tip - (expiry - s.span)]!, budgetRate: s.budgetRate, incrementalRate: s.incrementalRate, stateInMempool: tip > expiry - s.span,
        ...(s.affordableRate !== undefined ? { affordableRate: s.affordableRate } : {}),
      }));
      const ceiling = Math.min(s.budgetRate, s.affordableRate ?? Infinity);
      expect(log[0]!.action).toBe('exit');
      for (const [k, step] of log.entries()) {
        expect(['exit', 'rebid', 'hold']).toContain(step.action);
        if (step.sent !== undefined) expect(step.sent).toBeLessThanOrEqual(ceiling);
        if (k > 0) expect(step.stored!).toBeGreaterThanOrEqual(log[k - 1]!.stored!);
        if (k > 0 && step.sent !== undefined) expect(step.sent).toBeGreaterThanOrEqual(log[k - 1]!.stored! + s.incrementalRate);
      }
      const last = log.find((step) => step.tip === expiry - 1)!;
      if (last.action === 'hold') expect(last.stored! + s.incrementalRate).toBeGreaterThan(ceiling);
      else expect(last.sent).toBe(ceiling);
    }), { numRuns: 300 });
  });

  it('with a steady estimate and Core\'s incremental fee small against the schedule\'s step, it bids exactly the budget with the tip at expiry − 1', () => {
    fc.assert(fc.property(fc.integer({ min: 2, max: 50 }), fc.integer({ min: 1_000, max: 10_000 }), fc.integer({ min: 0, max: 1_000 }), (span, budget, start) => {
      // Each step is (budget − start) / (span − 1) ≥ 100 sat/kvB here, so no hold below the budget.
      fc.pre((budget - start) / Math.max(1, span - 1) >= 100);
      const log = watch(row, expiry - span, expiry, (tip) => ({ startRate: start, budgetRate: budget, incrementalRate: 100, stateInMempool: tip > expiry - span }));
      expect(log.find((step) => step.tip === expiry - 1)).toMatchObject({ action: span === 1 ? 'exit' : 'rebid', sent: budget });
      expect(log.filter((step) => step.tip < expiry - 1).every((step) => step.stored! < budget)).toBe(true);
    }), { numRuns: 200 });
  });

  it('when the node loses the state now and then, a send in the mempool still outbids the stored bid, and the last chance is still the ceiling or a hold', () => {
    fc.assert(fc.property(sequence, fc.array(fc.boolean(), { minLength: 70, maxLength: 70 }), (s, inMempool) => {
      const from = expiry - s.span;
      const log = watch(row, from, expiry + s.late, (tip) => ({
        startRate: s.startRates[tip - from]!, budgetRate: s.budgetRate, incrementalRate: s.incrementalRate, stateInMempool: tip > from && inMempool[tip - from]!,
        ...(s.affordableRate !== undefined ? { affordableRate: s.affordableRate } : {}),
      }));
      const ceiling = Math.min(s.budgetRate, s.affordableRate ?? Infinity);
      for (const step of log) {
        if (step.facts.stateInMempool && step.before && step.sent !== undefined) expect(step.sent).toBeGreaterThanOrEqual(step.before.rate + s.incrementalRate);
        if (step.action === 'hold') expect(step.facts.stateInMempool).toBe(true);
        if (step.sent !== undefined) expect(step.sent).toBeLessThanOrEqual(ceiling);
      }
      const last = log.find((step) => step.tip === expiry - 1)!;
      if (last.action === 'hold') expect(last.before!.rate + s.incrementalRate).toBeGreaterThan(ceiling);
      else expect(last.sent).toBe(ceiling);
    }), { numRuns: 300 });
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
  fundingUnspent: fc.boolean(),
  minConfirmations: fc.oneof(fc.constant(6), fc.integer({ min: 0, max: 10 })),
}).map(({ left, confirmations, refundTxid, ...f }): UserFacts => ({
  ...f,
  expiry: f.tip + left,
  ...(refundTxid !== undefined ? { refundTxid } : {}),
  // The node is asked about the refund only when there is one.
  refundConfirmations: refundTxid === undefined ? null : confirmations,
}));

describe('the user, for any record and chain', () => {
  it('refunds exactly when the refund is final, the funding unspent, the refund unknown to the node, and it has one', () => {
    fc.assert(fc.property(userFacts, (f) => {
      const d = decideUser(f);
      const should = !['closed', 'rolled-over'].includes(f.status) && f.refundTxid !== undefined && f.refundConfirmations === null && f.fundingUnspent && f.tip >= f.expiry;
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

  it('is done once settled, once the funding is spent by anything else, or once its refund has the confirmations it waits for', () => {
    fc.assert(fc.property(userFacts, (f) => {
      const d = decideUser(f);
      const settled = ['closed', 'rolled-over'].includes(f.status);
      const spentElsewhere = f.refundTxid !== undefined && f.refundConfirmations === null && !f.fundingUnspent;
      const refunded = f.refundConfirmations !== null && f.refundConfirmations >= f.minConfirmations;
      if (settled || spentElsewhere || refunded) expect(d.action).toBe('done');
      // A refund on its way (in the mempool, or short of its confirmations) is waited for, not done nor resent.
      if (!settled && f.refundConfirmations !== null && f.refundConfirmations < f.minConfirmations) expect(d.action).toBe('wait');
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
});
