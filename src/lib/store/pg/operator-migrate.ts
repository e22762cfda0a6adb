/**
 * Moving a statechain operator from its files (--state-dir) to PostgreSQL mid-life
 * (issue 29 item 6): every `op-<coin>.json` becomes the coin's rows — its record, its share
 * sealed, and the ledger its history implies (owner nonces, backups, finished and pending
 * transfers, the withdrawal) — and then the file is erased (overwritten with zeros,
 * unlinked), so that no coin has two live stores that could each sign for it.
 *
 * Run it with every operator process stopped; it holds the state directory's lock while it
 * reads. A coin already in the database is refused (E_COIN_EXISTS) and its file kept; the
 * coins before it stay migrated, so a rerun after fixing it carries on. Killed after a
 * coin's COMMIT and before its file was erased, the rerun finds exactly the file's record
 * there, untouched (version 1, the same record and share), and only erases the file; a
 * copy that differs (the coin moved on in the database) is refused as above. Not here:
 * moving back, and the owners' files (they stay where they are).
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { OperatorRecord } from '../../statechain/operator.ts';
import { readJsonFile, shredFile } from '../atomic.ts';
import { withLock } from '../lock.ts';
import type { PgOperatorStore } from './operator-store.ts';

/** Called after a coin's rows committed, before its file is erased. Only tests pass it (to kill the process there); the command never does. */
export interface OperatorMigrationHooks {
  afterImport?: (coinId: string) => void | Promise<void>;
}

export async function migrateOperatorFiles(statechainDir: string, to: PgOperatorStore, hooks: OperatorMigrationHooks = {}): Promise<{ coins: string[] }> {
  return withLock(statechainDir, async () => {
    const names = (await readdir(statechainDir)).filter((f) => /^op-[0-9a-f]{32}\.json$/.test(f)).sort();
    const coins: string[] = [];
    for (const name of names) {
      const path = join(statechainDir, name);
      const record = await readJsonFile<OperatorRecord>(path);
      if (record === undefined) continue;
      await to.import(record);
      await hooks.afterImport?.(record.coin_id);
      await shredFile(path);
      coins.push(record.coin_id);
    }
    return { coins };
  });
}
