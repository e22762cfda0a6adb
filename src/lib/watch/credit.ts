/**
 * The credit contract's deadlines, as a watcher keeps them (BRIEF §3.1): the decision table of
 * the mint (its exit, mined by block `expiry`) and of the user (the refund, final from the tip
 * at `expiry`). Pure: the chain's facts come in already asked (src/topics/watch/credit.ts).
 *
 * INVARIANTS (test/lib/watch/credit.test.ts, property tests):
 * - The mint sends nothing for a contract that is settled (closed, rolled over), exited or
 *   refunded with the required confirmations, or whose exit or the user's refund is mined (a
 *   reorganisation un-mines it: the next decision, on the new chain, acts again).
 * - The mint exits every contract with a signed state whose expiry is within the safety
 *   margin, or that it is already exiting, until its exit is mined; its bid is the deadline's
 *   schedule (deadline-fee.ts): never above the budget, and while the exit's state is in the
 *   node's mempool, above the package the node holds by the incremental relay fee (whoever
 *   made its child), or the package there is held.
 * - The mint never sends over a spend of the funding it does not know (neither its exit state
 *   nor the user's refund): a restored store must not replace a newer state with an older one.
 * - A child of the state that is not the mint's (a pin) is replaced only by a bid that pays more
 *   than it (as a package rate of the mint's own package) within the budget; otherwise the bid
 *   holds, and says the budget falls short when it can never reach it.
 * - The user sends its refund only once it is final (tip ≥ expiry) and only while the funding
 *   is unspent and the refund unknown to the node; once the funding is spent by anything else
 *   (the mint's state, a close, a rollover) and that spend is mined, the user is done: it pays
 *   what the latest state says (while it is only in the mempool, the user waits).
 */
import { deadlineBid } from '../tx/deadline-fee.ts';
import type { Decision } from './decision.ts';

/** The mint's view of one contract: `credit list`'s row (src/lib/credit/operator.ts contractsMessage). */
export type MintRow = {
  contract_id: string;
  status: string;
  state: number;
  expiry_height: number;
  must_exit: boolean;
  next: string;
  exit?: { state: number; txid: string; confirmations?: number | undefined } | undefined;
  settlement?: { kind: string; txid: string; confirmations?: number | undefined } | undefined;
  refund?: { txid: string; confirmations: number } | undefined;
};

/** What the watcher bid last for a contract's exit: stored before it is sent (commit before the act). Only its start_tip steers a later bid: what replaces an exit is judged by what the node holds. */
export type ExitBid = {
  /** The tip when the first bid was made: the schedule runs from the block after it. */
  start_tip: number;
  /** sat/kvB of the package (0: a hold over a package someone else sent). */
  rate: number;
  /** The tip, and its block, it was made at. */
  tip: number;
  block: string;
  /** A gateway's claim: the claim sent with this bid (its confirmations say the claim is mined, once the node shows it spends the HTLC). */
  txid?: string;
  /** A gateway's claim: the payment and state it is for ("<payment hash>:<state txid>"); a bid for another steers nothing. */
  payment?: string;
  /** A pair's statechain backup: the node wallet's coins its child spends (walletcreatefundedpsbt's answer, base64), stored before the first is sent — every bid spends these same coins, across restarts. */
  wallet?: string;
  /** Written by earlier versions (the exit's state and child); read by nothing. */
  state_txid?: string;
  child_txid?: string;
};

export type MintFacts = {
  tip: number;
  /** Where the schedule starts, sat/kvB: the node's estimate for the blocks left, at least its floor. */
  startRate: number;
  /** The most the mint pays, as a package rate, sat/kvB: the fee guard (--max-fee-rate on each transaction, --max-fee-share of the payout), the lower of the two. */
  budgetRate: number;
  incrementalRate: number;
  bid?: ExitBid;
  /**
   * The package rate, sat/kvB, of the exit's state with whatever child it has in the node's
   * mempool (its descendants' fee over their size): what a new bid must outbid, whoever made the
   * child — never the watcher's own record of what it sent (a crash, or a store rolled back, can
   * make that wrong). Undefined: the state is not in the mempool.
   */
  mempoolRate?: number;
  /**
   * The funding output is spent by a transaction that is neither this contract's exit state nor
   * the user's refund — in the mempool (its txid) or in a block: the store does not know it (a
   * restored backup behind the chain?). Nothing is sent over it; the operator is told.
   */
  foreignSpend?: { where: 'mempool' | 'block'; txid?: string };
  /** The exit could not be built (the refusal, "CODE: message"): nothing can be sent; the operator is told. */
  unbuildable?: string;
  /**
   * The state's child in the mempool is not the mint's (the user's, on its own output: a pin).
   * `mempoolRate` is then the least package rate that replaces it, less the incremental relay
   * fee (its absolute fee, Core's rule 3, as a rate of the mint's package).
   */
  foreignChild?: string;
};

