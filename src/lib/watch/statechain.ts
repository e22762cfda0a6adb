/**
 * The statechain owner's deadlines, as a watcher keeps them (BRIEF §3.2, docs/statechain.md
 * "The newest owner exits first"): the owner's newest backup, final from the tip at its locktime
 * Lₙ, mined before the previous owner's (final from Lₙ₋₁ > Lₙ) can enter any mempool — by block
 * Lₙ₋₁ − 1 — and a cooperative withdrawal the owner signed, sent until it is mined (bumped by a
 * child when it pays the owner's key: the operator co-signs no second one). Pure: the
 * chain's facts come in already asked (src/topics/watch/statechain.ts).
 *
 * INVARIANTS (test/lib/watch/statechain.test.ts, property tests; statechain-attacks.test.ts):
 * - Nothing is sent for a coin the owner does not hold (handed on, not received yet), for backup 1
 *   (no older backup to outrun: the depositor exits when it chooses), before its backup is final
 *   (tip < Lₙ) or before the margin of the deadline, or once the backup (or the withdrawal) is
 *   mined — a reorganisation un-mines it and the next decision acts again.
 * - A backup is never sent once a later owner's backup is in the record (`newer`: the coin was
 *   handed on, whatever the status says — a `sent` coin asked again, to withdraw or to send, and
 *   refused stays `withdrawing` or `sending`): that backup would take a coin that is no longer
 *   ours. Only a signed withdrawal (the operator's own word that the coin is ours) may be sent.
 * - From max(Lₙ, deadline − margin) on, with the coin unspent, the owner's backup and its child
 *   go out (`backup`), then each block `rebid` while in the node's mempool, `rebroadcast` when the
 *   node lost it; the bid is the deadline's schedule (deadline-fee.ts), never above the budget,
 *   and above the package the node holds by the incremental relay fee, or the package there is
 *   held.
 * - A withdrawn coin (no later backup) whose withdrawal is not mined is defended the same way:
 *   within the margin, or with an older backup in the mempool, the owner's backup and child go
 *   out, replacing the unmined withdrawal (package RBF) — the coin goes back to the owner, not to
 *   the withdrawal's payee, rather than to the previous owner.
 * - A previous owner's backup in the node's mempool (final once the tip reaches its locktime) is
 *   replaced only by a bid that outbids it and its descendants (package RBF) within the budget;
 *   otherwise the owner holds, saying the budget falls short. A previous owner's backup mined
 *   first is reported, nothing sent.
 * - Nothing is sent over a spend of the coin that is not one of this owner's backups, an older one
 *   or its own withdrawal: a later owner's backup or withdrawal (the coin was handed on, the store is
 *   behind it) is waited for or `done`; anything else is E_WATCH_FOREIGN_SPEND.
 * - A signed withdrawal is sent (again) only while the coin is unspent and the withdrawal unknown
 *   to the node, and never once its backup has been sent in its place (within the margin).
 * - A withdrawal paying a key of this owner's is bumped before the backup's window by a child
 *   spending its payout and anchor, on the deadline's schedule (the coin's: the backup takes it
 *   over in its window), never above the budget, and in the mempool only at a rate above the
 *   package there by the incremental relay fee (or what replacing its child costs); a withdrawal
 *   paying anyone else is never bumped (no key for its output, the operator signs no second one):
 *   sent as signed, the shortfall said (`wallet`) when the schedule asks more than it pays.
 * - A pair's coin (`joint`: one part's record of a coin owned by O = A + B, src/lib/statechain/joint.ts) is
 *   decided exactly as an owner's — the same window, deadline, schedule and budget — and only its
 *   kind (`statechain-joint`) and who pays differ: its backup pays the pair (or its channel's
 *   funding output), which no part signs alone, so its child spends the backup's anchor and a coin
 *   of the node's wallet. Without that wallet (offline, none loaded) a decision that would send
 *   says so, `shortfall: wallet` — never a child of the pair's output.
 */
import { deadlineBid } from '../tx/deadline-fee.ts';
import type { ExitBid } from './credit.ts';
import { SENDING, type Decision } from './decision.ts';

