/**
 * A BOLT 2/3 channel party's deadlines, as a watcher keeps them (BRIEF §3.3, §3.12; BOLT 5
 * "Revoked Transaction Close Handling"): who spent the funding output, and — when it is the
 * peer's revoked commitment — the justice transactions, one per revocable output (the
 * commitment's to_local and HTLC outputs, and the outputs of the cheater's second-stage HTLC
 * transactions), each bid on the deadline schedule (../tx/deadline-fee.ts); when it is the
 * party's own commitment, the sweep of its to_local once to_self_delay allows. Pure: the chain's
 * facts come in already asked, the transactions are built by `commitment penalty`'s own code
 * (src/topics/watch/channel.ts).
 *
 * INVARIANTS (test/lib/watch/channel.test.ts, property tests):
 * - Nothing is sent unless the funding's spender is a commitment of the peer's that it revoked:
 *   its current commitment, the party's own, a mutual close, an unknown spender or an unspent
 *   funding send nothing (`wait`/`done`/`hold`/`none`, with the reason). A funding the node does
 *   not know mined (unknown to it, or in its mempool only) is not on chain: `none`, and no block
 *   is walked for its spender; a walk that found nothing is recorded (`walked_to`) and never
 *   read again below that block (src/topics/watch/channel.ts). A channel on a statechain coin
 *   (its funding a backup, non-final until its nLockTime): the same `none` while that backup is
 *   unmined, the reason naming its nLockTime; its coin's outpoint spent by another transaction
 *   (the channel can never be on chain): `none`, `done` once that is FINAL_DEPTH deep — never an error.
 * - Deadline: an output of the cheater's (the commitment's, or a second stage's) confirmed at
 *   height H can be taken by him with his delayed key from block H + to_self_delay: the justice
 *   transaction must be mined by H + to_self_delay − 1. Unconfirmed, it could be mined in the
 *   next block at the earliest: the deadline is then tip + to_self_delay (conservative — it moves
 *   on each block it stays out, never later than the real one). Its window has not started then:
 *   its justice transaction is bid at the start rate, and its schedule starts at its confirmation
 *   H (the bid made at tip H − 1), never earlier.
 * - Fees: each justice transaction's fee never exceeds its budget — the lower of --max-fee-rate
 *   × its size (counted at the smallest signatures) and --max-fee-share of the output it takes —
 *   and always leaves its output above dust. A bid rises toward the deadline on the schedule and
 *   never below it unless the budget is.
 * - A justice transaction of the party's in the node's mempool is replaced only by one paying at
 *   least its fee plus the node's incremental relay fee on the new one's size (BIP-125 rules 3
 *   and 4): else it is kept (`hold`). What the node holds is read from the node, never from the
 *   watcher's records.
 * - The party's own commitment: its to_local is swept (with the delayed_payment_basepoint secret,
 *   when the watcher holds it) only from the block its to_self_delay allows — sent with the tip at
 *   confirmation + to_self_delay − 1 — on the same budget and replacement rules.
 * - The party's own commitment, its HTLC outputs (BOLT 3 second stages, legacy: their fee fixed when
 *   the peer signed, sent as signed, never bid): an HTLC-success (an incoming HTLC) only with its
 *   preimage held — at once, to be mined by block cltv_expiry; past it, still (it then races the
 *   peer's timeout, and loses nothing: never given up while the output is unspent); an HTLC-timeout
 *   (an outgoing HTLC, nLockTime = cltv_expiry) only once the tip reaches cltv_expiry (the next
 *   block may hold it) — at once then; neither while one of the party's is in the mempool or the
 *   output is spent. Each second stage's
 *   output (to_local-like) is swept only from its confirmation + to_self_delay (sent with the tip at
 *   that − 1), on the to_local sweep's budget and replacement rules. Anchors (zero-fee second stages,
 *   `funded`): sent when legacy's would be, their fee (a wallet's input) bid on the schedule within the
 *   budget — --max-fee-rate on the funded size, --max-fee-share of the HTLC — toward cltv_expiry for a
 *   success, a horizon for a timeout; one of the party's in the mempool rebid (replaced only by a bid
 *   paying its fee plus the incremental relay fee, BIP-125), never `done` while it is there.
 * - The peer's current commitment: an HTLC it offered is claimed with its preimage by its
 *   cltv_expiry, one the party offered is taken back only once its cltv_expiry is final — with the
 *   htlc_basepoint secret, when the watcher holds it — on the same budget and replacement rules;
 *   a preimage claim whose HTLC the peer's unconfirmed timeout spends replaces that timeout
 *   (`held` is then the peer's, its fee all it evicts), within the budget, else it stands.
 * - `done` only when nothing is left to take, every transaction of the party's that the best
 *   chain holds is FINAL_DEPTH deep, and so is the funding's spender; `wait` while one is shallower.
 *   "Nothing left" is the node's word (every revocable output spent), never a sizing refusal: an
 *   output worth less than its fee at the node's relay floor (the rate it is sized at) is `hold`
 *   with `shortfall: 'budget'`, and a failed second-stage search is `hold` with its error (the
 *   commitment's own outputs are taken all the same). Once done, the channel record keeps it with
 *   the spender's height: not evaluated again until a reorganisation moves the spender.
 * - An open channel (its funding unspent) is closed by the watcher only for an HTLC of its latest
 *   commitment about to be lost, and only with that commitment, never a revoked one
 *   (./channel-onchain.ts, its invariants).
 */
