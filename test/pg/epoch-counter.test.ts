/**
 * The epoch counter, the half of the restore rule a database cannot hide from a live process
 * (src/lib/store/pg/mint-store.ts, THE RESTORE RULE 2; pg/mint-transactions.ts `tick`,
 * pg/mint-open.ts `openingTransaction`), at its edges, on a real server: each mint process
 * registers a row of its own when it opens the store (counter 0, its pid and host) and
 * deletes it when it closes; every nonce transaction raises it just before COMMIT and must
 * find exactly what the process counted + 1 — one below (a transaction of its undone), one
 * above (someone else wrote its row) or no row at all is E_STORE_ROLLED_BACK before anything
 * leaves: the step rolled back, the key wiped, the store broken. The raise waits for the row's
 * lock, so what it compares is what another writer left. A stream `renew`s a broken store: the
 * old row deleted, a fresh one registered, nothing else of the store touched, the old epoch's
 * nonces dead; refused while a migration into the store has not finished.
 *
 * Folded in: host-epoch-mutants.test.ts (its host key file, witness and retirement loop are
 * gone with host epochs; the edges of the counter check are kept here, for a process epoch),
 * review43-open-renew.test.ts (what open and renew write) and host-epoch.test.ts's "a counter
 * above the witness retires the key at the tick, before anything leaves".
 */
import { hostname } from 'node:os';
import { expect, it } from 'vitest';
import type pg from 'pg';
import { PgMintStore } from '../../src/lib/store/pg/mint-store.ts';
import { refusalAsync } from '../setup/refusal.ts';
import { describePostgres } from './fixture.ts';
import { admin, counterOf, hexOf, issueOn, mintProcess, storeTarget, takeOn, type Rec } from './process-stores.ts';