/** What the owner's record says of a coin (src/lib/statechain/owner.ts OwnerRecord). */
export type OwnerCoin = {
  coin: string;
  status: 'depositing' | 'active' | 'sending' | 'sent' | 'receiving' | 'withdrawing' | 'withdrawn';
  /** Our newest backup: its txid and locktime Lₙ (undefined: none of ours). */
  own?: { txid: string; lockTime: number };
  /** The backup before ours (the previous owner's), Lₙ₋₁ > Lₙ; undefined: ours is backup 1. */
  older?: { txid: string; lockTime: number };
  /** The later owners' backups after ours (txids): any one means the coin was handed on, whatever `status` says. */
  newer?: string[];
  /** The signed withdrawal's txid (status withdrawn). */
  withdrawal?: string;
  /** A pair's coin (a part's `joint-<coin>` record): its backup's child is paid from the node's wallet, never from its payout. */
  joint?: boolean;
};

/** Who spends the coin, when it is not our backup: a previous owner's backup, a later owner's (or the withdrawal), our own withdrawal, or nobody this record knows. */
export type Spender = { who: 'older' | 'newer' | 'withdrawal' | 'unknown'; where: 'mempool' | 'block'; txid?: string };

export type OwnerFacts = {
  tip: number;
  /** Blocks before the deadline the owner acts from (once its backup is final). */
  margin: number;
  /** sat/kvB: the node's estimate for the blocks left, at least its floor. */
  startRate: number;
  /** The most the owner pays, as a package rate (backup + child), sat/kvB. */
  budgetRate: number;
  incrementalRate: number;
  bid?: ExitBid;
  /** The node's confirmations of our backup; null: unknown to it. */
  confirmations: number | null;
  /** Status withdrawn: the node's confirmations of the signed withdrawal (null or absent: unknown to it). */
  withdrawalConfirmations?: number | null;
  /** The coin spent by something else (undefined: unspent, or spent by ours). */
  spender?: Spender;
  /** Our backup in the node's mempool: the package rate there (its descendants' fee over their size), sat/kvB. */
  mempoolRate?: number;
  /**
   * Our backup in the node's mempool with a child: the least package rate (sat/kvB) at which a
   * new child replaces it — its fee, and the incremental relay fee on the new child (Core's rules
   * 3 and 4), at a rate above its chunk's. A stranger's large child on the anchor (a pin) sets it
   * far above `mempoolRate`; our own last child, never above `mempoolRate` + the incremental fee.
   */
  pinRate?: number;
  /** A previous owner's backup (or the withdrawal we replace) in the node's mempool: the least package rate that replaces it, less the incremental relay fee, sat/kvB. */
  replaceRate?: number;
  /** The backup could not be built (the refusal, "CODE: message"). */
  unbuildable?: string;
  /** Confirmations after which the owner calls it done. */
  finalDepth: number;
  /** A withdrawn coin's signed withdrawal, unmined before the backup's window, as the node and the owner's key see it (absent: not asked — offline). */
  withdrawal?: WithdrawalFacts;
  /** The tip the coin's schedule started at when its withdrawal was bid first: a backup sent in its place goes on from there. */
  scheduleStart?: number;
  /** A pair's coin: why the node's wallet cannot fund its backup's child ("CODE: message": offline, no wallet loaded); absent: it can. */
  noWallet?: string;
};

/** What the owner's watcher knows of a signed withdrawal it may bump (startRate, budgetRate, incrementalRate: OwnerFacts', for the withdrawal's package). */
export type WithdrawalFacts = {
  /** What it pays alone, sat/kvB. */
  ownRate: number;
  /** Why this owner cannot bump it ("CODE: message": its payout is not a key of this owner's); absent: a child spending its payout and anchor can. */
  unbumpable?: string;
  /** The watcher's last bid for it (only its start_tip steers). */
  bid?: ExitBid;
  /** In the node's mempool: the package rate there (it with its descendants), sat/kvB. */
  mempoolRate?: number;
  /** In the node's mempool: the least package rate at which a new child replaces the one there (decision.ts childReplaceRate). */
  pinRate?: number;
};

