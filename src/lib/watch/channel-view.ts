/**
 * `commitment list`'s row of one channel (docs/bolt3.md "The party's channels"): what the party's
 * record says — capacity, both commitment numbers, the revoked commitments it can punish, the HTLCs
 * in flight, both delays — and, with a node, who spent the funding, found and classified as the
 * channel watcher finds it (src/topics/watch/channel-spend.ts fundingSpend), the punishment window of a
 * revoked commitment by the watcher's own rule (./channel.ts outputDeadline), and what is left to
 * take of it as `commitment penalty` counts it. Pure: the facts come in already asked.
 *
 * INVARIANTS (test/lib/watch/channel-view.test.ts):
 * - The chain's word wins over the record's: a funding spent by a revoked commitment is
 *   `penalty-due` until nothing revocable is left on chain (`penalized`), by the peer's current one
 *   `peer-closing`/`peer-closed`, by our own `force-closing`/`force-closed`, by the mutual close
 *   `closing`/`closed` — never `open`.
 * - A revoked commitment's deadline is H + remote_to_self_delay − 1 once mined at H, the tip +
 *   remote_to_self_delay while in the mempool (outputDeadline: the watcher's), and `must_act` holds
 *   while anything of it is left to take — or not known to be taken (a failed search) — and for a
 *   spend no record explains.
 * - A mined commitment of the party's own or of the peer's current: `must_act` while any of its HTLC
 *   outputs is unspent (in a block or the mempool) — the watcher's second stages and claims, which
 *   the peer races (its timeout from cltv_expiry, its preimage at any time) — never for its
 *   to_local or to_remote alone, which nobody else can take.
 * - Offline nothing of the chain is claimed: no `chain`, the status the record's, `must_act` false.
 * - A channel on a statechain coin whose funding backup is unmined is `funding-pending` (its nLockTime in
 *   `chain.funding_locktime`), or `funding-lost` when another transaction took its coin: never `must_act`.
 */
import type { FundingSpend } from './channel.ts';
import { outputDeadline } from './channel.ts';

/** What the record says of a channel (src/lib/bolt3/party.ts ChannelRecord), summed up by the caller. */
export type ChannelSummary = {
  id: string;
  capacitySat: number;
  /** Our latest commitment held (with the peer's signatures), and the peer's latest we signed: their numbers (null: none yet). */
  local: number | null;
  remote: number | null;
  /** Peer commitments we signed that it revoked: each punishable. */
  revoked: number;
  htlcs: number;
  htlcSat: number;
  toLocalMsat?: string;
  toRemoteMsat?: string;
  toSelfDelay: number;
  remoteToSelfDelay: number;
  /** A mutual close proposed, or signed (its txid known); our own commitment completed for broadcast (finalize). */
  closing?: 'proposed' | 'signed';
  broadcast?: boolean;
};

/** What the node said (absent offline). */
export type ChannelChainFacts = {
  spend: FundingSpend;
  /** A revoked commitment's outputs left to take (null: not known — the search for second stages failed), and how many of them a transaction in the mempool is taking. */
  penalty?: { left: number | null; inMempool: number; error?: string };
  /** What the channel's watcher sent (its records: advice), each asked of the node: null unknown to it, 0 in its mempool. */
  sent?: { outpoint: string; txid: string; confirmations: number | null }[];
  /** A mined commitment of the party's own or of the peer's current: its HTLC outputs nothing spends yet (block or mempool), and the soonest cltv_expiry among them. */
  htlcs?: { unspent: number; soonest?: number };
};

export type SpentBy = 'revoked-commitment' | 'their-commitment' | 'own-commitment' | 'mutual-close' | 'unknown';
export type ChannelChain =
  | { funding: 'unspent' }
  /** A channel on a statechain coin: `funding_locktime`, its funding backup's nLockTime; `lost_to`, the coin's outpoint spent by another transaction (the channel can never be on chain). */
  | { funding: 'not-mined'; in_mempool: boolean; funding_locktime?: number; lost_to?: { coin_outpoint: string; txid?: string; confirmations: number } }
  | { funding: 'spent'; spent_by: SpentBy; txid?: string; confirmations?: number; commitment_number?: number };

export type ChannelRow = {
  channel_id: string;
  capacity_sat: number;
  local_commitment: number | null;
  remote_commitment: number | null;
  revoked_commitments: number;
  htlcs: number;
  htlc_sat: number;
  to_local_msat?: string;
  to_remote_msat?: string;
  to_self_delay: number;
  remote_to_self_delay: number;
  status: string;
  record_status: 'open' | 'closing' | 'closing-signed' | 'force-closing';
  chain?: ChannelChain;
  penalty?: { deadline_height: number; blocks_left: number; outputs_left: number | null; in_mempool: number; error?: string };
  sweep_from?: number;
  /** A mined commitment of the party's own or of the peer's current: its HTLC outputs left to take, and the soonest cltv_expiry among them. */
  htlc_outputs?: { unspent: number; soonest_cltv_expiry?: number };
  sent?: { outpoint: string; txid: string; confirmations: number | null }[];
  must_act: boolean;
  next: string;
};

