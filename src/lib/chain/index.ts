/**
 * The chain layer (BRIEF §2 "Chain"): one ChainSource interface, a Bitcoin Core RPC
 * implementation, an offline one fed by flags, and the one finality rule. Commands
 * import from here; protocol modules import only `finality.ts` and `types.ts`
 * (pure, no I/O).
 */
export * from './types.ts';
export * from './finality.ts';
export { btcToSats, satsToBtc } from './amount.ts';
export * from './rpc-config.ts';
export { RpcClient, RpcError } from './rpc-client.ts';
export type { RpcClientDeps } from './rpc-client.ts';
export { RpcChainSource, CORE_CHAIN_NAME, computeTxid } from './rpc.ts';
export { OfflineChainSource } from './offline.ts';
export type { OfflineChainFacts, OfflineFlagNames } from './offline.ts';
