/**
 * Reading `submitpackage`'s answer for a 1-parent-1-child package: each transaction's
 * entry by its wtxid (or, when the node already held a transaction with the same txid and
 * another witness, the entry naming it by `other-wtxid`), and the package's verdict.
 * Anything but `package_msg: "success"` with both transactions in the mempool is a
 * refusal naming the node's reasons (E_BROADCAST_REJECTED, exit 4); since Core 28 a
 * rejected package is reported in the answer, not as an RPC error. Pure.
 */
import { RefusedError } from '../errors.ts';
import type { SubmitPackageResult, SubmitPackageTxResult } from '../chain/types.ts';
import type { PackageVerdict } from './check.ts';

export type SubmittedTx = { txid: string; wtxid: string; vsize?: number; fees_sat?: number; other_wtxid?: string };

function entryFor(result: SubmitPackageResult, wtxid: string): SubmitPackageTxResult | undefined {
  return result.txResults.find((t) => t.wtxid === wtxid);
}

export function submittedMessage(result: SubmitPackageResult, verdict: PackageVerdict, network: string): Record<string, unknown> {
  const entries = (['parent', 'child'] as const).map((who) => [who, verdict[who], entryFor(result, verdict[who].wtxid)] as const);
  if (result.packageMsg !== 'success' || entries.some(([, , e]) => !e || e.error !== undefined)) {
    const why = entries.map(([who, v, e]) => `${who} ${v.txid}: ${e ? e.error ?? 'accepted' : 'no answer for its wtxid'}`).join('; ');
    throw new RefusedError('E_BROADCAST_REJECTED', `the node did not accept the package: ${result.packageMsg} (${why})`, {
      package_msg: result.packageMsg,
      tx_results: Object.fromEntries(entries.map(([who, v, e]) => [who, { txid: v.txid, wtxid: v.wtxid, error: e?.error ?? null }])),
    });
  }
  const tx = (e: SubmitPackageTxResult): SubmittedTx => ({
    txid: e.txid, wtxid: e.wtxid,
    ...(e.vsize === undefined ? {} : { vsize: e.vsize }),
    ...(e.fees === undefined ? {} : { fees_sat: Number(e.fees) }),
    ...(e.otherWtxid === undefined ? {} : { other_wtxid: e.otherWtxid }),
  });
  return {
    type: 'package/submitted', version: 1, network,
    package_msg: result.packageMsg,
    parent: tx(entryFor(result, verdict.parent.wtxid)!),
    child: tx(entryFor(result, verdict.child.wtxid)!),
    replaced_transactions: result.replacedTransactions,
  };
}
