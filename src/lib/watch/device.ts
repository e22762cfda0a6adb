/**
 * The device ↔ gateway channel's HTLC deadlines, as a watcher keeps them (docs/device-gateway.md,
 * docs/watch.md): the gateway's claim of a payment's HTLC with the preimage its Lightning node
 * returned, mined by the HTLC's expiry height, and the device's refund of an HTLC the gateway
 * put on chain and did not claim, from that height on. Pure: the chain's facts come in already
 * asked (src/topics/watch/device.ts).
 *
 * The race: the claim leaf has no lock; the refund leaf is final from the tip at the HTLC's
 * expiry L (nLockTime L), so a refund can be mined in block L + 1 at the earliest. A claim
 * mined by block L is out of the device's reach; after that the two race, and a claim can
 * still replace a refund in the mempool (lib/device/replace.ts), at a price.
 *
 * INVARIANTS (test/lib/watch/device.test.ts, property tests):
 * - The gateway sends nothing for a payment whose claim is mined (it waits for the depth, then
 *   is done), nor over a spend of the HTLC by anything but its own claim or the device's refund
 *   (the key path needs both parties: nothing of the gateway's alone can replace it).
 * - The gateway claims every HTLC it holds the preimage of once the tip is within the margin of
 *   the HTLC's expiry, or at once when the state holding it is already on chain (in a block or
 *   the mempool: the exit has begun); it rebids each block on the deadline's schedule (mined by
 *   block L), never above the budget, and while its claim or the device's refund is in the
 *   mempool only at a rate above it by the incremental relay fee — or it holds.
 * - Before the margin, with the state not on chain, the gateway does nothing: the device may
 *   still come back and settle the payment off chain.
 * - The device refunds an HTLC only from the tip at its expiry, only when the state holding it
 *   is on chain and the HTLC unspent; a claim (the gateway's, with the preimage: the payment is
 *   paid) spending it is waited on, never replaced.
 * - Its refund bids the deadline's schedule toward block L + REFUND_BLOCKS (the race with a late
 *   claim): never above the budget; its own refund in the mempool (the refund leaf: only the
 *   device's key signs it) is replaced only at a rate above it by the incremental relay fee —
 *   never by a worse one — and otherwise stands: `wait` while it pays what the schedule asks,
 *   `hold` with `shortfall: budget` when the schedule asks more and the budget cannot outbid it.
 */
import { deadlineBid } from '../tx/deadline-fee.ts';
import type { Decision } from './decision.ts';
import type { ExitBid } from './credit.ts';

/** Who spends an HTLC output: nobody (or its state is not out), a transaction in the node's mempool (by its leaf), or one in a block. */
export type HtlcSpend =
  | { where: 'none' }
  | { where: 'mempool'; txid: string; leaf: 'claim' | 'refund' | 'other'; /** The rate, sat/kvB, of what a replacement must outbid: the spender with the state when the state is unconfirmed, else the spender with its descendants. */ rate: number }
  | { where: 'block' };

/** A channel whose gateway's latest state holds an HTLC it holds the preimage of. */
export type GatewayRow = {
  contract_id: string;
  payment_hash: string;
  /** The HTLC's expiry height L: the claim must be mined by block L. */
  htlc_expiry: number;
  /** Blocks before L from which the gateway claims while the state is not out (src/topics/watch/device.ts CLAIM_BLOCKS, at most the mint's safety margin). */
  margin: number;
};

export type GatewayFacts = {
  tip: number;
  startRate: number;
  /** The most the gateway pays, sat/kvB of what it sends (the fee guard). */
  budgetRate: number;
  incrementalRate: number;
  bid?: ExitBid;
  /** The latest state: its confirmations (0: in the mempool; null: the node does not know it). */
  stateConfirmations: number | null;
  htlc: HtlcSpend;
  /** The claim this watcher sent last, and its confirmations (null: unknown to the node) — only one the node shows spending this HTLC through the claim leaf. */
  claim?: { txid: string; confirmations: number | null };
  /**
   * The state is in the mempool with a child that does not spend the HTLC (the mint's exit child,
   * sent before the preimage came): the rate, sat/kvB, of the state with its descendants, which a
   * claim package must outbid to take that child's place.
   */
  packageRate?: number;
  /** The claim could not be built ("CODE: message"). */
  unbuildable?: string;
  minConfirmations: number;
};

export type GatewayDecision = Decision & { rate?: number };

