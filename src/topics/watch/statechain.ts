/**
 * The statechain owner's kind in a watcher's round (docs/watch.md, docs/statechain.md "Exit by
 * backup"): for every coin this owner holds in the state directory, the chain's facts asked of the
 * node, the decision taken by src/lib/watch/statechain.ts, and the action run by `statechain
 * backup`'s own code (../statechain/backup-spend.ts: the backup and its TRUC child through
 * submitpackage), or the signed withdrawal — sent with sendrawtransaction, or, when it pays a key
 * of this owner's and the schedule asks more than it pays, with a child of its payout and anchor
 * (backup-spend.ts withdrawalSpend, the same package path), its bid stored first.
 *
 * The margin: the owner acts from `OWNER_MARGIN` blocks before the deadline (and never before its
 * backup is final) — the safety floor's --min-interval default (src/lib/statechain/floor.ts,
 * docs/statechain.md "The owner's safety floor"), the blocks an owner expects its backup to need
 * to confirm once final. A coin taken with an interval at or under it (regtest's 5) is acted on
 * as soon as its backup is final: every block of its head start is used.
 */
import type { Conflict } from '../../lib/truc/standing.ts';
import type { FeeLimits } from '../../lib/tx/fee-guard.ts';
import type { OwnerRecord } from '../../lib/statechain/owner.ts';
import type { JointRecord } from '../../lib/statechain/joint.ts';
import type { Transaction } from '@scure/btc-signer';
import type { Network } from '../../lib/network.ts';
import type { ReplacedChild } from '../../lib/truc/replaced.ts';
import type { Prevout } from '../../lib/truc/check.ts';
import { feeCoinsSat, vouchedCoins, type NodeWallet } from './wallet.ts';
import { DEFAULT_FLOOR } from '../../lib/statechain/floor.ts';
import { FINAL_DEPTH, SENDING, type Decision, childReplaceRate, heldRate } from '../../lib/watch/decision.ts';
import { exitBudgetRate } from '../../lib/watch/credit.ts';
import { backupDeadline, backupDue, decideOwner, replaceable, spenderOf, withdrawalDeadline, withdrawalPending, type OwnerCoin, type OwnerFacts, type Spender, type WithdrawalFacts } from '../../lib/watch/statechain.ts';
import type { ExitBid } from '../../lib/watch/credit.ts';
import { checkStatement } from '../../lib/statechain/statement.ts';
import { parseTransaction } from '../../lib/statechain/coin.ts';
import { parsePublicKey } from '../../lib/keys/keys.ts';
import { MalformedInputError, UsageError } from '../../lib/errors.ts';
import { fromHex } from '../../lib/bytes.ts';
import type { BackupSpend, WithdrawalSpend } from '../statechain/backup-spend.ts';
import { errorText, startRates, turns, type Round, type StartRate, type WatchChain } from './credit.ts';

/** Blocks before the deadline the owner acts from (see the header). */
export const OWNER_MARGIN = DEFAULT_FLOOR.minInterval;

/** The owner's side, as the watch command gives it (its store, its key, its fee guard). */
export type OwnerHost = {
  /** The coin records (`coin-<id>`) of this state directory. */
  coins(): Promise<OwnerRecord[]>;
  /** `statechain backup --to <the key's own address> --fee-rate R [--broadcast]` on this record, the fee guard the package's; `conflicts`: what the package replaces. */
  backup(record: OwnerRecord, req: { feeRate: number; broadcast: boolean; conflicts?: Conflict[] }): Promise<BackupSpend>;
  /** The signed withdrawal with a child spending its payout (a key of this owner's) and anchor, paying the key's own address, the fee guard the package's (E_NO_CHILD: it pays someone else). */
  withdrawal(record: OwnerRecord, req: { feeRate: number; broadcast: boolean }): Promise<WithdrawalSpend>;
  /** --max-fee-rate and --max-fee-share. */
  limits: FeeLimits;
  /** A pair's coins (`joint-<coin>`): the node's wallet that pays their backups' children (absent offline, or none loaded). */
  wallet?: NodeWallet;
  /** Why there is no wallet ("CODE: message"), said on a pair's coin whose backup is due. */
  noWallet?: string;
  network: string;
};