import { deadlineBid } from '../tx/deadline-fee.ts';
import { FINAL_DEPTH, type Decision, type WatchAction } from './decision.ts';
import { decideOnChain, type OpenChannel } from './channel-onchain.ts';

/** Who spent the funding output. */
export type FundingSpend =
  | { kind: 'unspent' }
  /**
   * The funding is in no block the node knows (`known`: in its mempool; else unknown to it — never broadcast, or double-spent).
   * A channel on a statechain coin (docs/statechain.md): `locktime`, the funding backup's nLockTime (final from that block
   * on); `lost`, the coin's outpoint its backup spends is spent by another transaction (an earlier owner's backup, a later
   * transfer's, a withdrawal: `txid` when found, `confirmations` 0 in the mempool) — the channel can then never be on chain.
   */
  | { kind: 'not-mined'; known: boolean; locktime?: number; lost?: { coin: string; txid?: string; confirmations: number } }
  /** Offline (a dry run at --tip-height): nothing known. */
  | { kind: 'unknown-offline' }
  /** Spent in a block the watcher could not find among the blocks it may scan (the funding mined: the node knows it). */
  | { kind: 'not-found' }
  | {
    kind: 'revoked' | 'peer-current' | 'own' | 'mutual-close' | 'foreign';
    txid: string;
    /** 0: in the mempool. */
    confirmations: number;
    commitmentNumber?: number;
  };

/** One output the revocation key takes, with one justice transaction of its own. */
export type JusticeItem = {
  /** txid:vout of the output taken (the revoked commitment's, or a second stage's). */
  outpoint: string;
  valueSat: number;
  /** The justice transaction's weight as BOLT 3 counts it for the fee (73-byte signatures). */
  weight: number;
  inputs: number;
  /** The height that mined the output (undefined: it is in the mempool). */
  confirmedAt?: number;
  /** The party's own justice transaction holding this output in the node's mempool: its txid and base fee (sat). */
  held?: { txid: string; feeSat: number };
  /** The watcher sent a justice transaction for it before (its records: advice only). */
  sentBefore: boolean;
  /** A deadline of its own (the party's own to_local: none is forced on it, a horizon for the schedule); else the cheater's output's. */
  deadline?: number;
  /** A delayed output of the party's own (a second stage's): the block that may hold its sweep first (its confirmation + to_self_delay); absent: `own.from`. */
  from?: number;
};

