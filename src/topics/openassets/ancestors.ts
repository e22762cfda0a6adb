/**
 * Where `openassets decode` finds a transaction's ancestors: --prev files (JSON Lines or one
 * hex per line; "-" is standard input) and a node (getrawtransaction: not-found is "missing",
 * other failures stop).
 */
import { readFlagFile } from '../../lib/cli/input.ts';
import type { ChainSource } from '../../lib/chain/index.ts';

export const TXINDEX_HINT = 'the node did not return these transactions; a confirmed transaction can only be looked up on a node started with -txindex';

/** A --prev file's text; one that cannot be read is E_INPUT_FILE naming --prev, as for every file flag. */
function readPrev(path: string): string {
  return new TextDecoder().decode(readFlagFile('--prev', path));
}

/**
 * Every --prev file's transactions by txid, in order (a later file's wins). `stdin`: standard
 * input's bytes, for `-` (the transaction then comes from --in FILE or --tx).
 */
export async function prevTransactions(paths: readonly string[], stdin: () => Promise<Uint8Array>): Promise<Map<string, Uint8Array>> {
  const { parsePrevText } = await import('../../lib/openassets/decode.ts');
  const prevs = new Map<string, Uint8Array>();
  for (const path of paths) {
    const text = path === '-' ? new TextDecoder().decode(await stdin()) : readPrev(path);
    for (const [k, v] of parsePrevText(text, path)) prevs.set(k, v);
  }
  return prevs;
}

/** A node as the ancestor source (getrawtransaction), when one is named (--rpc-url or the environment). */
export async function nodeSource(rpcUrl: string | undefined, chain: () => Promise<ChainSource>): Promise<((txid: string) => Promise<Uint8Array | undefined>) | undefined> {
  const chainMod = await import('../../lib/chain/index.ts');
  if (rpcUrl === undefined && !process.env[chainMod.ENV_RPC_URL]) return undefined;
  const node = await chain();
  return async (txid) => {
    try {
      return await node.rawTransaction(txid);
    } catch (e) {
      if (e instanceof chainMod.RpcError && e.rpcCode === -5) return undefined;
      throw e;
    }
  };
}
