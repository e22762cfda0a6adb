/**
 * What `statechain list` prints: the owner's coins in its state directory (its `coin-<id>`
 * records, read without its key — no share is opened, and nothing is written or locked, so it
 * runs beside a running watcher), each checked as the watcher checks it (../watch/statechain.ts
 * checkedCoin: the operator's signature, each backup's txid and nLockTime) and, with a node,
 * asked as the watcher asks (coinSpend), into the rows of src/lib/watch/statechain-view.ts.
 * A pair's part of a coin (`joint-<coin>`) is listed too, marked `joint`, as the watcher keeps it.
 */
import type { ChainSource } from '../../lib/chain/types.ts';
import { MalformedInputError, UsageError } from '../../lib/errors.ts';
import type { Network } from '../../lib/network.ts';
import type { StateDb } from '../../lib/store/sqlite/database.ts';
import type { OwnerRecord } from '../../lib/statechain/owner.ts';
import type { CoinChainFacts, CoinRow } from '../../lib/watch/statechain-view.ts';
import type { CoinChain as NodeChain, ownerCoin } from '../watch/statechain.ts';

const STATUSES = new Set<unknown>(['depositing', 'active', 'sending', 'sent', 'receiving', 'withdrawing', 'withdrawn']);

export type CoinsMessage = { type: 'statechain/coins'; version: 1; network: Network; tip_height: number; coins: CoinRow[] };

/** The owner's coin records under `dir` (E_NO_STATE when it holds no database: nothing is created). */
async function ownerRecords(open: (create: boolean) => Promise<StateDb | undefined>, dir: string): Promise<OwnerRecord[]> {
  if ((await open(false)) === undefined) throw new UsageError('E_NO_STATE', `no statechain state in ${dir} (nothing was created there): check --state-dir and --network`);
  const { Documents } = await import('../../lib/store/sqlite/records.ts');
  // No sealer: the records are read as stored, the share sealed and never opened (no key is asked).
  const docs = new Documents(open, 'statechain', dir);
  const names = (await docs.list()).filter((n) => n.startsWith('coin-') || n.startsWith('joint-'));
  return Promise.all(names.map(async (n) => (await docs.read<OwnerRecord>(n))!));
}

/** The node's facts of one coin, as the owner's watcher asks them, and the spender's depth when it is mined. */
async function coinFacts(chain: NodeChain, coin: ReturnType<typeof ownerCoin>, outpoint: string, tip: number): Promise<CoinChainFacts> {
  const { coinSpend } = await import('../watch/statechain.ts');
  const facts: CoinChainFacts = await coinSpend(chain, coin, outpoint, tip);
  const s = facts.spender;
  if (s?.where === 'block' && s.txid !== undefined) facts.spenderConfirmations = (await chain.txConfirmations(s.txid)) ?? undefined;
  // Spent in a block by nothing the record names: or never on chain at all.
  if (s?.where === 'block' && s.txid === undefined && (await chain.txConfirmations(outpoint.split(':')[0]!)) === null) facts.fundingMissing = true;
  return facts;
}

export async function coinsList(open: (create: boolean) => Promise<StateDb | undefined>, dir: string, chain: ChainSource, network: Network): Promise<CoinsMessage> {
  const { checkedCoin, ownerView, OWNER_MARGIN } = await import('../watch/statechain.ts');
  const { coinRow, byDeadline } = await import('../../lib/watch/statechain-view.ts');
  const records = (await ownerRecords(open, dir)).map((r) => (r && typeof r === 'object' ? ownerView(r) : r));
  const tip = (await chain.tip()).height;
  const node = chain.kind === 'rpc' ? await (await import('../watch/credit.ts')).withTxIndex(chain, 'a backup or withdrawal mined would look unknown to statechain list') : undefined;
  const rows: CoinRow[] = [];
  for (const record of records) {
    // The fields read here, of the types the owner writes; then the watcher's own check (the operator's signature, the backups).
    const st = record?.statement;
    const shaped = typeof record?.coin_id === 'string' && STATUSES.has(record.status) && typeof record.share === 'string' && typeof record.operator_auth === 'string'
      && Array.isArray(record.backups) && record.backups.every((b) => typeof b === 'string') && typeof st === 'object' && st !== null && Array.isArray(st.backups)
      && (st.outpoint === null || typeof st.outpoint === 'string') && (st.amount_sat === null || Number.isSafeInteger(st.amount_sat));
    if (!shaped) throw new MalformedInputError('E_STATE_CORRUPT', `a coin record in ${dir} (${String(record?.coin_id)}) is not an owner's coin record: not a record this owner wrote; restore the database from the copy you trust`);
    const coin = checkedCoin(record);
    const outpoint = record.statement.outpoint;
    const chainFacts = node && outpoint !== null ? await coinFacts(node, coin, outpoint, tip) : undefined;
    rows.push(coinRow({ coin, outpoint, amountSat: record.statement.amount_sat, backups: record.statement.backups.length, ...(chainFacts ? { chain: chainFacts } : {}) }, tip, OWNER_MARGIN));
  }
  return { type: 'statechain/coins', version: 1, network, tip_height: tip, coins: rows.sort(byDeadline) };
}
