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
 */
import type { ChainSource } from '../chain/types.ts';
import type { MintContractRecord, MintPolicy } from './ports.ts';

async function settlementConfirmations(chain: ChainSource, txid: string): Promise<number | undefined> {
  if (chain.kind !== 'rpc' || !chain.txConfirmations) return undefined;
  return (await chain.txConfirmations(txid)) ?? undefined;
}

const SETTLED_STATUS = { close: 'closed', rollover: 'rolled-over' } as const;

export async function contractsMessage(
  records: readonly MintContractRecord[],
  tipHeight: number,
  policy: MintPolicy,
  network: string,
  chain: ChainSource,
  within?: number,
) {
  const rows = [];
  for (const r of records) {
    const blocks = r.contract.expiry_height - tipHeight;
    const s = r.settlement;
    const confirmations = s ? await settlementConfirmations(chain, s.txid) : undefined;
    const settled = confirmations !== undefined && confirmations >= policy.min_confirmations;
    rows.push({
      contract_id: r.contract_id,
      status: settled ? SETTLED_STATUS[s!.kind] : r.status,
      capacity_sat: r.contract.capacity_sat,
      cumulative_sat: r.latest?.cumulative_sat ?? 0,
      state: r.latest?.state ?? 0,
      expiry_height: r.contract.expiry_height,
      blocks_to_expiry: blocks,
      settlement: s ? { kind: s.kind, txid: s.txid, confirmations } : undefined,
      must_exit: r.latest !== undefined && !settled && blocks <= policy.safety_margin_blocks,
    });
  }
  const contracts = rows
    .filter((c) => within === undefined || c.blocks_to_expiry <= within)
    .sort((a, b) => a.blocks_to_expiry - b.blocks_to_expiry || a.contract_id.localeCompare(b.contract_id));
  return { type: 'credit/contracts', version: 1, network, tip_height: tipHeight, contracts };
}
