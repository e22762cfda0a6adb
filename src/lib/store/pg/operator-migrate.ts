/**
 * Moving a statechain operator from its state.sqlite (--state-dir) to PostgreSQL mid-life
 * (issue 29 item 6): every coin's record becomes the coin's rows — its record, its share
 * sealed, and the ledger its history implies (owner nonces, backups, finished and pending
 * transfers, the withdrawal) — and then its row in state.sqlite is deleted (secure_delete
 * zeroes it in the file), so that no coin has two live stores that could each sign for it.
 *
 * Run it with every operator process stopped. Every record is first checked to be this
 * operator's (its key, its network, its share), so a wrong key is refused before anything
 * moves (E_KEY_MISMATCH). A coin the database holds exactly as a killed run committed it has
 * its row deleted now; a coin it holds otherwise is refused (E_COIN_EXISTS) and its row kept;
 * the coins before it stay migrated, so a rerun after fixing it carries on. Not here: moving
 * back, and the owners' records (they stay where they are). The state directory keeps a mark
 * (meta `statechain_operator_migrated`, naming the database), committed before the first coin
 * moves, and the SQLite store refuses every operator step there afterwards (E_STORE_MIGRATED),
 * so a host that lost its --store does not start a second store; a directory marked for one
 * database is refused for another.
 */
import { StateConflictError } from '../../errors.ts';
import type { OperatorRecord } from '../../statechain/ports.ts';
import type { Sealer } from '../seal.ts';
import type { StateDb } from '../sqlite/database.ts';
import { OPERATOR_MIGRATED_KEY, OPERATOR_SECRETS, type OperatorMigratedMark } from '../sqlite/operator.ts';
import { Records } from '../sqlite/records.ts';
import type { PgOperatorStore } from './operator-store.ts';

/** Called after a coin's rows committed, before its SQLite row is deleted. Only tests pass it (to kill the process there); the command never does. */
export interface OperatorMigrationHooks {
  afterImport?: (coinId: string) => void | Promise<void>;
}

export async function migrateOperatorState(db: StateDb, sealer: Sealer, to: PgOperatorStore, hooks: OperatorMigrationHooks = {}): Promise<{ coins: string[] }> {
  // The key first, on the records as stored (their shares sealed): under another key's seal they would
  // not open, and that would say E_STATE_CORRUPT ("altered") of records that are fine.
  for (const { record } of new Records<OperatorRecord>(db, 'statechain-operator').list()) to.assertOwnKey(record);
  const coins = new Records<OperatorRecord>(db, 'statechain-operator', { fields: OPERATOR_SECRETS, sealer });
  const records = coins.list().map((r) => r.record);
  // Every record first checked to be this store's to take (its network, this operator's key, its share):
  // a wrong --key-env is refused before any share is sealed under it and any row deleted.
  for (const record of records) to.assertOwn(record);
  // A directory moved (or being moved) to one database is not moved to another: its coins would be split between two.
  const row = db.meta(OPERATOR_MIGRATED_KEY);
  const mark = row === undefined ? undefined : (JSON.parse(row) as OperatorMigratedMark);
  if (mark !== undefined && mark.to.split('?')[0] !== to.where.split('?')[0]) { // the same database with other connection options is the same
    throw new StateConflictError('E_STORE_MIGRATED', `this operator's coins in ${db.dir} were moved to ${mark.to} at ${mark.at}, not ${to.where}: run the migration again with --to ${mark.to}`, { store: mark.to });
  }
  // The database reachable and its tables there before state.sqlite stops being the store (a server that is down leaves it serving).
  await to.ready();
  // From the first coin moved on, this directory is no longer the operator's store: operator steps on it are refused
  // (E_STORE_MIGRATED) instead of starting a second store beside the database.
  if (mark === undefined) {
    await db.step(() => db.sql.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run(OPERATOR_MIGRATED_KEY, JSON.stringify({ to: to.where, at: new Date().toISOString() } satisfies OperatorMigratedMark)));
  }
  const moved: string[] = [];
  for (const record of records) {
    // 'already': a run killed after this coin's COMMIT left its row; the store holds exactly it, so it is deleted now.
    await to.import(record);
    await hooks.afterImport?.(record.coin_id);
    await db.step(() => coins.remove(record.coin_id));
    moved.push(record.coin_id);
  }
  return { coins: moved };
}
