/**
 * A Lightning channel on a statechain coin (docs/statechain.md "A Lightning channel on the coin"): its funding is a
 * backup of the coin, so the outpoint that backup spends — the coin's — says whether the channel can still be on
 * chain. Read from the statechain documents of the same state directory (a pair's part keeps `joint-<coin>`, an owner
 * `coin-<coin>`): each coin's statement lists its backups' txids beside the coin's outpoint. Read as stored, no key:
 * only the statement and the signed backups are read (the share stays sealed). A backup's link to the coin is taken
 * only from the record's own signed backup whose bytes hash to that txid and spend that outpoint — the plain JSON's
 * outpoint alone is anyone's who writes the database, and a channel linked to an outpoint spent elsewhere would be
 * called lost (done: no longer watched for a revoked commitment). A channel whose coin is in no record of the
 * directory gets no outpoint: its funding's state is then the node's word alone (./channel-spend.ts).
 */
import type { StateDb } from '../../lib/store/sqlite/database.ts';
import { parseTransaction } from '../../lib/statechain/coin.ts';
import { toHex } from '../../lib/bytes.ts';

type CoinDocument = { statement?: { outpoint?: string | null; backups?: { txid?: string }[] }; backups?: unknown[] };

/** The coin outpoint each backup the directory's statechain documents know spends, by the backup's txid. */
export async function coinOutpoints(open: (create: boolean) => Promise<StateDb | undefined>, dir: string): Promise<Map<string, string>> {
  const { Documents } = await import('../../lib/store/sqlite/records.ts');
  const docs = new Documents(open, 'statechain', dir);
  const out = new Map<string, string>();
  for (const name of await docs.list()) {
    if (!name.startsWith('coin-') && !name.startsWith('joint-')) continue;
    const doc = await docs.read<CoinDocument>(name);
    const s = doc?.statement;
    if (typeof s?.outpoint !== 'string' || !Array.isArray(s.backups)) continue;
    for (const [i, b] of s.backups.entries()) {
      const hex = doc?.backups?.[i];
      if (typeof b?.txid === 'string' && typeof hex === 'string' && spends(hex, b.txid, s.outpoint)) out.set(b.txid, s.outpoint);
    }
  }
  return out;
}

/** Whether the signed backup `hex` is the transaction `txid` and spends `outpoint` (TXID:VOUT). */
function spends(hex: string, txid: string, outpoint: string): boolean {
  try {
    const tx = parseTransaction(hex, 'a stored backup');
    return tx.id === txid && Array.from({ length: tx.inputsLength }, (_, i) => tx.getInput(i)).some((i) => `${toHex(i.txid!)}:${i.index}` === outpoint);
  } catch {
    return false;
  }
}
