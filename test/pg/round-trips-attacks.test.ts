/**
 * Attacks on the round-trip savings of the PostgreSQL mint store (round-trips.test.ts): the
 * first statement of a step written into the BEGIN round trip as literals, and statements
 * prepared once per connection by name. What a database's settings, a schema change or a
 * parameter the server cannot take must not do: run a parameter as SQL, break a prepared
 * statement for the life of the connection, or let a step's statements run outside its
 * transaction. Skips visibly without a server.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type pg from 'pg';
import { describePostgres, rawClient, storeTarget } from './fixture.ts';
import { gen, nonce } from './nonce-helpers.ts';
import { PgMintStore } from '../../src/lib/store/pg/mint-store.ts';
import { resolvePgTarget, type PgTarget } from '../../src/lib/store/pg/connect.ts';
import { withLiterals } from '../../src/lib/store/pg/mint-connection.ts';


type Rec = { contract_id: string; status: string };

describe('withLiterals: what the server could refuse whole is sent apart', () => {
  it('a string with a NUL, or beyond ASCII, is not written in (the BEGIN goes alone)', () => {
    const quote = (x: string) => `'${x}'`;
    expect(withLiterals('SELECT $1, $2', ['a', 'b\u0000c'], quote)).toBeUndefined();
    expect(withLiterals('SELECT $1, $2', ['a', 'b\u0100c'], quote)).toBeUndefined();
    expect(withLiterals('SELECT $1, $2', ['a', '\u00c1'], quote)).toBeUndefined();
    expect(withLiterals('SELECT $1, $2', ['a', "b\\'c\u007f"], quote)).toBe("SELECT 'a', 'b\\'c\u007f'");
  });
});

describePostgres('PostgreSQL mint store round trips, attacked', (fx) => {
  let db = 0;
  const target = (): Promise<PgTarget> => storeTarget(fx.server, `attack_${++db}`);
  const raw = rawClient;
  const tables = async (t: PgTarget): Promise<string[]> => {
    const c = await raw(t);
    const rows = (await c.query<{ t: string }>("SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).rows.map((r) => r.t);
    await c.end();
    return rows;
  };

  it('a database whose sessions default to SJIS, backslash_quote on, standard_conforming_strings off: a parameter written into the BEGIN round trip stays data', async () => {
    const t = await target();
    const s = await PgMintStore.open<Rec>(t, 'regtest');
    await s.close();
    // The DBA's settings for the mint's database, read by every new session of it (the
    // driver's start-up packet says client_encoding UTF8, which wins over them).
    const c = await raw(t);
    for (const set of ["client_encoding = 'SJIS'", 'backslash_quote = on', 'standard_conforming_strings = off']) await c.query(`ALTER DATABASE ${c.escapeIdentifier(t.database)} SET ${set}`);
    await c.end();
    const before = await tables(t);
    // U+00C1 is C3 81 in UTF-8; in SJIS 0x81 opens a two-byte character whose second byte may be
    // 0x5C — the first of the two backslashes escapeLiteral writes for one (beyond ASCII, it is
    // bound apart now; written in, the start-up packet's UTF8 kept it data).
    const id = "\u00c1\\', 0)); CREATE TABLE pwned (); --";
    // ASCII, a backslash and a quote: written in (E'…' under standard_conforming_strings off).
    const plain = "x\\'); CREATE TABLE pwned2 (); --";
    const m = await PgMintStore.open<Rec>(t, 'regtest');
    await m.step(async () => {
      expect(await m.get(id)).toBeUndefined();
    });
    await m.step(async () => {
      expect(await m.get(plain)).toBeUndefined();
    });
    // put first: its INSERT is the BEGIN round trip's statement, both its parameters written in (ASCII).
    await m.step(() => m.put({ contract_id: plain, status: plain }));
    await m.step(() => m.put({ contract_id: id, status: plain }));
    await m.close();
    expect(await tables(t)).toEqual(before);
    const r = await raw(t);
    expect((await r.query('SELECT contract_id FROM contracts ORDER BY 1')).rows.map((x) => x.contract_id).sort()).toEqual([id, plain].sort());
    await r.end();
    const v = await PgMintStore.open<Rec>(t, 'regtest', { view: true });
    expect(await v.get(id)).toEqual({ contract_id: id, status: plain });
    expect(await v.get(plain)).toEqual({ contract_id: plain, status: plain });
    await v.close();
  });

  it('a column added to blind_signatures while the mint runs (a newer writer, a DBA): NUT-09 restore goes on answering', async () => {
    const t = await target();
    const s = await PgMintStore.open<Rec>(t, 'regtest');
    const B = `02${randomBytes(32).toString('hex')}`;
    await s.step(async () => {
      await s.put({ contract_id: 'c1', status: 'open' });
      await s.recordBlindSignatures('c1', 1, [{ B_: B, keyset_id: '00aa', amount: 8, C_: `03${'11'.repeat(32)}` }]);
    });
    expect((await s.signedBlindedMessages([B])).map((r) => r.B_)).toEqual([B]);
    const c = await raw(t);
    await c.query('ALTER TABLE blind_signatures ADD COLUMN audit text');
    await c.end();
    expect((await s.signedBlindedMessages([B])).map((r) => r.B_)).toEqual([B]);
    expect((await s.signedBlindedMessages([B])).map((r) => r.B_)).toEqual([B]);
    await s.close();
  });

  it('a first statement the server refuses whole (a NUL in its parameter) leaves the step in a transaction: nothing after it is kept', async () => {
    const t = await target();
    const s = await PgMintStore.open<Rec>(t, 'regtest');
    await expect(s.step(async () => {
      // A caller that goes on after a refused read: its write must not outlive the step.
      await s.get('a\u0000b').catch(() => undefined);
      await s.put({ contract_id: 'kept?', status: 'open' }).catch(() => undefined);
      throw new Error('the step fails');
    })).rejects.toThrow('the step fails');
    const c = await raw(t);
    expect((await c.query('SELECT contract_id FROM contracts')).rows).toEqual([]);
    await c.end();
    await s.close();
  });

  const pidOf = async (s: PgMintStore<Rec>) => (await (s as unknown as { client: pg.Client }).client.query<{ p: number }>('SELECT pg_backend_pid() AS p')).rows[0]!.p;

  for (const when of ['after the BEGIN round trip', 'between status and take'] as const) {
    it(`the connection lost ${when}: the step is refused E_STORE_UNREACHABLE, nothing of it kept; the next step reconnects, reads the row again and takes it once`, async () => {
      const t = await target();
      const s = await PgMintStore.open<Rec>(t, 'regtest');
      const n = nonce();
      await s.step(() => s.issue('c/1', gen(n)));
      const dba = await raw(t);
      const kill = async (pid: number) => {
        await dba.query('SELECT pg_terminate_backend($1)', [pid]);
        // Until the server has closed it: the store's next statement meets a dead connection.
        while ((await dba.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).rowCount) await new Promise((r) => setTimeout(r, 20));
      };
      await expect(s.step(async () => {
        expect(await s.get('c')).toBeUndefined(); // BEGIN and the contract's lock, one round trip
        const pid = await pidOf(s);
        if (when === 'after the BEGIN round trip') await kill(pid);
        // (Refused here when the connection is gone: never read on a new one outside the transaction.)
        expect(await s.status(n.pub, 'c/1')).toBe('unused');
        if (when === 'between status and take') await kill(pid);
        await s.take(n.pub, 'c/1');
        await s.put({ contract_id: 'c', status: 'signed' });
      })).rejects.toMatchObject({ code: 'E_STORE_UNREACHABLE' });
      const row = (await dba.query('SELECT consumed, sealed IS NOT NULL AS sealed FROM nonces')).rows;
      expect(row).toEqual([{ consumed: false, sealed: true }]);
      expect((await dba.query('SELECT contract_id FROM contracts')).rows).toEqual([]);
      // The next step, on a new connection: the row read (and locked) again, taken once.
      const secret = await s.step(async () => {
        expect(await s.get('c')).toBeUndefined();
        expect(await s.status(n.pub, 'c/1')).toBe('unused');
        const k = await s.take(n.pub, 'c/1');
        await s.put({ contract_id: 'c', status: 'signed' });
        return k;
      });
      expect(Buffer.from(secret)).toEqual(Buffer.from(n.sec));
      expect((await dba.query('SELECT consumed, sealed IS NOT NULL AS sealed FROM nonces')).rows).toEqual([{ consumed: true, sealed: false }]);
      await expect(s.step(() => s.take(n.pub, 'c/1'))).rejects.toMatchObject({ code: 'E_NONCE_USED' });
      await dba.end();
      await s.close();
    });
  }

  it("a DBA's edit of a nonce row: between two statements of a step it waits for the step's COMMIT (status read it locked); between two steps it is read", async () => {
    const t = await target();
    const s = await PgMintStore.open<Rec>(t, 'regtest');
    const n = nonce();
    await s.step(() => s.issue('c/1', gen(n)));
    const dba = await raw(t);
    await dba.query("SET lock_timeout = '200ms'");
    await s.step(async () => {
      expect(await s.status(n.pub, 'c/1')).toBe('unused');
      await expect(dba.query("UPDATE nonces SET context = 'c/2'")).rejects.toMatchObject({ code: '55P03' });
    });
    // Between steps: relabelled, then consumed (as an abandon by another process would).
    await dba.query("UPDATE nonces SET context = 'c/2'");
    expect(await s.step(() => s.status(n.pub, 'c/1'))).toBe('misbound');
    await s.step(async () => {
      expect(await s.status(n.pub, 'c/2')).toBe('unused');
    });
    await dba.query('UPDATE nonces SET consumed = true, sealed = NULL, context = NULL, pubnonce = NULL');
    await expect(s.step(async () => {
      expect(await s.status(n.pub, 'c/2')).toBe('consumed');
      await s.take(n.pub, 'c/2');
    })).rejects.toMatchObject({ code: 'E_NONCE_USED' });
    await dba.end();
    await s.close();
  });

  it('a database in LATIN1: a first statement whose string it cannot hold is refused inside the step\'s transaction, nothing after it kept', async () => {
    const url = await fx.server.createDatabase(`attack_${++db}`);
    const base = resolvePgTarget({}, { OFFCHAIN_STORE_URL: url, OFFCHAIN_STORE_PASSWORD: fx.server.password })!;
    const latin1 = `${base.database}_latin1`;
    const c = await raw(base);
    await c.query(`CREATE DATABASE ${c.escapeIdentifier(latin1)} ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`);
    await c.end();
    const t = resolvePgTarget({}, { OFFCHAIN_STORE_URL: url.replace(/\/[^/?]+(\?|$)/, `/${latin1}$1`), OFFCHAIN_STORE_PASSWORD: fx.server.password })!;
    expect(t.database).toBe(latin1);
    const s = await PgMintStore.open<Rec>(t, 'regtest');
    await expect(s.step(async () => {
      // U+0100 has no LATIN1 byte: the server cannot convert the round trip's text.
      await s.get('\u0100').catch(() => undefined);
      await s.put({ contract_id: 'kept?', status: 'open' }).catch(() => undefined);
      throw new Error('the step fails');
    })).rejects.toThrow('the step fails');
    const r = await raw(t);
    expect((await r.query('SELECT contract_id FROM contracts')).rows).toEqual([]);
    await r.end();
    // The store goes on: a step after it is kept.
    await s.step(() => s.put({ contract_id: 'next', status: 'open' }));
    expect(await s.get('next')).toEqual({ contract_id: 'next', status: 'open' });
    await s.close();
  });
});