const SPENT_BY: Record<'revoked' | 'peer-current' | 'own' | 'mutual-close' | 'foreign', SpentBy> = {
  revoked: 'revoked-commitment', 'peer-current': 'their-commitment', own: 'own-commitment', 'mutual-close': 'mutual-close', foreign: 'unknown',
};

function chainOf(s: FundingSpend): ChannelChain | undefined {
  switch (s.kind) {
    case 'unknown-offline': return undefined;
    case 'unspent': return { funding: 'unspent' };
    case 'not-mined': return {
      funding: 'not-mined', in_mempool: s.known, ...(s.locktime !== undefined ? { funding_locktime: s.locktime } : {}),
      ...(s.lost ? { lost_to: { coin_outpoint: s.lost.coin, ...(s.lost.txid !== undefined ? { txid: s.lost.txid } : {}), confirmations: s.lost.confirmations } } : {}),
    };
    case 'not-found': return { funding: 'spent', spent_by: 'unknown' };
    default: return { funding: 'spent', spent_by: SPENT_BY[s.kind], txid: s.txid, confirmations: s.confirmations, ...(s.commitmentNumber !== undefined ? { commitment_number: s.commitmentNumber } : {}) };
  }
}

function recordStatus(c: ChannelSummary): ChannelRow['record_status'] {
  return c.closing === 'signed' ? 'closing-signed' : c.closing === 'proposed' ? 'closing' : c.broadcast ? 'force-closing' : 'open';
}

function statusOf(row: Pick<ChannelRow, 'record_status' | 'chain' | 'penalty'>): string {
  const c = row.chain;
  if (c === undefined || c.funding === 'unspent') return row.record_status;
  if (c.funding === 'not-mined') return c.lost_to ? 'funding-lost' : c.in_mempool ? 'funding-unconfirmed' : c.funding_locktime !== undefined ? 'funding-pending' : 'unfunded';
  const mined = (c.confirmations ?? 0) > 0;
  switch (c.spent_by) {
    case 'revoked-commitment': return row.penalty?.outputs_left === 0 ? 'penalized' : 'penalty-due';
    case 'their-commitment': return mined ? 'peer-closed' : 'peer-closing';
    case 'own-commitment': return mined ? 'force-closed' : 'force-closing';
    case 'mutual-close': return mined ? 'closed' : 'closing';
    case 'unknown': return 'spent-unknown';
  }
}

function nextOf(row: Omit<ChannelRow, 'next'>, tip: number): string {
  const c = row.chain?.funding === 'spent' ? row.chain : undefined;
  const id = row.channel_id;
  const p = row.penalty;
  switch (row.status) {
    case 'penalty-due':
      return `act now: punish the peer's revoked commitment ${c!.commitment_number ?? ''} (${c!.txid}) by block ${p!.deadline_height} (${p!.blocks_left} blocks left${p!.outputs_left !== null ? `, ${p!.outputs_left} output(s) to take, ${p!.in_mempool} on their way` : ', what is left unknown'}): ` +
        `offchain watch --revocation-key-env does (or commitment penalty --channel-id ${id} --txid ${c!.txid}, then bitcoin-cli sendrawtransaction)`;
    case 'penalized': return `nothing: every output of the peer's revoked commitment ${c!.commitment_number ?? ''} is taken (spent in a block)`;
    case 'spent-unknown': return `check by hand: the funding is spent ${c?.txid ? `by ${c.txid}, ` : 'in a block the node was not asked about, '}no commitment or close this record knows (is the state directory behind the chain?)`;
    case 'peer-closing':
    case 'peer-closed':
      return row.htlc_outputs?.unspent
        ? `act: ${htlcsLeftText(row.htlc_outputs)} on the peer's commitment — one it offered is yours with its preimage only until the peer times it out (from its cltv_expiry), one you offered once its cltv_expiry is final: offchain watch --htlc-key-env --preimage-file claims them (or commitment claim --channel-id ${id} --txid ${c!.txid})`
        : row.htlcs > 0 && row.htlc_outputs === undefined
          ? `your HTLCs on the peer's commitment: offchain watch --htlc-key-env claims them (or commitment claim --channel-id ${id} --txid ${c!.txid})`
          : 'nothing: the peer closed with its current commitment (your to_remote is yours at once)';
    case 'force-closing': return c ? `wait for your commitment ${c.txid} to be mined` : 'your commitment is completed for broadcast (commitment finalize): send it, or go on with the mutual close';
    case 'force-closed':
      return `your to_local is yours from block ${row.sweep_from} (to_self_delay): offchain watch --delayed-key-env sweeps it (or commitment sweep)` +
        (row.htlc_outputs?.unspent ? `; act: ${htlcsLeftText(row.htlc_outputs)} — an incoming one's HTLC-success (its preimage given) must be mined by its cltv_expiry, after which the peer may time it out; an outgoing one's HTLC-timeout goes from its cltv_expiry: offchain watch --htlc-key-env --preimage-file sends them (or commitment finalize)` : '');
    case 'closed': return 'nothing: the mutual close is mined';
    case 'closing': return c ? `wait for the mutual close ${c.txid} to be mined` : 'a mutual close is proposed: finish it (commitment close)';
    case 'closing-signed': return 'the mutual close is signed: broadcast it (bitcoin-cli sendrawtransaction)';
    case 'funding-unconfirmed': return 'wait for the funding to be mined';
    case 'unfunded': return 'check the funding: it is in no block and no mempool the node knows';
    case 'funding-pending': {
      const at = (row.chain as { funding_locktime: number }).funding_locktime;
      return tip < at ? `wait: the funding is a statechain backup, non-final until the tip reaches its nLockTime ${at} (${at - tip} block(s))` : `send the funding: the statechain backup that funds it is final (nLockTime ${at}) — the pair's watcher or statechain backup --broadcast sends it`;
    }
    case 'funding-lost': {
      const l = (row.chain as { lost_to: { coin_outpoint: string; txid?: string } }).lost_to;
      return `nothing: the channel can never be on chain — its coin's outpoint ${l.coin_outpoint} is spent by ${l.txid ?? 'another transaction'}, not by the funding backup`;
    }
  }
  return `nothing: keep offchain watch running — it punishes a revoked commitment of the peer's within ${row.remote_to_self_delay} blocks`;
}

