/**
 * When a channel party's watcher goes on chain (BOLT 5 "Requirements" of HTLC handling on an open
 * channel; LND's contractcourt, LDK's ChannelMonitor, CLN's channeld do the same): the channel is
 * open (its funding unspent), the peer is silent, and an HTLC on the party's latest commitment
 * nears the point where waiting loses it — then the party's own latest commitment goes out
 * (`commitment finalize`'s own code: src/lib/bolt3/party-holder-commitment.ts closeUnilaterally),
 * and its HTLC's second stage after it (./channel.ts decideOwn, once the commitment is mined).
 *
 * INVARIANTS (test/lib/watch/channel-onchain.test.ts, property tests):
 * - Never without an HTLC: a channel whose latest commitment holds no HTLC the party would lose is
 *   never closed by the watcher (its to_local and to_remote are nobody else's to take).
 * - Never for dust: an HTLC trimmed from the party's latest commitment (no output: its amount is
 *   the commitment's fee) never sends it — on chain there is nothing to claim or time out, so a
 *   close would only cost the channel and its fee, and a peer could force one for a few sats
 *   (CLN ElementsProject/lightning#4604, LND lightningnetwork/lnd#7685).
 * - Never before its time: an HTLC the party RECEIVED and holds the preimage of sends the
 *   commitment from the tip cltv_expiry − INCOMING_BROADCAST_DELTA on (the commitment and the
 *   HTLC-success must both be mined by block cltv_expiry: from cltv_expiry + 1 the peer may time it
 *   out on the party's commitment); one it received without the preimage, never (nothing to gain
 *   on chain). An HTLC the party OFFERED sends it from the tip cltv_expiry + OUTGOING_GRACE on (the
 *   peer neither failed nor fulfilled it off chain: its HTLC-timeout, final from block
 *   cltv_expiry + 1, takes it back).
 * - Never a revoked commitment: only the latest one the party holds, and only while the party has
 *   not revealed its secret (its number above local_revoked_through); otherwise `hold` with
 *   E_REVOKED_COMMITMENT, nothing sent.
 * - Never a commitment that cannot relay: a zero-fee (TRUC, bolts#1228) commitment pays nothing
 *   and goes only with a child on its anchor, which the watcher does not make: due, it is `hold`
 *   with E_NO_CHILD, nothing recorded (the channel stays usable) and nothing sent.
 * - Never silent: due, but without the secrets that sign it (the funding key, the per-commitment
 *   seed, the htlc_basepoint secret), `hold` naming them (E_NO_KEY) — before it is due, the reason
 *   says so too.
 * - Once the commitment is recorded as completed for broadcast (`broadcast`: the watcher's own act,
 *   or `commitment finalize`), a funding still unspent has it sent again at each round
 *   (`rebroadcast`): the channel signs no other commitment from then on. Without the secrets that
 *   sign it again, `hold` with E_NO_KEY, as above.
 */
import type { Decision } from './decision.ts';

/** An HTLC of the party's latest commitment, seen from the party: `received` (the peer offered it) or `offered`; `trimmed`: no output of its own (BOLT 3 dust). */
export type OpenHtlc = { direction: 'offered' | 'received'; cltvExpiry: number; preimage: boolean; trimmed: boolean };

/** What the record says of an open channel's own side. */
export type OpenChannel = {
  /** The party's latest commitment held with the peer's signatures (null: none yet). */
  latest: number | null;
  /** The highest own commitment number whose secret the party revealed (−1: none). */
  revokedThrough: number;
  /** The own commitment completed for broadcast (the record's `broadcast`), if any. */
  broadcast?: number;
  htlcs: OpenHtlc[];
  /** The flags of the secrets the watcher lacks to sign the commitment (none: it can). */
  missing: string[];
  /** Its commitments pay no fee (the zero-fee format): relayed only with a child. */
  feeless?: boolean;
};

/**
 * Blocks before an incoming HTLC's cltv_expiry at which the party goes on chain with its preimage:
 * LND's DefaultIncomingBroadcastDelta (10). Time for the commitment and then its HTLC-success to be
 * mined, one after the other, with room for a few blocks of a congested mempool (LDK's
 * CLTV_CLAIM_BUFFER is 18; CLN fails the channel half the cltv_expiry_delta before).
 */
export const INCOMING_BROADCAST_DELTA = 10;

/**
 * Blocks past an outgoing HTLC's cltv_expiry the party still waits for the peer to fail it off
 * chain before going on chain: LDK's LATENCY_GRACE_PERIOD_BLOCKS (3; LND waits 0). It must stay
 * well under the incoming side's cltv_expiry_delta (BOLT 2 recommends ≥ 34) less
 * INCOMING_BROADCAST_DELTA, so a forwarded HTLC is taken back before the upstream one is lost.
 */
export const OUTGOING_GRACE = 3;