/** An HTLC output of the party's own commitment, mined: its second stage (BOLT 3 HTLC-success or HTLC-timeout, signed with the peer's stored signature). */
export type OwnHtlc = {
  /** txid:vout of the commitment's HTLC output. */
  outpoint: string;
  kind: 'htlc-success' | 'htlc-timeout';
  cltvExpiry: number;
  /** An HTLC-success: its preimage is held (signed). */
  preimage: boolean;
  /** open: unspent, nothing in the mempool; held: its second stage is in the node's mempool; gone: spent (its second stage mined, or the peer took it). */
  state: 'open' | 'held' | 'gone';
  /** Its fixed fee (legacy; anchors: 0). */
  feeSat: number;
  sentBefore: boolean;
  /**
   * Anchors / zero-fee (option_anchors_zero_fee_htlc_tx): the second stage pays no fee of its own, the node's wallet
   * adds an input and change (src/lib/bolt3/htlc-fee.ts) — bid on the schedule like a sweep: `valueSat` the HTLC's
   * amount (the share budget's base), `weight` the funded transaction's at its largest signed size, `held` the party's
   * funded second stage in the node's mempool (replaced by the next bid, spending the same wallet coins).
   */
  funded?: { valueSat: number; weight: number; inputs: number; held?: { txid: string; feeSat: number } };
};

/** What becomes of an own HTLC output this round: sent (its second stage), later (not final yet, or its preimage may still come), or nothing of the party's to do. */
export function secondStageDue(tip: number, h: Pick<OwnHtlc, 'kind' | 'cltvExpiry' | 'preimage' | 'state'>): 'send' | 'later' | 'none' {
  if (h.state !== 'open') return h.state === 'held' ? 'later' : 'none';
  // nLockTime = cltv_expiry: final in block cltv_expiry + 1, so sent once the tip is cltv_expiry.
  if (h.kind === 'htlc-timeout') return tip >= h.cltvExpiry ? 'send' : 'later';
  // With the preimage, whatever the tip: mined by block cltv_expiry it is safe; past it, it races the peer's timeout
  // (its fee is the HTLC's: nothing to lose — given up, the output is the peer's to take back whenever it likes).
  if (h.preimage) return 'send';
  // No preimage yet: none comes to this watcher once the peer's timeout is valid (preimages are given at its start).
  return tip >= h.cltvExpiry ? 'none' : 'later';
}

export type ChannelFacts = {
  /** The channel id, TXID:VOUT of its funding. */
  channel: string;
  tip: number;
  /** The delay on the peer's commitment (remote_to_self_delay: the punishment window). */
  toSelfDelay: number;
  spend: FundingSpend;
  /** Unspent only, when the watcher keeps the party's open side: its latest commitment and HTLCs (./channel-onchain.ts). */
  open?: OpenChannel;
  /** Revoked only: what is left to take. */
  items?: JusticeItem[];
  /** Revoked only: confirmations of the party's justice transactions the node knows (null: unknown to it; 0: in no block of the best chain). */
  mined?: (number | null)[];
  /**
   * The party's own commitment only, when the watcher holds its delayed_payment_basepoint or
   * htlc_basepoint secret: its to_local, the party's from block `from` (its confirmation height +
   * its own to_self_delay; absent: none to sweep) — `items` the delayed outputs' sweeps (the
   * to_local's, each mined second stage's, none: spent), `htlcs` its HTLC outputs (their second
   * stages), `mined` the transactions sent's confirmations. Absent: the watcher keeps nothing.
   */
  own?: { from?: number; items: JusticeItem[]; mined: (number | null)[]; htlcs?: OwnHtlc[] };
  /**
   * The peer's current commitment only, when the watcher holds the party's htlc_basepoint secret:
   * its HTLC outputs the party takes (`commitment claim`'s transactions) — each HTLC the peer
   * offered, with its preimage, by its cltv_expiry (then the peer may time it out), and each the
   * party offered, back to it once its cltv_expiry is final — `items` those that can go now, `later`
   * the soonest cltv_expiry of one not final yet, `mined` the claims' confirmations.
   */
  claims?: { items: JusticeItem[]; later?: number; mined: (number | null)[] };
  /** Where the schedule started (the first tip a penalty was bid at; the records'), else the tip. */
  startTip?: number;
  /** sat/kvB: the node's estimate for the blocks left, at least its floor; and its incremental relay fee. */
  startRate: number;
  incrementalRate: number;
  /** --max-fee-rate (sat/vB) and --max-fee-share. */
  limits: { maxFeeRate: number; maxFeeShare: number };
  /** The destination's dust threshold (sat). */
  dustSat: number;
};

