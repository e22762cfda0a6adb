/**
 * Round trips of the PostgreSQL mint store per request (issue 73 item 3: each statement is a
 * round trip of the mint process, its CPU and the server's): a credit update's step — the
 * contract locked and read, its state nonce asked and taken, the next one issued, the record
 * written — goes in 4 round trips, where it took 11, then 8, then 5: BEGIN travels with the step's first
 * statement (the contract's row locked: the advisory lock only for a contract with no row yet;
 * the row of the nonce the request names locked after it, in the same statement), that nonce
 * row serves `status` and `take`, the next nonce and the record go with the
 * epoch tick in one statement, and the nonce counter comes from the sequence 32 values at a
 * time; its statements are prepared once per connection (parsed and planned once, not per
 * request). What they change is checked against the server: a
 * contract id that is not SQL stays data, a savepoint rolled back reads the row again, and the
 * counters stay unique across processes. Skips visibly without a server.
 */
import { describe, expect, it } from 'vitest';
import type pg from 'pg';
import { describePostgres, rawClient, storeTarget } from './fixture.ts';
import { gen, nonce } from './nonce-helpers.ts';
import { PgMintStore } from '../../src/lib/store/pg/mint-store.ts';
import { withLiterals } from '../../src/lib/store/pg/mint-connection.ts';
import type { PgTarget } from '../../src/lib/store/pg/connect.ts';


type Rec = { contract_id: string; status: string; n?: number };

describe('withLiterals: a statement with its parameters written in', () => {
  const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;
  it('writes strings quoted by the driver and safe integers, $10 apart from $1', () => {
    const text = 'SELECT $1, $2, $10, $1';
    const params = ['a', 2, 3, 4, 5, 6, 7, 8, 9, "x'y"];
    expect(withLiterals(text, params, quote)).toBe("SELECT 'a', 2, 'x''y', 'a'");
  });
  it('sends anything else apart: bytes, fractions, huge numbers, null, a missing parameter', () => {
    expect(withLiterals('SELECT $1', [Buffer.from('00', 'hex')], quote)).toBeUndefined();
    expect(withLiterals('SELECT $1', [1.5], quote)).toBeUndefined();
    expect(withLiterals('SELECT $1', [2 ** 60], quote)).toBeUndefined();
    expect(withLiterals('SELECT $1', [null], quote)).toBeUndefined();
    expect(withLiterals('SELECT $2', ['a'], quote)).toBeUndefined();
  });
});

