/**
 * The inputs of an earlier child that `package child --replaces` must outbid, as the node
 * vouches for them (vouched.ts). The earlier child's fee sets the new child's floor — what
 * our wallet pays — so its inputs' amounts are never taken on its file's word: whoever hands
 * over the earlier child (the other part of a pair, a watchtower, a stranger who spent a
 * keyless anchor) could inflate a witness_utxo and have our wallet pay the difference. Its
 * inputs spending the parent are the parent's outputs, read from the parent's bytes.
 */
import type { Prevout } from './check.ts';
import { measureTx } from './transaction.ts';
import { vouchedPrevouts, type NodeWord } from './vouched.ts';

export type { NodeWord };

export async function vouchedReplacedPrevouts(node: NodeWord, replaced: Uint8Array, parent: Uint8Array, claims: readonly Prevout[]): Promise<Prevout[]> {
  const p = measureTx(parent, 'the parent');
  return vouchedPrevouts(node, replaced, claims, {
    name: 'the replaced child', source: '--replaces',
    inside: (txid, vout) => (txid === p.txid ? p.tx.outputs[vout] ?? { amount: 0n, script: new Uint8Array() } : undefined),
  });
}
