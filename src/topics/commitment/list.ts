/**
 * What `commitment list` prints: the channel party's channels (the ChannelBook of its state
 * directory, each record decoded: a damaged one is refused, E_BAD_CHANNEL_RECORD), each summed up
 * from its record and, with a node, asked as the channel watcher asks (../watch/channel-spend.ts
 * fundingSpend, with the watcher's own records as its advice) — for a revoked commitment, what is
 * left to take as `commitment penalty` counts it (src/lib/bolt3/party-penalty.ts findOnChain,
 * leftToTake) — into the rows of src/lib/watch/channel-view.ts. Read-only: no key (the revoked
 * commitment's per-commitment secret comes from the record's compact store and is zeroed at once),
 * no lock, nothing written — it runs beside a running watcher.
 */
import type { ChainSource } from '../../lib/chain/types.ts';
import type { ChannelRecord } from '../../lib/bolt3/party.ts';
import { OffchainError, UsageError } from '../../lib/errors.ts';
import type { Network } from '../../lib/network.ts';
import type { StateDb } from '../../lib/store/sqlite/database.ts';
import type { ChannelChainFacts, ChannelRow, ChannelSummary } from '../../lib/watch/channel-view.ts';
import { FINAL_DEPTH } from '../../lib/watch/decision.ts';
import type { WatchChain } from '../watch/credit.ts';
import type { ChannelWatch } from '../watch/state.ts';

export type ChannelsMessage = {
  type: 'bolt3/channels'; version: 1; network: Network; tip_height: number; channels: ChannelRow[];
  /** The preimages the watcher learnt on chain (../watch/preimages.ts): by payment_hash, where — never the preimage itself. */
  preimages_learnt?: { payment_hash: string; txid: string; channel_id: string }[];
};

/** The record summed up: the latest state (our commitment's, else the peer's we signed last). */
function summary(id: string, rec: ChannelRecord): ChannelSummary {
  const state = rec.local?.state ?? rec.remote_signed.at(-1)?.state;
  const htlcMsat = (state?.htlcs ?? []).reduce((sum, h) => sum + BigInt(h.amount_msat), 0n);
  return {
    id,
    capacitySat: rec.channel.funding_satoshis,
    local: rec.local?.state.commitment_number ?? null,
    remote: rec.remote_signed.at(-1)?.state.commitment_number ?? null,
    revoked: rec.remote_signed.filter((s) => s.state.commitment_number <= rec.remote_revoked_through).length,
    htlcs: state?.htlcs.length ?? 0,
    htlcSat: Number(htlcMsat / 1000n),
    ...(state ? { toLocalMsat: state.to_local_msat, toRemoteMsat: state.to_remote_msat } : {}),
    toSelfDelay: rec.channel.to_self_delay,
    remoteToSelfDelay: rec.channel.remote_to_self_delay,
    ...(rec.closing ? { closing: rec.closing.txid !== undefined ? 'signed' as const : 'proposed' as const } : {}),
    ...(rec.broadcast !== undefined ? { broadcast: true } : {}),
  };
}

/**
 * What is left to take of the peer's revoked commitment `txid`: the node's findings (findOnChain) — a spender in its
 * mempool that is not the cheater's second stage counted as a justice transaction on its way, the output not taken yet —
 * and leftToTake over every revocable output. The search for confirmed second stages (scantxoutset) may fail (one scan
 * at a time: a watcher's): then what is left is not known.
 */
async function penaltyLeft(node: WatchChain, rec: ChannelRecord, txid: string): Promise<NonNullable<ChannelChainFacts['penalty']>> {
  const { findOnChain, leftToTake, revokedPeerCommitment, secondStageScript } = await import('../../lib/bolt3/party-penalty.ts');
  const { revocableOutputs } = await import('../../lib/bolt3/penalty.ts');
  const { equalBytes } = await import('../../lib/bytes.ts');
  const revoked = revokedPeerCommitment(rec, txid);
  revoked.secret.fill(0);
  const script = secondStageScript(revoked.c);
  let error: string | undefined;
  const chain = {
    utxo: (t: string, v: number) => node.utxo(t, v),
    rawTransaction: (t: string) => node.rawTransaction(t),
    mempoolSpender: (t: string, v: number) => node.mempoolSpender(t, v),
    outputsPaying: async (s: Uint8Array) => {
      try {
        return await node.outputsPaying!(s);
      } catch (e) {
        error = `the search for the cheater's second-stage outputs failed (${e instanceof OffchainError ? `${e.code}: ${e.message}` : String(e)}): run commitment list again`;
        return [];
      }
    },
  };
  const { spent, found, held } = await findOnChain(chain, revoked, [], { replaceable: (tx) => !tx.outputs.some((o) => equalBytes(o.script, script)) });
  const { outputs, second } = leftToTake(revoked, revocableOutputs(revoked.c).map((o) => o.vout), { spent, found });
  return { left: error !== undefined ? null : outputs.length + second.length, inMempool: held.size, ...(error !== undefined ? { error } : {}) };
}