/** The rate (sat/vB) the package's sizes are taken at: any rate gives the same sizes. */
const SIZING_RATE = 0.1;
/** The child's output (P2TR) must keep this much. */
const P2TR_DUST = 330;

/** A part's record of a pair's coin (`joint-<coin>`, src/lib/statechain/joint.ts): its share_secret is the part's, never O's. */
export const isJoint = (record: OwnerRecord): record is JointRecord => typeof record === 'object' && record !== null && typeof (record as Partial<JointRecord>).joint === 'object' && (record as Partial<JointRecord>).joint !== null;

/**
 * A record as the owner's watcher reads it: a pair's part B keeps the pair's signed withdrawal in its send state
 * (src/lib/statechain/joint-send.ts storedJointWithdrawal), not where an owner keeps its own — read from there. Part A
 * holds none (B signs last and prints it): its withdrawn coin is not its to send.
 */
export function ownerView(record: OwnerRecord): OwnerRecord {
  if (!isJoint(record) || record.withdrawal || record.status !== 'withdrawn') return record;
  const answer = (record as { joint_withdraw?: { answer?: { txid?: unknown; hex?: unknown } } }).joint_withdraw?.answer;
  if (typeof answer?.txid !== 'string' || typeof answer.hex !== 'string') return record;
  return { ...record, withdrawal: { txid: answer.txid, hex: answer.hex, broadcast: false } };
}

/** What the record says of the coin: our newest backup, the one before it, the later ones, the withdrawal. */
export function ownerCoin(record: OwnerRecord): OwnerCoin & { newer: string[]; olderAll: string[] } {
  const records = record.statement.backups;
  const index = records.map((b) => b.owner_share).lastIndexOf(record.share);
  const signed = index >= 0 && record.backups[index] !== undefined;
  const own = signed ? { txid: records[index]!.txid, lockTime: records[index]!.locktime } : undefined;
  const older = signed && index > 0 ? { txid: records[index - 1]!.txid, lockTime: records[index - 1]!.locktime } : undefined;
  return {
    coin: record.coin_id,
    status: record.status,
    ...(own ? { own } : {}),
    ...(older ? { older } : {}),
    ...(record.withdrawal ? { withdrawal: record.withdrawal.txid } : {}),
    newer: signed ? records.slice(index + 1).map((b) => b.txid) : [],
    olderAll: signed ? records.slice(0, index).map((b) => b.txid) : [],
    ...(isJoint(record) ? { joint: true } : {}),
  };
}

/**
 * ownerCoin, from what a writer of the database cannot forge cheaply (issue: the statechain watcher
 * review, finding 6): the statement's signature checked again under the operator key the record
 * pinned (checkStatement: E_BAD_OPERATOR_SIG, E_WRONG_OPERATOR, …), and Lₙ and Lₙ₋₁ read from the
 * signed backups' own nLockTime, each backup's txid the statement's (E_STATE_CORRUPT otherwise).
 * What it does not cover — the record's own status, its pinned operator key, a whole record
 * replaced by an older one — is in docs/watch.md ("What a watcher trusts").
 */
