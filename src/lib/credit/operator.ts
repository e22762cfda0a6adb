/**
 * The operator's view of a mint's contracts (runbooks run it on a schedule): capacity,
 * latest state, expiry, and which must be exited now — those with a signed state whose
 * expiry is within the safety margin, since the exit must be mined by block `expiry`.
 *
 * A contract frozen by a close or rollover keeps its latest state until the settlement
 * has the mint's required confirmations: until then it may still have to exit with it.
 * Whether it has them is decided by the settlement transaction's own confirmations
 * (getrawtransaction), never by whether one of its outputs is unspent — an output
 * spent later would make a settled contract look unsettled again. Once settled it is
 * shown as `closed` / `rolled-over`. When the chain cannot say (offline, or a node
 * without -txindex once the settlement is mined) `settlement.confirmations` is absent
 * and the contract is treated as unsettled.
 *
 * A contract the mint is exiting (exit-credit marked it: frozen, its latest state
 * submitted or printed to submit) is `exiting` until that state has the required
 * confirmations, then `exited`.
 *
 * Past its expiry the user's refund is final, and it is the one other spend of the funding
 * the mint ever signed. Its txid is the contract's (the refund is built from the terms alone),
 * so a node is asked about it — only then, for contracts neither settled nor exited: once it
 * is mined the contract is `refunded` (with the required confirmations) and no state can be
 * exited any more; while it is in the mempool (`refunding`, 0 confirmations) the mint's exit
 * may still replace it. Every row says in `next` what the operator does now.
 */
import type { ChainSource } from '../chain/types.ts';
import type { MintContractRecord, MintPolicy } from './ports.ts';
import { gatewayPayments } from './channel-payments.ts';
import { termsFromJson } from './codec.ts';
import { buildRefund } from './transactions.ts';
import { txidOnceSigned } from '../tx/wallet-psbt.ts';

/**
 * The confirmations of `txids` as the node says them — asked together (one JSON-RPC batch per
 * few hundred: a view of thousands of contracts is a few round-trips), each once — by txid;
 * undefined when the chain cannot say (offline, a source without the call, or not found).
 */
async function confirmationsOf(chain: ChainSource, txids: readonly string[]): Promise<(txid: string) => number | undefined> {
  if (chain.kind !== 'rpc' || !chain.txConfirmations || txids.length === 0) return () => undefined;
  let known: Map<string, number | null>;
  if (chain.txConfirmationsMany) known = await chain.txConfirmationsMany(txids);
  else {
    known = new Map();
    for (const txid of new Set(txids)) known.set(txid, await chain.txConfirmations(txid));
  }
  return (txid) => known.get(txid) ?? undefined;
}

const SETTLED_STATUS = { close: 'closed', rollover: 'rolled-over' } as const;

/** The user's refund's txid (offline: not even built — the chain cannot say anything of it). */
function refundTxid(chain: ChainSource, r: MintContractRecord): string | undefined {
  return chain.kind === 'rpc' ? txidOnceSigned(buildRefund(termsFromJson(r.contract, r.network))) : undefined;
}

