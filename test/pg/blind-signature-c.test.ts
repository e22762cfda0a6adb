/**
 * Blind signature rows keep the C_ their receipt carried (src/lib/credit/ecash-restore.ts:
 * NUT-09 restore answers a row only if that C_ is the one the keyset's key gives — a row a
 * database writer put in or changed is never signed). On PostgreSQL: a store created before
 * the column existed gets it from the first writer that opens it; a view of such a store
 * (before that) reads its rows as keeping none; a row written now keeps its C_. Skips
 * visibly without a server.
 */
import { expect, it } from 'vitest';
import { describePostgres } from './fixture.ts';
import { PgMintStore } from '../../src/lib/store/pg/mint-store.ts';
import { resolvePgTarget, type PgTarget } from '../../src/lib/store/pg/connect.ts';

type Rec = { contract_id: string };

describePostgres('PostgreSQL blind signature rows keep their C_', (pg) => {
  it('an older store (no c_ column): a view reads its row with C_ null; the first writer adds the column; new rows keep their C_', async () => {
    const url = await pg.server.createDatabase('store_c');
    const t: PgTarget = resolvePgTarget({}, { OFFCHAIN_STORE_URL: url, OFFCHAIN_STORE_PASSWORD: pg.server.password })!;
    const B1 = '02' + '11'.repeat(32);
    const B2 = '03' + '22'.repeat(32);
    const C2 = '02' + '33'.repeat(32);
    const s = await PgMintStore.open<Rec>(t, 'regtest');
    await s.step(() => s.recordBlindSignatures('c1', 1, [{ B_: B1, keyset_id: 'k', amount: 8, C_: '02' + '44'.repeat(32) }]));
    await s.close();
    // as a store created before rows kept their C_
    const { default: pgm } = await import('pg');
    const c = new pgm.Client({ host: t.host, port: t.port, user: t.user, password: t.password, database: t.database });
    await c.connect();
    await c.query('ALTER TABLE blind_signatures DROP COLUMN c_');
    const view = await PgMintStore.open<Rec>(t, 'regtest', { view: true });
    expect(await view.signedBlindedMessages([B1])).toEqual([{ B_: B1, contract_id: 'c1', state: 1, keyset_id: 'k', amount: 8, C_: null }]);
    await view.close();
    const w = await PgMintStore.open<Rec>(t, 'regtest');
    await w.step(() => w.recordBlindSignatures('c1', 2, [{ B_: B2, keyset_id: 'k', amount: 4, C_: C2 }]));
    expect(await w.signedBlindedMessages([B1, B2])).toEqual(expect.arrayContaining([
      { B_: B1, contract_id: 'c1', state: 1, keyset_id: 'k', amount: 8, C_: null },
      { B_: B2, contract_id: 'c1', state: 2, keyset_id: 'k', amount: 4, C_: C2 },
    ]));
    await w.close();
    expect((await c.query("SELECT column_name FROM information_schema.columns WHERE table_name = 'blind_signatures' AND column_name = 'c_'")).rowCount).toBe(1);
    await c.end();
  });
});
