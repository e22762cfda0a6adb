/**
 * `openassets decode --protocol colu`: the transaction's Colu "CC" OP_RETURN payload and, with
 * --prev files or a node, the Colu assets on every output (src/lib/colu/coloring.ts). One
 * transaction: no --stream.
 */
import { UsageError } from '../../lib/errors.ts';
import type { Network } from '../../lib/network.ts';

export type ColuSources = {
  /** The transaction's text (--tx, --in or standard input); read first. */
  text: () => Promise<string>;
  /** --prev's transactions by txid; read after the transaction. */
  prevs: () => Promise<Map<string, Uint8Array>>;
  prevGiven: boolean;
  /** --stream was given: refused, before anything is read. */
  stream: boolean;
  node: () => Promise<((txid: string) => Promise<Uint8Array | undefined>) | undefined>;
};

export async function decodeColu(s: ColuSources, network: Network, cacheSize: number): Promise<Record<string, unknown>> {
  if (s.stream) throw new UsageError('E_USAGE', '--protocol colu decodes one transaction: no --stream');
  const { txBytesFromText } = await import('../../lib/openassets/decode.ts');
  const { parseRawTx } = await import('../../lib/tx/raw.ts');
  const { coluMessage } = await import('../../lib/colu/message.ts');
  const tx = parseRawTx(txBytesFromText(await s.text()));
  const [known, chain] = [await s.prevs(), await s.node()];
  if (!s.prevGiven && !chain) return coluMessage(tx, network);
  const { ColuColorer } = await import('../../lib/colu/coloring.ts');
  const colorer = new ColuColorer({ source: async (txid) => known.get(txid) ?? (chain ? chain(txid) : undefined), parse: parseRawTx, network, cacheSize });
  const m = coluMessage(tx, network, await colorer.color(tx));
  const { TXINDEX_HINT } = await import('./ancestors.ts');
  return chain && m.flow?.status === 'undecided' ? { ...m, hint_if_missing: TXINDEX_HINT } : m;
}