export async function contractsMessage(
  records: readonly MintContractRecord[],
  tipHeight: number,
  policy: MintPolicy,
  network: string,
  chain: ChainSource,
  within?: number,
  ecashOutstanding?: { keyset_id: string; issued_sat: number; signatures: number }[],
) {
  // What the node says of each settlement and exit, then of the refunds still in question: asked together, not contract by contract.
  const onChain = await confirmationsOf(chain, records.flatMap((r) => [...(r.settlement ? [r.settlement.txid] : []), ...(r.exiting ? [r.exiting.txid] : [])]));
  const facts = records.map((r) => {
    const blocks = r.contract.expiry_height - tipHeight;
    const confirmations = r.settlement ? onChain(r.settlement.txid) : undefined;
    const exitConfirmations = r.exiting ? onChain(r.exiting.txid) : undefined;
    const settled = confirmations !== undefined && confirmations >= policy.min_confirmations;
    const exited = exitConfirmations !== undefined && exitConfirmations >= policy.min_confirmations;
    // The refund is final from the tip at expiry (nLockTime = expiry_height).
    const refundId = !settled && !exited && blocks <= 0 ? refundTxid(chain, r) : undefined;
    return { r, blocks, confirmations, exitConfirmations, settled, exited, refundId };
  });
  const refundOnChain = await confirmationsOf(chain, facts.flatMap((f) => (f.refundId ? [f.refundId] : [])));
  const rows = [];
  for (const { r, blocks, confirmations, exitConfirmations, settled, exited, refundId } of facts) {
    const s = r.settlement;
    const refundConfirmations = refundId ? refundOnChain(refundId) : undefined;
    // The user's refund as the node knows it (in its mempool or mined), or undefined (offline, not there, or a node that cannot say).
    const refund = refundId !== undefined && refundConfirmations !== undefined ? { txid: refundId, confirmations: refundConfirmations } : undefined;
    const refunded = refund !== undefined && refund.confirmations >= policy.min_confirmations;
    // A mined refund cannot be replaced: no state can be exited (a reorg aside) — not "exit now".
    const mustExit = r.latest !== undefined && !settled && !exited && (refund === undefined || refund.confirmations === 0) && blocks <= policy.safety_margin_blocks;
    const status = settled ? SETTLED_STATUS[s!.kind] : exited ? 'exited' : refunded ? 'refunded' : refund ? 'refunding' : r.exiting ? 'exiting' : r.status;
    rows.push({
      contract_id: r.contract_id,
      status,
      capacity_sat: r.contract.capacity_sat,
      cumulative_sat: r.latest?.cumulative_sat ?? 0,
      state: r.latest?.state ?? 0,
      expiry_height: r.contract.expiry_height,
      blocks_to_expiry: blocks,
      settlement: s ? { kind: s.kind, txid: s.txid, confirmations } : undefined,
      exit: r.exiting ? { state: r.exiting.state, txid: r.exiting.txid, confirmations: exitConfirmations } : undefined,
      refund,
      must_exit: mustExit,
      next: nextStep(r, { settled, exited, refund, mustExit, blocks, margin: policy.safety_margin_blocks, minConfirmations: policy.min_confirmations }),
      ecash_issued_sat: r.ecash_issued_sat,
      payments: r.gateway ? gatewayPayments(r.gateway) : undefined,
    });
  }
  const contracts = rows
    .filter((c) => within === undefined || c.blocks_to_expiry <= within)
    .sort((a, b) => a.blocks_to_expiry - b.blocks_to_expiry || a.contract_id.localeCompare(b.contract_id));
  return { type: 'credit/contracts', version: 1, network, tip_height: tipHeight, ...(ecashOutstanding ? { ecash_outstanding: ecashOutstanding } : {}), contracts };
}

const confirmationsText = (n: number) => `${n} confirmation${n === 1 ? '' : 's'}`;

/** What the operator does now for one contract, in one line (the runbook's "next"). */
function nextStep(
  r: MintContractRecord,
  f: { settled: boolean; exited: boolean; refund: { txid: string; confirmations: number } | undefined; mustExit: boolean; blocks: number; margin: number; minConfirmations: number },
): string {
  const id = r.contract_id;
  if (f.settled) return 'nothing: the ' + r.settlement!.kind + ' is confirmed';
  if (f.exited) return 'nothing: the exit is confirmed';
  if (f.refund && f.refund.confirmations > 0) {
    const lost = r.latest ? `; its states can no longer be exited (state ${r.latest.state}, ${r.latest.cumulative_sat} sat, is lost)` : '';
    return f.refund.confirmations >= f.minConfirmations
      ? `nothing: the user's refund ${f.refund.txid} spent the funding (${confirmationsText(f.refund.confirmations)})${lost}`
      : `nothing to do but watch: the user's refund ${f.refund.txid} spent the funding (${confirmationsText(f.refund.confirmations)} of ${f.minConfirmations})${lost}`;
  }
  if (f.refund) {
    return r.latest
      ? `exit now: the user's refund ${f.refund.txid} is in the mempool — exit-credit --contract ${id} --fee-rate R --broadcast, at a fee that replaces it (BIP-125), or state ${r.latest.state} is lost once it is mined`
      : `nothing: the user's refund ${f.refund.txid} is in the mempool (no payment to exit with)`;
  }
  if (r.exiting) {
    return `wait for the exit (state ${r.exiting.state}, ${r.exiting.txid}) to get ${confirmationsText(f.minConfirmations)}; ` +
      `if it is not mined, rerun exit-credit --contract ${id} with a higher --fee-rate (add --broadcast with a node)`;
  }
  if (f.mustExit) return `exit now: exit-credit --contract ${id} --fee-rate R --broadcast (with a node), before block ${r.contract.expiry_height}`;
  if (r.settlement) {
    return `wait for the ${r.settlement.kind} ${r.settlement.txid} to get ${confirmationsText(f.minConfirmations)}; ` +
      (r.latest ? `if it is not mined ${f.margin} blocks before expiry, exit-credit --contract ${id}` : 'nothing else to do');
  }
  if (!r.latest) return 'nothing: no payment yet (the user\'s refund covers the contract)';
  return `nothing yet: exit-credit --contract ${id} once within ${f.margin} blocks of expiry (in ${f.blocks - f.margin} blocks), unless it is closed or rolled over first`;
}