/** An exit package's sizes and what its child spends, as the exit step built it (sat, vB). */
export type ExitPackage = { stateVsize: number; stateFee: number; childVsize: number; payout: number; /** The payout output's dust threshold: the child must leave at least that. */ payoutDust: number };

/**
 * The mint's budget as a package rate, sat/kvB: the lower of --max-fee-rate (the guard is the
 * package's: the highest rate whose fee, rounded up to a sat as the child is built, stays
 * within it) and --max-fee-share of the payout (the child's fee, leaving its output above dust).
 */
export function exitBudgetRate(p: ExitPackage, limits: { maxFeeRate: number; maxFeeShare: number }): number {
  const vsize = p.stateVsize + p.childVsize;
  const rateCap = Math.floor((Math.floor(limits.maxFeeRate * vsize) * 1000) / vsize);
  const childFee = Math.min(Math.floor(p.payout * limits.maxFeeShare), p.payout - p.payoutDust);
  return Math.min(rateCap, Math.max(0, Math.floor((1000 * (childFee + p.stateFee)) / vsize)));
}

/** The rows that need nothing more of the mint, by `credit list`'s status. */
const FINISHED = new Set(['closed', 'rolled-over', 'exited', 'refunded']);

export type MintDecision = Decision & { /** The bid to store (and send) when the action sends: sat/kvB. */ rate?: number };

export function decideMint(row: MintRow, f: MintFacts): MintDecision {
  const base = { kind: 'credit-mint' as const, contract: row.contract_id, deadline: row.expiry_height, blocks_left: row.expiry_height - f.tip };
  if (FINISHED.has(row.status)) return { ...base, action: 'done', reason: row.next, ...txidOf(row) };
  if (!row.must_exit && row.status !== 'exiting') return { ...base, action: row.status === 'refunding' ? 'wait' : 'none', reason: row.next };
  if (row.exit?.confirmations !== undefined && row.exit.confirmations >= 1) {
    return { ...base, action: 'wait', reason: `the exit (state ${row.exit.state}) is mined: ${row.exit.confirmations} confirmation(s) so far`, txid: row.exit.txid };
  }
  if (row.refund && row.refund.confirmations >= 1) {
    return { ...base, action: 'wait', reason: `the user's refund ${row.refund.txid} spent the funding: nothing can be exited (unless a reorganisation un-mines it)`, txid: row.refund.txid };
  }
  if (f.unbuildable !== undefined) return { ...base, action: 'hold', reason: 'the exit cannot be built: nothing sent', error: f.unbuildable };
  if (f.foreignSpend) {
    const what = f.foreignSpend.where === 'mempool' ? `in the node's mempool by ${f.foreignSpend.txid}` : 'in a block';
    return {
      ...base,
      action: 'hold',
      reason: 'the funding is spent by a transaction that is not this contract\'s exit state or the user\'s refund: not replaced',
      error: `E_WATCH_FOREIGN_SPEND: contract ${row.contract_id}'s funding is spent ${what}, by no transaction this store knows — is the store behind the chain (a restored backup)? Find that state before anything else is sent`,
      ...(f.foreignSpend.txid ? { txid: f.foreignSpend.txid } : {}),
    };
  }
  const bid = deadlineBid({
    startTip: Math.min(f.bid?.start_tip ?? f.tip, f.tip),
    tip: f.tip,
    deadline: row.expiry_height,
    startRate: f.startRate,
    budgetRate: f.budgetRate,
    ...(f.mempoolRate !== undefined ? { previousRate: f.mempoolRate } : {}),
    incrementalRate: f.incrementalRate,
  });
  const shortfall = bid.shortfall ? { shortfall: bid.shortfall } : {};
  const rate = { fee_rate: bid.rate / 1000, rate: bid.rate };
  const pinned = f.foreignChild !== undefined;
  if (bid.hold) {
    const unbeatable = pinned && f.mempoolRate! + f.incrementalRate > f.budgetRate;
    return pinned
      ? { ...base, action: 'hold', reason: `the state's child in the mempool is not the mint's (${f.foreignChild}): replacing it needs ${(f.mempoolRate! + f.incrementalRate) / 1000} sat/vB of the package${unbeatable ? ', above the budget' : ', above the schedule yet'}`, fee_rate: bid.rate / 1000, ...(unbeatable ? { shortfall: 'budget' as const } : shortfall), txid: f.foreignChild! }
      : { ...base, action: 'hold', reason: `the exit in the node's mempool at ${bid.rate / 1000} sat/vB stands: no bid within the budget outbids it by the incremental relay fee`, fee_rate: bid.rate / 1000, ...shortfall };
  }
  if (pinned) return { ...base, action: 'rebid', reason: `the state's child in the mempool is not the mint's (${f.foreignChild}): replaced by the mint's, paying more than it (${bid.chancesLeft + 1} block(s) left)`, ...rate, ...shortfall };
  if (f.mempoolRate !== undefined) return { ...base, action: 'rebid', reason: `the exit is not mined yet: its child replaced at the schedule's rate (${bid.chancesLeft + 1} block(s) left)`, ...rate, ...shortfall };
  if (f.bid === undefined) return { ...base, action: 'exit', reason: `exit now: ${bid.chancesLeft + 1} block(s) can still mine the state before the user's refund is final`, ...rate, ...shortfall };
  return { ...base, action: 'rebroadcast', reason: 'the exit is not in the node\'s mempool (evicted, un-mined by a reorganisation, or never sent): sent again at the schedule\'s rate', ...rate, ...shortfall };
}