/** One justice transaction to sign and send: at `perKw` (BOLT 3's feerate_per_kw), its fee; `replaces`: the party's own in the mempool. */
export type JusticeSend = { outpoint: string; perKw: number; feeSat: number; rate: number; replaces?: string; stage?: OwnHtlc['kind'] };

/** `close`: the party's latest commitment goes out (./channel-onchain.ts). */
export type ChannelDecision = Decision & { sends: JusticeSend[]; close?: { commitment: number } };

/** The deadline of an output of the cheater's mined at `confirmedAt` (undefined: in the mempool). */
export function outputDeadline(tip: number, toSelfDelay: number, confirmedAt?: number): number {
  return confirmedAt === undefined ? tip + toSelfDelay : confirmedAt + toSelfDelay - 1;
}

/** BOLT 3's fee at feerate_per_kw for a counted weight (src/lib/bolt3/formats.ts feeFromWeight). */
export const feeAt = (perKw: number, weight: number): number => Math.floor((perKw * weight) / 1000);

/** A signature is usually 71–72 bytes with its sighash byte where BOLT 3 counts 73, but 70 (or less) happens (~1 in 256): the real size is counted this much smaller, per input. */
const SIGNATURE_SLACK_WU = 6;

/** The most a justice transaction may pay (sat): the fee guard on its smallest real size, the share of its output, dust left. */
export function justiceMaxFee(item: Pick<JusticeItem, 'valueSat' | 'weight' | 'inputs'>, limits: ChannelFacts['limits'], dustSat: number): number {
  const vsizeLow = Math.ceil((item.weight - SIGNATURE_SLACK_WU * item.inputs) / 4);
  return Math.max(0, Math.min(Math.floor(limits.maxFeeRate * vsizeLow), Math.floor(limits.maxFeeShare * item.valueSat), item.valueSat - dustSat));
}

/**
 * Where an item's schedule starts: the first tip bid at (the records'), else the tip — and for an
 * output of the cheater's, never before its confirmation at H (its window starts there: the tip
 * H − 1 bids for block H): while it is unconfirmed its conservative deadline moves with the tip,
 * so the bid stays at the start rate.
 */
function scheduleStart(f: ChannelFacts, item: JusticeItem): number {
  if (item.deadline !== undefined) return Math.min(f.startTip ?? f.tip, f.tip);
  return windowStart(f.startTip, f.tip, item.confirmedAt);
}

/**
 * Where the schedule of a justice transaction on an output of the cheater's starts: the first tip
 * bid at (`startTip`), else the tip — never before the output's confirmation at H (mined at H, it
 * could be taken from block H itself, beside it: the window's first bid is the one made with the
 * tip at H − 1); unconfirmed (`confirmedAt` undefined), the tip: its deadline moves with it.
 */
export function windowStart(startTip: number | undefined, tip: number, confirmedAt?: number): number {
  const first = Math.min(startTip ?? tip, tip);
  return confirmedAt === undefined ? tip : Math.min(Math.max(first, confirmedAt - 1), tip);
}

type ItemBid = { item: JusticeItem; deadline: number; action: 'send' | 'replace' | 'keep' | 'none'; send?: JusticeSend; rate: number; shortfall?: Decision['shortfall'] };

