/**
 * The host epoch's rules where `npm run mutate` found a planted change passing the host-epoch
 * tests (src/lib/store/pg/host-epoch.ts), each at its edge, on a real PostgreSQL server:
 * `HostEpoch.join` called directly on one connection and checked from another (the DBA's),
 * the counter moved by the DBA and the witness written by `advance`, as a restore or a copy
 * of the --state-dir leaves them. The key file: written once, `epoch-<store id>.json`, read
 * back the same; one that is not an epoch and a 32-byte key is E_STATE_CORRUPT, never
 * replaced; one of zeros only (a retirement killed mid-shred) is replaced. The witness: the
 * counter at it or one below keeps the key, two below, above, gone, or beside another key
 * file retires it (`retired` says exactly what was found); it only rises and names its key
 * file. A retirement that keeps coming back stops after four draws (E_STORE_ROLLED_BACK).
 * One server, one database, a few seconds.
 */
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { beforeAll, afterAll, expect, it } from 'vitest';
import { withStateStep } from '../../src/lib/store/state-step.ts';
import { HostEpoch } from '../../src/lib/store/pg/host-epoch.ts';
import { PgMintStore } from '../../src/lib/store/pg/mint-store.ts';
import type { PgTarget } from '../../src/lib/store/pg/connect.ts';
import { refusalAsync } from '../setup/refusal.ts';
import { describePostgres } from './fixture.ts';
import { issue, storeTarget, type Rec } from './host-stores.ts';
import { dba } from './rewind.ts';