/** The tip from which this HTLC sends the commitment (none: it never does). */
export function goOnChainAt(h: OpenHtlc): number | undefined {
  if (h.trimmed) return undefined;
  if (h.direction === 'received') return h.preimage ? h.cltvExpiry - INCOMING_BROADCAST_DELTA : undefined;
  return h.cltvExpiry + OUTGOING_GRACE;
}

/**
 * The HTLC that sends the commitment first, the tip from which it does (`at`), and the block by which its
 * second stage must be mined (`deadline`: a received HTLC's cltv_expiry; an offered one's `at`); none: no HTLC would.
 */
export function firstDue(htlcs: readonly OpenHtlc[]): { h: OpenHtlc; at: number; deadline: number } | undefined {
  let first: { h: OpenHtlc; at: number } | undefined;
  for (const h of htlcs) {
    const at = goOnChainAt(h);
    if (at !== undefined && (first === undefined || at < first.at)) first = { h, at };
  }
  return first && { ...first, deadline: first.h.direction === 'received' ? first.h.cltvExpiry : first.at };
}

/** The go-on-chain decision's sends: the party's latest commitment, number `commitment`. */
export type OnChainDecision = Decision & { close?: { commitment: number } };

/** The decision for an open channel (its funding unspent) at `tip`; `idle` is what it is when nothing is due. */
export function decideOnChain(tip: number, open: OpenChannel, idle: Decision): OnChainDecision {
  const latest = open.latest;
  const revoked = latest === null || latest <= open.revokedThrough;
  const unkeyed = (d: Decision, why: string): OnChainDecision => ({
    ...d, action: 'hold', reason: `${why} but your commitment cannot be signed: nothing sent`,
    error: `E_NO_KEY: your latest commitment ${latest} is signed with your funding key and per-commitment seed: pass ${open.missing.join(', ')}`,
  });
  const childless = (d: Decision, why: string): OnChainDecision => ({
    ...d, action: 'hold', reason: `${why} but your commitment pays no fee: nothing sent`,
    error: `E_NO_CHILD: your latest commitment ${latest} is a zero-fee (TRUC) one: it relays only with a child on its anchor, which this watcher does not make — complete it with commitment finalize and send it with package child`,
  });
  const refuseRevoked = (why: string): OnChainDecision => ({
    ...idle, action: 'hold', reason: `${why}: nothing sent`,
    error: latest === null
      ? 'E_NOT_SIGNED: the peer signed no commitment of yours: there is none to broadcast'
      : `E_REVOKED_COMMITMENT: your commitment ${latest} is revoked (you revealed its secret, through ${open.revokedThrough}): broadcasting it would lose the channel`,
  });
  if (open.broadcast !== undefined) {
    if (revoked || open.broadcast !== latest) return refuseRevoked(`your commitment ${open.broadcast} was completed for broadcast, but it is not your latest unrevoked one`);
    if (open.feeless) return childless(idle, `your commitment ${latest} was completed for broadcast (a unilateral close) and the funding is still unspent`);
    if (open.missing.length > 0) return unkeyed(idle, `your commitment ${latest} was completed for broadcast (a unilateral close) and the funding is still unspent`);
    return { ...idle, action: 'rebroadcast', close: { commitment: latest }, reason: `your commitment ${latest} was completed for broadcast (a unilateral close) and the funding is still unspent: sent again` };
  }
  const first = firstDue(open.htlcs);
  if (!first) {
    const silent = open.htlcs.length > 0 ? ` (its ${open.htlcs.length} HTLC(s): trimmed, or received without their preimage — nothing to gain on chain)` : '';
    return { ...idle, reason: `${idle.reason}; no HTLC of your latest commitment would make you go on chain${silent}` };
  }
  const what = first.h.direction === 'received'
    ? `an HTLC you received (its preimage held) expires at ${first.h.cltvExpiry}: your commitment and its HTLC-success must be mined by then (go on chain at cltv_expiry − ${INCOMING_BROADCAST_DELTA})`
    : `an HTLC you offered expires at ${first.h.cltvExpiry} and the peer neither failed nor fulfilled it: its HTLC-timeout takes it back (go on chain at cltv_expiry + ${OUTGOING_GRACE})`;
  const deadline = first.deadline;
  const at = { ...idle, deadline, blocks_left: deadline - tip };
  const need = open.missing.length > 0 ? `; it needs ${open.missing.join(', ')}, not given` : '';
  if (tip < first.at) return { ...at, action: 'none', reason: `the channel is open: ${what}, from block ${first.at + 1} (the tip at ${first.at})${need}` };
  if (revoked) return refuseRevoked(`going on chain is due (${what})`);
  if (open.feeless) return childless(at, `going on chain is due (${what})`);
  if (open.missing.length > 0) return unkeyed(at, `going on chain is due (${what})`);
  return { ...at, action: 'exit', close: { commitment: latest }, reason: `go on chain: ${what} — your latest commitment ${latest} broadcast (a unilateral close)` };
}