export function decideGateway(row: GatewayRow, f: GatewayFacts): GatewayDecision {
  const base = { kind: 'gateway' as const, contract: row.contract_id, deadline: row.htlc_expiry, blocks_left: row.htlc_expiry - f.tip };
  const claimed = f.claim && f.claim.confirmations !== null && f.claim.confirmations >= 1 ? f.claim : undefined;
  if (claimed) {
    return claimed.confirmations! >= f.minConfirmations
      ? { ...base, action: 'done', reason: `the HTLC of payment ${row.payment_hash} is claimed (${claimed.confirmations} confirmations)`, txid: claimed.txid }
      : { ...base, action: 'wait', reason: `the claim is mined: ${claimed.confirmations} confirmation(s) so far`, txid: claimed.txid };
  }
  if (f.htlc.where === 'block') {
    return { ...base, action: 'done', reason: 'the HTLC is spent in a block by a transaction other than this watcher\'s last claim: an earlier claim of the gateway\'s, or the device\'s refund after the expiry' };
  }
  if (f.htlc.where === 'mempool' && f.htlc.leaf === 'other') {
    return {
      ...base, action: 'hold', reason: 'the HTLC is spent in the mempool by a transaction that is neither a claim nor the device\'s refund: not replaced', txid: f.htlc.txid,
      error: `E_WATCH_FOREIGN_SPEND: the HTLC of contract ${row.contract_id} is spent in the node's mempool by ${f.htlc.txid}, through neither of its leaves`,
    };
  }
  const out = f.stateConfirmations !== null || f.htlc.where === 'mempool';
  if (!out && f.bid === undefined && f.tip < row.htlc_expiry - row.margin) {
    return { ...base, action: 'none', reason: `the device may still settle payment ${row.payment_hash}: the gateway claims from block ${row.htlc_expiry - row.margin} (the margin before the HTLC's expiry)` };
  }
  if (f.unbuildable !== undefined) return { ...base, action: 'hold', reason: 'the claim cannot be built: nothing sent', error: f.unbuildable };
  const previous = f.htlc.where === 'mempool' ? f.htlc.rate : f.packageRate;
  const bid = deadlineBid({
    startTip: Math.min(f.bid?.start_tip ?? f.tip, f.tip), tip: f.tip, deadline: row.htlc_expiry, startRate: f.startRate, budgetRate: f.budgetRate,
    ...(previous !== undefined ? { previousRate: previous } : {}), incrementalRate: f.incrementalRate,
  });
  const shortfall = bid.shortfall ? { shortfall: bid.shortfall } : {};
  const rate = { fee_rate: bid.rate / 1000, rate: bid.rate };
  if (f.htlc.where === 'mempool') {
    const theirs = f.htlc.leaf === 'refund';
    if (bid.hold) {
      return {
        ...base, action: 'hold', txid: f.htlc.txid, fee_rate: bid.rate / 1000, ...(theirs ? { shortfall: 'budget' as const } : shortfall),
        reason: theirs ? `the device's refund in the mempool (${f.htlc.rate / 1000} sat/vB) cannot be replaced within the budget` : `the claim in the node's mempool at ${f.htlc.rate / 1000} sat/vB stands: no bid within the budget outbids it by the incremental relay fee`,
      };
    }
    return theirs
      ? { ...base, action: 'claim', reason: `the device's refund is in the mempool: the claim replaces it (${bid.chancesLeft + 1} block(s) left)`, ...rate, ...shortfall }
      : { ...base, action: 'rebid', reason: `the claim is not mined yet: replaced at the schedule's rate (${bid.chancesLeft + 1} block(s) left)`, ...rate, ...shortfall };
  }
  if (f.packageRate !== undefined && bid.hold) {
    return { ...base, action: 'hold', reason: `the state is in the mempool with a child that is not the claim (at ${f.packageRate / 1000} sat/vB with it): no bid within the budget outbids it yet`, fee_rate: bid.rate / 1000, ...shortfall };
  }
  if (f.bid === undefined) return { ...base, action: 'claim', reason: `claim now: ${bid.chancesLeft + 1} block(s) can still mine it before the device's refund is final`, ...rate, ...shortfall };
  return { ...base, action: 'rebroadcast', reason: 'the claim is not in the node\'s mempool (evicted, un-mined by a reorganisation, or never sent): sent again at the schedule\'s rate', ...rate, ...shortfall };
}

/**
 * Blocks after the HTLC's expiry L by which the device's refund should be mined: its schedule
 * rises from the node's estimate at the first chance (block L + 1) to the budget at the last
 * (block L + 6, bid with the tip at L + 5). The claim leaf has no lock, so each block the refund
 * waits is one more in which a late claim can replace it; six is the window a statechain owner's
 * watcher gives its backup once final (the safety floor's --min-interval default).
 */
export const REFUND_BLOCKS = 6;

/** A payment of the device whose HTLC it may take back (in flight, or failed), in one state. */
export type DeviceRow = { contract_id: string; payment_hash: string; state_txid: string; htlc_expiry: number };

