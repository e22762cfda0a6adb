/**
 * Moving a statechain operator from its files (--state-dir) to PostgreSQL mid-life
 * (issue 29 item 6): every `op-<coin>.json` becomes the coin's rows — its record, its share
 * sealed, and the ledger its history implies (owner nonces, backups, finished and pending
 * transfers, the withdrawal) — and then the file is erased (overwritten with zeros,
 * unlinked), so that no coin has two live stores that could each sign for it.
 *
 * Run it with every operator process stopped; it holds the state directory's lock while it
 * reads. Every record is first checked to be this operator's (its key, its network, its
 * share), so a wrong key is refused before anything moves (E_KEY_MISMATCH). A coin the
 * database holds exactly as a killed run committed it has its file erased now; a coin it
 * holds otherwise is refused (E_COIN_EXISTS) and its file kept; a file of zeros (an
 * erasure killed before its unlink) of a coin the database holds is removed; the coins before it stay
 * migrated, so a rerun after fixing it carries on. Not here: moving back, and the owners'
 * files (they stay where they are). The directory keeps a mark (operator-migrated.json,
 * naming the database) and the file store refuses every operator step there afterwards
 * (E_STORE_MIGRATED), so a host that lost its --store does not start a second store; a
 * directory marked for one database is refused for another.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { StateConflictError } from '../../errors.ts';
import type { OperatorRecord } from '../../statechain/ports.ts';
import { readJsonFile, writeJsonAtomic } from '../atomic.ts';
import { shredFile } from '../state-step.ts';
import { MIGRATED_MARK, type MigratedMark } from '../operator-store.ts';
import { withLock } from '../lock.ts';
import type { PgOperatorStore } from './operator-store.ts';

/** Called after a coin's rows committed, before its file is erased. Only tests pass it (to kill the process there); the command never does. */
export interface OperatorMigrationHooks {
  afterImport?: (coinId: string) => void | Promise<void>;
}

export async function migrateOperatorFiles(statechainDir: string, to: PgOperatorStore, hooks: OperatorMigrationHooks = {}): Promise<{ coins: string[] }> {
  return withLock(statechainDir, async () => {
    const names = (await readdir(statechainDir)).filter((f) => /^op-[0-9a-f]{32}\.json$/.test(f)).sort();
    // Every record first checked to be this store's to take (its network, this operator's key, its share):
    // a wrong --key-env is refused before any share is sealed under it and any file erased.
    // A file of zeros is what an erasure (shredFile) killed before its unlink leaves: the copy of a coin the store holds.
    const erased = new Set<string>();
    for (const name of names) {
      const bytes = await readFile(join(statechainDir, name)).catch(() => undefined);
      if (bytes !== undefined && bytes.length > 0 && bytes.every((b) => b === 0) && (await to.holds(name.slice(3, 35)))) erased.add(name);
    }
    for (const name of names) {
      if (erased.has(name)) continue;
      const record = await readJsonFile<OperatorRecord>(join(statechainDir, name));
      if (record !== undefined) to.assertOwn(record);
    }
    // A directory moved (or being moved) to one database is not moved to another: its coins would be split between two.
    const mark = await readJsonFile<MigratedMark>(join(statechainDir, `${MIGRATED_MARK}.json`));
    if (mark !== undefined && mark.to.split('?')[0] !== to.where.split('?')[0]) { // the same database with other connection options is the same
      throw new StateConflictError('E_STORE_MIGRATED', `this operator's coins in ${statechainDir} were moved to ${mark.to} at ${mark.at}, not ${to.where}: run the migration again with --to ${mark.to}`, { store: mark.to });
    }
    // The database reachable and its tables there before the files stop being the store (a server that is down leaves them serving).
    await to.ready();
    // From the first coin moved on, these files are no longer the operator's store: operator steps on them are refused
    // (E_STORE_MIGRATED) instead of starting a second store beside the database.
    await writeJsonAtomic(join(statechainDir, `${MIGRATED_MARK}.json`), { to: to.where, at: new Date().toISOString() } satisfies MigratedMark);
    const coins: string[] = [];
    for (const name of names) {
      const path = join(statechainDir, name);
      if (erased.has(name)) {
        await shredFile(path);
        coins.push(name.slice(3, 35));
        continue;
      }
      const record = await readJsonFile<OperatorRecord>(path);
      if (record === undefined) continue;
      // 'already': a run killed after this coin's COMMIT left its file; the store holds exactly it, so it is erased now.
      await to.import(record);
      await hooks.afterImport?.(record.coin_id);
      await shredFile(path);
      coins.push(record.coin_id);
    }
    return { coins };
  });
}
