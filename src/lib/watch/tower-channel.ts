/**
 * The keyless watchtower's channel kind, `tower-channel` (docs/watch.md "The tower"): a revoked
 * commitment of someone's peer seen on chain, and for each revocable output the fee ladder the
 * party pre-signed (src/lib/bolt3/tower-justice.ts, verified: the party's justice for that
 * commitment) — which rung to send now. Pure: the chain's facts come in already asked.
 *
 * INVARIANTS (test/lib/watch/tower-channel.test.ts, property tests):
 * - Only the ladder's own rungs are ever sent: nothing above its top rung (the cap the party set),
 *   nothing the tower pays — a rung's fee is the penalized output's, signed by the party.
 * - The rung follows the deadline schedule (../tx/deadline-fee.ts: from the node's estimate at the
 *   window's start to the top rung's rate at the last block that can mine it; the deadline is the
 *   input's confirmation height + to_self_delay − 1, and while the input is unconfirmed, tip +
 *   to_self_delay): the lowest rung whose rate reaches the bid. It never goes below a rung sent
 *   before, and goes at least one rung up for each block that passed without mining the one sent
 *   (its input confirmed: the block could have mined it).
 * - A replacement is valid (BIP 125 rules 3 and 4): the rung sent over one of its own in the
 *   mempool, or over a rival spender (the cheater's HTLC transaction), pays at least what it
 *   evicts plus the incremental relay fee on its own size — the lowest rung at or above the
 *   schedule's that does; none does: the one there stands (`hold`).
 * - `done` only when every ladder is settled — a rung mined FINAL_DEPTH deep, or its output taken
 *   by another transaction in a block (the cheater's second stage: then its own ladder, if the
 *   party gave one, is a ladder of the breach) — and the commitment is FINAL_DEPTH deep; `wait`
 *   while a rung mined or the commitment is shallower.
 */
import { deadlineBid } from '../tx/deadline-fee.ts';
import { outputDeadline, windowStart } from './channel.ts';
import { FINAL_DEPTH, type Decision, type WatchAction } from './decision.ts';

export type TowerRung = { txid: string; fee: number; vsize: number };

/** Where a ladder's output stands, as the node says. */
export type LadderState =
  /** Unspent (in the UTXO set, mempool included): a rung may take it. */
  | { kind: 'unspent' }
  /** A rung of this ladder holds it in the mempool. */
  | { kind: 'held'; rung: number }
  /** Another transaction spends it in the mempool (the cheater's HTLC transaction): `fee`, everything replacing it evicts (sat). */
  | { kind: 'rival'; txid: string; fee: number }
  /** A rung of this ladder is mined. */
  | { kind: 'mined'; rung: number; confirmations: number }
  /** Another transaction spends it in a block: nothing of this ladder can go. */
  | { kind: 'lost' };

export type LadderFacts = {
  outpoint: string;
  /** Lowest fee first (verified: fees and rates strictly rising). */
  rungs: readonly TowerRung[];
  state: LadderState;
  /** The height that mined the ladder's input (the commitment, or the cheater's HTLC transaction); undefined: in the mempool. */
  confirmedAt?: number;
  /** The rung the tower sent last for it, and the tip it sent it at (its records: advice). */
  last?: { rung: number; tip: number };
};

export type TowerChannelFacts = {
  /** The revoked commitment's txid: the decision's contract. */
  commitment: string;
  /** Its confirmations (0: mempool; null: the node has it nowhere). */
  confirmations: number | null;
  tip: number;
  toSelfDelay: number;
  /** The first tip the tower bid at for this breach (its records), else the tip. */
  startTip?: number;
  /** sat/kvB: the node's estimate for the blocks left, at least its floor; its incremental relay fee. */
  startRate: number;
  incrementalRate: number;
  ladders: readonly LadderFacts[];
};

/** One rung to send: `replaces` the transaction in the mempool it must evict (ours or the rival's). */
export type RungSend = { outpoint: string; rung: number; txid: string; replaces?: string };

export type TowerChannelDecision = Decision & { sends: RungSend[] };

/** A rung's rate, sat/kvB, rounded up (what it pays at least per kvB). */
export const rungRate = (r: TowerRung): number => Math.ceil((r.fee * 1000) / r.vsize);

/** The least fee a transaction of `vsize` replacing `fee` pays (BIP 125 rules 3 and 4). */
const leastOver = (fee: number, vsize: number, incrementalRate: number) => fee + Math.ceil((incrementalRate * vsize) / 1000);

type LadderBid = { deadline: number; action: 'send' | 'replace' | 'keep' | 'wait' | 'settled'; rung?: number; rate: number; replaces?: string; shortfall?: Decision['shortfall']; why?: string };

