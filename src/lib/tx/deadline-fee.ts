/**
 * A fee rate that rises toward a deadline, within a budget: what a watcher bids, block after
 * block, for a transaction that must be mined by a given height (the mint's exit before
 * expiry, a penalty within to_self_delay, a claim before an HTLC's timeout). Pure: integers
 * in sat/kvB, as Bitcoin Core counts them; no I/O.
 *
 * INVARIANTS (test/lib/tx/deadline-fee.test.ts, property tests):
 * - A bid never exceeds the budget or what the wallet can pay, and never falls below the
 *   start (the node's estimate for the blocks left, at least its relay floor) unless the
 *   budget or the wallet is below it. A hold repeats the earlier bid and sends nothing.
 * - It never falls as the tip rises (a rebid never asks less).
 * - It reaches the budget at the LAST block that can still mine it — the block before the
 *   deadline's, bid for with the tip at deadline − 1 — not one block late (LND's linear fee
 *   function reached its maximum at the deadline itself, lnd#8741). From the first chance to
 *   the last it rises linearly (LND's linear fee function, without that off-by-one).
 * - A replacement outbids what it replaces by at least the incremental relay fee (BIP-125
 *   rule 4; the same for a TRUC child replacing a sibling), or is not made: a bid that
 *   cannot do so within the budget holds the earlier one, and says so.
 * - What the wallet can pay bounds the bid, but never stops it: a sweep starts with part of
 *   the budget covered rather than waiting for all of it (lnd#9627), and says the shortfall.
 */

import { INCREMENTAL_RELAY_FEE_RATE } from './policy.ts';

export type DeadlineFeeInput = {
  /** The tip when the first bid was made: the chances run from the block after it. */
  startTip: number;
  /** The tip now (the bid is for the next block, tip + 1). */
  tip: number;
  /** The last height whose block may still contain the transaction (the mint's exit: expiry_height). */
  deadline: number;
  /** Where the schedule starts, sat/kvB: the node's estimate for the blocks left (estimatesmartfee), at least its floor. */
  startRate: number;
  /** The most the role pays, sat/kvB (the fee guard's --max-fee-rate, or less). */
  budgetRate: number;
  /** The most the coins at hand can pay for this transaction, sat/kvB; absent: no wallet limit. */
  affordableRate?: number;
  /** The bid of the transaction this one replaces, sat/kvB; absent: a first broadcast. */
  previousRate?: number;
  /** The node's incremental relay fee, sat/kvB (default Core's, 100); the rule is on the replacement's own size, so as a rate it holds for a replacement of the same size. */
  incrementalRate?: number;
};

export type DeadlineBid = {
  /** The rate to broadcast at now, sat/kvB; `hold` when the earlier broadcast stands (nothing new to send). */
  rate: number;
  /** What the schedule asks at this tip, before the wallet and the replacement rule. */
  scheduled: number;
  /** Blocks that can still mine it after this one (0: the next block is the last chance; −1: the deadline has passed). */
  chancesLeft: number;
  /** Keep the earlier broadcast: no bid within the budget (and the wallet) outbids it by the incremental relay fee. */
  hold: boolean;
  /**
   * Why the bid is short of what it should be, for the log and the metrics: `budget` (the
   * estimate, or the least replacement, is above the budget), `wallet` (the coins at hand pay
   * less than the schedule asks), `deadline-passed`; none when it is not short.
   */
  shortfall?: 'budget' | 'wallet' | 'deadline-passed';
};

function checkRates(i: DeadlineFeeInput): void {
  for (const [name, v] of Object.entries(i)) {
    if (v !== undefined && (!Number.isSafeInteger(v) || v < 0)) throw new RangeError(`${name} must be a non-negative integer, got ${v}`);
  }
  if (i.tip < i.startTip) throw new RangeError(`the tip ${i.tip} is below the schedule's start ${i.startTip}`);
}

/** The schedule alone: linear from the start rate at the first chance to the budget at the last. */
function scheduledRate(i: DeadlineFeeInput): number {
  const low = Math.min(i.startRate, i.budgetRate);
  const chances = i.deadline - i.startTip; // blocks startTip + 1 … deadline
  const used = i.tip - i.startTip; // chances already gone by
  if (chances <= 1 || used >= chances - 1) return i.budgetRate;
  // Rounded up: the bid reaches each step's rate, never a sat/kvB under it.
  return low + Math.ceil(((i.budgetRate - low) * used) / (chances - 1));
}

/** The rate to bid now for a transaction that must be mined by `deadline`. */
export function deadlineBid(i: DeadlineFeeInput): DeadlineBid {
  checkRates(i);
  const chancesLeft = i.deadline - i.tip - 1;
  const scheduled = scheduledRate(i);
  let shortfall: DeadlineBid['shortfall'] = i.startRate > i.budgetRate ? 'budget' : undefined;
  const wallet = i.affordableRate !== undefined && i.affordableRate < scheduled;
  if (wallet) shortfall = 'wallet';
  if (chancesLeft < 0) shortfall = 'deadline-passed';
  const rate = wallet ? i.affordableRate! : scheduled;
  const bid = (rate: number, hold: boolean, short = shortfall): DeadlineBid => ({ rate, scheduled, chancesLeft, hold, ...(short ? { shortfall: short } : {}) });
  if (i.previousRate === undefined) return bid(rate, false);
  // A replacement must pay the incremental relay fee on top of what it replaces.
  const least = i.previousRate + (i.incrementalRate ?? INCREMENTAL_RELAY_FEE_RATE);
  const ceiling = Math.min(i.budgetRate, i.affordableRate ?? Number.MAX_SAFE_INTEGER);
  if (rate >= least) return bid(rate, false);
  // The schedule asks less than a replacement needs: hold the earlier bid while the schedule is below it,
  // or outbid by the least step the budget allows; when none does, hold and say why.
  if (scheduled <= i.previousRate) return bid(i.previousRate, true);
  if (least <= ceiling) return bid(least, false);
  return bid(i.previousRate, true, shortfall ?? (ceiling === i.budgetRate ? 'budget' : 'wallet'));
}
