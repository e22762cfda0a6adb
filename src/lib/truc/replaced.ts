/**
 * The inputs of an earlier child that `package child --replaces` must outbid, as the node
 * vouches for them. The earlier child's fee sets the new child's floor — what our wallet
 * pays — so its inputs' amounts are never taken on its file's word: whoever hands over the
 * earlier child (the other part of a pair, a watchtower, a stranger who spent a keyless
 * anchor) could inflate a witness_utxo and have our wallet pay the difference.
 *
 * Invariants:
 * - an input the node can show (unspent, or from the transaction that made it) is the
 *   node's; a file claim it contradicts is E_TRUC_PREVOUT_CONFLICT;
 * - an input it cannot show (spent in the mempool by the earlier child itself, its funding
 *   confirmed on a node without -txindex) keeps the file's claim only if the earlier
 *   child's fee so computed is exactly the fee the node's mempool holds it at
 *   (getmempoolentry); otherwise E_TRUC_PREVOUT_CONFLICT, or E_TRUC_PREVOUT when the
 *   mempool does not hold it.
 * Pure but for the two questions to the node.
 */
import { UsageError } from '../errors.ts';
import { equalBytes, toHex } from '../bytes.ts';
import type { Prevout } from './check.ts';
import { measureTx } from './transaction.ts';

export type NodeWord = {
  /** The output as the node knows it, or undefined. */
  prevout(txid: string, vout: number): Promise<Prevout | undefined>;
  /** getmempoolentry's fees.base, sat; null when the mempool does not hold it. */
  mempoolFee(txid: string): Promise<bigint | null>;
};

export async function vouchedReplacedPrevouts(node: NodeWord, replaced: Uint8Array, parent: Uint8Array, claims: readonly Prevout[]): Promise<Prevout[]> {
  const t = measureTx(replaced, 'the replaced child');
  const p = measureTx(parent, 'the parent');
  const out: Prevout[] = [];
  let unverified = false;
  let valueIn = 0n;
  for (const input of t.tx.inputs) {
    const txid = toHex(input.txid);
    if (txid === p.txid) {
      valueIn += p.tx.outputs[input.index]?.amount ?? 0n;
      continue;
    }
    const claim = claims.find((c) => c.txid === txid && c.vout === input.index);
    const known = await node.prevout(txid, input.index);
    if (known && claim && (claim.amount !== known.amount || !equalBytes(claim.script, known.script))) {
      throw new UsageError('E_TRUC_PREVOUT_CONFLICT', `--replaces says ${txid}:${input.index} holds ${claim.amount} sat, the node ${known.amount} sat: the earlier child's file misstates its fee — refused rather than paid`);
    }
    const used = known ?? claim;
    if (!used) throw new UsageError('E_TRUC_PREVOUT', `the replaced child ${t.txid} spends ${txid}:${input.index}, which the node neither holds unspent nor can show`);
    if (!known) unverified = true;
    valueIn += used.amount;
    out.push(used);
  }
  if (unverified) {
    const fee = valueIn - t.tx.outputs.reduce((a, o) => a + o.amount, 0n);
    const inPool = await node.mempoolFee(t.txid);
    if (inPool === null) throw new UsageError('E_TRUC_PREVOUT', `the replaced child ${t.txid} is not in the node's mempool and the node cannot show all its inputs: its fee cannot be vouched for`);
    if (inPool !== fee) {
      throw new UsageError('E_TRUC_PREVOUT_CONFLICT', `--replaces makes the earlier child ${t.txid} pay ${fee} sat, the node's mempool holds it at ${inPool} sat: the file misstates its inputs — refused rather than paid`);
    }
  }
  return out;
}
