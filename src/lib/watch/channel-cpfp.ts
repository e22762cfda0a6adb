/**
 * The bid of an anchors commitment's CPFP child, as a channel party's watcher makes it once it goes
 * on chain (./channel-onchain.ts): the commitment pays the fee agreed when it was signed
 * (feerate_per_kw, perhaps long ago); a child spending the party's own `to_local_anchor` and a coin
 * of the node's wallet (src/lib/bolt3/anchor-child.ts) brings the package to the deadline
 * schedule's rate (../tx/deadline-fee.ts) — rebid each block it is not mined, on the same coins.
 * Pure: integers, sat and sat/kvB; the chain's facts come in already asked
 * (src/topics/watch/channel-cpfp.ts).
 *
 * INVARIANTS (test/lib/watch/channel-cpfp.test.ts, property tests):
 * - Within the budget: the package's fee (the commitment's + the child's) never exceeds
 *   --max-fee-rate on the package's size, the child's fee never --max-fee-share of what going on
 *   chain saves (the HTLCs at stake), nor what the child's coins hold; a bid the budget cuts
 *   says `shortfall`.
 * - The package pays the schedule's rate: the child's fee is the least that brings the package
 *   (commitment + child, at the child's largest size) to the rate asked, never less.
 * - While the commitment alone pays what the schedule asks, a child at the commitment's own rate only
 *   (`reserve`: the party's place in the commitment's cluster, which Core 30+ lets the peer fill —
 *   no CPFP carve-out), or none when the budget allows not even that (`alone`); no child
 *   replaced but by one paying its fee plus the incremental relay fee on its own size, at a
 *   package rate above the one in the mempool (Core's rules 3 and 4, ./decision.ts
 *   childReplaceRate) — else the one there stands (`keep`).
 * - The schedule runs from the tip the party was due on chain to the commitment's deadline, the
 *   block before the one its HTLC's second stage must be in (anchors second stages wait one
 *   block: BOLT 3's `1 OP_CHECKSEQUENCEVERIFY`).
 */
import { deadlineBid, type DeadlineBid } from '../tx/deadline-fee.ts';
import { childReplaceRate, heldRate } from './decision.ts';
import { INCOMING_BROADCAST_DELTA, firstDue, type OpenHtlc } from './channel-onchain.ts';
import { SWEEP_HORIZON } from './channel.ts';

export type AnchorChildFacts = {
  tip: number;
  /** The tip from which the party was due on chain (the schedule's start). */
  startTip: number;
  /** The last block that may hold the commitment. */
  deadline: number;
  /** sat/kvB: the node's estimate for the blocks left, at least what its mempool takes. */
  startRate: number;
  incrementalRate: number;
  /** sat/kvB: what the node's mempool takes now (its relay floor, or a full mempool's) — the place-holding child's rate at least. */
  floorRate: number;
  limits: { maxFeeRate: number; maxFeeShare: number };
  /** The commitment: its vsize and the fee it pays (agreed when it was signed). */
  parent: { vsize: number; feeSat: number };
  /** The child's vsize at its largest signed size. */
  childVsize: number;
  /** What going on chain saves (the HTLCs at stake), sat: --max-fee-share's base. */
  stakeSat: number;
  /** The most the child's coins can pay, sat (the anchor and the wallet's coins, less dust change). */
  coinsMaxFeeSat: number;
  /** A child of the anchor in the node's mempool: the commitment's package there (modified fees) and that child's own fee. */
  held?: { descendantFee: bigint; descendantVsize: number; chunkFee: bigint; chunkWeight: number; childFeeSat: number };
};

export type AnchorChildBid = {
  /** `alone`: the commitment pays the schedule's rate by itself (no child); `send`: a child, none in the mempool; `replace`: a child replacing the one there; `keep`: the one there stands. */
  action: 'alone' | 'send' | 'replace' | 'keep';
  /** The package's rate, sat/kvB (the commitment's own for `alone`, the one in the mempool for `keep`). */
  rate: number;
  /** The child's fee, sat (send, replace). */
  childFeeSat: number;
  shortfall?: DeadlineBid['shortfall'];
  /** A `send` the schedule does not ask for: the child at the commitment's own rate holds the party's place in its cluster. */
  reserve?: true;
};

/** The most the package may pay in all, sat: --max-fee-rate on its size, and the commitment's fee plus --max-fee-share of the stake. */
export function packageMaxFee(f: Pick<AnchorChildFacts, 'limits' | 'parent' | 'childVsize' | 'stakeSat'>): number {
  const vsize = f.parent.vsize + f.childVsize;
  return Math.min(Math.floor(f.limits.maxFeeRate * vsize), f.parent.feeSat + Math.floor(f.limits.maxFeeShare * f.stakeSat));
}

