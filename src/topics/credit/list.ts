/**
 * What `credit list` prints, as one function the command (a read-only view of the store) and
 * the mint's service (GET /v1/operator/contracts, on its own open store) both call: the mint's
 * contracts, soonest expiry first, with the chain's tip and, for a mint that issues ecash, what
 * it signed per contract and keyset (src/lib/credit/operator.ts contractsMessage).
 */
import type { ChainSource } from '../../lib/chain/types.ts';
import type { MintContractRecord, MintPolicy } from '../../lib/credit/ports.ts';
import type { MintStorePort } from '../../lib/store/mint-store-port.ts';
import type { Network } from '../../lib/network.ts';

export async function contractsList(store: Pick<MintStorePort<MintContractRecord>, 'list' | 'ecashIssuance'>, policy: MintPolicy, chain: ChainSource, network: Network, within: number | undefined) {
  const { contractsMessage } = await import('../../lib/credit/operator.ts');
  return contractsMessage(await store.list(), (await chain.tip()).height, policy, network, chain, within, policy.ecash ? await store.ecashIssuance() : undefined);
}