describePostgres('PostgreSQL mint store round trips', (fx) => {
  let db = 0;
  const target = (): Promise<PgTarget> => storeTarget(fx.server, `trips_${++db}`);
  const raw = rawClient;
  /** The statements the store's connection sends (each one round trip), by text. */
  const counting = (s: PgMintStore<Rec>) => {
    const client = (s as unknown as { client: pg.Client }).client;
    const sent: string[] = [];
    const query = client.query.bind(client) as (...a: unknown[]) => unknown;
    (client as unknown as { query: (...a: unknown[]) => unknown }).query = (...a: unknown[]) => {
      const q = a[0] as string | { name?: string; text: string };
      sent.push(typeof q === 'string' ? q : `${q.name ? `[${q.name}] ` : ''}${q.text}`);
      return query(...a);
    };
    return sent;
  };
  /** A credit update's step as src/lib/credit/mint.ts runs it: lock and read, ask, take, issue the next, write. */
  const update = (s: PgMintStore<Rec>, id: string, state: number, current: { sec: Uint8Array; pub: Uint8Array }, next: { sec: Uint8Array; pub: Uint8Array }, withNonce = true) =>
    s.step(async () => {
      const rec = await s.get(id, withNonce ? current.pub : undefined);
      expect(await s.status(current.pub, `${id}/${state}`)).toBe('unused');
      const secret = await s.take(current.pub, `${id}/${state}`);
      expect(Buffer.from(secret)).toEqual(Buffer.from(current.sec));
      await s.issue(`${id}/${state + 1}`, gen(next));
      await s.put({ contract_id: id, status: 'open', n: (rec?.n ?? 0) + 1 });
    });

  it('an update is 4 round trips, BEGIN with its row lock and its nonce row, its writes with the tick; its nonce counter is fetched once per 32 issues', async () => {
    const t = await target();
    const s = await PgMintStore.open<Rec>(t, 'regtest');
    let current = nonce();
    await s.step(() => s.issue('c1/1', gen(current)));
    await s.step(() => s.put({ contract_id: 'c1', status: 'open', n: 0 }));
    const sent = counting(s);
    for (let state = 1; state <= 40; state++) {
      const next = nonce();
      const before = sent.length;
      await update(s, 'c1', state, current, next);
      const trips = sent.slice(before);
      // One issue so far took the first 32 values: the 32nd update's issue fetches the next 32.
      expect(trips.length, `update ${state}: ${trips.join(' | ')}`).toBe(state === 32 ? 5 : 4);
      expect(trips[0]).toMatch(/^BEGIN; WITH c AS MATERIALIZED \(SELECT record FROM contracts WHERE contract_id = 'c1' FOR UPDATE\) .* FROM nonces WHERE id = '[0-9a-f]+' AND c\.record IS NOT NULL FOR UPDATE SKIP LOCKED\) n ON true$/);
      expect(trips.at(-2)).toMatch(/^\[offchain_\d+\] WITH w0 AS \(INSERT INTO nonces .* w1 AS \(INSERT INTO contracts .* t AS \(UPDATE epochs SET counter = counter \+ 1 /);
      expect(trips.at(-1)).toBe('COMMIT');
      // The others are prepared once per connection by name, then only bound and run.
      for (const t of trips.slice(1, -1)) expect(t, `update ${state}`).toMatch(/^\[offchain_\d+\] (SELECT|UPDATE|WITH) /);
      current = next;
    }
    expect((await s.get('c1'))?.n).toBe(40);
    await s.close();
  });

  it('without the nonce (a step that names none), 5: the contract, then the nonce row read on its own', async () => {
    const t = await target();
    const s = await PgMintStore.open<Rec>(t, 'regtest');
    const current = nonce();
    await s.step(() => s.issue('c1/1', gen(current)));
    await s.step(() => s.put({ contract_id: 'c1', status: 'open', n: 0 }));
    const sent = counting(s);
    await update(s, 'c1', 1, current, nonce(), false);
    expect(sent.length, sent.join(' | ')).toBe(5);
    expect(sent[0]).toBe("BEGIN; SELECT record FROM contracts WHERE contract_id = 'c1' FOR UPDATE");
    expect(sent[1]).toMatch(/^\[offchain_\d+\] SELECT context, epoch, sealed, consumed FROM nonces WHERE id = \$1 FOR UPDATE$/);
    await s.close();
  });

  it('a contract id that is not SQL stays data when written into the BEGIN round trip', async () => {
    const t = await target();
    const s = await PgMintStore.open<Rec>(t, 'regtest');
    const id = "x'); DROP TABLE contracts; --\\'";
    await s.step(async () => {
      expect(await s.get(id)).toBeUndefined();
      await s.put({ contract_id: id, status: 'open' });
    });
    expect(await s.get(id)).toEqual({ contract_id: id, status: 'open' });
    const c = await raw(t);
    expect((await c.query('SELECT contract_id FROM contracts')).rows).toEqual([{ contract_id: id }]);
    await c.end();
    await s.close();
  });

  it('a step that sends nothing sends no BEGIN and no COMMIT; a refused first statement rolls back', async () => {
    const t = await target();
    const s = await PgMintStore.open<Rec>(t, 'regtest');
    const sent = counting(s);
    await s.step(async () => undefined);
    expect(sent).toEqual([]);
    const n = nonce();
    await expect(s.step(() => s.take(n.pub, 'nothing/1'))).rejects.toMatchObject({ code: 'E_NONCE_UNKNOWN' });
    expect(sent.at(-1)).toBe('ROLLBACK');
    // The connection is usable again, outside any transaction.
    await s.step(() => s.issue('c/1', gen(n)));
    expect(await s.status(n.pub, 'c/1')).toBe('unused');
    await s.close();
  });

  it('a savepoint rolled back after a take reads the nonce again: unused, and taken once in the end', async () => {
    const t = await target();
    const s = await PgMintStore.open<Rec>(t, 'regtest');
    const n = nonce();
    await s.step(() => s.issue('c/1', gen(n)));
    await s.step(async () => {
      expect(await s.status(n.pub, 'c/1')).toBe('unused');
      await expect(s.step(async () => {
        await s.take(n.pub, 'c/1');
        expect(await s.status(n.pub, 'c/1')).toBe('consumed');
        throw new Error('the step fails after its take');
      })).rejects.toThrow('the step fails');
      expect(await s.status(n.pub, 'c/1')).toBe('unused');
      await s.take(n.pub, 'c/1');
    });
    expect(await s.status(n.pub, 'c/1')).toBe('consumed');
    await expect(s.step(() => s.take(n.pub, 'c/1'))).rejects.toMatchObject({ code: 'E_NONCE_USED' });
    await s.close();
  });

  it('two processes take their counters from one sequence: never the same value', async () => {
    const t = await target();
    const a = await PgMintStore.open<Rec>(t, 'regtest');
    const b = await PgMintStore.open<Rec>(t, 'regtest');
    const seen: number[] = [];
    const issue = (s: PgMintStore<Rec>, k: number) => s.step(() => s.issue(`c/${k}`, (counter) => (seen.push(counter), gen(nonce())())));
    for (let k = 0; k < 70; k++) await issue(k % 3 === 0 ? a : b, k);
    expect(seen).toHaveLength(70);
    expect(new Set(seen).size).toBe(70);
    await a.close();
    await b.close();
  });
});
