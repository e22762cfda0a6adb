/**
 * bench/watch.ts's in-process parts: what a long-running watcher (`offchain watch` without
 * --once, `serve mint`'s) spends on the mint's store each block, and what the watch height costs a
 * write of a record. In this process, on a state directory bench/watch.ts filled; CPU by
 * process.cpuUsage around each call (better-sqlite3 is synchronous: the CPU a call takes is the
 * time `serve mint`'s routes wait for it).
 *
 *   longRunning  one view of the store (no key, as the watcher's) and one MintAudit over `blocks`
 *                consecutive tips from `tip`: each block's read — the index's read of the
 *                contracts due plus the audit's slice(s) of the store, each record hashed to its id
 *                (again only when its terms changed) — beside the index's read alone.
 *   puts         `count` paid records of the store read and written back through the store's put
 *                (a view's: their states stay as sealed, JSON.stringify and the UPDATE alone — what a
 *                payment's write costs besides its sealing), committed by 100: the index on the
 *                watch height kept (computed by SQLite from the record, or written beside it).
 */
import { join } from 'node:path';
import type { MintContractRecord } from '../src/lib/credit/ports.ts';
import { StateDb } from '../src/lib/store/sqlite/database.ts';
import { SqliteMintStore } from '../src/lib/store/sqlite/mint.ts';
import { mintDueUpTo } from '../src/lib/watch/ports.ts';
import { MintAudit } from '../src/topics/watch/audit.ts';

const cpu = async (fn: () => Promise<unknown>): Promise<number> => {
  const c0 = process.cpuUsage();
  await fn();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1e6;
};

export type LongRun = { perBlock: number[]; indexOnly: number[] };

/** A long-running watcher's read of the mint's store over `blocks` tips from `tip` (`every`: its audit's interval, auditEvery). */
export async function longRunning(dir: string, every: number, margin: number, tip: number, blocks: number): Promise<LongRun> {
  const db = StateDb.open(join(dir, 'regtest'), { create: false })!;
  const store = new SqliteMintStore<MintContractRecord>(db);
  const audit = new MintAudit(every, true);
  const run: LongRun = { perBlock: [], indexOnly: [] };
  try {
    for (let t = tip; t < tip + blocks; t++) {
      run.perBlock.push(await cpu(() => audit.read(store, mintDueUpTo(t, margin), t)));
      run.indexOnly.push(await cpu(() => store.due(mintDueUpTo(t, margin))));
    }
  } finally {
    db.closeNow();
  }
  return run;
}

/** CPU seconds per record of `count` paid records written back through the store's put, committed by 100. */
export async function puts(dir: string, count: number): Promise<number> {
  const db = StateDb.open(join(dir, 'regtest'), { create: false })!;
  const store = new SqliteMintStore<MintContractRecord>(db);
  try {
    const ids = store.db.sql.prepare<[number], { contract_id: string }>('SELECT contract_id FROM contracts WHERE record LIKE \'%"latest":{%\' LIMIT ?').all(count).map((r) => r.contract_id);
    const records = await Promise.all(ids.map(async (id) => (await store.get(id))!));
    const used = await cpu(async () => {
      for (const [i, r] of records.entries()) {
        await store.step(() => store.put({ ...r, next_state: r.next_state + 1 }));
        if (i % 100 === 99) await store.commit();
      }
      await store.commit();
    });
    return used / records.length;
  } finally {
    db.closeNow();
  }
}
