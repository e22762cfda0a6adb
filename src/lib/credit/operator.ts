/**
 * The operator's view of a mint's contracts (runbooks run it on a schedule): capacity,
 * latest state, expiry, and which must be exited now — those with a signed state whose
 * expiry is within the safety margin, since the exit must be mined by block `expiry`.
 */
import type { MintContractRecord, MintPolicy } from './ports.ts';

export function contractsMessage(records: readonly MintContractRecord[], tipHeight: number, policy: MintPolicy, network: string, within?: number) {
  const contracts = records
    .map((r) => {
      const blocks = r.contract.expiry_height - tipHeight;
      return {
        contract_id: r.contract_id,
        status: r.status,
        capacity_sat: r.contract.capacity_sat,
        cumulative_sat: r.latest?.cumulative_sat ?? 0,
        state: r.latest?.state ?? 0,
        expiry_height: r.contract.expiry_height,
        blocks_to_expiry: blocks,
        must_exit: r.latest !== undefined && blocks <= policy.safety_margin_blocks,
      };
    })
    .filter((c) => within === undefined || c.blocks_to_expiry <= within)
    .sort((a, b) => a.blocks_to_expiry - b.blocks_to_expiry || a.contract_id.localeCompare(b.contract_id));
  return { type: 'credit/contracts', version: 1, network, tip_height: tipHeight, contracts };
}