export type OwnerDecision = Decision & {
  /** The bid to store and send (sat/kvB) when the action sends a backup, or bumps the withdrawal. */
  rate?: number;
  /** The action sends the signed withdrawal: as signed (`alone`), or with a child spending its payout and anchor (`child`, at `rate`). */
  withdrawal?: 'alone' | 'child';
};

/**
 * Blocks a withdrawal nothing can outrun aims at from its first bid — a coin whose backup is backup 1 (no older backup
 * can take it): LND's sweeper deadline for an input without one (sweep.DefaultDeadlineDelta, 1,008: a week).
 */
export const NO_DEADLINE_BLOCKS = 1008;

/** The height a withdrawal's schedule aims at: the backup's deadline (the backup takes the schedule over in its window), or NO_DEADLINE_BLOCKS after its first bid for backup 1's coin. */
export function withdrawalDeadline(coin: OwnerCoin, startTip: number): number {
  return coin.older ? backupDeadline(coin) : startTip + NO_DEADLINE_BLOCKS;
}

/** The last height whose block may mine our backup before the previous owner's can enter a mempool (tip Lₙ₋₁): Lₙ₋₁ − 1. */
export function backupDeadline(coin: OwnerCoin): number {
  return coin.older ? coin.older.lockTime - 1 : coin.own?.lockTime ?? 0;
}

const HELD = new Set(['active', 'sending', 'withdrawing']);

/** A later owner's backup is in the record: the coin was handed on. */
const handedOn = (coin: OwnerCoin) => (coin.newer?.length ?? 0) > 0;

/**
 * At this tip the owner's backup is the coin's way out, if the chain allows it (unmined, the coin
 * unspent or spent in the mempool by what it may replace): a coin held (or withdrawn, its
 * withdrawal unmined: the caller checks that) with no later backup, an older backup to outrun,
 * its own final, within the margin of the deadline.
 */
export function backupWindow(coin: OwnerCoin, tip: number, margin: number): boolean {
  const held = HELD.has(coin.status) || (coin.status === 'withdrawn' && coin.withdrawal !== undefined);
  return held && !handedOn(coin) && coin.own !== undefined && coin.older !== undefined && tip >= coin.own.lockTime && backupDeadline(coin) - tip <= margin;
}

/** What the owner's backup may replace in the mempool: an older backup, and — for a withdrawn coin, in its backup window — the unmined withdrawal. */
export function replaceable(coin: OwnerCoin, s: Spender | undefined): boolean {
  return s?.where === 'mempool' && (s.who === 'older' || (s.who === 'withdrawal' && coin.status === 'withdrawn'));
}

/** Who a transaction spending the coin is, by the record: a previous owner's backup, a later owner's, the signed withdrawal, or none it knows. */
export function spenderOf(coin: Pick<OwnerCoin, 'withdrawal'> & { olderAll: readonly string[]; newer: readonly string[] }, txid: string): Spender['who'] {
  return coin.olderAll.includes(txid) ? 'older' : coin.newer.includes(txid) ? 'newer' : txid === coin.withdrawal ? 'withdrawal' : 'unknown';
}

/**
 * The owner's backup must be on its way at this tip (the watcher acts on it; `statechain list`
 * says `must_act`): in its window (backupWindow), neither it nor the withdrawal mined, and the
 * coin not spent by anything but what the backup may replace. Offline (the facts not asked:
 * confirmations null, no spender) it is the window alone.
 */
export function backupDue(coin: OwnerCoin, f: Pick<OwnerFacts, 'tip' | 'margin' | 'confirmations' | 'withdrawalConfirmations' | 'spender'>): boolean {
  const mined = (f.confirmations !== null && f.confirmations >= 1) || (f.withdrawalConfirmations ?? 0) >= 1;
  return backupWindow(coin, f.tip, f.margin) && !mined && !(f.spender && !replaceable(coin, f.spender));
}

/**
 * The owner's decision — and a pair's part's (`coin.joint`): the same, its kind `statechain-joint`, and a backup it
 * would send without a wallet to fund its child said so (`shortfall: wallet`, the reason naming why).
 */