describePostgres('the epoch counter: one row per mint process, exact at every nonce transaction', (fx) => {
  let db = 0;
  const target = () => storeTarget(fx.server, `epoch_${++db}`);
  const rows = async (c: pg.Client, sql: string) => (await c.query(sql)).rows.map((r) => JSON.stringify(r));
  const epochs = async (c: pg.Client) => (await c.query('SELECT epoch, counter, pid, host FROM epochs ORDER BY epoch')).rows.map((r) => ({ epoch: r.epoch, counter: Number(r.counter), pid: r.pid === null ? null : Number(r.pid), host: r.host }));
  /** Break `s` as a restore would (E_STORE_ROLLED_BACK, a code a stream renews from): its nonce `n` left behind. */
  const rollBack = async (s: PgMintStore<Rec>, c: pg.Client) => {
    const n = await issueOn(s, 'ctx/old');
    await c.query('UPDATE epochs SET counter = counter - 1 WHERE epoch = $1', [s.epoch]);
    await refusalAsync(s.step(() => s.take(n.pub, 'ctx/old')), 'E_STORE_ROLLED_BACK', 1);
    return n;
  };

  it('open registers the process\'s row (counter 0, its pid and host) and the store id once; a view writes nothing; close deletes the row, a killed process leaves it', async () => {
    const { t, url } = await target();
    const w = await mintProcess(t);
    const c = await admin(fx.server, url);
    try {
      const id = (await c.query("SELECT value FROM meta WHERE key = 'store_id'")).rows;
      expect(id).toHaveLength(1);
      expect(await epochs(c)).toEqual([{ epoch: w.epoch, counter: 0, pid: process.pid, host: hostname() }]);
      expect(w.epoch).toMatch(/^[0-9a-f]{32}$/);
      const all = async () => [await rows(c, 'SELECT key, value FROM meta ORDER BY key'), await epochs(c), await rows(c, 'SELECT * FROM schema_version')];
      const before = await all();
      const v = await PgMintStore.open<Rec>(t, 'regtest', { view: true });
      expect(await all()).toEqual(before);
      await v.close();
      expect(await all()).toEqual(before);
      const w2 = await mintProcess(t);
      expect(w2.epoch).not.toBe(w.epoch);
      expect((await c.query("SELECT value FROM meta WHERE key = 'store_id'")).rows).toEqual(id);
      expect((await epochs(c)).map((e) => e.epoch).sort()).toEqual([w.epoch, w2.epoch].sort());
      await w2.close();
      expect((await epochs(c)).map((e) => e.epoch)).toEqual([w.epoch]);
      await issueOn(w, 'ctx');
      await w.abandon(); // kill -9: nothing runs after it
      expect(await epochs(c)).toEqual([{ epoch: w.epoch, counter: 1, pid: process.pid, host: hostname() }]);
    } finally {
      await c.end();
    }
  }, 60_000);

  it('the tick: the counter at the process\'s count passes; one below, one above or its row gone is E_STORE_ROLLED_BACK before COMMIT — the step rolled back, the key wiped, the store broken', async () => {
    const { t, url } = await target();
    const c = await admin(fx.server, url);
    try {
      for (const delta of [0, -1, 1, undefined] as const) {
        const s = await mintProcess(t);
        const n = await issueOn(s, 'ctx:1'); // counted 1
        if (delta === undefined) await c.query('DELETE FROM epochs WHERE epoch = $1', [s.epoch]);
        else await c.query('UPDATE epochs SET counter = $2 WHERE epoch = $1', [s.epoch, 1 + delta]);
        const what = delta === undefined ? 'its row gone' : `counter ${1 + delta}, counted 1`;
        if (delta === 0) {
          expect(await takeOn(s, n, 'ctx:1'), what).toBe(hexOf(n.sec));
          expect(await counterOf(c, s.epoch)).toBe(2);
          await s.close();
          continue;
        }
        const e = await refusalAsync(s.step(() => s.take(n.pub, 'ctx:1')), 'E_STORE_ROLLED_BACK', 1);
        expect(e.message, what).toContain(`counter is ${delta === undefined ? 'gone' : 2 + delta}, this process counted 1`);
        expect(e.message).toContain('wiped its nonce key');
        // Rolled back: the nonce unused, the counter as it was found.
        expect((await c.query<{ consumed: boolean }>('SELECT consumed FROM nonces WHERE pubnonce = $1', [hexOf(n.pub)])).rows).toEqual([{ consumed: false }]);
        expect(await counterOf(c, s.epoch), what).toBe(delta === undefined ? undefined : 1 + delta);
        // Broken: nothing more runs on it, whatever the counter says now.
        expect(s.broken).toBeDefined();
        if (delta !== undefined) await c.query('UPDATE epochs SET counter = 1 WHERE epoch = $1', [s.epoch]);
        await refusalAsync(s.step(() => s.take(n.pub, 'ctx:1')), 'E_STORE_ROLLED_BACK', 1);
        await refusalAsync(s.step(() => s.issue('ctx:2', () => ({ secnonce: new Uint8Array(97), pubnonce: new Uint8Array(66).fill(1) }))), 'E_STORE_ROLLED_BACK', 1);
        // Its key is gone: the nonce is dead to every process, its own renewed epoch included.
        await s.renew(5_000);
        expect(await takeOn(s, n, 'ctx:1')).toBe('refused E_NONCE_ELSEWHERE');
        await s.abandon();
      }
    } finally {
      await c.end();
    }
  }, 60_000);

  it('the tick waits for its row\'s lock and compares what the other writer left: unchanged, it passes; raised meanwhile, refused', async () => {
    const { t, url } = await target();
    const c = await admin(fx.server, url);
    try {
      for (const raise of [false, true]) {
        const s = await mintProcess(t);
        const n = await issueOn(s, 'ctx:1');
        await c.query('BEGIN');
        await c.query('SELECT counter FROM epochs WHERE epoch = $1 FOR UPDATE', [s.epoch]);
        let done = false;
        const taking = takeOn(s, n, 'ctx:1').finally(() => (done = true));
        await new Promise((r) => setTimeout(r, 300));
        expect(done, 'the tick waits for the row').toBe(false);
        if (raise) await c.query('UPDATE epochs SET counter = counter + 1 WHERE epoch = $1', [s.epoch]);
        await c.query('COMMIT');
        expect(await taking).toBe(raise ? 'refused E_STORE_ROLLED_BACK' : hexOf(n.sec));
        await s.abandon();
      }
    } finally {
      await c.end();
    }
  }, 60_000);

  it('renew: the old row deleted, one fresh row; meta, schema_version and contracts untouched (no store id, no sealing); the old epoch\'s nonce dead, a fresh one signs; close deletes the row', async () => {
    const { t, url } = await target();
    const s = await mintProcess(t);
    const c = await admin(fx.server, url);
    try {
      await s.step(() => s.put({ contract_id: 'a', status: 'open' }));
      const old = s.epoch;
      const n = await rollBack(s, c);
      // As a schema-1 store would look: renew must not seal (only an open with the mint's key does).
      await c.query('UPDATE schema_version SET version = 1');
      await c.query(`UPDATE contracts SET record = '{"contract_id":"a","status":"open","latest":{"hex":"00"}}'`);
      const meta = await rows(c, 'SELECT key, value FROM meta ORDER BY key');
      const contracts = await rows(c, 'SELECT * FROM contracts ORDER BY 1');
      expect(await epochs(c)).toEqual([{ epoch: old, counter: 0, pid: process.pid, host: hostname() }]);
      expect(await s.renew(5_000)).toBe(old);
      expect(s.epoch).not.toBe(old);
      expect(await epochs(c)).toEqual([{ epoch: s.epoch, counter: 0, pid: process.pid, host: hostname() }]);
      expect(await rows(c, 'SELECT key, value FROM meta ORDER BY key')).toEqual(meta);
      expect(await rows(c, 'SELECT * FROM contracts ORDER BY 1')).toEqual(contracts);
      expect((await c.query('SELECT version FROM schema_version')).rows).toEqual([{ version: 1 }]);
      expect(await takeOn(s, n, 'ctx/old')).toBe('refused E_NONCE_ELSEWHERE');
      const m = await issueOn(s, 'ctx/new');
      expect(await takeOn(s, m, 'ctx/new')).toBe(hexOf(m.sec));
      await s.close();
      expect(await epochs(c)).toEqual([]);
    } finally {
      await c.end();
    }
  }, 60_000);

  it('renew refused by an unfinished migration into the store: E_STORE_MIGRATING (exit 5), the old row kept, no new row, still broken', async () => {
    const { t, url } = await target();
    const s = await mintProcess(t);
    const c = await admin(fx.server, url);
    try {
      await rollBack(s, c);
      await c.query("INSERT INTO meta (key, value) VALUES ('migrating_from', $1)", [JSON.stringify({ from: '/x', id: 'm1', at: '2026-01-01' })]);
      const before = await epochs(c);
      await refusalAsync(s.renew(5_000), 'E_STORE_MIGRATING', 5);
      expect(await epochs(c)).toEqual(before);
      expect(s.broken).toBeDefined();
      await s.abandon();
    } finally {
      await c.end();
    }
  }, 60_000);
}, { prefix: 'offchain-pg-epoch-' });
