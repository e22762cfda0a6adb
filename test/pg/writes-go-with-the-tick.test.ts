/**
 * The PostgreSQL mint store holds a step's writes — a record put, a nonce issued — back to the
 * step's next statement or to its tick (pg/mint-transactions.ts `defer`), and locks a contract
 * by its row, the advisory lock only for a contract with no row yet (pg/mint-store.ts `get`).
 * What that must not change, checked against the server: a step reads what it wrote; a
 * savepoint rolled back keeps nothing of its writes; a repeated nonce is still refused and
 * its step keeps nothing; a write the database refuses at the tick leaves the nonce opened for
 * its own signing session only; two processes on one contract still run one after the other,
 * the second reading the first's commit, whether the contract existed or not; and any
 * sequence of puts, reads and nested steps ends as a plain map of the same operations says.
 * Skips visibly without a server.
 */
import { randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import fc from 'fast-check';
import type pg from 'pg';
import { describePostgres, rawClient, storeTarget } from './fixture.ts';
import { gen, nonce } from './nonce-helpers.ts';
import { PgMintStore } from '../../src/lib/store/pg/mint-store.ts';
import type { PgTarget } from '../../src/lib/store/pg/connect.ts';

type Rec = { contract_id: string; status: string; n?: number };

describePostgres('PostgreSQL mint store: writes held back to the tick', (fx) => {
  let db = 0;
  const target = (): Promise<PgTarget> => storeTarget(fx.server, `held_${++db}`);
  /** A DBA's trigger that refuses `events` on contracts. */
  const refuseOnContracts = async (dba: pg.Client, events: string) => {
    await dba.query(`CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by the DBA'; END $$`);
    await dba.query(`CREATE TRIGGER refuse BEFORE ${events} ON contracts FOR EACH ROW EXECUTE FUNCTION refuse()`);
  };
  const stored = async (t: PgTarget) => {
    const c = await rawClient(t);
    try {
      const contracts = (await c.query<{ contract_id: string; record: string }>('SELECT contract_id, record FROM contracts ORDER BY contract_id')).rows.map((r) => ({ id: r.contract_id, ...(JSON.parse(r.record) as Rec) }));
      const nonces = (await c.query<{ id: string; consumed: boolean }>('SELECT id, consumed FROM nonces ORDER BY id')).rows;
      const counters = (await c.query<{ counter: string }>('SELECT counter FROM epochs ORDER BY epoch')).rows.map((r) => Number(r.counter));
      return { contracts, nonces, counters };
    } finally {
      await c.end();
    }
  };

  it('a step reads what it wrote; a record put twice in a step is written once, the last; a step of a put alone commits it', async () => {
    const t = await target();
    const s = await PgMintStore.open<Rec>(t, 'regtest');
    await s.step(() => s.put({ contract_id: 'a', status: 'open', n: 1 }));
    expect((await stored(t)).contracts).toEqual([{ id: 'a', contract_id: 'a', status: 'open', n: 1 }]);
    await s.step(async () => {
      await s.put({ contract_id: 'a', status: 'open', n: 2 });
      expect((await s.get('a'))?.n).toBe(2);
      await s.put({ contract_id: 'a', status: 'open', n: 3 });
      await s.put({ contract_id: 'b', status: 'open', n: 1 });
      await s.put({ contract_id: 'a', status: 'closed', n: 4 });
      expect((await s.list()).map((r) => [r.contract_id, r.n])).toEqual([['a', 4], ['b', 1]]);
    });
    expect((await stored(t)).contracts.map((r) => [r.id, r.status, r.n])).toEqual([['a', 'closed', 4], ['b', 'open', 1]]);
    await s.close();
  });

  it('a savepoint rolled back keeps nothing of its held-back writes; the step around it keeps its own', async () => {
    const t = await target();
    const s = await PgMintStore.open<Rec>(t, 'regtest');
    const kept = nonce();
    const dropped = nonce();
    await s.step(async () => {
      await s.put({ contract_id: 'outer', status: 'open' });
      await expect(s.step(async () => {
        await s.put({ contract_id: 'outer', status: 'inner' });
        await s.put({ contract_id: 'inner', status: 'open' });
        await s.issue('inner/1', gen(dropped));
        throw new Error('the inner step fails');
      })).rejects.toThrow('the inner step fails');
      await s.issue('outer/1', gen(kept));
    });
    const after = await stored(t);
    expect(after.contracts.map((r) => [r.id, r.status])).toEqual([['outer', 'open']]);
    expect(await s.status(kept.pub, 'outer/1')).toBe('unused');
    expect(await s.status(dropped.pub, 'inner/1')).toBe('unknown');
    expect(after.nonces).toHaveLength(1);
    await s.close();
  });

  it('a nonce issued again is refused at the tick (in another step, or twice in one), and its step keeps nothing: no record, no counter', async () => {
    const t = await target();
    const s = await PgMintStore.open<Rec>(t, 'regtest');
    const n = nonce();
    await s.step(() => s.issue('c/1', gen(n)));
    const before = await stored(t);
    await expect(s.step(async () => {
      await s.put({ contract_id: 'c', status: 'open' });
      await s.issue('c/2', gen(n));
    })).rejects.toMatchObject({ code: 'E_NONCE_REPEATED' });
    const m = nonce();
    await expect(s.step(async () => {
      await s.issue('d/1', gen(m));
      await s.issue('d/2', gen(m));
      await s.put({ contract_id: 'd', status: 'open' });
    })).rejects.toMatchObject({ code: 'E_NONCE_REPEATED' });
    expect(await stored(t)).toEqual(before);
    // The store goes on.
    await s.step(() => s.put({ contract_id: 'c', status: 'open' }));
    expect((await s.get('c'))?.status).toBe('open');
    await s.close();
  });

  it("a write the database refuses at the tick (a DBA's trigger): nothing kept; the nonce taken signs its own session again, another session is refused E_NONCE_USED", async () => {
    const t = await target();
    const s = await PgMintStore.open<Rec>(t, 'regtest');
    const n = nonce();
    await s.step(() => s.issue('c/1', gen(n)));
    const dba = await rawClient(t);
    try {
      await refuseOnContracts(dba, 'INSERT OR UPDATE');
      const session = Uint8Array.from(randomBytes(32));
      const pay = (sess: Uint8Array) => s.step(async () => {
        const secret = await s.take(n.pub, 'c/1', sess);
        await s.issue('c/2', gen(nonce()));
        await s.put({ contract_id: 'c', status: 'open', n: 1 });
        return secret;
      });
      await expect(pay(session)).rejects.toThrow('refused by the DBA');
      expect(await s.status(n.pub, 'c/1')).toBe('unused');
      expect((await stored(t)).contracts).toEqual([]);
      await dba.query('DROP TRIGGER refuse ON contracts');
      await expect(pay(Uint8Array.from(randomBytes(32)))).rejects.toMatchObject({ code: 'E_NONCE_USED' });
      expect(Buffer.from(await pay(session))).toEqual(Buffer.from(n.sec));
      expect(await s.status(n.pub, 'c/1')).toBe('consumed');
    } finally {
      await dba.end();
    }
    await s.close();
  });

  it('a serialization failure raised by a held-back write at the tick runs the step again, as one raised inside the step would: kept once, its nonce taken once for its session', async () => {
    const t = await target();
    const s = await PgMintStore.open<Rec>(t, 'regtest');
    const n = nonce();
    await s.step(() => s.issue('c/1', gen(n)));
    const dba = await rawClient(t);
    try {
      // A sequence, not a table: its value survives the rollback of the transaction that drew it.
      await dba.query('CREATE SEQUENCE fired');
      await dba.query(`CREATE FUNCTION once() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        IF nextval('fired') = 1 THEN RAISE EXCEPTION 'conflict' USING ERRCODE = 'serialization_failure'; END IF;
        RETURN NEW; END $$`);
      await dba.query('CREATE TRIGGER once BEFORE INSERT OR UPDATE ON contracts FOR EACH ROW EXECUTE FUNCTION once()');
      const session = Uint8Array.from(randomBytes(32));
      let runs = 0;
      const secret = await s.step(async () => {
        runs++;
        const sec = await s.take(n.pub, 'c/1', session);
        await s.put({ contract_id: 'c', status: 'open', n: runs });
        return sec;
      });
      expect(runs).toBe(2);
      expect(Buffer.from(secret)).toEqual(Buffer.from(n.sec));
      expect((await stored(t)).contracts.map((r) => r.n)).toEqual([2]);
      expect(await s.status(n.pub, 'c/1')).toBe('consumed');
    } finally {
      await dba.end();
    }
    await s.close();
  });

  it('a step that swallows the failure of one of its statements does not resolve as kept: its COMMIT, answered ROLLBACK by the server, is refused, and the store goes on', async () => {
    const t = await target();
    const s = await PgMintStore.open<Rec>(t, 'regtest');
    const dba = await rawClient(t);
    try {
      await refuseOnContracts(dba, 'DELETE');
      await s.step(() => s.put({ contract_id: 'x', status: 'open' }));
      await expect(s.step(async () => {
        await s.put({ contract_id: 'c', status: 'open' });
        await s.remove('x').catch(() => undefined);
      })).rejects.toThrow(/rolled this step back/);
      expect((await stored(t)).contracts.map((r) => r.id)).toEqual(['x']);
      await s.step(() => s.put({ contract_id: 'c', status: 'open' }));
      expect((await stored(t)).contracts.map((r) => r.id)).toEqual(['c', 'x']);
    } finally {
      await dba.end();
    }
    await s.close();
  });

  for (const exists of [true, false]) {
    it(`two processes on one contract ${exists ? 'that exists' : 'with no row yet'}: the second waits for the first's COMMIT and reads what it wrote`, async () => {
      const t = await target();
      const a = await PgMintStore.open<Rec>(t, 'regtest');
      const b = await PgMintStore.open<Rec>(t, 'regtest');
      if (exists) await a.step(() => a.put({ contract_id: 'c', status: 'open', n: 0 }));
      let locked!: () => void;
      const aLocked = new Promise<void>((r) => (locked = r));
      let release!: () => void;
      const aMayCommit = new Promise<void>((r) => (release = r));
      const first = a.step(async () => {
        const r = await a.get('c');
        locked();
        await aMayCommit;
        await a.put({ contract_id: 'c', status: 'open', n: (r?.n ?? 0) + 1 });
      });
      await aLocked;
      let bRead: number | undefined | 'none' = 'none';
      const second = b.step(async () => {
        const r = await b.get('c');
        bRead = r?.n;
        await b.put({ contract_id: 'c', status: 'open', n: (r?.n ?? 0) + 1 });
      });
      await new Promise((r) => setTimeout(r, 300));
      expect(bRead, 'b read before a committed').toBe('none');
      release();
      await first;
      await second;
      expect(bRead).toBe(1);
      expect((await a.get('c'))?.n).toBe(2);
      await a.close();
      await b.close();
    });
  }

  it('any sequence of puts, reads, issues and nested steps (some failing) ends as a plain map of the same operations', async () => {
    const ids = ['p', 'q', 'r'];
    type Op = { kind: 'put'; id: string; n: number } | { kind: 'get'; id: string } | { kind: 'issue' } | { kind: 'nested'; ops: Op[]; fails: boolean };
    const leaf: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('put' as const), id: fc.constantFrom(...ids), n: fc.integer({ min: 0, max: 9 }) }),
      fc.record({ kind: fc.constant('get' as const), id: fc.constantFrom(...ids) }),
      fc.constant({ kind: 'issue' as const }),
    );
    const op: fc.Arbitrary<Op> = fc.oneof({ weight: 4, arbitrary: leaf }, { weight: 1, arbitrary: fc.record({ kind: fc.constant('nested' as const), ops: fc.array(leaf, { maxLength: 4 }), fails: fc.boolean() }) });
    const t = await target();
    const s = await PgMintStore.open<Rec>(t, 'regtest');
    let issued = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(op, { maxLength: 6 }), { minLength: 1, maxLength: 3 }), fc.boolean(), async (steps, lastFails) => {
        const c = await rawClient(t);
        await c.query('TRUNCATE contracts');
        await c.end();
        const model = new Map<string, number>();
        const nonces: { pub: Uint8Array; ctx: string; kept: boolean }[] = [];
        const run = async (ops: Op[], view: Map<string, number>, fresh: { pub: Uint8Array; ctx: string; kept: boolean }[]) => {
          for (const o of ops) {
            if (o.kind === 'put') {
              view.set(o.id, o.n);
              await s.put({ contract_id: o.id, status: 'open', n: o.n });
            } else if (o.kind === 'get') expect((await s.get(o.id))?.n).toBe(view.get(o.id));
            else if (o.kind === 'issue') {
              const n = nonce();
              const ctx = `x/${++issued}`;
              fresh.push({ pub: n.pub, ctx, kept: true });
              await s.issue(ctx, gen(n));
            } else {
              const inner = new Map(view);
              const innerFresh: typeof fresh = [];
              const done = s.step(async () => {
                await run(o.ops, inner, innerFresh);
                if (o.fails) throw new Error('nested fails');
              });
              if (o.fails) {
                await expect(done).rejects.toThrow('nested fails');
                for (const f of innerFresh) f.kept = false;
              } else {
                await done;
                for (const [k, v] of inner) view.set(k, v);
              }
              fresh.push(...innerFresh);
            }
          }
        };
        for (const [i, ops] of steps.entries()) {
          const view = new Map(model);
          const fresh: typeof nonces = [];
          const fails = lastFails && i === steps.length - 1;
          const done = s.step(async () => {
            await run(ops, view, fresh);
            if (fails) throw new Error('step fails');
          });
          if (fails) {
            await expect(done).rejects.toThrow('step fails');
            for (const f of fresh) f.kept = false;
          } else {
            await done;
            for (const [k, v] of view) model.set(k, v);
          }
          nonces.push(...fresh);
        }
        const after = await stored(t);
        expect(after.contracts.map((r) => [r.id, r.n])).toEqual([...model].sort(([x], [y]) => x.localeCompare(y)));
        for (const n of nonces) expect(await s.status(n.pub, n.ctx), n.ctx).toBe(n.kept ? 'unused' : 'unknown');
      }),
      { numRuns: 40 },
    );
    await s.close();
  }, 120_000);
});