function txidOf(row: MintRow): { txid?: string } {
  if (row.exit) return { txid: row.exit.txid };
  if (row.refund) return { txid: row.refund.txid };
  return {};
}

/** The user's view of one contract: its record's status and terms, and what the node knows. */
export type UserFacts = {
  contract: string;
  status: string;
  expiry: number;
  tip: number;
  /** The signed refund's txid (undefined: the contract has none yet — still opening). */
  refundTxid?: string;
  /** The node's confirmations of the refund: null, unknown to it. */
  refundConfirmations: number | null;
  /** The funding output is unspent (in the chain and the mempool). */
  fundingUnspent: boolean;
  /** When it is spent: by a transaction still in the mempool (not mined yet). */
  fundingSpentInMempool?: boolean;
  /** The confirmations the user waits for before it calls the refund settled. */
  minConfirmations: number;
};

const USER_FINISHED = new Set(['closed', 'rolled-over']);

export function decideUser(f: UserFacts): Decision {
  const base = { kind: 'credit-user' as const, contract: f.contract, deadline: f.expiry, blocks_left: f.expiry - f.tip };
  if (USER_FINISHED.has(f.status)) return { ...base, action: 'done', reason: `the contract is ${f.status}` };
  if (f.refundTxid === undefined) return { ...base, action: 'none', reason: 'no signed refund yet (the contract is still opening)' };
  const txid = { txid: f.refundTxid };
  if (f.refundConfirmations !== null && f.refundConfirmations >= f.minConfirmations) return { ...base, action: 'done', reason: 'the refund is mined', ...txid };
  if (f.refundConfirmations !== null) return { ...base, action: 'wait', reason: f.refundConfirmations === 0 ? 'the refund is in the mempool' : `the refund is mined: ${f.refundConfirmations} confirmation(s) so far`, ...txid };
  if (!f.fundingUnspent && f.fundingSpentInMempool) return { ...base, action: 'wait', reason: 'the funding is spent by a transaction in the node\'s mempool (the mint\'s state, a close): waiting for it to be mined' };
  if (!f.fundingUnspent) return { ...base, action: 'done', reason: 'the funding was spent by another transaction (the mint\'s state, a close or a rollover): it pays what the latest state says' };
  if (f.tip < f.expiry) return { ...base, action: 'none', reason: `the refund is final once the tip reaches ${f.expiry} (in ${f.expiry - f.tip} block(s)), if the mint has not closed or exited by then` };
  return { ...base, action: 'refund', reason: 'the refund is final and the funding unspent: the mint neither closed nor exited', ...txid };
}