export function decideOwner(coin: OwnerCoin, f: OwnerFacts): OwnerDecision {
  const d = decideCoin(coin, f);
  if (!coin.joint) return d;
  const joint: OwnerDecision = { ...d, kind: 'statechain-joint' };
  if (f.noWallet === undefined || !SENDING.has(d.action) || d.withdrawal !== undefined) return joint;
  return { ...joint, shortfall: 'wallet', reason: `${d.reason} — the pair's backup is bumped from its anchor by a coin of the node's wallet, and there is none to fund it (${f.noWallet}): nothing sent` };
}

function decideCoin(coin: OwnerCoin, f: OwnerFacts): OwnerDecision {
  const deadline = backupDeadline(coin);
  const base = { kind: 'statechain-owner' as const, contract: coin.coin, deadline, blocks_left: deadline - f.tip };
  if (coin.status === 'sent') return { ...base, action: 'done', reason: 'the coin was handed on: its deadlines are the next owner\'s' };
  if (coin.status === 'withdrawn' && coin.withdrawal !== undefined) {
    const w = decideWithdrawal(coin, coin.withdrawal, base, f);
    if (w) return w;
  } else if (!HELD.has(coin.status) || coin.own === undefined) {
    return { ...base, action: 'none', reason: `the coin is ${coin.status}: not held by this owner (yet)` };
  }
  if (coin.own === undefined) return { ...base, action: 'none', reason: 'no backup of this coin is ours' };
  const own = coin.own;
  const txid = { txid: own.txid };
  if (f.confirmations !== null && f.confirmations >= f.finalDepth) return { ...base, action: 'done', reason: `the backup is mined ${f.confirmations} deep: the coin is the owner's`, ...txid };
  if (f.confirmations !== null && f.confirmations >= 1) return { ...base, action: 'wait', reason: `the backup is mined: ${f.confirmations} confirmation(s) so far`, ...txid };
  const s = f.spender;
  if (s?.where === 'block') {
    if (s.who === 'newer' || s.who === 'withdrawal') return { ...base, action: 'done', reason: s.who === 'newer' ? 'a later owner\'s backup spent the coin: it was handed on' : 'the withdrawal spent the coin', ...(s.txid ? { txid: s.txid } : {}) };
    const what = s.who === 'older' ? `the previous owner's backup ${s.txid} was mined first: the coin is lost to it` : 'the coin is spent in a block by no transaction this record knows';
    return { ...base, action: 'hold', reason: 'the coin is spent by another transaction: nothing can be sent', error: `E_WATCH_FOREIGN_SPEND: coin ${coin.coin}: ${what}`, ...(s.txid ? { txid: s.txid } : {}) };
  }
  if (s?.where === 'mempool' && (s.who === 'newer' || (s.who === 'withdrawal' && !replaceable(coin, s)))) {
    return { ...base, action: 'wait', reason: s.who === 'newer' ? 'a later owner\'s backup spends the coin in the node\'s mempool (it was handed on)' : 'the withdrawal spends the coin in the node\'s mempool', ...(s.txid ? { txid: s.txid } : {}) };
  }
  if (s?.where === 'mempool' && s.who === 'unknown') {
    return {
      ...base, action: 'hold', reason: 'the coin is spent in the node\'s mempool by a transaction that is none of this chain\'s backups nor the withdrawal: not replaced',
      error: `E_WATCH_FOREIGN_SPEND: coin ${coin.coin} is spent in the node's mempool by ${s.txid}, which this record does not know — is the store behind the chain (a restored backup)?`, ...(s.txid ? { txid: s.txid } : {}),
    };
  }
  if (handedOn(coin)) {
    return { ...base, action: 'none', reason: `a later owner's backup (${coin.newer!.at(-1)}) is in this record: the coin was handed on (the ${coin.status} step after it was refused or never finished), and this owner's backup is never sent — only a withdrawal the operator signed would be`, ...txid };
  }
  if (coin.older === undefined) return { ...base, action: 'none', reason: 'backup 1, the depositor\'s: no older backup to outrun (statechain backup sends it when the owner chooses)', ...txid };
  if (f.tip < own.lockTime) return { ...base, action: 'none', reason: `the backup is final once the tip reaches ${own.lockTime} (in ${own.lockTime - f.tip} block(s)); it must be mined by block ${deadline}, before the previous owner's is final at ${coin.older.lockTime}`, ...txid };
  if (deadline - f.tip > f.margin) return { ...base, action: 'none', reason: `the backup is final; it is sent ${f.margin} block(s) before block ${deadline}, the last that mines it before the previous owner's is final`, ...txid };
  if (f.unbuildable !== undefined) return { ...base, action: 'hold', reason: 'the backup cannot be built: nothing sent', error: f.unbuildable };
  const outrun = replaceable(coin, s);
  const previous = outrun ? f.replaceRate : f.confirmations === 0 ? f.mempoolRate : undefined;
  const bid = deadlineBid({
    startTip: Math.min(f.bid?.start_tip ?? f.scheduleStart ?? f.tip, f.tip),
    tip: f.tip,
    deadline,
    startRate: f.startRate,
    budgetRate: f.budgetRate,
    ...(previous !== undefined ? { previousRate: previous } : {}),
    incrementalRate: f.incrementalRate,
  });
  const shortfall = bid.shortfall ? { shortfall: bid.shortfall } : {};
  const rate = { fee_rate: bid.rate / 1000, rate: bid.rate };
  const left = `${Math.max(0, bid.chancesLeft + 1)} block(s) left`;
  if (outrun) {
    const what = s!.who === 'older' ? `the previous owner's backup ${s!.txid}` : `the withdrawal ${s!.txid}, unmined with the previous owner's backup final at ${coin.older.lockTime},`;
    if (bid.hold) {
      const beyond = previous! + f.incrementalRate > f.budgetRate;
      return { ...base, action: 'hold', reason: `${what} is in the node's mempool: replacing it needs ${(previous! + f.incrementalRate) / 1000} sat/vB of the package${beyond ? ', above the budget' : ', above the schedule yet'}`, fee_rate: bid.rate / 1000, ...(beyond ? { shortfall: 'budget' as const } : shortfall), ...(s!.txid ? { txid: s!.txid } : {}) };
    }
    const pays = s!.who === 'withdrawal' ? ': the coin goes back to the owner, not to the withdrawal\'s payee' : '';
    return { ...base, action: 'backup', reason: `${what} is in the node's mempool: replaced by ours and its child, paying more (${left})${pays}`, ...rate, ...shortfall };
  }
  if (f.confirmations === 0 && f.mempoolRate !== undefined) {
    // The schedule asks more than the package there pays: replace it — at what its child's replacement costs, when
    // that is more (a stranger's child pinning the anchor: Core's absolute-fee rule), within the budget or not at all.
    const pin = f.pinRate ?? 0;
    if (!bid.hold && bid.rate < pin) {
      if (pin > f.budgetRate) return { ...base, action: 'hold', reason: `the backup's package in the node's mempool has a child whose replacement needs ${pin / 1000} sat/vB of the package, above the budget`, fee_rate: f.mempoolRate / 1000, shortfall: 'budget', ...txid };
      return { ...base, action: 'rebid', reason: `the backup is not mined yet: the child in the node's mempool (a stranger's on the anchor, or ours) replaced at what its replacement costs, above the schedule (${left})`, fee_rate: pin / 1000, rate: pin, ...shortfall };
    }
    if (bid.hold) return { ...base, action: 'hold', reason: `the backup's package in the node's mempool stands: no bid within the budget yet replaces it by the incremental relay fee (it needs ${(f.mempoolRate + f.incrementalRate) / 1000} sat/vB of the package)`, fee_rate: bid.rate / 1000, ...shortfall, ...txid };
    return { ...base, action: 'rebid', reason: `the backup is not mined yet: its child replaced at the schedule's rate (${left})`, ...rate, ...shortfall };
  }
  if (f.confirmations === 0) return { ...base, action: 'wait', reason: 'the backup is in the node\'s mempool', ...txid };
  const instead = coin.status === 'withdrawn' ? ` (the withdrawal ${coin.withdrawal} is not mined and the previous owner's backup is final at ${coin.older.lockTime}: the coin goes back to the owner, not to the withdrawal's payee)` : '';
  if (f.bid === undefined) return { ...base, action: 'backup', reason: `send the backup now: ${left} to mine it before the previous owner's is final${instead}`, ...rate, ...shortfall };
  return { ...base, action: 'rebroadcast', reason: `the backup is not in the node's mempool (evicted, un-mined by a reorganisation, or never sent): sent again at the schedule's rate${instead}`, ...rate, ...shortfall };
}

