/**
 * The earlier child that `package child --replaces` must outbid, as the node knows it. Its
 * fee sets the new child's floor — what our wallet pays — so it is never taken on its file's
 * word: whoever hands over the earlier child (the other part of a pair, a watchtower, a
 * stranger who spent a keyless anchor) could inflate a witness_utxo and have our wallet pay
 * the difference.
 *
 * - In the node's mempool (the case sibling eviction is about): its fee is getmempoolentry's
 *   — a node without -txindex cannot show inputs spent there whose funding is confirmed, and
 *   the mempool's raw hex (getrawtransaction) carries no amounts (before: E_TRUC_PREVOUT on
 *   such a node, review of issue 37); a file claim the node contradicts is still refused.
 * - Not there: each input as the node vouches for it (vouched.ts); the parent's outputs are
 *   read from the parent's bytes.
 */
import { RefusedError } from '../errors.ts';
import { toHex } from '../bytes.ts';
import type { Prevout } from './check.ts';
import { measureTx } from './transaction.ts';
import { vouchedPrevouts, type NodeWord } from './vouched.ts';

export type { NodeWord };

/**
 * What buildChild needs of the earlier child: its fee as the mempool holds it — and its chunk there (cluster mempool:
 * the replacement must improve the feerate diagram, so beat that chunk's fee per weight; `withParent` when the chunk
 * holds the parent too) — or its bytes and vouched inputs.
 */
export type ReplacedChild = { txid: string; fee: bigint; chunk?: { fee: bigint; weight: number; withParent: boolean } } | { raw: Uint8Array; prevouts: Prevout[] };

/** The node's word on a mempool transaction's chunk (getmempoolentry's fees.chunk and chunkweight). */
export type ChunkWord = (txid: string) => Promise<{ chunkFee: bigint; chunkWeight: number } | null>;

export async function vouchedReplacedPrevouts(node: NodeWord, replaced: Uint8Array, parent: Uint8Array, claims: readonly Prevout[]): Promise<Prevout[]> {
  const p = measureTx(parent, 'the parent');
  return vouchedPrevouts(node, replaced, claims, {
    name: 'the replaced child', source: '--replaces',
    inside: (txid, vout) => (txid === p.txid ? p.tx.outputs[vout] ?? { amount: 0n, script: new Uint8Array() } : undefined),
  });
}

export async function replacedChild(node: NodeWord, replaced: Uint8Array, parent: Uint8Array, claims: readonly Prevout[], chunkOf?: ChunkWord): Promise<ReplacedChild> {
  const p = measureTx(parent, 'the parent');
  const t = measureTx(replaced, 'the replaced child');
  if (!t.tx.inputs.some((i) => toHex(i.txid) === p.txid)) {
    throw new RefusedError('E_TRUC_NOT_CHILD', `--replaces ${t.txid} spends no output of the parent ${p.txid}: it is not an earlier child of it`);
  }
  const entry = await node.mempoolEntry(t.txid);
  if (!entry) return { raw: replaced, prevouts: await vouchedReplacedPrevouts(node, replaced, parent, claims) };
  // A file that misstates what the node knows is refused all the same (E_TRUC_PREVOUT_CONFLICT); a file that
  // describes nothing (the mempool's raw hex) is fine: the fee is the mempool's either way.
  try {
    await vouchedReplacedPrevouts(node, replaced, parent, claims);
  } catch (e) {
    if ((e as { code?: string }).code !== 'E_TRUC_PREVOUT') throw e;
  }
  const c = chunkOf ? await chunkOf(t.txid) : null;
  // A chunk heavier than the child's own sigop-adjusted weight (≤ 4 × its vsize) holds its parent too.
  return { txid: t.txid, fee: entry.fee, ...(c ? { chunk: { fee: c.chunkFee, weight: c.chunkWeight, withParent: c.chunkWeight > 4 * entry.vsize } } : {}) };
}