function bidItem(f: ChannelFacts, item: JusticeItem): ItemBid {
  const deadline = item.deadline ?? outputDeadline(f.tip, f.toSelfDelay, item.confirmedAt);
  const vsize = Math.ceil(item.weight / 4);
  const maxFee = justiceMaxFee(item, f.limits, f.dustSat);
  const budgetRate = Math.floor((maxFee * 1000) / vsize);
  const previousRate = item.held ? Math.ceil((item.held.feeSat * 1000) / vsize) : undefined;
  const bid = deadlineBid({
    startTip: scheduleStart(f, item), tip: f.tip, deadline, startRate: f.startRate, budgetRate, incrementalRate: f.incrementalRate,
    ...(previousRate !== undefined ? { previousRate } : {}),
  });
  const short = bid.shortfall ? { shortfall: bid.shortfall } : {};
  if (bid.hold) return { item, deadline, action: 'keep', rate: bid.rate, ...short };
  // The rate as feerate_per_kw: the least whose fee reaches the bid, never above the budget.
  const needFee = Math.ceil((bid.rate * vsize) / 1000);
  let perKw = Math.max(1, Math.ceil((needFee * 1000) / item.weight));
  while (perKw > 1 && feeAt(perKw, item.weight) > maxFee) perKw--;
  const feeSat = feeAt(perKw, item.weight);
  if (feeSat > maxFee || feeSat === 0) return { item, deadline, action: 'none', rate: 0, shortfall: 'budget' };
  if (item.held) {
    // Rules 3 and 4 on what the node holds, in whole sats after rounding: else the one there stands.
    if (feeSat < item.held.feeSat + Math.ceil((f.incrementalRate * vsize) / 1000)) return { item, deadline, action: 'keep', rate: previousRate!, ...short };
    return { item, deadline, action: 'replace', rate: bid.rate, send: { outpoint: item.outpoint, perKw, feeSat, rate: bid.rate, replaces: item.held.txid }, ...short };
  }
  return { item, deadline, action: 'send', rate: bid.rate, send: { outpoint: item.outpoint, perKw, feeSat, rate: bid.rate }, ...short };
}

const REASONS: Record<'peer-current' | 'own' | 'mutual-close', string> = {
  'peer-current': 'the peer closed with its current (unrevoked) commitment: nothing to punish — claiming your HTLCs on it (commitment claim) needs your htlc_basepoint secret (--htlc-key-env), not given',
  own: 'your own commitment spent the funding: sweeping your to_local and your HTLC outputs needs your delayed_payment_basepoint and htlc_basepoint secrets (--delayed-key-env, --htlc-key-env), not given',
  'mutual-close': 'the mutual close spent the funding: each side is paid its balance',
};

/** How far ahead the schedule of the party's own to_local sweep looks: nobody else can take it, so it starts at the node's estimate and rises slowly. */
export const SWEEP_HORIZON = 144;

export function decideChannel(f: ChannelFacts): ChannelDecision {
  const d = decideSpend(f);
  // Done is for good (a long-running watcher stops asking): only once the funding's spender is FINAL_DEPTH deep.
  const s = f.spend;
  if (d.action === 'done' && 'confirmations' in s && s.confirmations < FINAL_DEPTH) {
    return { ...d, action: 'wait', reason: `${d.reason} — done once the closing transaction is ${FINAL_DEPTH} deep (${s.confirmations} so far)` };
  }
  return d;
}

