/**
 * `statechain list`'s row of one coin (docs/statechain.md "The owner's coins"): what the owner's
 * record says — its status, its backup's number and locktime, the previous owner's — and, with a
 * node, what the chain says, asked as the owner's watcher asks it (src/topics/watch/statechain.ts
 * coinSpend) and flagged by the watcher's own rule (./statechain.ts backupDue). Pure: the facts
 * come in already asked; the rows are plain JSON.
 *
 * INVARIANTS (test/lib/watch/statechain-view.test.ts):
 * - The chain's word wins over the record's: a coin our backup spent is `exiting` (in the mempool)
 *   then `exited`, one the withdrawal spent `withdrawal-sent` then `withdrawn`, one a previous
 *   owner's backup spends `contested` (in the mempool: ours may still replace it) then `lost` —
 *   never `active`, whatever the record says.
 * - `must_act` is the watcher's `backupDue`, nothing else: true exactly while the owner's backup
 *   must be on its way (its window open, neither it nor the withdrawal mined, the coin unspent or
 *   spent in the mempool by what ours replaces); a lost, exited or withdrawn coin never asks.
 * - A coin whose record holds a later owner's backup was handed on (`transferred`), whatever its
 *   status says — the watcher's own rule: its backup is never sent again.
 * - A signed withdrawal the watcher still sends or bumps is flagged by the watcher's own rule
 *   (./statechain.ts withdrawalPending): `withdrawal_pending` unknown (the node does not have it:
 *   it must be sent, and `must_act`) or mempool (the watcher bumps it toward the deadline while the
 *   schedule asks more than it pays); never once it or the backup is mined, nor in the backup's
 *   window (the backup is the way out then), nor offline.
 * - A pair's coin (a part's `joint-<coin>` record) is a row like an owner's, marked `joint`: the
 *   same rules, its backup bumped from its anchor by a wallet's coin.
 * - Offline nothing of the chain is claimed: no `chain`, the status the record's, `must_act` the
 *   window alone (as `credit list` flags must_exit from the margin alone).
 */
import { backupDeadline, backupDue, withdrawalPending, type OwnerCoin, type OwnerFacts } from './statechain.ts';

/** What the node said of a coin (absent offline). */
export type CoinChainFacts = Pick<OwnerFacts, 'confirmations' | 'withdrawalConfirmations' | 'spender'> & {
  /** The spender's confirmations, when it is in a block (the node asked again). */
  spenderConfirmations?: number;
  /** The funding is in no block and no mempool the node knows (never broadcast, or double-spent). */
  fundingMissing?: boolean;
};

export type CoinInput = {
  coin: OwnerCoin & { olderAll: readonly string[]; newer: readonly string[] };
  outpoint: string | null;
  amountSat: number | null;
  /** How many backups the operator's statement lists. */
  backups: number;
  chain?: CoinChainFacts;
};

export type SpentBy = 'own-backup' | 'previous-backup' | 'later-backup' | 'withdrawal' | 'unknown';
export type CoinChain = { funding: 'unspent' } | { funding: 'not-on-chain' } | { funding: 'spent'; spent_by: SpentBy; txid?: string; confirmations?: number };

export type CoinRow = {
  coin_id: string;
  outpoint: string | null;
  amount_sat: number | null;
  status: string;
  record_status: OwnerCoin['status'];
  backup?: number;
  backups: number;
  locktime?: number;
  blocks_to_final?: number;
  previous_locktime?: number;
  blocks_to_previous_final?: number;
  deadline_height?: number;
  chain?: CoinChain;
  /** A pair's coin (a part's joint-<coin> record). */
  joint?: true;
  /** The signed withdrawal, unmined before the backup's window, as the watcher sees it (withdrawalPending); with a node only. */
  withdrawal_pending?: 'unknown' | 'mempool';
  must_act: boolean;
  next: string;
};