describePostgres('host epoch, at the edges the mutation run found', (fx) => {
  let t: PgTarget;
  let c: pg.Client; // the joining "command"
  let admin: pg.Client; // the DBA, on its own connection
  let storeId = '';
  let n = 0;
  const dir = () => join(fx.root, `host-${++n}`);
  const keyPath = (d: string) => join(d, `epoch-${storeId}.json`);
  const keyDoc = (d: string) => JSON.parse(readFileSync(keyPath(d), 'utf8')) as { epoch: string; key: string };
  const counter = async (epoch: string) => {
    const row = (await admin.query<{ counter: string }>('SELECT counter FROM epochs WHERE epoch = $1', [epoch])).rows[0];
    return row ? Number(row.counter) : undefined;
  };
  /** The joining connection is still inside a transaction (one left open holds its row locks). */
  const inTransaction = async () => (await c.query<{ open: boolean }>('SELECT now() <> statement_timestamp() AS open')).rows[0]!.open;
  const setCounter = (epoch: string, v: number) => admin.query('UPDATE epochs SET counter = $2 WHERE epoch = $1', [epoch, v]);
  /** A host directory whose epoch ticked once for real (a nonce issued): counter 1, witness 1, its ledger beside the key. */
  const used = async () => {
    const d = dir();
    await issue(t, d, 'ctx:1');
    const { epoch } = keyDoc(d);
    expect(await counter(epoch)).toBe(1);
    expect(existsSync(join(d, `ledger-${epoch}`))).toBe(true);
    return { d, epoch };
  };

  beforeAll(async () => {
    const s = await storeTarget(fx.server, 'host_epoch_mutants');
    t = s.t;
    // The schema and the store id, as the first command that opens the store writes them.
    const first = await PgMintStore.open<Rec>(t, 'regtest');
    await first.close();
    admin = await dba(fx.server, s.url);
    c = await dba(fx.server, s.url);
    storeId = (await admin.query<{ value: string }>("SELECT value FROM meta WHERE key = 'store_id'")).rows[0]!.value;
  }, 120_000);
  afterAll(async () => {
    await c?.end();
    await admin?.end();
  });

  it('a fresh host: its key file is written once and read back; its row is committed (counter 0, this host); a second join keeps epoch and key', async () => {
    const d = dir();
    const h = await HostEpoch.join(c, d, storeId);
    expect(h.retired).toBeUndefined();
    const doc = keyDoc(d);
    expect(doc.epoch).toMatch(/^[0-9a-f]{32}$/);
    expect(doc.key).toMatch(/^[0-9a-f]{64}$/);
    expect(h.epoch).toBe(doc.epoch);
    expect(h.key.toString('hex')).toBe(doc.key);
    expect(h.ledgerDir).toBe(join(d, `ledger-${doc.epoch}`));
    const row = (await admin.query<{ counter: string; pid: number | null; host: string }>('SELECT counter, pid, host FROM epochs WHERE epoch = $1', [doc.epoch])).rows[0];
    expect(row).toEqual({ counter: '0', pid: null, host: hostname() });
    const ino = statSync(keyPath(d)).ino;
    const again = await HostEpoch.join(c, d, storeId);
    expect(again.retired).toBeUndefined();
    expect(again.epoch).toBe(doc.epoch);
    expect(again.key.equals(h.key)).toBe(true);
    expect(statSync(keyPath(d)).ino).toBe(ino);
    expect(await again.seen()).toBe(0);
    expect(again.foreignWitness).toBe(false);
  }, 60_000);

  it('the counter at the witness or one below keeps the key; two below, one above, or its row gone retires it, with what was found', async () => {
    for (const [delta, kept] of [[0, true], [-1, true], [-2, false], [1, false], [undefined, false]] as const) {
      const { d, epoch } = await used();
      const h0 = await HostEpoch.join(c, d, storeId);
      await h0.advance(3);
      if (delta === undefined) await admin.query('DELETE FROM epochs WHERE epoch = $1', [epoch]);
      else await setCounter(epoch, 3 + delta);
      const h = await HostEpoch.join(c, d, storeId);
      if (kept) {
        expect(h.retired, `counter ${3 + delta!}, witness 3`).toBeUndefined();
        expect(h.epoch).toBe(epoch);
      } else {
        expect(h.retired, `counter ${delta === undefined ? 'gone' : 3 + delta}, witness 3`).toEqual({ epoch, counter: delta === undefined ? undefined : 3 + delta, seen: 3 });
        expect(h.epoch).not.toBe(epoch);
        expect(keyDoc(d).epoch).toBe(h.epoch); // the retired key file was replaced
        expect(await counter(h.epoch)).toBe(0);
      }
    }
  }, 60_000);

  it('a used epoch whose witness was lost (counter 1, witness 0) is retired', async () => {
    const { d, epoch } = await used();
    rmSync(join(d, `seen-${epoch}.json`));
    const h = await HostEpoch.join(c, d, storeId);
    expect(h.retired).toEqual({ epoch, counter: 1, seen: 0 });
  }, 60_000);

  it('a used epoch without its ledger is retired as such (noLedger); with it, or unused, it is not', async () => {
    const { d, epoch } = await used();
    expect((await HostEpoch.join(c, d, storeId)).retired).toBeUndefined();
    rmSync(join(d, `ledger-${epoch}`), { recursive: true });
    const h = await HostEpoch.join(c, d, storeId);
    expect(h.retired).toEqual({ epoch, counter: 1, seen: 1, noLedger: true });
    // The fresh epoch drawn has counter 0 and no ledger yet: kept.
    expect((await HostEpoch.join(c, d, storeId)).retired).toBeUndefined();
  }, 60_000);

  it('a witness written beside another key file (a copied --state-dir) reads -1 and retires the key; one naming no file (an older toolkit) reads its version', async () => {
    const { d, epoch } = await used();
    const seenPath = join(d, `seen-${epoch}.json`);
    const own = JSON.parse(readFileSync(seenPath, 'utf8')) as { version: number; file: string };
    const st = statSync(keyPath(d), { bigint: true });
    expect(own).toEqual({ version: 1, file: `${st.ino}:${st.birthtimeNs}` });
    writeFileSync(seenPath, JSON.stringify({ version: 1 }));
    const h = await HostEpoch.join(c, d, storeId);
    expect(h.retired).toBeUndefined();
    expect(await h.seen()).toBe(1);
    expect(h.foreignWitness).toBe(false);
    writeFileSync(seenPath, JSON.stringify({ version: 1, file: '1:2' }));
    expect(await h.seen()).toBe(-1);
    expect(h.foreignWitness).toBe(true);
    writeFileSync(seenPath, JSON.stringify(own));
    expect(await h.seen()).toBe(1);
    expect(h.foreignWitness).toBe(false);
    writeFileSync(seenPath, JSON.stringify({ version: 1, file: '1:2' }));
    const copy = await HostEpoch.join(c, d, storeId);
    expect(copy.retired).toEqual({ epoch, counter: 1, seen: -1 });
    expect(copy.epoch).not.toBe(epoch);
  }, 60_000);

  it('the witness only rises, keeps a document it does not raise as it is, and names this key file', async () => {
    const { d, epoch } = await used();
    const h = await HostEpoch.join(c, d, storeId);
    const seenPath = join(d, `seen-${epoch}.json`);
    const st = statSync(keyPath(d), { bigint: true });
    await h.advance(5);
    expect(JSON.parse(readFileSync(seenPath, 'utf8'))).toEqual({ version: 5, file: `${st.ino}:${st.birthtimeNs}` });
    await h.advance(4);
    expect(await h.seen()).toBe(5);
    // A witness with no file at the same version is not rewritten (nor one naming another file).
    writeFileSync(seenPath, JSON.stringify({ version: 5 }));
    await h.advance(5);
    expect(JSON.parse(readFileSync(seenPath, 'utf8'))).toEqual({ version: 5 });
    await h.advance(6);
    expect(JSON.parse(readFileSync(seenPath, 'utf8'))).toEqual({ version: 6, file: `${st.ino}:${st.birthtimeNs}` });
    // Raised inside a step that then fails (its files put back): the witness stays raised.
    await expect(withStateStep(async () => {
      await h.advance(7);
      throw new Error('the COMMIT was lost');
    })).rejects.toThrow('the COMMIT was lost');
    expect(await h.seen()).toBe(7);
  }, 60_000);

  it('retire: wipes the key in memory, shreds the key file only while it still holds that epoch, and leaves a corrupt one alone', async () => {
    const d = dir();
    const h = await HostEpoch.join(c, d, storeId);
    const other = await HostEpoch.join(c, d, storeId);
    await other.retire('00'.repeat(16));
    expect(other.key.every((b) => b === 0)).toBe(true);
    expect(keyDoc(d).epoch).toBe(h.epoch); // another epoch named: the file is kept
    await h.retire(h.epoch);
    expect(h.key.every((b) => b === 0)).toBe(true);
    expect(existsSync(keyPath(d))).toBe(false);
    const next = await HostEpoch.join(c, d, storeId);
    expect(next.epoch).not.toBe(h.epoch);
    writeFileSync(keyPath(d), '{"epoch":');
    await next.retire(next.epoch);
    expect(readFileSync(keyPath(d), 'utf8')).toBe('{"epoch":');
  }, 60_000);

  it('a key file that is not an epoch and a 32-byte key is E_STATE_CORRUPT (exit 3, naming it) and is not replaced; one of zeros only is', async () => {
    const hex32 = 'ab'.repeat(16);
    const hex64 = 'cd'.repeat(32);
    const bad = [
      'null', '{"epoch":', JSON.stringify({ key: hex64 }), JSON.stringify({ epoch: hex32 }),
      JSON.stringify({ epoch: [hex32], key: hex64 }), JSON.stringify({ epoch: hex32, key: [hex64] }),
      JSON.stringify({ epoch: `x${hex32}`, key: hex64 }), JSON.stringify({ epoch: `${hex32}x`, key: hex64 }), JSON.stringify({ epoch: hex32.slice(1), key: hex64 }), JSON.stringify({ epoch: hex32.toUpperCase(), key: hex64 }),
      JSON.stringify({ epoch: hex32, key: `x${hex64}` }), JSON.stringify({ epoch: hex32, key: `${hex64}x` }), JSON.stringify({ epoch: hex32, key: hex64.slice(1) }), JSON.stringify({ epoch: hex32, key: hex64.toUpperCase() }),
      `${JSON.stringify({ epoch: hex32, key: hex64 })}\0`,
    ];
    for (const text of bad) {
      const d = dir();
      mkdirSync(d, { recursive: true });
      writeFileSync(keyPath(d), text);
      const e = await refusalAsync(HostEpoch.join(c, d, storeId), 'E_STATE_CORRUPT', 3);
      expect(e.message, text).toContain(keyPath(d));
      expect(e.message).toContain('is not an epoch and a 32-byte key');
      expect(e.detail).toEqual({ path: keyPath(d) });
      expect(readFileSync(keyPath(d), 'utf8')).toBe(text);
    }
    // The same document well formed is taken as it is.
    const d = dir();
    mkdirSync(d, { recursive: true });
    writeFileSync(keyPath(d), JSON.stringify({ epoch: hex32, key: hex64 }));
    const h = await HostEpoch.join(c, d, storeId);
    expect([h.epoch, h.key.toString('hex')]).toEqual([hex32, hex64]);
    // Zeros only (a retirement killed between its overwrite and its unlink): a fresh key.
    const z = dir();
    mkdirSync(z, { recursive: true });
    writeFileSync(keyPath(z), Buffer.alloc(90));
    const fresh = await HostEpoch.join(c, z, storeId);
    expect(keyDoc(z).epoch).toBe(fresh.epoch);
  }, 60_000);

  it('a key file that cannot be read (a symlink loop) is that error, and is not replaced by a fresh key', async () => {
    const d = dir();
    mkdirSync(d, { recursive: true });
    symlinkSync(keyPath(d), keyPath(d));
    await expect(HostEpoch.join(c, d, storeId)).rejects.toMatchObject({ code: 'ELOOP' });
    expect(readdirSync(d).filter((f) => f.startsWith('epoch-'))).toEqual([`epoch-${storeId}.json`]);
    expect(lstatSync(keyPath(d)).isSymbolicLink()).toBe(true); // still the loop
  }, 60_000);

  it('a witness that is not JSON: E_STATE_CORRUPT, and the join leaves no transaction open (the row is not held)', async () => {
    const { d, epoch } = await used();
    writeFileSync(join(d, `seen-${epoch}.json`), '{');
    await refusalAsync(HostEpoch.join(c, d, storeId), 'E_STATE_CORRUPT', 3);
    await admin.query("SET lock_timeout = '2s'");
    await admin.query('BEGIN');
    expect((await admin.query('SELECT counter FROM epochs WHERE epoch = $1 FOR UPDATE NOWAIT', [epoch])).rowCount).toBe(1);
    await admin.query('ROLLBACK');
    expect(await inTransaction()).toBe(false);
  }, 60_000);

  it("the counter is read and the witness checked under the counter's row lock (another command's tick in flight finishes first)", async () => {
    const { d, epoch } = await used();
    let probed: unknown;
    // Right after join's SELECT … FOR UPDATE, before it reads the witness: the DBA's connection
    // asks for the same row without waiting. It must be refused (lock_not_available).
    const watched = new Proxy(c, {
      get(target, prop) {
        if (prop !== 'query') return Reflect.get(target, prop);
        return async (text: string, params?: unknown[]) => {
          const r = await target.query(text, params);
          if (text.startsWith('SELECT counter FROM epochs')) {
            await admin.query('BEGIN');
            probed = await admin.query('SELECT counter FROM epochs WHERE epoch = $1 FOR UPDATE NOWAIT', [epoch]).then(() => 'free', (e: { code?: string }) => e.code);
            await admin.query('ROLLBACK');
          }
          return r;
        };
      },
    });
    const h = await HostEpoch.join(watched, d, storeId);
    expect(h.retired).toBeUndefined();
    expect(probed).toBe('55P03');
    expect(await inTransaction()).toBe(false); // and committed after
  }, 60_000);

  it('a retirement that keeps coming back: four keys drawn, then E_STORE_ROLLED_BACK (exit 1)', async () => {
    const d = dir();
    let draws = 0;
    // Another "host" keeps writing a witness for whatever epoch this one just drew, as a store
    // that went back in time again and again would look: every draw is retired.
    const haunted = new Proxy(c, {
      get(target, prop) {
        if (prop !== 'query') return Reflect.get(target, prop);
        return (text: string, params?: unknown[]) => {
          if (text.startsWith('SELECT counter FROM epochs')) {
            draws++;
            writeFileSync(join(d, `seen-${String(params![0])}.json`), JSON.stringify({ version: 7 }));
          }
          return target.query(text, params);
        };
      },
    });
    const e = await refusalAsync(HostEpoch.join(haunted, d, storeId), 'E_STORE_ROLLED_BACK', 1);
    expect(e.message).toContain(`under ${d} keeps being retired`);
    expect(draws).toBe(4);
    expect(readdirSync(d).filter((f) => f.startsWith('seen-'))).toHaveLength(4);
    expect(await inTransaction()).toBe(false); // each retired draw rolled its transaction back
  }, 60_000);
}, { prefix: 'offchain-pg-hemut-' });