function decideSpend(f: ChannelFacts): ChannelDecision {
  const idle = { kind: 'channel' as const, contract: f.channel, deadline: f.tip + f.toSelfDelay, blocks_left: f.toSelfDelay, sends: [] as JusticeSend[] };
  const s = f.spend;
  if (s.kind === 'unspent') {
    const open = { ...idle, action: 'none' as const, reason: `the funding is unspent: a revoked commitment of the peer's would be punished within to_self_delay (${f.toSelfDelay} blocks)` };
    return f.open ? { ...decideOnChain(f.tip, f.open, open), sends: [] } : open;
  }
  if (s.kind === 'not-mined' && (s.locktime !== undefined || s.lost)) return fundingOnCoin(f.tip, s, idle);
  if (s.kind === 'not-mined') {
    return { ...idle, action: 'none', reason: s.known ? 'the funding is not mined yet (in the node\'s mempool): nothing to watch until it is' : 'the funding is on no chain the node knows (not in a block or its mempool: never broadcast, or its input spent elsewhere): nothing to watch until it is' };
  }
  if (s.kind === 'unknown-offline') return { ...idle, action: 'none', reason: 'offline: who spends the funding is not known (a node tells)' };
  if (s.kind === 'not-found') {
    return { ...idle, action: 'hold', reason: 'the funding is spent in a block the watcher did not find', error: `E_WATCH_FOREIGN_SPEND: channel ${f.channel}'s funding is spent in a block the watcher could not find (deeper than it scans): check the channel by hand` };
  }
  const confirmedAt = s.confirmations > 0 ? f.tip - s.confirmations + 1 : undefined;
  const deadline = outputDeadline(f.tip, f.toSelfDelay, confirmedAt);
  const base = { ...idle, deadline, blocks_left: deadline - f.tip, txid: s.txid };
  if (s.kind === 'foreign') {
    return {
      ...base, action: 'hold', reason: 'the funding is spent by a transaction this channel record does not know: nothing sent',
      error: `E_WATCH_FOREIGN_SPEND: channel ${f.channel}'s funding is spent by ${s.txid}, no commitment or close this record knows (one of your own older commitments — is the store behind the chain?)`,
    };
  }
  if (s.kind === 'own' && f.own && s.confirmations > 0) return decideOwn(f, f.own, base);
  if (s.kind === 'peer-current' && f.claims && s.confirmations > 0) return decideClaims(f, f.claims, base);
  if (s.kind !== 'revoked') {
    const mined = s.confirmations >= FINAL_DEPTH;
    return { ...base, action: mined ? 'done' : 'wait', reason: `${REASONS[s.kind]}${mined ? '' : ` (${s.confirmations} confirmation(s) so far)`}` };
  }
  const items = f.items ?? [];
  const number = s.commitmentNumber !== undefined ? ` ${s.commitmentNumber}` : '';
  if (items.length === 0) {
    // 0: not in a block of the best chain — nothing left to take means it is not in the mempool either: one the cheater's
    // move or a reorganisation left behind (getrawtransaction still finds it in a stale block), not a pending one.
    const shallow = (f.mined ?? []).filter((c): c is number => c !== null && c > 0 && c < FINAL_DEPTH);
    if (shallow.length > 0) return { ...base, action: 'wait', reason: `the peer's revoked commitment${number} is punished: its justice transactions are mined, ${Math.min(...shallow)} confirmation(s) so far` };
    return { ...base, action: 'done', reason: `the peer's revoked commitment${number}: nothing left to take (every revocable output is spent, the justice transactions ${FINAL_DEPTH} deep)` };
  }
  return bidAll(f, base, items, 'penalty', `${items.length} output(s) of the peer's revoked commitment${number} (or its second stages)`);
}

/**
 * A channel on a statechain coin whose funding backup is not mined: nothing to do — no commitment can confirm before its
 * funding — the reason naming the backup's locktime and where it is; or, its coin's outpoint spent by another
 * transaction, the channel can never be on chain: `none` (no error: nothing of the channel's is at stake on chain), `done`
 * once that spend is FINAL_DEPTH deep.
 */
function fundingOnCoin(tip: number, s: Extract<FundingSpend, { kind: 'not-mined' }>, idle: Omit<ChannelDecision, 'action' | 'reason'>): ChannelDecision {
  const lost = s.lost;
  if (lost) {
    const by = lost.txid ?? 'another transaction';
    const where = lost.confirmations > 0 ? `mined, ${lost.confirmations} confirmation(s)` : 'in the node\'s mempool';
    const final = lost.confirmations >= FINAL_DEPTH;
    return {
      ...idle, action: final ? 'done' : 'none', ...(lost.txid ? { txid: lost.txid } : {}),
      reason: `the channel can never be on chain: its coin's outpoint ${lost.coin} is spent by ${by} (${where}), not by the funding backup — an earlier owner's backup, a later transfer's or a withdrawal won the coin`,
    };
  }
  const at = s.locktime!;
  // nLockTime L: final in block L + 1, so the node takes it once the tip is L.
  const state = s.known ? `in the node's mempool (nLockTime ${at})`
    : tip < at ? `non-final until the tip reaches its nLockTime ${at} (${at - tip} block(s) to go; block ${at + 1} is the first that may hold it)`
      : `final (nLockTime ${at}) but not sent: the pair's watcher, or statechain backup --broadcast, sends it`;
  return { ...idle, action: 'none', reason: `the funding is a statechain backup, not mined: ${state} — nothing to watch until it is (no commitment can confirm before it)` };
}

/**
 * The party's own commitment, mined: its HTLC outputs' second stages sent as signed (fixed fee), its
 * to_local and each second stage's output swept once to_self_delay has passed (`commitment sweep`'s
 * transactions).
 */
