/**
 * The mint's unfunded opens are found by a column the store writes with each record
 * (mint-database.ts `unfunded_open_height`), not by an index of json_extracts over it:
 * - the column says what the old index said of the record: its opened_at_height while it is
 *   open, never paid and never seen funded; NULL otherwise;
 * - a store from before the column (the old index, no column) is filled from its records at
 *   open, the old index dropped; so is one an older toolkit wrote to since (it creates that
 *   index again and writes rows without the column);
 * - a row whose column was left behind by a hand edit of its record is not taken for an
 *   unfunded open.
 * Expected heights here are read from the records the test wrote, never from the store.
 */
import { describe, it, expect, afterEach } from 'vitest';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { MintStore } from '../../../src/lib/store/mint-store.ts';
import { tempDir } from '../../helpers.ts';

type Rec = { contract_id: string; status: string; opened_at_height?: unknown; latest?: unknown; funding_seen?: true };
let dirs: { cleanup: () => void }[] = [];
afterEach(() => {
  dirs.forEach((d) => d.cleanup());
  dirs = [];
});
function fresh() {
  const d = tempDir('offchain-mintstore-unfunded-');
  dirs.push(d);
  return d.path;
}

const records: Rec[] = [
  { contract_id: 'a', status: 'open', opened_at_height: 100 },
  { contract_id: 'b', status: 'open', opened_at_height: 90 },
  { contract_id: 'c', status: 'open', opened_at_height: 80, latest: { state: 1 } },
  { contract_id: 'd', status: 'open', opened_at_height: 70, funding_seen: true },
  { contract_id: 'e', status: 'closing', opened_at_height: 60 },
  { contract_id: 'f', status: 'open' },
  { contract_id: 'g', status: 'open', opened_at_height: '50' },
  { contract_id: 'h', status: 'open', opened_at_height: 110, latest: null },
];
/** By hand: the unfunded opens among `records` opened before `height`, oldest first. */
const expected = (height: number) => ['b', 'a', 'h'].filter((id) => (records.find((r) => r.contract_id === id)!.opened_at_height as number) < height);

/** The index a store from before the column kept, as that toolkit created it. */
const OLD_INDEX = `CREATE INDEX IF NOT EXISTS unfunded_opens ON contracts (json_extract(record, '$.opened_at_height'))
  WHERE json_extract(record, '$.status') = 'open' AND json_extract(record, '$.latest') IS NULL AND json_extract(record, '$.funding_seen') IS NULL`;

const ids = async (s: MintStore<Rec>, height: number, limit = 10) => (await s.unfundedOpens(height, limit)).map((r) => r.contract_id);
const indexes = (db: Database.Database) => db.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'contracts' AND sql IS NOT NULL ORDER BY name").all().map((r) => r.name);

describe('unfunded opens by their column', () => {
  it('the column holds opened_at_height for an open never paid nor seen funded, NULL for every other record', async () => {
    const dir = fresh();
    const s = MintStore.openSync<Rec>(dir);
    for (const r of records) await s.put(r);
    await s.commit();
    expect(await ids(s, 1000)).toEqual(expected(1000));
    expect(await ids(s, 100)).toEqual(['b']);
    expect(await ids(s, 1000, 2)).toEqual(['b', 'a']);
    await s.close();
    const db = new Database(join(dir, 'mint.sqlite'), { readonly: true });
    const column = Object.fromEntries(db.prepare<[], { contract_id: string; h: number | null }>('SELECT contract_id, unfunded_open_height AS h FROM contracts').all().map((r) => [r.contract_id, r.h]));
    expect(column).toEqual({ a: 100, b: 90, c: null, d: null, e: null, f: null, g: null, h: 110 });
    expect(indexes(db)).toEqual(['unfunded_open_heights']);
    db.close();
  });

  it('paid, seen funded or removed, a record leaves the unfunded opens', async () => {
    const dir = fresh();
    const s = MintStore.openSync<Rec>(dir);
    for (const r of records) await s.put(r);
    await s.put({ contract_id: 'a', status: 'open', opened_at_height: 100, latest: { state: 1 } });
    await s.put({ contract_id: 'b', status: 'open', opened_at_height: 90, funding_seen: true });
    await s.remove('h');
    expect(await ids(s, 1000)).toEqual([]);
    await s.close();
  });

  it('a store from before the column (the old index) is filled from its records at open, the old index dropped; again after an older toolkit wrote to it', async () => {
    const dir = fresh();
    const path = join(dir, 'mint.sqlite');
    const old = new Database(path);
    old.exec('CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL); CREATE TABLE contracts (contract_id TEXT PRIMARY KEY, record TEXT NOT NULL);');
    old.exec(OLD_INDEX);
    for (const r of records) old.prepare('INSERT INTO contracts (contract_id, record) VALUES (?, ?)').run(r.contract_id, JSON.stringify(r));
    old.close();
    let s = await MintStore.open<Rec>(dir);
    expect(await ids(s, 1000)).toEqual(expected(1000));
    await s.close();
    // An older toolkit opens it: creates its index again, writes an unfunded open without the column.
    const older = new Database(path);
    older.exec(OLD_INDEX);
    older.prepare('INSERT OR REPLACE INTO contracts (contract_id, record) VALUES (?, ?)').run('z', JSON.stringify({ contract_id: 'z', status: 'open', opened_at_height: 10 }));
    expect(indexes(older)).toEqual(['unfunded_open_heights', 'unfunded_opens']);
    older.close();
    s = await MintStore.open<Rec>(dir);
    expect(await ids(s, 1000)).toEqual(['z', ...expected(1000)]);
    await s.close();
    const db = new Database(path, { readonly: true });
    expect(indexes(db)).toEqual(['unfunded_open_heights']);
    db.close();
  });

  it('a record edited by hand with its column left behind is not taken for an unfunded open (the record decides)', async () => {
    const dir = fresh();
    const s = MintStore.openSync<Rec>(dir);
    await s.put({ contract_id: 'a', status: 'open', opened_at_height: 100 });
    await s.commit();
    const dba = new Database(join(dir, 'mint.sqlite'));
    dba.prepare('UPDATE contracts SET record = ? WHERE contract_id = ?').run(JSON.stringify({ contract_id: 'a', status: 'open', opened_at_height: 100, latest: { state: 3 } }), 'a');
    dba.close();
    expect(await ids(s, 1000)).toEqual([]);
    await s.close();
  });
});