/** What spends the funding, by the facts. */
function chainOf(coin: CoinInput['coin'], f: CoinChainFacts): CoinChain {
  const w = f.withdrawalConfirmations ?? null;
  const withdrawal = coin.withdrawal !== undefined ? { txid: coin.withdrawal } : {};
  if (w !== null && w >= 1) return { funding: 'spent', spent_by: 'withdrawal', ...withdrawal, confirmations: w };
  if (f.confirmations !== null) return { funding: 'spent', spent_by: 'own-backup', ...(coin.own ? { txid: coin.own.txid } : {}), confirmations: f.confirmations };
  const s = f.spender;
  if (w === 0 && (s === undefined || s.who === 'withdrawal')) return { funding: 'spent', spent_by: 'withdrawal', ...withdrawal, confirmations: 0 };
  if (s === undefined) return { funding: 'unspent' };
  if (f.fundingMissing) return { funding: 'not-on-chain' };
  const by = ({ older: 'previous-backup', newer: 'later-backup', withdrawal: 'withdrawal', unknown: 'unknown' } as const)[s.who];
  const confirmations = s.where === 'mempool' ? 0 : f.spenderConfirmations;
  return { funding: 'spent', spent_by: by, ...(s.txid !== undefined ? { txid: s.txid } : {}), ...(confirmations !== undefined ? { confirmations } : {}) };
}

const RECORD_STATUS: Record<OwnerCoin['status'], string> = {
  depositing: 'depositing', active: 'active', sending: 'sending', sent: 'transferred', receiving: 'receiving', withdrawing: 'withdrawing', withdrawn: 'withdrawal-signed',
};

function statusOf(coin: CoinInput['coin'], chain: CoinChain | undefined): string {
  // A later owner's backup in the record: handed on, whatever its status says (a step after it refused or unfinished).
  const handedOn = coin.status === 'sent' || coin.newer.length > 0;
  if (chain === undefined || chain.funding === 'unspent') return handedOn ? 'transferred' : RECORD_STATUS[coin.status];
  if (chain.funding === 'not-on-chain') return coin.status === 'depositing' ? 'depositing' : 'unfunded';
  const mined = (chain.confirmations ?? 0) >= 1;
  switch (chain.spent_by) {
    case 'own-backup': return mined ? 'exited' : 'exiting';
    case 'withdrawal': return mined ? 'withdrawn' : 'withdrawal-sent';
    case 'previous-backup': return chain.confirmations === 0 ? 'contested' : 'lost';
    case 'later-backup': return 'transferred';
    case 'unknown': return handedOn ? 'transferred' : 'spent-unknown';
  }
}

const confirmationsText = (n: number | undefined) => (n === undefined ? '' : ` (${n} confirmation${n === 1 ? '' : 's'})`);