function decideOwn(f: ChannelFacts, own: NonNullable<ChannelFacts['own']>, base: Omit<ChannelDecision, 'action' | 'reason'>): ChannelDecision {
  const htlcs = own.htlcs ?? [];
  const due = htlcs.map((h) => ({ h, due: secondStageDue(f.tip, h) }));
  const stages: JusticeSend[] = due.filter((x) => x.due === 'send' && !x.h.funded).map(({ h }) => ({ outpoint: h.outpoint, perKw: 0, feeSat: h.feeSat, rate: 0, stage: h.kind }));
  // Anchors: the wallet pays — each due second stage bid like a sweep, and one of the party's in the mempool rebid (replaced when the schedule outbids it).
  // (Held: rebid only as it could be sent now — a success with its preimage, a timeout final for the next block.)
  const rebid = (h: OwnHtlc) => h.funded?.held !== undefined && h.state === 'held' && (h.kind === 'htlc-timeout' ? f.tip >= h.cltvExpiry : h.preimage);
  const funded = due.filter((x) => x.h.funded && (x.due === 'send' || rebid(x.h))).map(({ h }) => fundedStage(f, h));
  const fundedKind = new Map(due.filter((x) => x.h.funded).map(({ h }) => [h.outpoint, h.kind]));
  // BIP-68: a sweep may be in block `from` at the earliest, so it goes to the node with the tip at from − 1.
  const fromOf = (i: JusticeItem) => i.from ?? own.from ?? f.tip + 1;
  const ready = [...own.items.filter((i) => fromOf(i) <= f.tip + 1), ...funded];
  const pending = [
    ...(own.from !== undefined && f.tip + 1 < own.from ? [own.from] : []),
    ...own.items.filter((i) => fromOf(i) > f.tip + 1).map(fromOf),
    ...due.filter((x) => x.due === 'later' && !rebid(x.h)).map((x) => x.h.cltvExpiry),
  ];
  const soonest = pending.length > 0 ? Math.min(...pending) : (own.from ?? base.deadline);
  const at = { ...base, deadline: soonest, blocks_left: soonest - f.tip };
  const htlcNote = htlcs.length > 0 ? ` and ${htlcs.length} HTLC output(s) through their second stages` : '';
  if (ready.length === 0 && stages.length === 0) {
    const shallow = own.mined.filter((c): c is number => c !== null && c > 0 && c < FINAL_DEPTH);
    if (pending.length > 0) return { ...at, action: 'wait', reason: `your commitment is mined: your to_local${htlcNote} are swept to --sweep-to as each becomes yours (next: block ${soonest})${shallow.length > 0 ? `; ${Math.min(...shallow)} confirmation(s) so far of those sent` : ''}` };
    if (shallow.length > 0) return { ...at, action: 'wait', reason: `your outputs are swept: ${Math.min(...shallow)} confirmation(s) so far` };
    return { ...at, action: 'done', reason: `your commitment closed the channel: your to_local${htlcNote} are swept (or were not yours to take)` };
  }
  const bidWhat = funded.length === ready.length ? `${funded.length} HTLC second stage(s) paid from the node's wallet`
    : `your delayed output(s) (to_local, second stages)${funded.length > 0 ? ` and ${funded.length} HTLC second stage(s) paid from the node's wallet` : ''}`;
  const bid = ready.length > 0 ? bidAll(f, at, ready, 'sweep', bidWhat) : { ...at, action: 'sweep' as WatchAction, reason: '', sends: [] as JusticeSend[] };
  const swept = { ...bid, sends: bid.sends.map((x) => (fundedKind.has(x.outpoint) ? { ...x, stage: fundedKind.get(x.outpoint)! } : x)) };
  if (stages.length === 0) return swept;
  const fresh = due.some((x) => x.due === 'send' && !x.h.sentBefore);
  const success = stages.filter((x) => x.stage === 'htlc-success').map((x) => htlcs.find((h) => h.outpoint === x.outpoint)!.cltvExpiry);
  const deadline = Math.min(swept.deadline, ...success);
  const what = `${stages.length} HTLC second stage(s) sent as signed (fixed fee)${success.length > 0 ? `, the HTLC-success mined by block ${Math.min(...success)} (its cltv_expiry)` : ''}`;
  return {
    ...swept, deadline, blocks_left: deadline - f.tip, sends: [...swept.sends, ...stages],
    action: fresh || swept.action === 'sweep' ? 'sweep' : 'rebroadcast',
    reason: swept.reason ? `${what}; ${swept.reason}` : (fresh ? what : `${what}: not in the node's mempool, sent again`),
  };
}

