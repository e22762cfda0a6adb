/**
 * A contract's record is kept inline, as written, up to a page (src/lib/store/pg/schema.ts
 * CONTRACTS_STORAGE): under PostgreSQL's default TOAST target (~2 kB) every record of a
 * payment (~2.5 kB) went to the TOAST table — an insert there and in its index, a dead chunk
 * left at each write, and a second lookup at each read. Checked on the server: the table
 * carries the storage parameter; records of a payment's size leave the TOAST table empty and
 * are stored as their text, uncompressed; a record larger than a page is still moved out (and
 * reads back whole); a store made before gets the parameter from its first writer's open, a
 * view creating nothing. On a server of the suite's own; skips visibly without one.
 */
import { randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import { PgMintStore } from '../../src/lib/store/pg/mint-store.ts';
import { resolvePgTarget, type PgTarget } from '../../src/lib/store/pg/connect.ts';
import { describePostgres } from './fixture.ts';
import { dba } from './rewind.ts';

type Rec = { contract_id: string; status: string; blob: string };

describePostgres('a contract\'s record kept inline', (fx) => {
  let db = 0;
  const target = async (): Promise<PgTarget & { url: string }> => {
    const url = await fx.server.createDatabase(`inline_${++db}`);
    return { ...resolvePgTarget({}, { OFFCHAIN_STORE_URL: url, OFFCHAIN_STORE_PASSWORD: fx.server.password })!, url };
  };
  /** Random hex: as little for the compressor to find as a record's signatures and txids. */
  const record = (id: string, chars: number): Rec => ({ contract_id: id, status: 'open', blob: randomBytes(chars / 2).toString('hex') });
  type Dba = Awaited<ReturnType<typeof dba>>;
  const reloptions = async (c: Dba) => (await c.query<{ o: string[] | null }>("SELECT reloptions AS o FROM pg_class WHERE oid = to_regclass('contracts')")).rows[0]!.o;
  const toastBytes = async (c: Dba) => Number((await c.query<{ n: string }>("SELECT pg_relation_size(reltoastrelid) AS n FROM pg_class WHERE oid = to_regclass('contracts')")).rows[0]!.n);
  /** The record's text as stored: its bytes in the row, and whether it is out of line. */
  const stored = async (c: Dba, id: string) => (await c.query<{ size: number; chars: number }>('SELECT pg_column_size(record) AS size, length(record) AS chars FROM contracts WHERE contract_id = $1', [id])).rows[0]!;

  it('records of a payment\'s size (2.5 kB), written again and again, stay in the row as their text: the TOAST table stays empty', async () => {
    const t = await target();
    const s = await PgMintStore.open<Rec>(t, 'regtest');
    const c = await dba(fx.server, t.url);
    try {
      expect(await reloptions(c)).toEqual(['toast_tuple_target=8160']);
      for (let i = 0; i < 50; i++) await s.step(() => s.put(record(`c${i % 5}`, 2_500)));
      expect(await toastBytes(c)).toBe(0);
      const one = await stored(c, 'c3');
      // Uncompressed and inline: the column's size is its text's plus a varlena header.
      expect(one.size).toBeGreaterThanOrEqual(one.chars);
      expect(one.size).toBeLessThanOrEqual(one.chars + 4);
      // A record larger than a page is still moved out, and reads back whole.
      const big = record('big', 40_000);
      await s.step(() => s.put(big));
      expect(await toastBytes(c)).toBeGreaterThan(0);
      expect(await s.get('big')).toEqual(big);
    } finally {
      await c.end();
      await s.close();
    }
  });

  it('a store made before: a view changes nothing; its first writer\'s open sets the parameter, and the rows it rewrites come inline', async () => {
    const t = await target();
    const first = await PgMintStore.open<Rec>(t, 'regtest');
    await first.close();
    const c = await dba(fx.server, t.url);
    try {
      await c.query('ALTER TABLE contracts RESET (toast_tuple_target)');
      expect(await reloptions(c)).toBeNull();
      // As the toolkit before stored it: out of line.
      const old = record('old', 2_500);
      await c.query('INSERT INTO contracts (contract_id, record) VALUES ($1, $2)', [old.contract_id, JSON.stringify(old)]);
      const toasted = await toastBytes(c);
      expect(toasted).toBeGreaterThan(0);
      const view = await PgMintStore.open<Rec>(t, 'regtest', { view: true });
      expect(await view.get('old')).toEqual(old);
      await view.close();
      expect(await reloptions(c)).toBeNull();
      const writer = await PgMintStore.open<Rec>(t, 'regtest');
      expect(await reloptions(c)).toEqual(['toast_tuple_target=8160']);
      expect(await writer.get('old')).toEqual(old);
      const again = record('old', 2_500);
      await writer.step(() => writer.put(again));
      const row = await stored(c, 'old');
      expect(row.size).toBeLessThanOrEqual(row.chars + 4);
      expect(await writer.get('old')).toEqual(again);
      await writer.close();
    } finally {
      await c.end();
    }
  });
});