/**
 * Where a withdrawn coin's signed withdrawal stands, when it is the coin's way out at this tip and
 * unmined: unknown to the node with the coin unspent (`unknown`), or in its mempool (`mempool`);
 * undefined otherwise (mined, the backup's window, a later owner's or a stranger's spend). What the
 * watcher prices: decideWithdrawal bumps it from there.
 */
export function withdrawalPending(coin: OwnerCoin, f: Pick<OwnerFacts, 'tip' | 'margin' | 'confirmations' | 'withdrawalConfirmations' | 'spender'>): 'unknown' | 'mempool' | undefined {
  if (coin.status !== 'withdrawn' || coin.withdrawal === undefined) return undefined;
  const w = f.withdrawalConfirmations ?? null;
  if ((w !== null && w >= 1) || (f.confirmations !== null && f.confirmations >= 0) || backupWindow(coin, f.tip, f.margin)) return undefined;
  const s = f.spender;
  if (s?.who === 'withdrawal' || w === 0) return s === undefined || s.who === 'withdrawal' ? 'mempool' : undefined;
  return s === undefined ? 'unknown' : undefined;
}

/**
 * A withdrawn coin: the signed withdrawal, sent until mined — or undefined where the owner's
 * backup must defend the coin instead (the withdrawal unmined, no later backup, within the
 * backup's window or with an older backup in the mempool): the caller then decides as for a coin
 * held, the withdrawal one more transaction the backup may replace.
 */