export function checkedCoin(record: OwnerRecord): ReturnType<typeof ownerCoin> {
  checkStatement(record.statement, parsePublicKey(record.operator_auth, 'operator_auth'), record.coin_id);
  const coin = ownerCoin(record);
  if (coin.own === undefined) return coin;
  const index = coin.olderAll.length;
  const locked = (at: number, txid: string) => {
    const hex = record.backups[at];
    const tx = hex === undefined ? undefined : parseTransaction(hex, `backup ${at + 1}`);
    if (tx?.id !== txid) throw new MalformedInputError('E_STATE_CORRUPT', `coin ${record.coin_id}: the record's backup ${at + 1} is ${tx ? `${tx.id}, not ${txid} as the operator's statement says` : 'missing'}: not a record this owner wrote; nothing sent`);
    return { txid, lockTime: tx.lockTime };
  };
  return { ...coin, own: locked(index, coin.own.txid), ...(coin.older ? { older: locked(index - 1, coin.older.txid) } : {}) };
}

/** The owner's decisions this round, each acted on unless a dry run. */
export async function ownerRound(host: OwnerHost, r: Round): Promise<Decision[]> {
  const start = startRates(r.chain);
  const failed = (record: OwnerRecord) => {
    // A record this turn could not read has no deadline it can trust: 0, the report's soonest.
    let deadline = 0;
    try {
      deadline = backupDeadline(ownerCoin(record));
    } catch {
      // keep 0
    }
    return { kind: record && isJoint(record) ? 'statechain-joint' as const : 'statechain-owner' as const, contract: String(record?.coin_id), deadline, blocks_left: deadline - r.tip, action: 'hold' as const };
  };
  return turns((await host.coins()).map(ownerView), (record) => ownerTurn(host, r, record, start), failed);
}

async function ownerTurn(host: OwnerHost, r: Round, record: OwnerRecord, startRate: StartRate): Promise<Decision> {
  const coin = checkedCoin(record);
  const deadline = backupDeadline(coin);
  let facts: OwnerFacts = { tip: r.tip, margin: OWNER_MARGIN, startRate: 0, budgetRate: 0, incrementalRate: 0, confirmations: null, finalDepth: FINAL_DEPTH };
  const held = ['active', 'sending', 'withdrawing'].includes(coin.status) && coin.own !== undefined && r.tip >= coin.own.lockTime;
  // The node is asked only where its answer can change the decision: a withdrawal, or a backup final by now (offline, nothing is known).
  const ask = !r.offline && ((coin.status === 'withdrawn' && coin.withdrawal !== undefined) || held);
  let conflicts: Conflict[] | undefined;
  if (ask) {
    facts = { ...facts, ...await coinSpend(r.chain, coin, record.statement.outpoint!, r.tip) };
    if (replaceable(coin, facts.spender)) {
      const evicted = await r.chain.mempoolEviction(facts.spender!.txid!);
      if (evicted) conflicts = [{ txid: facts.spender!.txid!, ...evicted }];
    }
  }
  const active = backupDue(coin, facts);
  // A withdrawal unmined before the backup's window: priced, and bumped when it pays this owner (its schedule the coin's: a backup sent in its place goes on from its start).
  const pending = ask ? withdrawalPending(coin, facts) : undefined;
  const bid = active ? await r.records.bid(coin.coin) : undefined;
  const withdrawalBid = pending || (active && coin.status === 'withdrawn') ? await r.records.bid(coin.coin, 'withdrawal') : undefined;
  if (bid) facts = { ...facts, bid };
  if (active && withdrawalBid) facts = { ...facts, scheduleStart: withdrawalBid.start_tip };
  // A pair's backup: its child paid from the node's wallet — by the coins its first bid stored, while they can still pay.
  const part = isJoint(record) ? record : undefined;
  const pair = active && part ? await pairFunding(host, r, part, bid, facts) : undefined;
  if (coin.joint && !host.wallet) facts = { ...facts, noWallet: host.noWallet ?? 'E_CHAIN_OFFLINE: no node' };
  const size: Sizer = pair && part ? (feeRate) => pairBackup(host, r, part, pair, { feeRate, send: false }) : (feeRate) => host.backup(record, { feeRate, broadcast: false });
  if (active) facts = { ...facts, ...await backupFacts(host, r, size, coin.own!.txid, deadline, startRate, facts, conflicts) };
  if (pending) facts = { ...facts, ...await withdrawalFacts(host, r, record, coin, pending, startRate, withdrawalBid) };
  const d = decideOwner(coin, facts);
  // A hold over a package someone else sent (the previous owner's backup, ours broadcast with a stranger's child, a store that lost its bids) starts the schedule here: the next block's bid rises from it.
  if (!r.dryRun && active && bid === undefined && d.action === 'hold') await r.records.setBid(coin.coin, { start_tip: r.tip, rate: 0, tip: r.tip, block: r.block });
  if (r.dryRun || !SENDING.has(d.action)) return d;
  try {
    if (d.withdrawal !== undefined) {
      // The signed withdrawal: as signed, or with a child; a bumpable one's bid stored before it is sent (only its start_tip steers).
      if (d.rate !== undefined) await r.records.setBid(coin.coin, { start_tip: withdrawalBid?.start_tip ?? r.tip, rate: d.rate, tip: r.tip, block: r.block }, 'withdrawal');
      d.txid = d.withdrawal === 'alone'
        ? await r.chain.broadcast(fromHex(record.withdrawal!.hex, 'the withdrawal'))
        : (await host.withdrawal(record, { feeRate: d.rate! / 1000, broadcast: true })).withdrawal.txid;
    } else if (d.rate !== undefined && pair && part) {
      if (!host.wallet) return d;
      // The wallet's coins stored with the bid before anything is sent: every bid spends them, across restarts.
      const coins = pair.coins ?? await host.wallet.coins(feeCoinsSat(host.limits.maxFeeRate), { lock: true });
      const { base64 } = await import('@scure/base');
      await r.records.setBid(coin.coin, { start_tip: bid?.start_tip ?? r.tip, rate: d.rate, tip: r.tip, block: r.block, wallet: pair.coins && bid?.wallet ? bid.wallet : base64.encode(coins.toPSBT()) });
      const sent = await pairBackup(host, r, part, { ...pair, coins }, { feeRate: d.rate / 1000, send: true, ...(conflicts ? { conflicts } : {}) });
      d.txid = sent.backup.txid;
    } else if (d.rate !== undefined) {
      await r.records.setBid(coin.coin, { start_tip: bid?.start_tip ?? r.tip, rate: d.rate, tip: r.tip, block: r.block });
      const sent = await host.backup(record, { feeRate: d.rate / 1000, broadcast: true, ...(conflicts ? { conflicts } : {}) });
      d.txid = sent.backup.txid;
    }
  } catch (e) {
    d.error = errorText(e);
  }
  return d;
}

/** The node's answers the owner's watcher, the tower and `statechain list` read of a coin. */
export type CoinChain = Pick<WatchChain, 'txConfirmations' | 'mempoolSpender' | 'utxo'>;

/**
 * What the node says of the coin at `outpoint` (the owner's watcher and `statechain list` both ask it so): the signed
 * withdrawal's confirmations (status withdrawn); unless it is mined, our backup's (once final at `tip`); unless the node
 * knows ours, who else spends the coin (spentBy, classified by the record: spenderOf).
 */
export async function coinSpend(chain: CoinChain, coin: ReturnType<typeof ownerCoin>, outpoint: string, tip: number): Promise<Pick<OwnerFacts, 'confirmations' | 'withdrawalConfirmations' | 'spender'>> {
  const final = coin.own !== undefined && tip >= coin.own.lockTime;
  const withdrawal = coin.status === 'withdrawn' ? coin.withdrawal : undefined;
  const facts: Pick<OwnerFacts, 'confirmations' | 'withdrawalConfirmations' | 'spender'> = { confirmations: null };
  if (withdrawal !== undefined) {
    facts.withdrawalConfirmations = await chain.txConfirmations(withdrawal);
    if (facts.withdrawalConfirmations !== null && facts.withdrawalConfirmations >= 1) return facts;
  }
  if (final) facts.confirmations = await chain.txConfirmations(coin.own!.txid);
  if (facts.confirmations !== null) return facts;
  const known = [...coin.olderAll, ...coin.newer, ...(coin.withdrawal ? [coin.withdrawal] : [])];
  const spender = await spentBy(chain, outpoint, final ? coin.own!.txid : withdrawal ?? '', known, (txid) => spenderOf(coin, txid));
  return spender ? { ...facts, spender } : facts;
}

/**
 * Who spends the coin's `outpoint`, when not `ours` (our backup, or the withdrawal being watched): undefined while it is
 * unspent. In a block, asked of each `known` transaction by txid (-txindex); none of them: `unknown`. Also the tower's
 * (./tower.ts), with what its export names.
 */
export async function spentBy(chain: CoinChain, outpoint: string, ours: string, known: readonly string[], classify: (txid: string) => Spender['who']): Promise<Spender | undefined> {
  const [txid, vout] = outpoint.split(':') as [string, string];
  const inMempool = await chain.mempoolSpender(txid, Number(vout));
  if (inMempool !== undefined) return inMempool === ours ? undefined : { who: classify(inMempool), where: 'mempool', txid: inMempool };
  if ((await chain.utxo(txid, Number(vout))) !== null) return undefined;
  for (const k of known) {
    if (k === ours) continue;
    const c = await chain.txConfirmations(k);
    if (c !== null && c >= 1) return { who: classify(k), where: 'block', txid: k };
  }
  return { who: 'unknown', where: 'block' };
}

/**
 * The least package rate (sat/kvB), less the incremental relay fee, at which a package of `vsize` replaces `c` and its
 * descendants (package RBF: more fee than all it evicts plus the incremental fee on its own size, and a rate above the
 * conflict's chunk): what the owner's and the tower's bids must exceed to outrun a previous owner's backup.
 */
export function replaceRate(c: Conflict, vsize: number, incremental: number): number {
  const fee = Math.ceil((1000 * Number(c.descendantFee) + incremental * vsize) / vsize);
  const chunk = Math.floor((4000 * Number(c.chunkFee)) / c.chunkWeight) + 1;
  // Never below 0: a conflict the node's operator deprioritised (prioritisetransaction, a negative delta) has a negative
  // modified fee — Core's replacement rules read those, and any package outbids it; a negative rate failed the turn.
  return Math.max(0, Math.max(fee, chunk + incremental) - incremental);
}

/**
 * What the node says of a backup the owner must get mined: where the schedule starts, the budget
 * (the fee guard on the package: backup + child), and what a bid must outbid — our package in the
 * mempool, or a previous owner's backup there with its descendants (package RBF: more fee than
 * all it evicts, plus the incremental relay fee on our package, and a rate above its chunk's).
 */
async function backupFacts(host: OwnerHost, r: Round, size: Sizer, ownTxid: string, deadline: number, startRate: StartRate, f: OwnerFacts, conflicts: Conflict[] | undefined): Promise<Partial<OwnerFacts>> {
  const { start, incremental } = await startRate(deadline - r.tip);
  let sized: Pick<BackupSpend, 'backup' | 'child'>;
  try {
    sized = await size(SIZING_RATE);
  } catch (e) {
    return { startRate: start, incrementalRate: incremental, unbuildable: errorText(e) };
  }
  const child = sized.child!;
  const vsize = sized.backup.vsize + child.vsize;
  const budgetRate = exitBudgetRate({ stateVsize: sized.backup.vsize, stateFee: sized.backup.feeSat, childVsize: child.vsize, payout: sized.backup.valueSat, payoutDust: P2TR_DUST }, host.limits);
  const facts: Partial<OwnerFacts> = { startRate: start, incrementalRate: incremental, budgetRate };
  if (r.offline) return facts;
  if (conflicts?.length) {
    return { ...facts, replaceRate: replaceRate(conflicts[0]!, vsize, incremental) };
  }
  if (f.confirmations === 0) {
    const held = await r.chain.mempoolEviction(ownTxid);
    if (!held) return facts;
    // A new child replaces the one there (ours, or a stranger's on the anchor), whatever the package rate there (a large
    // child at a low rate pins the backup: src/topics/watch/credit.ts exitFacts).
    return { ...facts, mempoolRate: heldRate(held), pinRate: childReplaceRate(held, child.vsize, vsize, incremental) };
  }
  return facts;
}

/**
 * What the node and the owner's key say of a signed withdrawal the owner may bump: what it pays alone, whether a child
 * of this owner's can spend its payout (the sizing build: E_NO_CHILD when it pays anyone else), the budget (the fee
 * guard on the package: withdrawal + child, --max-fee-share of its payout), and — in the mempool — the package there
 * and what replacing its child costs.
 */
async function withdrawalFacts(host: OwnerHost, r: Round, record: OwnerRecord, coin: OwnerCoin, pending: 'unknown' | 'mempool', startRate: StartRate, bid: ExitBid | undefined): Promise<Partial<OwnerFacts>> {
  const { storedWithdrawalSize } = await import('../statechain/backup-spend.ts');
  const signed = await storedWithdrawalSize(record);
  const { start, incremental } = await startRate(withdrawalDeadline(coin, Math.min(bid?.start_tip ?? r.tip, r.tip)) - r.tip);
  const wf: WithdrawalFacts = { ownRate: Math.floor((1000 * signed.feeSat) / signed.vsize), ...(bid ? { bid } : {}) };
  let budgetRate = 0;
  let childVsize = 0;
  try {
    const sized = await host.withdrawal(record, { feeRate: SIZING_RATE, broadcast: false });
    childVsize = sized.child.vsize;
    budgetRate = exitBudgetRate({ stateVsize: signed.vsize, stateFee: signed.feeSat, childVsize, payout: signed.payoutSat, payoutDust: P2TR_DUST }, host.limits);
  } catch (e) {
    // Not bumpable: what the schedule would ask of it is still said (toward --max-fee-rate), beside what it pays.
    wf.unbumpable = errorText(e);
    budgetRate = Math.floor(host.limits.maxFeeRate * 1000);
  }
  if (pending === 'mempool') {
    const held = await r.chain.mempoolEviction(signed.txid);
    if (held) {
      wf.mempoolRate = heldRate(held);
      // A child there (ours, or a stranger's on the anchor): a new one pays what replacing it costs.
      if (wf.unbumpable === undefined && held.descendantVsize > signed.vsize) wf.pinRate = childReplaceRate(held, childVsize, signed.vsize + childVsize, incremental);
    }
  }
  return { startRate: start, incrementalRate: incremental, budgetRate, withdrawal: wf };
}

/** A backup's package sized at `feeRate` (sat/vB), nothing sent: the owner's through `statechain backup`'s code, a pair's with the node wallet's coins. */
type Sizer = (feeRate: number) => Promise<Pick<BackupSpend, 'backup' | 'child'>>;

/**
 * The vsize of a pair's child before the wallet chose its coins (offline, or no wallet): the anchor (41 vB), one P2WPKH
 * coin of the wallet (68 vB with its witness), its P2WPKH change (31 vB) and the transaction's own 10.5 vB.
 */
const FUNDED_CHILD_VSIZE = 151;

/** What a pair's backup needs to be bumped from its anchor: its bytes, the coin it spends, the child there to replace, the wallet's coins. */
type PairFunding = {
  hex: string; txid: string; lockTime: number; feeSat: number; valueSat: number; prevouts: Prevout[]; replaces?: ReplacedChild;
  /** The coins stored with the coin's bid (still the wallet's, or spent by a bid of ours); undefined: none yet, or the wallet spent them elsewhere. */
  coins?: Transaction;
  /** Coins the wallet would choose now (not locked), only to size the child when none are stored. */
  sizing?: Transaction;
};

/**
 * A part's pair backup, due: its bytes (the newest of the pair's, owner.ts backupWithChild with no child), the coin's
 * output from the operator's statement, the child on its anchor in the node's mempool (ours or anyone's: the one a new
 * child replaces), and the wallet's coins — those stored with the bid while the node and the wallet vouch for them
 * (./wallet.ts vouchedCoins); else new ones are chosen, stored before they are sent.
 */
async function pairFunding(host: OwnerHost, r: Round, record: JointRecord, bid: ExitBid | undefined, f: OwnerFacts): Promise<PairFunding> {
  const { backupWithChild } = await import('../../lib/statechain/owner.ts');
  const { coinKey } = await import('../../lib/statechain/coin.ts');
  const { feeOf } = await import('../../lib/statechain/withdrawal.ts');
  const { backup, hex } = backupWithChild(record, undefined, new Uint8Array(32));
  const st = record.statement;
  const [txid, vout] = st.outpoint!.split(':') as [string, string];
  const prevouts = [{ txid, vout: Number(vout), amount: BigInt(st.amount_sat!), script: coinKey(parsePublicKey(st.owner_share, 'owner_share'), parsePublicKey(st.operator_share, 'operator_share')).script }];
  const out: PairFunding = { hex, txid: backup.id, lockTime: backup.lockTime, feeSat: Number(feeOf(backup, BigInt(st.amount_sat ?? 0))), valueSat: Number(backup.getOutput(0).amount!), prevouts };
  if (!r.offline && f.confirmations === 0) {
    const replaces = await anchorChild(r, hex, backup.id);
    if (replaces) out.replaces = replaces;
  }
  if (bid?.wallet !== undefined) {
    const { parsePsbtBase64 } = await import('../../lib/psbt/parse.ts');
    if (r.offline || !host.wallet) {
      // Nothing is sent: as stored, for sizing only.
      try {
        out.coins = parsePsbtBase64(bid.wallet, 'the stored wallet coins');
      } catch {
        // none
      }
    } else {
      const coins = await vouchedCoins(r.chain, host.wallet, host.network as Network, bid.wallet, out.replaces && 'txid' in out.replaces ? out.replaces.txid : undefined);
      if (coins) out.coins = coins;
    }
  }
  if (out.coins === undefined && host.wallet) out.sizing = await host.wallet.coins(feeCoinsSat(host.limits.maxFeeRate));
  return out;
}

/** A pair's backup with its child from the node's wallet at `feeRate` (sat/vB of the package); with `send`, submitted. Without coins (no wallet): sized by FUNDED_CHILD_VSIZE. */
async function pairBackup(host: OwnerHost, r: Round, record: JointRecord, p: PairFunding, req: { feeRate: number; send: boolean; conflicts?: Conflict[] }): Promise<Pick<BackupSpend, 'backup' | 'child'>> {
  const coins = p.coins ?? (req.send ? undefined : p.sizing);
  const backup = { txid: p.txid, lockTime: p.lockTime, feeSat: p.feeSat, valueSat: p.valueSat };
  if (coins === undefined || !host.wallet) {
    if (req.send) throw new UsageError('E_NO_WALLET', `coin ${record.coin_id}: the pair's backup is bumped from its anchor by the node's wallet, and there is none (${host.noWallet ?? 'offline'})`);
    const { measureTx } = await import('../../lib/truc/transaction.ts');
    return { backup: { ...backup, vsize: measureTx(fromHex(p.hex), 'the backup').vsize }, child: { txid: '', vsize: FUNDED_CHILD_VSIZE, feeSat: 0 } };
  }
  const built = await walletChild({
    r, wallet: host.wallet, coins, limits: host.limits, network: host.network, parent: fromHex(p.hex, 'the backup'), prevouts: p.prevouts,
    feeRate: req.feeRate, send: req.send, protectedSat: BigInt(p.valueSat), ...(req.conflicts?.length ? { conflicts: req.conflicts } : {}), ...(p.replaces ? { replaces: p.replaces } : {}),
  });
  return { backup: { ...backup, vsize: built.parentVsize }, child: { txid: built.txid, vsize: built.vsize, feeSat: Number(built.childFee) } };
}

/**
 * A parent's TRUC child from its anchor and the node wallet's `coins` (walletcreatefundedpsbt's answer, used as is) at
 * `feeRate` on the package (src/lib/truc/child.ts buildChild, as `package child --wallet-psbt` builds it: the fee guard
 * on the package, the package through check.ts); with `send`, signed by the wallet — the txid it signed must be the one
 * built (E_WALLET_ALTERED: not sent) — checked again as signed, and submitted (E_BROADCAST_REJECTED naming each
 * transaction's refusal). The keyless tower's (./tower.ts) and a pair's backup's.
 */
export async function walletChild(o: {
  r: Round; wallet: NodeWallet; coins: Transaction; limits: FeeLimits; network: string; parent: Uint8Array; prevouts: Prevout[];
  feeRate: number; send: boolean; conflicts?: Conflict[]; replaces?: ReplacedChild;
  /** The value of the coin the child bumps (the backup's payout): --max-fee-share is a share of it, as the schedule's budget is, not of the fee coins. */
  protectedSat: bigint;
}): Promise<{ parentVsize: number; vsize: number; txid: string; childFee: bigint }> {
  const { buildChild } = await import('../../lib/truc/child.ts');
  const { CORE_POLICY, checkTrucPackage } = await import('../../lib/truc/check.ts');
  const { submittedMessage } = await import('../../lib/truc/submit.ts');
  const { measureTx } = await import('../../lib/truc/transaction.ts');
  const { OffchainError } = await import('../../lib/errors.ts');
  const { toHex } = await import('../../lib/bytes.ts');
  const node = await o.r.chain.mempoolPolicy();
  // Sizing (no send) is at any rate, the node's floors none of its business: at 0.1 sat/vB a zero-fee backup's package
  // is below a node relaying from 1 sat/vB (Core before 29.1) or a full mempool's floor, and was unbuildable — never sent.
  const floors = o.send ? { minRelayFeeRate: node.minRelayFeeRate, mempoolMinFeeRate: node.mempoolMinFeeRate > node.minRelayFeeRate ? node.mempoolMinFeeRate : 0 } : { minRelayFeeRate: 0, mempoolMinFeeRate: 0 };
  const policy = { ...CORE_POLICY, ...floors };
  const built = buildChild({
    parent: o.parent, parentPrevouts: o.prevouts, wallet: o.coins, feeRate: o.feeRate, feeLimits: o.limits, shareOfSat: o.protectedSat, policy, packageGuard: true,
    incrementalRelayFeeRate: node.incrementalRelayFeeRate,
    ...(o.conflicts?.length ? { conflicts: o.conflicts } : {}), ...(o.replaces ? { replaces: o.replaces } : {}),
  });
  const out = { parentVsize: built.verdict.parent.vsize, vsize: built.vsize, txid: built.txid, childFee: built.childFee };
  if (!o.send) return out;
  const child = await o.wallet.sign(built.psbt);
  const signed = measureTx(child, 'the child as the wallet signed it').txid;
  if (signed !== built.txid) throw new OffchainError('E_WALLET_ALTERED', `the node's wallet changed the child it signed (${signed}, not ${built.txid}): not sent`);
  const coins = Array.from({ length: o.coins.inputsLength }, (_, i) => o.coins.getInput(i)).map((i) => ({ txid: toHex(i.txid!), vout: i.index!, amount: i.witnessUtxo!.amount, script: i.witnessUtxo!.script }));
  const verdict = checkTrucPackage(o.parent, child, [...o.prevouts, ...coins], policy);
  submittedMessage(await o.r.chain.submitPackage!([o.parent, child], policy.maxFeeRate), verdict, o.network);
  return out;
}

/** The child spending `parent`'s anchor in the node's mempool (ours, the owner's, anyone's): the one a new child replaces, at its mempool fee and chunk. */
export async function anchorChild(r: Round, parentHex: string, parentTxid: string): Promise<ReplacedChild | undefined> {
  const { measureTx } = await import('../../lib/truc/transaction.ts');
  const { P2A_SCRIPT } = await import('../../lib/statechain/coin.ts');
  const { equalBytes } = await import('../../lib/bytes.ts');
  const vout = measureTx(fromHex(parentHex), 'the backup').tx.outputs.findIndex((o) => equalBytes(o.script, P2A_SCRIPT));
  if (vout < 0) return undefined;
  const child = await r.chain.mempoolSpender(parentTxid, vout);
  if (child === undefined) return undefined;
  const entry = await r.chain.mempoolEntry(child);
  if (!entry) return undefined;
  const c = await r.chain.mempoolEviction(child);
  return { txid: child, fee: entry.fee, ...(c ? { chunk: { fee: c.chunkFee, weight: c.chunkWeight, withParent: c.chunkWeight > 4 * entry.vsize } } : {}) };
}