const htlcsLeftText = (h: NonNullable<ChannelRow['htlc_outputs']>) => `${h.unspent} HTLC output(s) unspent${h.soonest_cltv_expiry !== undefined ? ` (the soonest cltv_expiry ${h.soonest_cltv_expiry})` : ''}`;

/** One channel's row at `tip`. */
export function channelRow(c: ChannelSummary, tip: number, f?: ChannelChainFacts): ChannelRow {
  const chain = f ? chainOf(f.spend) : undefined;
  const s = f?.spend;
  const spent = s !== undefined && 'txid' in s ? s : undefined;
  const confirmedAt = spent && spent.confirmations > 0 ? tip - spent.confirmations + 1 : undefined;
  let penalty: ChannelRow['penalty'];
  if (spent?.kind === 'revoked') {
    const deadline = outputDeadline(tip, c.remoteToSelfDelay, confirmedAt);
    const left = f?.penalty?.left ?? null;
    penalty = { deadline_height: deadline, blocks_left: deadline - tip, outputs_left: left, in_mempool: f?.penalty?.inMempool ?? 0, ...(f?.penalty?.error ? { error: f.penalty.error } : {}) };
  }
  const recorded = recordStatus(c);
  const status = statusOf({ record_status: recorded, ...(chain ? { chain } : {}), ...(penalty ? { penalty } : {}) });
  const row: Omit<ChannelRow, 'next'> = {
    channel_id: c.id,
    capacity_sat: c.capacitySat,
    status,
    record_status: recorded,
    local_commitment: c.local,
    remote_commitment: c.remote,
    revoked_commitments: c.revoked,
    htlcs: c.htlcs,
    htlc_sat: c.htlcSat,
    ...(c.toLocalMsat !== undefined ? { to_local_msat: c.toLocalMsat } : {}),
    ...(c.toRemoteMsat !== undefined ? { to_remote_msat: c.toRemoteMsat } : {}),
    to_self_delay: c.toSelfDelay,
    remote_to_self_delay: c.remoteToSelfDelay,
    ...(chain ? { chain } : {}),
    ...(penalty ? { penalty } : {}),
    ...(spent?.kind === 'own' && confirmedAt !== undefined ? { sweep_from: confirmedAt + c.toSelfDelay } : {}),
    ...(f?.htlcs ? { htlc_outputs: { unspent: f.htlcs.unspent, ...(f.htlcs.soonest !== undefined ? { soonest_cltv_expiry: f.htlcs.soonest } : {}) } } : {}),
    ...(f?.sent?.length ? { sent: f.sent } : {}),
    // A closing commitment's HTLC outputs are raced by the peer (its timeout from cltv_expiry, its preimage at any time): the watcher acts on them.
    must_act: status === 'penalty-due' || status === 'spent-unknown' || ((status === 'force-closed' || status === 'peer-closed') && (f?.htlcs?.unspent ?? 0) > 0),
  };
  return { ...row, next: nextOf(row, tip) };
}
