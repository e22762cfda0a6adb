/**
 * A connection's BEGIN IMMEDIATE and COMMIT are statements prepared once, not SQL parsed at each
 * step (src/lib/store/sqlite/database.ts `control`): a service at one user makes every request
 * its own commit, and exec parsed and finalised both every time. What each commits is unchanged:
 * another connection reads every step and every batch once it returned.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { StateDb, STATE_DB_FILE } from '../../../src/lib/store/sqlite/database.ts';
import { SqliteMintStore } from '../../../src/lib/store/sqlite/mint.ts';
import { Records } from '../../../src/lib/store/sqlite/records.ts';
import { Sealer } from '../../../src/lib/store/seal.ts';
import { tempDir } from '../../helpers.ts';

const tmp = tempDir('offchain-parsed-once-');
afterAll(() => tmp.cleanup());
let n = 0;
const fresh = () => join(tmp.path, `s-${++n}`, 'regtest');

/** Every SQL text the connection was given to exec or to prepare, from now on. */
function watch(db: StateDb): { exec: string[]; prepare: string[] } {
  const seen = { exec: [] as string[], prepare: [] as string[] };
  const { exec, prepare } = db.sql;
  db.sql.exec = ((sql: string) => (seen.exec.push(sql), exec.call(db.sql, sql))) as typeof exec;
  db.sql.prepare = ((sql: string) => (seen.prepare.push(sql), prepare.call(db.sql, sql))) as typeof prepare;
  return seen;
}

async function readBack(dir: string, sql: string): Promise<unknown[]> {
  const Database = (await import('better-sqlite3')).default;
  const other = new Database(join(dir, STATE_DB_FILE), { readonly: true });
  try {
    return other.prepare(sql).all();
  } finally {
    other.close();
  }
}

describe('BEGIN IMMEDIATE and COMMIT, prepared once per connection', () => {
  it('five steps: neither is exec\'d, each prepared at most once, and every step is durable when it returns', async () => {
    const dir = fresh();
    const db = StateDb.open(dir, { create: true })!;
    const seen = watch(db);
    const book = new Records<{ v: number }>(db, 'statechain');
    for (let v = 1; v <= 5; v++) {
      await db.step(() => book.put(`k${v}`, { v }));
      expect(await readBack(dir, "SELECT body FROM records WHERE kind = 'statechain' ORDER BY id")).toHaveLength(v);
    }
    expect(seen.exec.filter((s) => /^(BEGIN|COMMIT)/.test(s))).toEqual([]);
    expect(seen.prepare.filter((s) => s === 'BEGIN IMMEDIATE')).toHaveLength(1);
    expect(seen.prepare.filter((s) => s === 'COMMIT')).toHaveLength(1);
    db.close();
  });

  it('the mint\'s batches (group commit): three batches of two steps, one BEGIN and one COMMIT prepared, each batch read back after its commit', async () => {
    const dir = fresh();
    const db = StateDb.open(dir, { create: true })!;
    const store = new SqliteMintStore<{ contract_id: string; n: number }>(db, { sealer: Sealer.fromSecret(new Uint8Array(randomBytes(32))) });
    const seen = watch(db);
    for (let b = 0; b < 3; b++) {
      await store.step(() => store.put({ contract_id: `c${2 * b}`, n: 2 * b }));
      await store.step(() => store.put({ contract_id: `c${2 * b + 1}`, n: 2 * b + 1 }));
      await store.commit();
      expect((await readBack(dir, 'SELECT * FROM contracts')).length).toBe(2 * b + 2);
    }
    expect(seen.exec.filter((s) => /^(BEGIN|COMMIT)/.test(s))).toEqual([]);
    expect([seen.prepare.filter((s) => s === 'BEGIN IMMEDIATE').length, seen.prepare.filter((s) => s === 'COMMIT').length]).toEqual([1, 1]);
    store.abandon();
    db.close();
  });
});
