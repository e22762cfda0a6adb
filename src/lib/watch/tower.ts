/**
 * The keyless watchtower's kind, `tower-statechain` (docs/watch.md "The tower"): an owner's
 * anchored backup handed over as a `statechain/tower-backup` (../statechain/tower.ts), got mined
 * by the block before the previous owner's backup is final, with a child the tower pays for from
 * its own wallet. The decision is the statechain owner's own table (./statechain.ts decideOwner),
 * read with what a tower knows — the export, never the owner's record. Pure.
 *
 * INVARIANTS (test/lib/watch/tower.test.ts, property tests):
 * - Of several exports of one coin the tower keeps the newest (the highest backup number: the
 *   lowest locktime, the latest owner's), and never goes back to an older one it has seen
 *   superseded — a stale export dropped again (or left beside the new one) is ignored.
 * - The only spender of the coin a tower ever replaces is one the export names as older (a
 *   previous owner's backup in the mempool). Any other spender — a later owner's backup (the
 *   export is stale: the coin moved after it), the withdrawal, anything — is taken as a later
 *   owner's: waited for in the mempool, `done` in a block, never outbid. So a tower holding an
 *   old owner's export never races the new owner: it acts only where the old owner itself could
 *   (its backup final), and the new owner's backup, final `interval` blocks earlier, stands
 *   against it in any mempool.
 * - Otherwise the statechain owner's table holds as is: from max(Lₙ, deadline − margin), the
 *   backup and its child (`backup`), `rebid` each block within the budget, `rebroadcast` when
 *   the node lost them, `hold` when no bid within the budget outbids what the node holds,
 *   `wait`/`done` once mined.
 */
import { decideOwner, type OwnerCoin, type OwnerDecision, type OwnerFacts, type Spender } from './statechain.ts';

/** What a tower keeps of one export (../statechain/tower.ts TowerBackup's parts). */
export type TowerCoin = {
  coin: string;
  /** The backup's number in the coin's chain: the higher, the newer the owner. */
  n: number;
  backup: { txid: string; lockTime: number };
  previous: { txid: string; lockTime: number };
  /** Every older backup's txid: the only spenders the tower replaces. */
  older: readonly string[];
};

/**
 * The export to act on per coin: the highest backup number among `given`, unless the tower has
 * already seen a higher one (`seen`: the highest number per coin it kept before) — then none:
 * the coin moved on after every export at hand (the newest one may have been removed).
 */
export function newestExports<T extends { coin: string; n: number }>(given: readonly T[], seen: ReadonlyMap<string, number>): T[] {
  const best = new Map<string, T>();
  for (const e of given) {
    const b = best.get(e.coin);
    if (b === undefined || e.n > b.n) best.set(e.coin, e);
  }
  return [...best.values()].filter((e) => e.n >= (seen.get(e.coin) ?? 0)).sort((a, b) => a.coin.localeCompare(b.coin));
}

/** The owner's table's view of an export: a coin held (`active`), ours the export's backup, the previous owner's before it. */
export function ownerView(t: TowerCoin): OwnerCoin {
  return { coin: t.coin, status: 'active', own: { txid: t.backup.txid, lockTime: t.backup.lockTime }, older: { txid: t.previous.txid, lockTime: t.previous.lockTime } };
}

/** Who a spender of the coin is, to a tower: older (named by the export) or, whoever it is, a later owner's. */
export function towerSpender(t: TowerCoin, s: Spender): Spender {
  const older = s.txid !== undefined && t.older.includes(s.txid);
  return { ...s, who: older ? 'older' : 'newer' };
}

export function decideTower(t: TowerCoin, f: OwnerFacts): OwnerDecision {
  const facts = f.spender ? { ...f, spender: towerSpender(t, f.spender) } : f;
  const d = decideOwner(ownerView(t), facts);
  return { ...d, kind: 'tower-statechain' };
}