function decideWithdrawal(coin: OwnerCoin, txid: string, base: Omit<Decision, 'action' | 'reason'>, f: OwnerFacts): OwnerDecision | undefined {
  const t = { txid };
  const w = f.withdrawalConfirmations ?? null;
  if (w !== null && w >= f.finalDepth) return { ...base, action: 'done', reason: `the withdrawal is mined ${w} deep`, ...t };
  if (w !== null && w >= 1) return { ...base, action: 'wait', reason: `the withdrawal is mined: ${w} confirmation(s) so far`, ...t };
  // Our backup sent in its place (or the window open): the backup's decision.
  if ((f.confirmations !== null && f.confirmations >= 0) || backupWindow(coin, f.tip, f.margin)) return undefined;
  const s = f.spender;
  if (s?.who === 'newer') return { ...base, action: s.where === 'block' ? 'done' : 'wait', reason: `a later owner's backup spends the coin${s.where === 'block' ? '' : ' in the node\'s mempool'}: it was handed on before the withdrawal`, ...(s.txid ? { txid: s.txid } : {}) };
  const pending = withdrawalPending(coin, f);
  if (pending === undefined) {
    return { ...base, action: 'hold', reason: 'the coin is spent by a transaction that is not the withdrawal: nothing sent', error: `E_WATCH_FOREIGN_SPEND: coin ${base.contract} is spent ${s!.where === 'mempool' ? 'in the node\'s mempool' : 'in a block'}${s!.txid ? ` by ${s!.txid}` : ''}, not by its signed withdrawal`, ...(s!.txid ? { txid: s!.txid } : {}) };
  }
  if (f.withdrawal === undefined) {
    return pending === 'mempool'
      ? { ...base, action: 'wait', reason: 'the withdrawal is in the node\'s mempool', ...t }
      : { ...base, action: 'rebroadcast', reason: 'the signed withdrawal is unknown to the node and the coin unspent: sent (again)', withdrawal: 'alone', ...t };
  }
  return bumpWithdrawal(coin, base, f, f.withdrawal, pending === 'mempool', t);
}

/**
 * The withdrawal on the coin's schedule (withdrawalDeadline): sent as signed while it pays what the
 * schedule asks, else with a child at the schedule's rate (first send, or the node lost it); in the
 * mempool, a child (a new one, or one replacing ours or a stranger's) once the schedule asks more
 * than the package there pays — or nothing, said, when this owner cannot bump it.
 */