/**
 * The HTLC outputs of a mined commitment (the party's own, or the peer's current) that nothing spends yet, in a block or
 * the mempool, and the soonest cltv_expiry among them: what the watcher still has to take there (its second stages,
 * its claims), each before the peer may (a timeout from cltv_expiry; a preimage at any time).
 */
async function htlcsLeft(node: WatchChain, rec: ChannelRecord, txid: string): Promise<NonNullable<ChannelChainFacts['htlcs']>> {
  const { closingCommitment } = await import('../../lib/bolt3/party.ts');
  const rebuilt = closingCommitment(rec, txid);
  const htlcs = [...(rebuilt?.c.outputs ?? []).entries()].flatMap(([vout, o]) => (o.htlc ? [{ vout, cltvExpiry: o.htlc.cltvExpiry }] : []));
  const unspent = await Promise.all(htlcs.map(async (h) => (await node.utxo(txid, h.vout)) !== null));
  const left = htlcs.filter((_, i) => unspent[i]).map((h) => h.cltvExpiry);
  return { unspent: left.length, ...(left.length > 0 ? { soonest: Math.min(...left) } : {}) };
}

/** The node's facts of one channel. */
async function channelFacts(node: WatchChain, tip: { height: number; hash?: string }, rec: ChannelRecord, watch: ChannelWatch, coin?: string): Promise<ChannelChainFacts> {
  const { fundingSpend } = await import('../watch/channel-spend.ts');
  const { spend } = await fundingSpend({ tip: tip.height, block: tip.hash ?? '', chain: node }, rec, watch, coin);
  const sent = await Promise.all(Object.entries(watch.sent).map(async ([outpoint, txid]) => ({ outpoint, txid, confirmations: await node.txConfirmations(txid) })));
  const facts: ChannelChainFacts = { spend, ...(sent.length ? { sent } : {}) };
  if ((spend.kind === 'own' || spend.kind === 'peer-current') && spend.confirmations > 0) return { ...facts, htlcs: await htlcsLeft(node, rec, spend.txid) };
  if (spend.kind !== 'revoked') return facts;
  // The watcher's word that it was done with this spender, still mined at the same height that deep: nothing left (as the watcher reads it).
  const done = watch.done;
  if (done?.spender === spend.txid && spend.confirmations >= FINAL_DEPTH && done.height === tip.height - spend.confirmations + 1) return { ...facts, penalty: { left: 0, inMempool: 0 } };
  return { ...facts, penalty: await penaltyLeft(node, rec, spend.txid) };
}

export async function channelsList(open: (create: boolean) => Promise<StateDb | undefined>, dir: string, chain: ChainSource, network: Network): Promise<ChannelsMessage> {
  if ((await open(false)) === undefined) throw new UsageError('E_NO_STATE', `no channel state in ${dir} (nothing was created there): check --state-dir and --network`);
  const { ChannelBook } = await import('../../lib/store/sqlite/channels.ts');
  const { decodeChannelRecord } = await import('../../lib/bolt3/party.ts');
  const { channelRow } = await import('../../lib/watch/channel-view.ts');
  const { WatchRecords } = await import('../watch/state.ts');
  const records = [...(await new ChannelBook(() => open(false), dir).all())]
    .map(([id, v]) => [id, decodeChannelRecord(v, `the record of channel ${id} in ${dir}`)] as const)
    .filter(([, r]) => r.network === network);
  const tip = await chain.tip();
  const node = chain.kind === 'rpc' ? await (await import('../watch/credit.ts')).withTxIndex(chain, 'a commitment or penalty mined would look unknown to commitment list') : undefined;
  const watched = new WatchRecords(open);
  const rows: ChannelRow[] = [];
  // A channel on a statechain coin: the coin's outpoint, when this directory holds the coin's record (the watcher's reading).
  const coins = node && records.some(([, r]) => r.funding_locktime !== undefined) ? await (await import('../watch/channel-coin.ts')).coinOutpoints(open, dir) : new Map<string, string>();
  for (const [id, rec] of records) rows.push(channelRow(summary(id, rec), tip.height, node ? await channelFacts(node, tip, rec, await watched.channel(id), coins.get(rec.channel.funding_txid)) : undefined));
  // A penalty's deadline soonest first, then what must be looked at, then by id.
  const key = (r: ChannelRow) => r.penalty?.deadline_height ?? (r.must_act ? -1 : Infinity);
  rows.sort((a, b) => (key(a) === key(b) ? a.channel_id.localeCompare(b.channel_id) : key(a) < key(b) ? -1 : 1));
  const learnt = [...(await watched.preimagesLearnt())].sort(([a], [b]) => a.localeCompare(b)).map(([hash, p]) => ({ payment_hash: hash, txid: p.txid, channel_id: p.channel }));
  return { type: 'bolt3/channels', version: 1, network, tip_height: tip.height, channels: rows, ...(learnt.length > 0 ? { preimages_learnt: learnt } : {}) };
}
