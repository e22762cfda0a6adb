/**
 * The keyless watchtower's kind, `tower-statechain` (docs/watch.md "The tower"): an owner's
 * anchored backup handed over as a `statechain/tower-backup` (../statechain/tower.ts), got mined
 * by the block before the previous owner's backup is final, with a child the tower pays for from
 * its own wallet. The decision is the statechain owner's own table (./statechain.ts decideOwner),
 * read with what a tower knows — the export, never the owner's record. Pure.
 *
 * INVARIANTS (test/lib/watch/tower.test.ts, property tests):
 * - A coin is its outpoint (never the export's claimed coin_id). Of several exports of one coin the
 *   tower keeps the newest by the backup's own nLockTime (the lowest: the latest owner's; never the
 *   claimed backup number), and never goes back to an older one it has seen superseded — a stale
 *   export dropped again (or left beside the new one) is ignored. What it is given here has been
 *   verified by the caller (src/lib/statechain/tower.ts verifyTowerBackup: the template, signed by
 *   the coin's key), so a lower locktime is one the coin's key signed later.
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
  /** The coin's outpoint: what the tower keys everything by. */
  coin: string;
  backup: { txid: string; lockTime: number };
  previous: { txid: string; lockTime: number };
  /** Every older backup's txid: the only spenders the tower replaces. */
  older: readonly string[];
};

/**
 * The export to act on per coin (outpoint): the lowest backup locktime among `given` (ties: the
 * lowest txid, whatever order the files came in), unless the tower has already kept a lower one
 * (`seen`: the lowest locktime per coin it kept before) — then none: the coin moved on after every
 * export at hand (the newest one may have been removed). In deadline order (then by coin).
 */
export function newestExports<T extends { coin: string; lockTime: number; txid: string; deadline: number }>(given: readonly T[], seen: ReadonlyMap<string, number>): T[] {
  const best = new Map<string, T>();
  for (const e of given) {
    const b = best.get(e.coin);
    if (b === undefined || e.lockTime < b.lockTime || (e.lockTime === b.lockTime && e.txid < b.txid)) best.set(e.coin, e);
  }
  return [...best.values()].filter((e) => e.lockTime <= (seen.get(e.coin) ?? Infinity)).sort((a, b) => a.deadline - b.deadline || a.coin.localeCompare(b.coin));
}

/** The owner's table's view of an export: a coin held (`active`), ours the export's backup, the previous owner's before it. */
export function ownerView(t: TowerCoin): OwnerCoin {
  return { coin: t.coin, status: 'active', own: { txid: t.backup.txid, lockTime: t.backup.lockTime }, older: { txid: t.previous.txid, lockTime: t.previous.lockTime } };
}

/**
 * Who a spender of the coin is, to a tower: older (named by the export, and not found newer by the caller — a
 * transaction whose nLockTime is below the backup's is a later owner's, whatever list names it) or, whoever it is, a
 * later owner's.
 */
export function towerSpender(t: TowerCoin, s: Spender): Spender {
  const older = s.txid !== undefined && t.older.includes(s.txid) && s.who !== 'newer';
  return { ...s, who: older ? 'older' : 'newer' };
}

export function decideTower(t: TowerCoin, f: OwnerFacts): OwnerDecision {
  const facts = f.spender ? { ...f, spender: towerSpender(t, f.spender) } : f;
  const d = decideOwner(ownerView(t), facts);
  return { ...d, kind: 'tower-statechain' };
}
