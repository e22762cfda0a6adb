/**
 * Review of e45fa948 (writes held back to the tick; a contract locked by its row, the advisory
 * lock only for a contract with no row yet). Each `it` names what it shows: FINDING — failed
 * against that commit, showing a broken invariant, and holds since the fixes after it (the
 * repeated nonce leaves the ledger; `remove` takes the advisory lock; a failed
 * held-back write dooms its transaction); PROPERTY — held already, and pins down what was
 * checked. Skips visibly without a server.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type pg from 'pg';
import { describePostgres, rawClient, storeTarget } from './fixture.ts';
import { gate, gen, nonce } from './nonce-helpers.ts';
import { PgMintStore } from '../../src/lib/store/pg/mint-store.ts';
import { writesWithTick } from '../../src/lib/store/pg/mint-held-back.ts';
import type { PgTarget } from '../../src/lib/store/pg/connect.ts';

type Rec = { contract_id: string; status: string; n?: number };

const NONCE_SQL = 'INSERT INTO nonces (id, context, pubnonce, epoch, sealed) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING';
const CONTRACT_SQL = 'INSERT INTO contracts (contract_id, record) VALUES ($1, $2) ON CONFLICT (contract_id) DO UPDATE SET record = EXCLUDED.record';

describe('writesWithTick', () => {
  it('PROPERTY: each write keeps its own parameters, renumbered after the ones before it; the epoch is the last; the text depends only on the statements', () => {
    const sealed = Buffer.from([1, 2, 3]);
    const writes = [
      { sql: NONCE_SQL, params: ['id1', 'ctx', 'pub', 'ep', sealed], key: 'nonce:id1', check: undefined },
      { sql: CONTRACT_SQL, params: ['c', '{}'], key: 'contract:c', check: undefined },
      { sql: NONCE_SQL, params: ['id2', 'ctx2', 'pub2', 'ep', sealed], key: 'nonce:id2', check: undefined },
    ];
    const { text, params } = writesWithTick(writes, 'EPOCH');
    expect(params).toEqual(['id1', 'ctx', 'pub', 'ep', sealed, 'c', '{}', 'id2', 'ctx2', 'pub2', 'ep', sealed, 'EPOCH']);
    expect(text).toContain('w0 AS (INSERT INTO nonces (id, context, pubnonce, epoch, sealed) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING RETURNING 1)');
    expect(text).toContain('w1 AS (INSERT INTO contracts (contract_id, record) VALUES ($6, $7) ON CONFLICT');
    expect(text).toContain('w2 AS (INSERT INTO nonces (id, context, pubnonce, epoch, sealed) VALUES ($8, $9, $10, $11, $12) ON CONFLICT');
    expect(text).toContain('WHERE epoch = $13 RETURNING counter)');
    // Every placeholder is used once and all are there.
    const used = [...text.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])).sort((a, b) => a - b);
    expect(used).toEqual(params.map((_, i) => i + 1));
    const other = writesWithTick(writes.map((w) => ({ ...w, params: w.params.map((p) => (typeof p === 'string' ? `${p}x` : p)) })), 'OTHER');
    expect(other.text).toBe(text);
  });
});

describePostgres('PostgreSQL mint store: held-back writes, reviewed', (fx) => {
  let db = 0;
  const target = (): Promise<PgTarget> => storeTarget(fx.server, `review_${++db}`);
  const contracts = async (t: PgTarget) => {
    const c = await rawClient(t);
    try {
      return (await c.query<{ contract_id: string; record: string }>('SELECT contract_id, record FROM contracts ORDER BY contract_id')).rows.map((r) => JSON.parse(r.record) as Rec);
    } finally {
      await c.end();
    }
  };
  const until = async (what: string, cond: () => Promise<boolean>, ms = 10_000) => {
    const end = Date.now() + ms;
    while (!(await cond())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  it('FINDING: a nonce refused E_NONCE_REPEATED at the tick has already entered the ledger (settled before the tick): once a writer puts its consumed row back, it is opened for a SECOND signing session', async () => {
    const t = await target();
    const s = await PgMintStore.open<Rec>(t, 'regtest');
    const dba = await rawClient(t);
    try {
      const n = nonce();
      await s.step(() => s.issue('c/1', gen(n)));
      // The DBA keeps a copy of the unused row.
      const row = (await dba.query<{ id: string; context: string; pubnonce: string; epoch: string; sealed: Buffer }>('SELECT id, context, pubnonce, epoch, sealed FROM nonces')).rows[0]!;
      const s1 = Uint8Array.from(randomBytes(32));
      expect(Buffer.from(await s.step(() => s.take(n.pub, 'c/1', s1)))).toEqual(Buffer.from(n.sec));
      // The generator repeats a secret nonce (what E_NONCE_REPEATED is there for): refused...
      await expect(s.step(() => s.issue('c/2', gen(n)))).rejects.toMatchObject({ code: 'E_NONCE_REPEATED' });
      // ...and the DBA puts the consumed row back (as nonce-rewind.test.ts does).
      await dba.query('BEGIN');
      await dba.query('SET LOCAL session_replication_role = replica');
      await dba.query('UPDATE nonces SET consumed = false, sealed = $2, context = $3, pubnonce = $4, epoch = $5 WHERE id = $1', [row.id, row.sealed, row.context, row.pubnonce, row.epoch]);
      await dba.query('COMMIT');
      // THE LEDGER RULE: this process opened that nonce for s1; for any other session it is refused.
      const s2 = Uint8Array.from(randomBytes(32));
      const second = await s.step(() => s.take(n.pub, 'c/1', s2)).then((secret) => `opened again for a second session: ${Buffer.from(secret).equals(Buffer.from(n.sec)) ? 'the same secret nonce' : 'a secret'}`, (e: { code?: string }) => e.code);
      expect(second).toBe('E_NONCE_REOPENED');
    } finally {
      await dba.end();
      await s.close();
    }
  });

  it('FINDING: a contract created while a request waited on its advisory lock, then deleted and written again by a third request under its row lock: the waiting request\'s re-read finds no row and its write overwrites the third\'s commit', async () => {
    const t = await target();
    const creator = await PgMintStore.open<Rec>(t, 'regtest');
    const rewriter = await PgMintStore.open<Rec>(t, 'regtest');
    const waiter = await PgMintStore.open<Rec>(t, 'regtest');
    const watch = await rawClient(t);
    try {
      // The waiter's network is slow after its advisory lock is granted (a round trip, widened).
      const wc = (waiter as unknown as { client: pg.Client }).client;
      const query = wc.query.bind(wc) as (...a: unknown[]) => Promise<unknown>;
      const granted = gate();
      const slow = gate();
      (wc as unknown as { query: (...a: unknown[]) => Promise<unknown> }).query = async (...a: unknown[]) => {
        const r = await query(...a);
        const text = typeof a[0] === 'string' ? a[0] : (a[0] as { text: string }).text;
        if (text.includes('pg_advisory_xact_lock')) {
          granted.open();
          await slow.opened;
        }
        return r;
      };
      // 1. The creator finds no row and holds the contract's advisory lock.
      const created = gate();
      const mayCommit = gate();
      const first = creator.step(async () => {
        expect(await creator.get('c')).toBeUndefined();
        created.open();
        await mayCommit.opened;
        await creator.put({ contract_id: 'c', status: 'opened', n: 1 });
      });
      await created.opened;
      // 2. The waiter finds no row and waits for the advisory lock.
      let seen: Rec | undefined | 'none' = 'none';
      const second = waiter.step(async () => {
        const r = await waiter.get('c');
        seen = r;
        await waiter.put({ contract_id: 'c', status: r ? 'updated' : 'opened', n: (r?.n ?? 0) + 1 });
      });
      await until('the waiter to wait for the advisory lock', async () => Number((await watch.query("SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")).rows[0].n) === 1);
      // 3. The creator commits; the waiter is granted the lock (its re-read not sent yet).
      mayCommit.open();
      await first;
      await granted.opened;
      // 4. A third request locks the new row, deletes it and writes it again (remove, then put).
      const rewritten = gate();
      const mayCommit3 = gate();
      const third = rewriter.step(async () => {
        const r = await rewriter.get('c');
        await rewriter.remove('c');
        await rewriter.put({ contract_id: 'c', status: 'rewritten', n: (r?.n ?? 0) + 1 });
        rewritten.open();
        await mayCommit3.opened;
      });
      // (Before e45fa948 the third waits here for the waiter's advisory lock: the two run one after the other.)
      await Promise.race([rewritten.opened, new Promise((r) => setTimeout(r, 1000))]);
      // 5. The waiter's re-read reaches the server (and waits for the third's row lock, if it holds one); the third commits.
      slow.open();
      let waiterDone = false;
      void second.then(() => (waiterDone = true), () => (waiterDone = true));
      await until('the re-read to wait on a row lock, or the waiter to finish', async () => waiterDone || Number((await watch.query("SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%FOR UPDATE%'")).rows[0].n) === 1);
      mayCommit3.open();
      await third;
      await second;
      // Three increments, one after the other, each reading the one before: n = 3 whatever their order;
      // the waiter read a row (the creator's or the third's), never none.
      expect(seen, 'the waiter read').not.toBeUndefined();
      expect((await contracts(t)).map((r) => r.n)).toEqual([3]);
    } finally {
      await watch.end();
      await creator.close();
      await rewriter.close();
      await waiter.close();
    }
  });

  it('FINDING: a held-back write the database refuses surfaces at a nested step\'s SAVEPOINT, as that step\'s failure; the outer step tolerating it resolves, its COMMIT (of an aborted transaction) silently rolled back: nothing kept', async () => {
    const t = await target();
    const s = await PgMintStore.open<Rec>(t, 'regtest');
    const dba = await rawClient(t);
    try {
      await dba.query(`CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by the DBA'; END $$`);
      await dba.query('CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON contracts FOR EACH ROW EXECUTE FUNCTION refuse()');
      let inner = 'ran';
      const outcome = await s.step(async () => {
        await s.put({ contract_id: 'c', status: 'open' });
        // A nested step that does nothing; a failing one is tolerated (its savepoint keeps nothing).
        await s.step(async () => undefined).catch((e: Error) => (inner = `failed: ${e.message}`));
        return 'the step resolved';
      }).then((r) => r, (e: Error) => `the step rejected: ${e.message}`);
      const kept = await contracts(t);
      // Either the step fails (as it did when put sent its write at once) or what it wrote is kept.
      expect({ outcome, inner, kept: kept.length }).toEqual(kept.length === 1 ? { outcome: 'the step resolved', inner: 'ran', kept: 1 } : { outcome: expect.stringContaining('rejected') as unknown, inner: expect.any(String) as unknown, kept: 0 });
    } finally {
      await dba.end();
      await s.close();
    }
  });

  it('FINDING: a repeated nonce refused at a nested step\'s SAVEPOINT drops the outer step\'s later held-back writes; the outer step, tolerating the nested failure, commits without its record and hands out the repeated public nonce', async () => {
    const t = await target();
    const s = await PgMintStore.open<Rec>(t, 'regtest');
    try {
      const n = nonce();
      await s.step(() => s.issue('c/1', gen(n)));
      const outcome = await s.step(async () => {
        const { pubnonce } = await s.issue('c/2', gen(n));
        await s.put({ contract_id: 'c', status: 'open' });
        await s.step(async () => undefined).catch(() => undefined);
        return pubnonce;
      }).then(() => 'the repeated public nonce handed out', (e: { code?: string }) => e.code);
      expect(outcome).toBe('E_NONCE_REPEATED');
    } finally {
      await s.close();
    }
  });

  it('PROPERTY: a delete in between — a request waiting on the row lock of a contract deleted under it reads no row, and a later open of it waits for that request\'s COMMIT and reads it', async () => {
    const t = await target();
    const a = await PgMintStore.open<Rec>(t, 'regtest');
    const b = await PgMintStore.open<Rec>(t, 'regtest');
    const c = await PgMintStore.open<Rec>(t, 'regtest');
    const watch = await rawClient(t);
    try {
      await a.step(() => a.put({ contract_id: 'k', status: 'open', n: 5 }));
      const locked = gate();
      const aMay = gate();
      const deleting = a.step(async () => {
        expect((await a.get('k'))?.n).toBe(5);
        await a.remove('k');
        locked.open();
        await aMay.opened;
      });
      await locked.opened;
      let bRead: Rec | undefined | 'none' = 'none';
      const bMay = gate();
      const bHolds = gate();
      const opening = b.step(async () => {
        const r = await b.get('k');
        bRead = r;
        bHolds.open();
        await bMay.opened;
        await b.put({ contract_id: 'k', status: 'reopened-by-b', n: 1 });
      });
      await until('b to wait on the row lock', async () => Number((await watch.query("SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock'")).rows[0].n) === 1);
      aMay.open();
      await deleting;
      await bHolds.opened;
      expect(bRead).toBeUndefined();
      let cRead: Rec | undefined | 'none' = 'none';
      const later = c.step(async () => {
        const r = await c.get('k');
        cRead = r;
        await c.put({ contract_id: 'k', status: r ? 'updated-by-c' : 'reopened-by-c', n: (r?.n ?? 0) + 1 });
      });
      await until('c to wait on the advisory lock', async () => Number((await watch.query("SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")).rows[0].n) === 1);
      expect(cRead).toBe('none');
      bMay.open();
      await opening;
      await later;
      expect(cRead).toEqual({ contract_id: 'k', status: 'reopened-by-b', n: 1 });
      expect((await contracts(t)).map((r) => [r.status, r.n])).toEqual([['updated-by-c', 2]]);
    } finally {
      await watch.end();
      await a.close();
      await b.close();
      await c.close();
    }
  });

  it('PROPERTY: a database gone back in time is caught by the tick that carries the held-back writes: refused E_STORE_ROLLED_BACK, neither the record nor the next nonce kept', async () => {
    const t = await target();
    const s = await PgMintStore.open<Rec>(t, 'regtest');
    const dba = await rawClient(t);
    try {
      const cur = nonce();
      await s.step(() => s.issue('c/1', gen(cur)));
      await s.step(() => s.put({ contract_id: 'c', status: 'open', n: 0 }));
      // A restore of an older copy, as the epoch's counter sees it.
      await dba.query('UPDATE epochs SET counter = counter - 1');
      const next = nonce();
      const res = await s.step(async () => {
        const r = await s.get('c');
        await s.take(cur.pub, 'c/1', Uint8Array.from(randomBytes(32)));
        await s.issue('c/2', gen(next));
        await s.put({ contract_id: 'c', status: 'open', n: (r?.n ?? 0) + 1 });
        return 'left the process';
      }).then((r) => r, (e: { code?: string }) => e.code);
      expect(res).toBe('E_STORE_ROLLED_BACK');
      expect((await contracts(t)).map((r) => r.n)).toEqual([0]);
      expect((await dba.query('SELECT id, consumed FROM nonces')).rows.map((r: { consumed: boolean }) => r.consumed)).toEqual([false]);
    } finally {
      await dba.end();
      await s.abandon();
    }
  });

  it('PROPERTY: a step whose only work is an issue with its counter already fetched (nothing sent before the COMMIT) sends BEGIN and the tick and commits its nonce', async () => {
    const t = await target();
    const s = await PgMintStore.open<Rec>(t, 'regtest');
    try {
      await s.step(() => s.issue('a/1', gen(nonce())));
      const sc = (s as unknown as { client: pg.Client }).client;
      const query = sc.query.bind(sc) as (...a: unknown[]) => Promise<unknown>;
      const sent: string[] = [];
      (sc as unknown as { query: (...a: unknown[]) => Promise<unknown> }).query = (...a: unknown[]) => {
        sent.push(typeof a[0] === 'string' ? a[0] : (a[0] as { text: string }).text);
        return query(...a);
      };
      const n = nonce();
      await s.step(() => s.issue('b/1', gen(n)));
      expect(sent.map((x) => x.split(' ')[0])).toEqual(['BEGIN', 'WITH', 'COMMIT']);
      const other = await PgMintStore.open<Rec>(t, 'regtest', { view: true });
      expect(await other.status(n.pub, 'b/1')).toBe('unused');
      await other.close();
    } finally {
      await s.close();
    }
  });

  it('PROPERTY: payments of one shape prepare the tick\'s statement once per connection (the prepared statements do not grow with the payments)', async () => {
    const t = await target();
    const s = await PgMintStore.open<Rec>(t, 'regtest');
    try {
      let cur = nonce();
      await s.step(() => s.issue('c/1', gen(cur)));
      await s.step(() => s.put({ contract_id: 'c', status: 'open', n: 0 }));
      const sc = (s as unknown as { client: pg.Client }).client;
      const prepared = async () => Number((await sc.query<{ n: string }>('SELECT count(*) AS n FROM pg_prepared_statements')).rows[0]!.n);
      const pay = async (state: number) => {
        const next = nonce();
        await s.step(async () => {
          const r = await s.get('c');
          await s.take(cur.pub, `c/${state}`, Uint8Array.from(randomBytes(32)));
          await s.issue(`c/${state + 1}`, gen(next));
          await s.put({ contract_id: 'c', status: 'open', n: (r?.n ?? 0) + 1 });
        });
        cur = next;
      };
      for (let state = 1; state <= 3; state++) await pay(state);
      const after3 = await prepared();
      for (let state = 4; state <= 30; state++) await pay(state);
      expect(await prepared()).toBe(after3);
    } finally {
      await s.close();
    }
  });
});
