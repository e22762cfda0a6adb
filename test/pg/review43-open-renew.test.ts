/**
 * Review of issue 43 (not for merge as is): the PostgreSQL mint store's open() and renew()
 * now share one `openingTransaction`. What each writes must be what it wrote before the
 * refactor: run this file on fb21a48 and on integrate, the same assertions hold on both.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { findPostgres, startPostgres, type Postgres } from '../setup/postgres.ts';
import { PgMintStore } from '../../src/lib/store/pg/mint-store.ts';
import { resolvePgTarget, type PgTarget } from '../../src/lib/store/pg/connect.ts';

const FOUND = findPostgres();
type Rec = { contract_id: string; status: string; n?: number };

(FOUND ? describe : describe.skip)('review 43: open vs renew on PostgreSQL', () => {
  let server: Postgres;
  let db = 0;
  beforeAll(async () => {
    server = await startPostgres();
  }, 120_000);
  afterAll(async () => server?.stop());

  const target = async (): Promise<PgTarget> => {
    const url = await server.createDatabase(`review_${++db}`);
    return resolvePgTarget({}, { OFFCHAIN_STORE_URL: url, OFFCHAIN_STORE_PASSWORD: server.password })!;
  };
  const raw = async (t: PgTarget): Promise<pg.Client> => {
    const { default: pgm } = await import('pg');
    const c = new pgm.Client({ host: t.host, port: t.port, user: t.user, password: t.password, database: t.database });
    await c.connect();
    return c;
  };
  const gen = (secnonce: Uint8Array, pubnonce: Uint8Array) => () => ({ secnonce: Uint8Array.from(secnonce), pubnonce });
  const nonce = () => ({ sec: randomBytes(97), pub: Uint8Array.from([0x02, ...randomBytes(32), 0x03, ...randomBytes(32)]) });
  const rows = async (c: pg.Client, sql: string) => (await c.query(sql)).rows.map((r) => JSON.stringify(r));
  const epochs = async (c: pg.Client) => (await c.query('SELECT epoch, counter, pid FROM epochs ORDER BY epoch')).rows.map((r) => ({ epoch: r.epoch, counter: Number(r.counter), pid: r.pid === null ? null : Number(r.pid) }));
  /** Break the store as a restore would (E_STORE_ROLLED_BACK, a RENEWABLE code). */
  const rollBack = async (s: PgMintStore<Rec>, c: pg.Client) => {
    const n = nonce();
    await s.step(() => s.issue('ctx/old', gen(n.sec, n.pub)));
    await c.query('UPDATE epochs SET counter = counter - 1 WHERE epoch = $1', [s.epoch]);
    await expect(s.step(() => s.take(n.pub, 'ctx/old'))).rejects.toMatchObject({ code: 'E_STORE_ROLLED_BACK', exitCode: 1 });
    return n;
  };

  it('renew (process epoch): the old epoch row deleted, one fresh row, meta / schema_version / contracts untouched (no store_id, no sealing)', async () => {
    const t = await target();
    const s = await PgMintStore.open<Rec>(t, 'regtest');
    const c = await raw(t);
    await s.step(() => s.put({ contract_id: 'a', status: 'open', n: 1 }));
    const old = s.epoch;
    const n = await rollBack(s, c);
    // As a schema-1 store would look: renew must not seal (only an open with the mint's key does).
    await c.query('UPDATE schema_version SET version = 1');
    await c.query(`UPDATE contracts SET record = '{"contract_id":"a","status":"open","latest":{"hex":"00"}}'`);
    const meta = await rows(c, 'SELECT key, value FROM meta ORDER BY key');
    const contracts = await rows(c, 'SELECT * FROM contracts ORDER BY 1');
    expect(await epochs(c)).toEqual([{ epoch: old, counter: 0, pid: process.pid }]);
    expect(await s.renew(5_000)).toBe(old);
    expect(s.epoch).not.toBe(old);
    expect(await epochs(c)).toEqual([{ epoch: s.epoch, counter: 0, pid: process.pid }]);
    expect(await rows(c, 'SELECT key, value FROM meta ORDER BY key')).toEqual(meta);
    expect(await rows(c, 'SELECT * FROM contracts ORDER BY 1')).toEqual(contracts);
    expect((await c.query('SELECT version FROM schema_version')).rows).toEqual([{ version: 1 }]);
    // The old epoch's nonce is dead (not burned); a fresh one signs.
    await expect(s.step(() => s.take(n.pub, 'ctx/old'))).rejects.toMatchObject({ code: 'E_NONCE_ELSEWHERE' });
    const m = nonce();
    await s.step(() => s.issue('ctx/new', gen(m.sec, m.pub)));
    expect(await s.step(() => s.take(m.pub, 'ctx/new'))).toEqual(Uint8Array.from(m.sec));
    await s.close();
    expect(await epochs(c)).toEqual([]);
    await c.end();
  });

  it('renew refused by an unfinished migration into the store: E_STORE_MIGRATING, the old row kept, no new row, still broken', async () => {
    const t = await target();
    const s = await PgMintStore.open<Rec>(t, 'regtest');
    const c = await raw(t);
    await rollBack(s, c);
    await c.query("INSERT INTO meta (key, value) VALUES ('migrating_from', $1)", [JSON.stringify({ from: '/x', id: 'm1', at: '2026-01-01' })]);
    const before = await epochs(c);
    await expect(s.renew(5_000)).rejects.toMatchObject({ code: 'E_STORE_MIGRATING', exitCode: 5 });
    expect(await epochs(c)).toEqual(before);
    expect(s.broken).toBeDefined();
    await s.abandon();
    await c.end();
  });

  it('open: a writer records store_id once and its process epoch; a view writes nothing; a one-shot (host) opens no process epoch row', async () => {
    const t = await target();
    const w = await PgMintStore.open<Rec>(t, 'regtest');
    const c = await raw(t);
    const id = (await c.query("SELECT value FROM meta WHERE key = 'store_id'")).rows;
    expect(id).toHaveLength(1);
    expect(await epochs(c)).toEqual([{ epoch: w.epoch, counter: 0, pid: process.pid }]);
    const all = async () => [await rows(c, 'SELECT key, value FROM meta ORDER BY key'), await epochs(c), await rows(c, 'SELECT * FROM schema_version')];
    const before = await all();
    const v = await PgMintStore.open<Rec>(t, 'regtest', { view: true });
    expect(await all()).toEqual(before);
    await v.close();
    const w2 = await PgMintStore.open<Rec>(t, 'regtest');
    expect((await c.query("SELECT value FROM meta WHERE key = 'store_id'")).rows).toEqual(id);
    await w2.close();
    const dir = mkdtempSync(join(tmpdir(), 'review43-'));
    try {
      const h = await PgMintStore.open<Rec>(t, 'regtest', { hostDir: dir });
      const e = await epochs(c);
      expect(e.filter((r) => r.pid === process.pid)).toEqual([{ epoch: w.epoch, counter: 0, pid: process.pid }]);
      expect(e.filter((r) => r.pid === null).map((r) => r.epoch)).toEqual([h.epoch]);
      await h.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await w.close();
    await c.end();
  });
});
