/**
 * Where a parent stands with the node before a child is built for it (review of issue 37): a
 * counterparty can hand over a parent the chain or the mempool has already judged, and a child
 * built for it at --fee-rate is refused by Core once it is signed — the bump fails when it is
 * needed. With a node, each input of the parent is looked up first.
 *
 * Invariants (with a node):
 * - an input from a transaction still in the mempool (the parent's own inputs unconfirmed) makes
 *   the child a third generation, which Core refuses: E_TRUC_TOO_MANY_ANCESTORS (a version-3
 *   source: "TRUC-violation, … would have too many ancestors"), E_TRUC_INHERITANCE (another
 *   version: "version=3 tx … cannot spend from non-version=3 tx …"), exit 4;
 * - an input spent in a block (by the parent itself: nothing to bump; or by a transaction that
 *   replaced it: it can never confirm) is E_TRUC_PARENT_SPENT, exit 4;
 * - an input spent in the mempool by another transaction: the parent conflicts with it, and
 *   the package must replace it (package RBF): it is returned with what its replacement evicts,
 *   so the child pays for that (child.ts).
 * Pure but for the questions to the node.
 */
import { RefusedError } from '../errors.ts';
import { toHex } from '../bytes.ts';
import { measureTx } from './transaction.ts';

/** What the package must outbid to replace a conflicting mempool transaction: it and its descendants, and its chunk. */
export type Conflict = { txid: string; descendantFee: bigint; descendantVsize: number; chunkFee: bigint; chunkWeight: number };

export type StandingWord = {
  /** gettxout with the mempool: confirmations (0: created in the mempool), or undefined when spent or never made. */
  unspent(txid: string, vout: number): Promise<{ confirmations: number } | undefined>;
  /** gettxspendingprevout: the mempool transaction spending the output. */
  spender(txid: string, vout: number): Promise<string | undefined>;
  /** A mempool transaction's raw bytes (getrawtransaction works for the mempool without -txindex), or undefined. */
  mempoolTx(txid: string): Promise<Uint8Array | undefined>;
  /** getmempoolentry's eviction numbers, or null when not in the mempool. */
  eviction(txid: string): Promise<Omit<Conflict, 'txid'> | null>;
};

export async function parentStanding(node: StandingWord, parentRaw: Uint8Array): Promise<{ conflicts: Conflict[] }> {
  const p = measureTx(parentRaw, 'the parent');
  const conflicts: Conflict[] = [];
  const unconfirmedSource = async (txid: string, i: number) => {
    const raw = await node.mempoolTx(txid);
    const src = raw ? measureTx(raw, 'a transaction in the mempool') : undefined;
    if (src && src.tx.version !== 3) {
      throw new RefusedError('E_TRUC_INHERITANCE', `parent input ${i} spends ${txid}, a version-${src.tx.version} transaction still in the node's mempool: a version-3 parent cannot spend it until it confirms (Bitcoin Core: "TRUC-violation, version=3 tx ${p.txid} (wtxid=${p.wtxid}) cannot spend from non-version=3 tx ${txid} (wtxid=${src.wtxid})")`);
    }
    throw new RefusedError('E_TRUC_TOO_MANY_ANCESTORS', `parent input ${i} spends ${txid}, still in the node's mempool: the parent is itself a TRUC child, and a child of it would have two unconfirmed ancestors (Bitcoin Core: "TRUC-violation, … would have too many ancestors"); bump ${txid} instead, or wait for it to confirm`);
  };
  for (const [i, input] of p.tx.inputs.entries()) {
    const txid = toHex(input.txid);
    const u = await node.unspent(txid, input.index);
    if (u) {
      if (u.confirmations < 1) await unconfirmedSource(txid, i);
      continue;
    }
    const spender = await node.spender(txid, input.index);
    if (spender === p.txid) {
      // The parent is in the mempool: its own inputs must be confirmed too.
      if (await node.eviction(txid)) await unconfirmedSource(txid, i);
      continue;
    }
    if (spender === undefined) {
      throw new RefusedError('E_TRUC_PARENT_SPENT', `parent input ${i} spends ${txid}:${input.index}, which is spent in a block (by the parent itself: nothing to bump; or by a transaction that replaced it: it can never confirm) or was never made`);
    }
    if (conflicts.some((c) => c.txid === spender)) continue;
    const e = await node.eviction(spender);
    if (e) conflicts.push({ txid: spender, ...e });
  }
  return { conflicts };
}