export function bidAnchorChild(f: AnchorChildFacts): AnchorChildBid {
  const vsize = f.parent.vsize + f.childVsize;
  const maxFee = packageMaxFee(f);
  const budgetRate = Math.max(0, Math.floor((maxFee * 1000) / vsize));
  const affordableRate = Math.max(0, Math.floor(((f.parent.feeSat + f.coinsMaxFeeSat) * 1000) / vsize));
  const parentRate = Math.floor((f.parent.feeSat * 1000) / f.parent.vsize);
  // What the mempool holds mines at the commitment's own rate at least: a child paying less (one at the floor) is a chunk of its own.
  const previousRate = f.held ? Math.max(heldRate(f.held), parentRate) : undefined;
  const bid = deadlineBid({
    startTip: Math.min(f.startTip, f.tip), tip: f.tip, deadline: f.deadline, startRate: f.startRate, budgetRate, affordableRate, incrementalRate: f.incrementalRate,
    ...(previousRate !== undefined ? { previousRate } : {}),
  });
  const short = bid.shortfall ? { shortfall: bid.shortfall } : {};
  if (!f.held && bid.rate <= parentRate) {
    // The schedule asks no more than the commitment pays — but alone in the mempool, a version 2 commitment is the peer's to
    // pin: Core's cluster limits (64 transactions, 101 kvB) and no CPFP carve-out since cluster mempool (30.99 on regtest:
    // "too-large-cluster") let its descendants on its own anchor refuse every later child of the party's, while a child already
    // there is replaced in place whatever the cluster holds. So a child goes with it, within the budget — at the commitment's
    // own rate on its own size (the node's floor at least): one chunk with it, mined with it. Below it, the commitment could be
    // mined alone and the child left in the mempool, the wallet's coin and its change unconfirmed: no coin for the HTLC's
    // second stage (confirmed coins only) while its deadline runs.
    const fee = Math.max(1, Math.ceil((Math.max(f.floorRate, parentRate) * f.childVsize) / 1000));
    const alone: AnchorChildBid = { action: 'alone', rate: parentRate, childFeeSat: 0, ...short };
    if (fee > Math.min(maxFee - f.parent.feeSat, f.coinsMaxFeeSat)) return alone;
    return { action: 'send', rate: Math.floor(((f.parent.feeSat + fee) * 1000) / vsize), childFeeSat: fee, ...short, reserve: true };
  }
  const keep: AnchorChildBid = { action: 'keep', rate: previousRate ?? parentRate, childFeeSat: 0, ...short };
  if (f.held && bid.hold) return keep;
  let rate = bid.rate;
  if (f.held) rate = Math.max(rate, childReplaceRate(f.held, f.childVsize, vsize, f.incrementalRate));
  // The least child fee bringing the package to `rate`; a replacement pays the one it replaces plus the incremental fee on its size.
  let childFee = Math.ceil((rate * vsize) / 1000) - f.parent.feeSat;
  if (f.held) childFee = Math.max(childFee, f.held.childFeeSat + Math.ceil((f.incrementalRate * f.childVsize) / 1000));
  const ceiling = Math.min(maxFee - f.parent.feeSat, f.coinsMaxFeeSat);
  if (childFee > ceiling || childFee <= 0) {
    const why = childFee > f.coinsMaxFeeSat && f.coinsMaxFeeSat < maxFee - f.parent.feeSat ? 'wallet' : 'budget';
    return f.held ? { ...keep, shortfall: bid.shortfall ?? why } : { action: 'alone', rate: parentRate, childFeeSat: 0, shortfall: bid.shortfall ?? why };
  }
  return { action: f.held ? 'replace' : 'send', rate: Math.floor(((f.parent.feeSat + childFee) * 1000) / vsize), childFeeSat: childFee, ...short };
}

/**
 * The commitment's schedule: from the tip the party was due on chain to the last block that may hold it — for a
 * received HTLC the block before its cltv_expiry (its HTLC-success, one block later at the earliest, must be in block
 * cltv_expiry); for an offered one, INCOMING_BROADCAST_DELTA blocks after it was due (the room its forwarded incoming
 * side leaves: ./channel-onchain.ts OUTGOING_GRACE); none due (sent by hand), a horizon.
 */
export function commitmentSchedule(htlcs: readonly OpenHtlc[], tip: number): { startTip: number; deadline: number } {
  const first = firstDue(htlcs);
  if (!first) return { startTip: tip, deadline: tip + SWEEP_HORIZON };
  const deadline = first.h.direction === 'received' ? first.h.cltvExpiry - 1 : first.at + INCOMING_BROADCAST_DELTA;
  return { startTip: Math.min(first.at, tip), deadline };
}
