/**
 * AN UNFUNDED OPEN IS FOUND BY ITS RECORD (src/lib/store/sqlite/mint.ts `unfundedSince`): the
 * mint expires the contracts it opened that were never paid nor seen funded. They are found
 * through a column written with each record (its opened_at_height while it is such an open,
 * NULL otherwise — no index over the JSON, evaluated at every payment), oldest first, up to a
 * limit; and the record decides: a row whose column is stale is never listed.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { StateDb } from '../../../src/lib/store/sqlite/database.ts';
import { SqliteMintStore, unfundedSince } from '../../../src/lib/store/sqlite/mint.ts';
import { tempDir } from '../../helpers.ts';

const tmp = tempDir('offchain-unfunded-');
afterAll(() => tmp.cleanup());
let n = 0;
type Open = { contract_id: string; status: string; opened_at_height?: number; latest?: unknown; funding_seen?: boolean };
const open = (id: string, height: number, more: Partial<Open> = {}): Open => ({ contract_id: id, status: 'open', opened_at_height: height, ...more });
const mint = () => new SqliteMintStore<Open>(StateDb.open(join(tmp.path, `s-${++n}`, 'regtest'), { create: true })!);

describe('unfunded opens', () => {
  it('the opens never paid nor seen funded, oldest first, up to the limit; a payment, a sighting or a close takes one off', async () => {
    const s = mint();
    for (const [id, h] of [['a', 30], ['b', 10], ['c', 20], ['d', 40]] as const) await s.put(open(id, h));
    await s.put(open('paid', 5, { latest: { state: 1 } }));
    await s.put(open('seen', 6, { funding_seen: true }));
    await s.put(open('closing', 7, { status: 'closing' }));
    await s.put({ contract_id: 'old', status: 'open' }); // from before opened_at_height
    await s.commit();
    expect((await s.unfundedOpens(35, 10)).map((r) => r.contract_id)).toEqual(['b', 'c', 'a']);
    expect((await s.unfundedOpens(35, 2)).map((r) => r.contract_id)).toEqual(['b', 'c']);
    expect((await s.unfundedOpens(20, 10)).map((r) => r.contract_id)).toEqual(['b']);
    await s.put(open('b', 10, { latest: { state: 1 } }));
    await s.put(open('c', 20, { funding_seen: true }));
    expect((await s.unfundedOpens(35, 10)).map((r) => r.contract_id)).toEqual(['a']);
    await s.remove('a');
    expect(await s.unfundedOpens(35, 10)).toEqual([]);
    await s.close();
    s.db.close();
  });

  it('the column is what the record says: its opened_at_height while open, unpaid and unseen, else NULL', async () => {
    const s = mint();
    const records: Open[] = [open('x', 12), open('y', 11), open('z', 3, { latest: { state: 2 } }), open('w', 4, { funding_seen: true }), { contract_id: 'v', status: 'open' }, open('u', 9, { status: 'exited' }), open('t', 8, { latest: null })];
    for (const r of records) await s.put(r);
    await s.commit();
    const rows = s.db.sql.prepare<[], { contract_id: string; unfunded_since: number | null }>('SELECT contract_id, unfunded_since FROM contracts ORDER BY contract_id').all();
    expect(rows).toEqual([
      { contract_id: 't', unfunded_since: 8 },
      { contract_id: 'u', unfunded_since: null },
      { contract_id: 'v', unfunded_since: null },
      { contract_id: 'w', unfunded_since: null },
      { contract_id: 'x', unfunded_since: 12 },
      { contract_id: 'y', unfunded_since: 11 },
      { contract_id: 'z', unfunded_since: null },
    ]);
    for (const r of records) expect(unfundedSince(r)).toBe(rows.find((x) => x.contract_id === r.contract_id)!.unfunded_since);
    s.db.close();
  });

  it('a row whose column was left stale (its record paid by a writer that did not update it) is never listed: the record decides', async () => {
    const s = mint();
    await s.put(open('p', 8));
    await s.put(open('q', 9));
    await s.commit();
    s.db.sql.prepare('UPDATE contracts SET record = ? WHERE contract_id = ?').run(JSON.stringify(open('p', 8, { latest: { state: 1 } })), 'p');
    expect((await s.unfundedOpens(100, 10)).map((r) => r.contract_id)).toEqual(['q']);
    s.db.close();
  });
});