function bumpWithdrawal(coin: OwnerCoin, base: Omit<Decision, 'action' | 'reason'>, f: OwnerFacts, wf: WithdrawalFacts, inMempool: boolean, t: { txid: string }): OwnerDecision {
  const start = Math.min(wf.bid?.start_tip ?? f.tip, f.tip);
  const deadline = withdrawalDeadline(coin, start);
  const b = { ...base, deadline, blocks_left: deadline - f.tip };
  const held = inMempool ? wf.mempoolRate ?? wf.ownRate : undefined;
  const bid = deadlineBid({ startTip: start, tip: f.tip, deadline, startRate: f.startRate, budgetRate: f.budgetRate, ...(held !== undefined ? { previousRate: held } : {}), incrementalRate: f.incrementalRate });
  const shortfall = bid.shortfall ? { shortfall: bid.shortfall } : {};
  const left = `${Math.max(0, bid.chancesLeft + 1)} block(s) left on the schedule`;
  const pays = (held ?? wf.ownRate) / 1000;
  if (wf.unbumpable !== undefined) {
    const short = bid.scheduled > (held ?? wf.ownRate);
    const said = short ? { shortfall: 'wallet' as const } : {};
    const why = short ? `; the schedule asks ${bid.scheduled / 1000}, and this watcher cannot bump it (${wf.unbumpable})` : '';
    return inMempool
      ? { ...b, action: 'wait', reason: `the withdrawal is in the node's mempool at ${pays} sat/vB${why}`, fee_rate: pays, ...said, ...t }
      : { ...b, action: 'rebroadcast', reason: `the signed withdrawal is unknown to the node and the coin unspent: sent (again) as signed, at ${pays} sat/vB${why}`, withdrawal: 'alone', ...said, ...t };
  }
  if (!inMempool) {
    return bid.rate <= wf.ownRate
      ? { ...b, action: 'rebroadcast', reason: `the signed withdrawal is unknown to the node and the coin unspent: sent (again) as signed, paying ${pays} sat/vB, what the schedule asks (${left})`, fee_rate: pays, rate: wf.ownRate, withdrawal: 'alone', ...t }
      : { ...b, action: 'rebroadcast', reason: `the signed withdrawal is unknown to the node and the coin unspent: sent (again) with a child spending its payout and anchor, at the schedule's rate (${left})`, fee_rate: bid.rate / 1000, rate: bid.rate, withdrawal: 'child', ...shortfall, ...t };
  }
  if (bid.hold) {
    if (bid.scheduled <= held!) return { ...b, action: 'wait', reason: `the withdrawal's package in the node's mempool pays ${pays} sat/vB, what the schedule asks (${bid.scheduled / 1000}) or more: it stands`, fee_rate: pays, ...t };
    return { ...b, action: 'hold', reason: `the withdrawal's package in the node's mempool pays ${pays} sat/vB; the schedule asks ${bid.scheduled / 1000}, and outbidding it by the incremental relay fee is above the budget`, fee_rate: pays, shortfall: 'budget', ...t };
  }
  const pin = wf.pinRate ?? 0;
  if (bid.rate < pin) {
    if (pin > f.budgetRate) return { ...b, action: 'hold', reason: `the withdrawal in the node's mempool has a child whose replacement needs ${pin / 1000} sat/vB of the package, above the budget`, fee_rate: pays, shortfall: 'budget', ...t };
    return { ...b, action: 'rebid', reason: `the withdrawal is not mined yet: the child in the node's mempool (a stranger's on the anchor, or ours) replaced at what its replacement costs, above the schedule (${left})`, fee_rate: pin / 1000, rate: pin, withdrawal: 'child', ...shortfall, ...t };
  }
  return { ...b, action: 'rebid', reason: `the withdrawal is not mined yet: a child spending its payout and anchor brings the package to the schedule's rate (${left})`, fee_rate: bid.rate / 1000, rate: bid.rate, withdrawal: 'child', ...shortfall, ...t };
}