/** The rung for one ladder at this tip. */
export function bidLadder(f: Pick<TowerChannelFacts, 'tip' | 'toSelfDelay' | 'startTip' | 'startRate' | 'incrementalRate'>, l: LadderFacts): LadderBid {
  const deadline = outputDeadline(f.tip, f.toSelfDelay, l.confirmedAt);
  const s = l.state;
  if (s.kind === 'mined') return { deadline, action: s.confirmations >= FINAL_DEPTH ? 'settled' : 'wait', rung: s.rung, rate: rungRate(l.rungs[s.rung]!) };
  if (s.kind === 'lost') return { deadline, action: 'settled', rate: 0 };
  const top = l.rungs.length - 1;
  const held = s.kind === 'held' ? s.rung : undefined;
  const bid = deadlineBid({
    startTip: windowStart(f.startTip, f.tip, l.confirmedAt), tip: f.tip, deadline, startRate: f.startRate, budgetRate: rungRate(l.rungs[top]!),
    incrementalRate: f.incrementalRate, ...(held !== undefined ? { previousRate: rungRate(l.rungs[held]!) } : {}),
  });
  // The schedule at its budget (the last chance) is the top rung, whatever rung below rounds to the same rate.
  let k = bid.rate >= rungRate(l.rungs[top]!) ? top : l.rungs.findIndex((r) => rungRate(r) >= bid.rate);
  if (k < 0) k = top;
  if (l.last !== undefined && l.last.rung >= 0 && l.last.rung <= top) {
    // Never below what was sent; a block went by without mining it (its input confirmed): one rung up.
    k = Math.max(k, l.last.rung + (l.confirmedAt !== undefined && l.last.tip < f.tip ? 1 : 0));
  }
  k = Math.min(k, top);
  const shortfall = bid.shortfall ? { shortfall: bid.shortfall } : {};
  if (s.kind === 'unspent') return { deadline, action: 'send', rung: k, rate: rungRate(l.rungs[k]!), ...shortfall };
  // Its own rung in the mempool, the schedule asking no higher one and no block gone by since it was sent: it stands.
  if (s.kind === 'held' && k <= s.rung) return { deadline, action: 'keep', rung: s.rung, rate: rungRate(l.rungs[s.rung]!), ...(s.rung === top ? { shortfall: 'budget' as const } : shortfall) };
  const evicts = s.kind === 'held' ? l.rungs[s.rung]!.fee : s.fee;
  for (let j = k; j <= top; j++) {
    if (l.rungs[j]!.fee >= leastOver(evicts, l.rungs[j]!.vsize, f.incrementalRate)) {
      return { deadline, action: 'replace', rung: j, rate: rungRate(l.rungs[j]!), replaces: s.kind === 'held' ? l.rungs[s.rung]!.txid : s.txid, ...shortfall };
    }
  }
  // Nothing above it is a valid replacement on this node (its incremental relay fee above the party's): it stands.
  if (s.kind === 'held') return { deadline, action: 'keep', rung: s.rung, rate: rungRate(l.rungs[s.rung]!), shortfall: 'budget' };
  return { deadline, action: 'keep', rate: 0, shortfall: 'budget', why: `the rival ${s.txid} in the mempool pays more than any rung can replace` };
}

export function decideTowerChannel(f: TowerChannelFacts): TowerChannelDecision {
  const base = { kind: 'tower-channel' as const, contract: f.commitment, txid: f.commitment };
  const bids = f.ladders.map((l) => ({ l, b: bidLadder(f, l) }));
  const live = bids.filter(({ b }) => b.action !== 'settled');
  const soonest = Math.min(...(live.length > 0 ? live : bids).map(({ b }) => b.deadline), f.tip + f.toSelfDelay);
  const at = { ...base, deadline: soonest, blocks_left: soonest - f.tip };
  if (f.confirmations === null) {
    return { ...at, action: 'wait', reason: 'the revoked commitment is on no chain the node knows now (a reorganisation took it out, and no mempool holds it): its ladders wait for it to come back', sends: [] };
  }
  const sends: RungSend[] = bids.flatMap(({ l, b }) => (b.action === 'send' || b.action === 'replace'
    ? [{ outpoint: l.outpoint, rung: b.rung!, txid: l.rungs[b.rung!]!.txid, ...(b.replaces ? { replaces: b.replaces } : {}) }]
    : []));
  const shortfall = bids.find(({ b }) => b.shortfall)?.b.shortfall;
  const rate = Math.max(0, ...bids.map(({ b }) => (b.action === 'send' || b.action === 'replace' || b.action === 'keep' ? b.rate : 0)));
  const extra = { ...(rate > 0 ? { fee_rate: rate / 1000 } : {}), ...(shortfall ? { shortfall } : {}) };
  const left = `${soonest - f.tip + 1} block(s) left`;
  if (sends.length > 0) {
    const first = bids.some(({ l, b }) => b.action === 'send' && l.last === undefined);
    const action: WatchAction = first ? 'penalty' : bids.some(({ b }) => b.action === 'replace') ? 'rebid' : 'rebroadcast';
    const reason = {
      penalty: `a revoked commitment is on chain: the party's justice ladders sent, ${sends.length} output(s), ${left}`,
      rebid: `the justice is not mined yet: a rung up, replacing the one below, ${left}`,
      rebroadcast: `the justice is not in the node's mempool (evicted, un-mined by a reorganisation): sent again, ${left}`,
    }[action as 'penalty' | 'rebid' | 'rebroadcast'];
    return { ...at, ...extra, action, reason, sends };
  }
  if (bids.some(({ b }) => b.action === 'keep')) {
    const why = bids.find(({ b }) => b.why)?.b.why;
    return { ...at, ...extra, action: 'hold', reason: why ?? 'the rungs in the node\'s mempool stand: the schedule asks no higher rung yet, or the ladder has none higher', sends };
  }
  if (bids.some(({ b }) => b.action === 'wait') || f.confirmations < FINAL_DEPTH) {
    const mined = bids.filter(({ b }) => b.action === 'wait').length;
    return { ...at, ...extra, action: 'wait', reason: `the revoked commitment is punished as far as its ladders go: ${mined} rung(s) mined, gathering confirmations (done at ${FINAL_DEPTH}, the commitment too)`, sends };
  }
  return { ...at, action: 'done', reason: `every output of the revoked commitment is taken (a rung mined ${FINAL_DEPTH} deep) or was taken by another transaction before a rung could be`, sends };
}
