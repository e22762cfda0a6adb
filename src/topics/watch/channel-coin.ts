/**
 * A Lightning channel on a statechain coin (docs/statechain.md "A Lightning channel on the coin"): its funding is a
 * backup of the coin, so the outpoint that backup spends — the coin's — says whether the channel can still be on
 * chain. Read from the statechain documents of the same state directory (a pair's part keeps `joint-<coin>`, an owner
 * `coin-<coin>`): each coin's statement lists its backups' txids beside the coin's outpoint. Read as stored, no key:
 * only the statement is read (the share stays sealed). A channel whose coin is in no record of the directory gets no
 * outpoint: its funding's state is then the node's word alone (./channel-spend.ts).
 */
import type { StateDb } from '../../lib/store/sqlite/database.ts';

type CoinDocument = { statement?: { outpoint?: string | null; backups?: { txid?: string }[] } };

/** The coin outpoint each backup the directory's statechain documents know spends, by the backup's txid. */
export async function coinOutpoints(open: (create: boolean) => Promise<StateDb | undefined>, dir: string): Promise<Map<string, string>> {
  const { Documents } = await import('../../lib/store/sqlite/records.ts');
  const docs = new Documents(open, 'statechain', dir);
  const out = new Map<string, string>();
  for (const name of await docs.list()) {
    if (!name.startsWith('coin-') && !name.startsWith('joint-')) continue;
    const s = (await docs.read<CoinDocument>(name))?.statement;
    if (typeof s?.outpoint !== 'string') continue;
    for (const b of s.backups ?? []) if (typeof b.txid === 'string') out.set(b.txid, s.outpoint);
  }
  return out;
}