export type DeviceFacts = {
  tip: number;
  /** The state holding the HTLC: its confirmations (0: in the mempool; null: the node does not know it). */
  stateConfirmations: number | null;
  /** Who spends the HTLC; a refund in the mempool with the rate, sat/kvB, of it and its descendants (what a replacement outbids). */
  htlc: HtlcSpend;
  /** The schedule's start, sat/kvB: the node's estimate for the blocks left, at least its floor (0: not asked). */
  startRate?: number;
  /** The most the device pays, sat/kvB of the refund: the fee guard (--max-fee-rate, --max-fee-share of the HTLC). */
  budgetRate?: number;
  incrementalRate?: number;
  /** The watcher's last bid for this payment's refund (only its start_tip steers: what the node holds is asked of it). */
  bid?: ExitBid;
  /** The refund could not be built ("CODE: message": another key, a record that does not decode). */
  unbuildable?: string;
};

export type DeviceDecision = Decision & { /** The bid to store and send, sat/kvB, when the action sends the refund. */ rate?: number };

/** The last block the device's refund aims at: L + REFUND_BLOCKS. */
export function refundDeadline(row: Pick<DeviceRow, 'htlc_expiry'>): number {
  return row.htlc_expiry + REFUND_BLOCKS;
}

export function decideDevice(row: DeviceRow, f: DeviceFacts): DeviceDecision {
  const deadline = refundDeadline(row);
  const base = { kind: 'device' as const, contract: row.contract_id, deadline, blocks_left: deadline - f.tip };
  if (f.stateConfirmations === null) {
    return { ...base, action: 'none', reason: `the state ${row.state_txid} holding payment ${row.payment_hash} is not on chain: nothing to take back (refund-credit takes the channel after its expiry)` };
  }
  if (f.htlc.where === 'block') return { ...base, action: 'done', reason: 'the HTLC is spent in a block: by the gateway\'s claim (the payment is paid) or by this device\'s refund' };
  const own = f.htlc.where === 'mempool' && f.htlc.leaf === 'refund';
  if (f.htlc.where === 'mempool' && !own) {
    const who = f.htlc.leaf === 'claim' ? 'the gateway\'s claim (with the preimage: the payment is paid)' : 'a transaction through neither leaf';
    return { ...base, action: 'wait', reason: `the HTLC is spent in the mempool by ${who}`, txid: f.htlc.txid };
  }
  if (f.tip < row.htlc_expiry) {
    return own
      ? { ...base, action: 'wait', reason: 'the device\'s refund is in the mempool', txid: (f.htlc as { txid: string }).txid }
      : { ...base, action: 'none', reason: `the state is on chain; the HTLC's refund is final from the tip at ${row.htlc_expiry}, mined by block ${deadline} on the schedule` };
  }
  if (f.unbuildable !== undefined) return { ...base, action: 'hold', reason: 'the refund cannot be built: nothing sent', error: f.unbuildable };
  const held = own ? (f.htlc as { rate: number }).rate : undefined;
  const bid = deadlineBid({
    startTip: Math.min(f.bid?.start_tip ?? f.tip, f.tip), tip: f.tip, deadline, startRate: f.startRate ?? 0, budgetRate: f.budgetRate ?? 0,
    ...(held !== undefined ? { previousRate: held } : {}), incrementalRate: f.incrementalRate ?? 0,
  });
  const shortfall = bid.shortfall ? { shortfall: bid.shortfall } : {};
  const rate = { fee_rate: bid.rate / 1000, rate: bid.rate };
  const left = `${Math.max(0, bid.chancesLeft + 1)} block(s) left on the schedule`;
  if (held !== undefined) {
    const txid = { txid: (f.htlc as { txid: string }).txid };
    if (!bid.hold) return { ...base, action: 'rebid', reason: `the refund is not mined yet: replaced at the schedule's rate, above the ${held / 1000} sat/vB it pays by the incremental relay fee (${left})`, ...rate, ...shortfall };
    if (bid.scheduled <= held) return { ...base, action: 'wait', reason: `the device's refund in the mempool pays ${held / 1000} sat/vB, what the schedule asks (${bid.scheduled / 1000}) or more: it stands`, fee_rate: held / 1000, ...txid };
    return {
      ...base, action: 'hold', reason: `the device's refund in the mempool pays ${held / 1000} sat/vB; the schedule asks ${bid.scheduled / 1000}, and outbidding it by the incremental relay fee is above the budget (--max-fee-rate, --max-fee-share): it stands`,
      fee_rate: held / 1000, shortfall: 'budget', ...txid,
    };
  }
  if (f.bid === undefined) return { ...base, action: 'refund', reason: `the HTLC is on chain, unclaimed, and its refund is final: taken back (${left})`, ...rate, ...shortfall };
  return { ...base, action: 'rebroadcast', reason: `the refund is not in the node's mempool (evicted, un-mined by a reorganisation, or never sent): sent again at the schedule's rate (${left})`, ...rate, ...shortfall };
}
