/**
 * GET /v1/info on the operator's listener (docs/serve.md; schemas/serve.info.json): the role's
 * part of the answer — its version, store, chain tip and watcher — which ./service.ts completes
 * with the network, role, secp256k1 backend, uptime and listening URLs. The answer never fails
 * for the node: an unreachable or slow one (over INFO_TIP_TIMEOUT_MS) is an `error` field.
 */
import type { ChainSource } from '../../lib/chain/types.ts';
import { describeError } from '../../lib/cli/describe-error.ts';
import { OffchainError } from '../../lib/errors.ts';
import type { WatchGaugeState } from '../watch/service.ts';

/** How long the answer waits for the node's tip. */
export const INFO_TIP_TIMEOUT_MS = 2000;

export type StoreInfo = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

export type InfoSources = {
  version: string;
  store: StoreInfo;
  chain: ChainSource;
  watcher?: { state: WatchGaugeState; running(): boolean } | undefined;
};

/** The store the command's flags name: a PostgreSQL URL (--store / $OFFCHAIN_STORE_URL) without its password, else the state directory. */
export async function storeInfo(flags: Record<string, unknown>, stateDir: string): Promise<StoreInfo> {
  const { storeTarget } = await import('../../lib/cli/store-flags.ts');
  const { redactUrl } = await import('../../lib/store/pg/url.ts');
  const target = await storeTarget(flags);
  return target ? { kind: 'postgres', url: redactUrl(target.url) } : { kind: 'sqlite', path: stateDir };
}

async function chainInfo(chain: ChainSource): Promise<Record<string, unknown>> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const tip = await Promise.race([
      chain.tip(),
      new Promise<never>((_res, rej) => (timer = setTimeout(() => rej(new OffchainError('E_RPC_UNREACHABLE', `the node did not answer within ${INFO_TIP_TIMEOUT_MS} ms`)), INFO_TIP_TIMEOUT_MS))),
    ]);
    return chain.kind === 'rpc' ? { source: 'rpc', height: tip.height, hash: tip.hash } : { source: 'offline', height: tip.height };
  } catch (e) {
    const d = describeError(e);
    return { source: chain.kind, error: `${d.code}: ${d.message}` };
  } finally {
    clearTimeout(timer);
  }
}

/** The role's part of /v1/info, read at each request. */
export function infoHook(s: InfoSources): () => Promise<Record<string, unknown>> {
  return async () => {
    const w = s.watcher;
    const last = w?.state.last;
    return {
      offchain_version: s.version,
      store: s.store,
      chain: await chainInfo(s.chain),
      watcher: {
        running: w?.running() ?? false,
        ...(last ? { tip: last.tip } : {}),
        ...(w?.state.lastAt ? { at: w.state.lastAt } : {}),
        ...(w ? { failed_rounds: w.state.failedRounds } : {}),
      },
    };
  };
}