function nextOf(row: Omit<CoinRow, 'next'>, coin: CoinInput['coin'], margin: number, tip: number): string {
  const c = row.chain && row.chain.funding === 'spent' ? row.chain : undefined;
  const id = row.coin_id;
  const send = coin.joint
    ? `offchain watch sends it with a child from the node's wallet (or statechain backup --coin ${id}, then package child --parent <it> --wallet-psbt <your wallet's coins>)`
    : `offchain watch sends it (or statechain backup --coin ${id} --to ADDRESS --fee-rate R --broadcast)`;
  switch (row.status) {
    case 'exited': return `nothing: your backup ${c!.txid} spent the coin${confirmationsText(c!.confirmations)}`;
    case 'exiting': return `wait for your backup ${coin.own?.txid} to be mined${row.deadline_height !== undefined ? `, by block ${row.deadline_height}` : ''}; ${row.must_act ? 'keep offchain watch running: it raises its fee each block' : 'nothing else to do'}`;
    case 'withdrawn': return `nothing: the withdrawal ${coin.withdrawal ?? c?.txid} spent the coin${confirmationsText(c?.confirmations)}`;
    case 'withdrawal-sent': return `wait for the withdrawal ${coin.withdrawal} to be mined${row.must_act ? `; the previous owner's backup is final at ${row.previous_locktime}: ${send} in its place` : row.withdrawal_pending === 'mempool' ? '; keep offchain watch running: it bumps it with a child (when it pays your key) while the schedule asks more than it pays' : ''}`;
    case 'contested': return `act now: the previous owner's backup ${c!.txid} is in the mempool — replace it with yours at a higher fee; ${send}`;
    case 'lost': return `nothing can be done: the previous owner's backup ${c!.txid} was mined first${confirmationsText(c!.confirmations)}`;
    case 'transferred': return 'nothing: the coin was handed on (its deadlines are the next owner\'s)';
    case 'spent-unknown': return `check by hand: the coin is spent${c?.txid ? ` by ${c.txid}` : ' in a block'}, by no transaction this record knows (is the state directory behind the chain?)`;
    case 'unfunded': return 'check the deposit: its funding is in no block and no mempool the node knows';
    case 'depositing': return 'finish the deposit (statechain deposit)';
    case 'receiving': return 'finish the transfer (statechain transfer): the coin is not yours yet';
  }
  if (row.must_act && row.withdrawal_pending === undefined) return `act now: your backup must be mined by block ${row.deadline_height}, before the previous owner's is final at ${row.previous_locktime}; ${send}`;
  if (coin.status === 'withdrawn') return `${row.withdrawal_pending === 'unknown' ? 'act now: the node does not have it — ' : ''}send the signed withdrawal ${coin.withdrawal} (offchain watch does, or bitcoin-cli sendrawtransaction)`;
  if (coin.own === undefined) return 'nothing: no backup of this coin is yours yet';
  if (row.previous_locktime === undefined) return `nothing: backup 1 is yours to send when you choose, once final at ${row.locktime} (statechain backup)`;
  const from = Math.max(coin.own.lockTime, backupDeadline(coin) - margin);
  return `nothing yet: offchain watch sends your backup from block ${from}${from > tip ? ` (in ${from - tip} blocks)` : ''} unless the coin is withdrawn or handed on first`;
}

/** One coin's row at `tip`; `margin`: the blocks before the deadline the owner's watcher acts from (OWNER_MARGIN). */
export function coinRow(input: CoinInput, tip: number, margin: number): CoinRow {
  const { coin } = input;
  const f = input.chain;
  const chain = f ? chainOf(coin, f) : undefined;
  const own = coin.own;
  const older = coin.older;
  const row: Omit<CoinRow, 'next' | 'must_act'> & { must_act?: boolean } = {
    coin_id: coin.coin,
    outpoint: input.outpoint,
    amount_sat: input.amountSat,
    status: statusOf(coin, chain),
    record_status: coin.status,
    ...(own ? { backup: coin.olderAll.length + 1 } : {}),
    backups: input.backups,
    ...(own ? { locktime: own.lockTime, blocks_to_final: own.lockTime - tip } : {}),
    ...(older ? { previous_locktime: older.lockTime, blocks_to_previous_final: older.lockTime - tip, deadline_height: backupDeadline(coin) } : {}),
    ...(chain ? { chain } : {}),
    ...(coin.joint ? { joint: true as const } : {}),
  };
  const asked = { tip, margin, confirmations: f?.confirmations ?? null, withdrawalConfirmations: f?.withdrawalConfirmations ?? null, ...(f?.spender ? { spender: f.spender } : {}) };
  const pending = f ? withdrawalPending(coin, asked) : undefined;
  if (pending) row.withdrawal_pending = pending;
  row.must_act = backupDue(coin, asked) || pending === 'unknown';
  const done = row as Omit<CoinRow, 'next'>;
  return { ...done, next: nextOf(done, coin, margin, tip) };
}

/** Soonest deadline first (the previous owner's backup final soonest), coins without one last, then by id. */
export function byDeadline(a: CoinRow, b: CoinRow): number {
  return (a.deadline_height ?? Infinity) - (b.deadline_height ?? Infinity) || a.coin_id.localeCompare(b.coin_id);
}