/**
 * An anchors second stage as the schedule bids it: an HTLC-success must be mined by its cltv_expiry (then the peer may
 * time it out); an HTLC-timeout has no deadline of its own (the peer's preimage claim races it: a horizon, as the
 * party's own HTLC coming back off the peer's commitment has). Due now (secondStageDue), or held in the mempool.
 */
function fundedStage(f: ChannelFacts, h: OwnHtlc): JusticeItem {
  const { valueSat, weight, inputs, held } = h.funded!;
  return {
    outpoint: h.outpoint, valueSat, weight, inputs, sentBefore: h.sentBefore, from: f.tip + 1,
    deadline: h.kind === 'htlc-success' ? h.cltvExpiry : h.cltvExpiry + SWEEP_HORIZON, ...(held ? { held } : {}),
  };
}

/** The peer's current commitment, mined: the party's HTLC outputs on it taken (`commitment claim`'s transactions). */
function decideClaims(f: ChannelFacts, claims: NonNullable<ChannelFacts['claims']>, base: Omit<ChannelDecision, 'action' | 'reason'>): ChannelDecision {
  const later = claims.later !== undefined ? ` (an HTLC of yours comes back once block ${claims.later + 1} may hold it: its cltv_expiry)` : '';
  if (claims.items.length === 0) {
    const at = claims.later !== undefined ? { ...base, deadline: claims.later, blocks_left: claims.later - f.tip } : base;
    const shallow = claims.mined.filter((c): c is number => c !== null && c > 0 && c < FINAL_DEPTH);
    if (claims.later !== undefined || shallow.length > 0) return { ...at, action: 'wait', reason: `the peer closed with its current commitment: ${shallow.length > 0 ? `your claims are mined, ${Math.min(...shallow)} confirmation(s) so far` : 'nothing of yours to take yet'}${later}` };
    return { ...at, action: 'done', reason: 'the peer closed with its current commitment: your HTLCs on it are taken (or were not yours to take: no preimage, the peer took them)' };
  }
  const d = bidAll(f, base, claims.items, 'sweep', `your HTLC output(s) of the peer's current commitment`);
  return { ...d, reason: d.reason + later };
}

function bidAll(f: ChannelFacts, base: Omit<ChannelDecision, 'action' | 'reason'>, items: JusticeItem[], first: 'penalty' | 'sweep', what: string): ChannelDecision {
  const bids = items.map((i) => bidItem(f, i));
  const sends = bids.flatMap((b) => (b.send ? [b.send] : []));
  const soonest = Math.min(...bids.map((b) => b.deadline));
  const rate = Math.max(...bids.map((b) => b.rate));
  const shortfall = bids.find((b) => b.shortfall)?.shortfall;
  const action: WatchAction = bids.some((b) => b.action === 'send' && !b.item.sentBefore) ? first
    : bids.some((b) => b.action === 'send') ? 'rebroadcast'
      : bids.some((b) => b.action === 'replace') ? 'rebid' : 'hold';
  const left = soonest - f.tip + 1;
  const reason = {
    penalty: `punish: ${what} taken by justice transactions, ${left} block(s) left`,
    sweep: `sweep: ${what} sent to --sweep-to`,
    rebroadcast: `the transactions for ${what} are not in the node's mempool (evicted, un-mined by a reorganisation, or never sent): sent again, ${left} block(s) left`,
    rebid: `the transactions for ${what} are not mined yet: replaced at the schedule's rate, ${left} block(s) left`,
    hold: 'the transactions in the node\'s mempool stand: no bid within the budget outbids them by the incremental relay fee',
  }[action as 'penalty' | 'sweep' | 'rebroadcast' | 'rebid' | 'hold'];
  return { ...base, deadline: soonest, blocks_left: soonest - f.tip, action, reason, fee_rate: rate / 1000, ...(shortfall ? { shortfall } : {}), sends };
}
