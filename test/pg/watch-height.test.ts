/**
 * A watcher's round on a PostgreSQL mint reads the contracts due at its tip through the
 * expression index `contracts_watch_height` (src/lib/store/pg/schema.ts): the server computes
 * each row's height from the record it stores — for any record, the height src/lib/watch/ports.ts
 * gives (a property over records of every shape, written raw) — the query is the index's own
 * expression (the planner uses it), and a store made before the index gets it from its first
 * writer's open while a view of it reads the same rows without it; the database's superuser who
 * puts another index under its name changes nothing read, and one who moves a record's expiry is
 * caught by the watcher's audit (src/topics/watch/audit.ts). On a server of the suite's own; skips
 * visibly without one.
 */
import { expect, it } from 'vitest';
import fc from 'fast-check';
import { PgMintStore } from '../../src/lib/store/pg/mint-store.ts';
import { resolvePgTarget, type PgTarget } from '../../src/lib/store/pg/connect.ts';
import { WATCH_HEIGHT_SQL } from '../../src/lib/store/pg/schema.ts';
import { auditEvery, auditSlice, mintDueUpTo, mintWatchHeight } from '../../src/lib/watch/ports.ts';
import { MintAudit } from '../../src/topics/watch/audit.ts';
import type { MintContractRecord } from '../../src/lib/credit/ports.ts';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers.ts';
import { recordText } from '../lib/watch/record-texts.ts';
import { describePostgres } from './fixture.ts';
import { dba } from './rewind.ts';

type Rec = { contract_id: string; contract: { expiry_height: number }; status: string; exiting?: unknown };

describePostgres('a watcher\'s read of a PostgreSQL mint', (fx) => {
  let db = 0;
  /** A new database: the store's target, and its URL for a superuser's client. */
  const target = async (): Promise<PgTarget & { url: string }> => {
    const url = await fx.server.createDatabase(`watch_${++db}`);
    return { ...resolvePgTarget({}, { OFFCHAIN_STORE_URL: url, OFFCHAIN_STORE_PASSWORD: fx.server.password })!, url };
  };
  const raw = (t: { url: string }) => dba(fx.server, t.url);
  const rec = (id: string, expiry: number, extra: Partial<Rec> = {}): Rec => ({ contract_id: id, contract: { expiry_height: expiry }, status: 'open', ...extra });

  /** Any value a stored record's field may hold, the odd ones included. */
  const anyValue = fc.oneof(fc.constant(null), fc.boolean(), fc.string({ maxLength: 12 }), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constant([]), fc.constant({}), fc.constant('in_flight'), fc.constant(['in_flight']));
  const expiry = fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: -10, max: 10_000_000 }) },
    fc.constant(2 ** 53 - 1), fc.constant(2 ** 53), fc.constant(1e21), fc.double({ noNaN: true, noDefaultInfinity: true }), anyValue,
  );
  // Mostly records as the mint writes them (an expiry, nothing or something in flight), the odd shapes among them.
  const anyRecord = fc.record({
    contract: fc.oneof({ weight: 4, arbitrary: fc.record({ expiry_height: expiry }) }, fc.record({ expiry_height: expiry }, { requiredKeys: [] }), anyValue),
    exiting: fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, anyValue, fc.constant({ state: 1, txid: 'ab'.repeat(32) })),
    gateway: fc.oneof({ weight: 2, arbitrary: fc.constant(undefined) }, anyValue, fc.record({ in_flight: anyValue, decided: anyValue }, { requiredKeys: [] })),
  }, { requiredKeys: [] });

  /** Each text written raw as a contract's record in a new store (contract ids c0, c1, …), and the height the server computes for each, by index. */
  const serverHeights = async (texts: string[]): Promise<number[]> => {
    const t = await target();
    const store = await PgMintStore.open<Rec>(t, 'regtest');
    await store.close();
    const c = await raw(t);
    try {
      await c.query('INSERT INTO contracts (contract_id, record) SELECT * FROM unnest($1::text[], $2::text[])', [texts.map((_, i) => `c${i}`), texts]);
      const rows = (await c.query<{ contract_id: string; h: string }>(`SELECT contract_id, ${WATCH_HEIGHT_SQL}::text AS h FROM contracts`)).rows;
      const server = new Map(rows.map((r) => [r.contract_id, Number(r.h)]));
      return texts.map((_, i) => server.get(`c${i}`)!);
    } finally {
      await c.end();
    }
  };

  it('property: for any record, the height the server indexes is the one src/lib/watch/ports.ts gives (mintWatchHeight)', async () => {
    const texts = fc.sample(anyRecord, { numRuns: 3_000, seed: 71 }).map((r, i) => JSON.stringify({ contract_id: `c${i}`, ...r }));
    (await serverHeights(texts)).forEach((h, i) => expect(h, texts[i]).toBe(mintWatchHeight(JSON.parse(texts[i]!) as object)));
  });

  it('property: for 3,000 texts a writer of the database may leave (keys written twice, escaped, numbers written otherwise) the server\'s height is the rule\'s — jsonb, like JSON.parse, keeps a key\'s last value — so due() leaves out nothing a round must read', async () => {
    const texts = fc.sample(recordText(), { numRuns: 3_000, seed: 72 });
    // + 0: -0, which a text may hold (and JSON.parse keeps), is the height 0.
    (await serverHeights(texts)).forEach((h, i) => expect(h, texts[i]).toBe(mintWatchHeight(JSON.parse(texts[i]!) as object) + 0));
  });

  it('slice(): the 48 key ranges of the rolling audit read every contract once — hashes and ids that are not — each with the height the server computes from its record', async () => {
    const t = await target();
    const store = await PgMintStore.open<Rec>(t, 'regtest');
    const ids = [...Array.from({ length: 200 }, (_, i) => createHash('sha256').update(String(i)).digest('hex')), '', '0', 'ffffffffzz', 'FFFFFFFF', 'Zed', '~'];
    try {
      await store.step(async () => {
        for (const [i, id] of ids.entries()) await store.put(rec(id, 1_000 + i, i % 7 === 0 ? { exiting: {} } : {}));
      });
      const read: string[] = [];
      for (let i = 0; i < 48; i++) {
        for (const { record, height } of await store.slice(auditSlice(i, 48))) {
          read.push(record.contract_id);
          expect(height).toBe(mintWatchHeight(record));
        }
      }
      expect(read.sort()).toEqual([...ids].sort());
    } finally {
      await store.close();
    }
  });

  it('due(): the contracts within the margin, at its edge, past expiry or exiting; the one beyond the margin from the next tip on; the others counted — through the index', async () => {
    const t = await target();
    const store = await PgMintStore.open<Rec>(t, 'regtest');
    try {
      await store.step(async () => {
        await store.put(rec('near', 1_010));
        await store.put(rec('edge', 1_144));
        await store.put(rec('next', 1_145));
        await store.put(rec('far', 5_000));
        await store.put(rec('exiting', 5_000, { exiting: { state: 1, txid: '11'.repeat(32) } }));
        await store.put(rec('past', 900));
      });
      const due = await store.due(mintDueUpTo(1_000, 144));
      expect(due.records.map((r) => r.contract_id)).toEqual(['edge', 'exiting', 'near', 'past']);
      expect(due.others).toBe(2);
      expect(due.next).toBe(1_145);
      expect((await store.due(mintDueUpTo(5_000, 144))).next).toBeUndefined();
      expect((await store.due(mintDueUpTo(1_001, 144))).records.map((r) => r.contract_id)).toEqual(['edge', 'exiting', 'near', 'next', 'past']);
    } finally {
      await store.close();
    }
    const c = await raw(t);
    try {
      await c.query('SET enable_seqscan = off');
      const plan = (await c.query<{ 'QUERY PLAN': string }>(`EXPLAIN SELECT record FROM contracts WHERE ${WATCH_HEIGHT_SQL} <= $1`, [1_144])).rows.map((r) => r['QUERY PLAN']).join('\n');
      expect(plan).toContain('contracts_watch_height');
    } finally {
      await c.end();
    }
  });

  it('the database\'s superuser against a watcher (attack review of issue 71): an index put back under the name on another expression changes nothing read; an expiry moved by 2^32 in the record (its id used to commit to 4 bytes of it) leaves the index\'s read, and the audit holds it, E_STATE_CORRUPT', async () => {
    const t = await target();
    // The demo contract's real terms (their id is the one they hash to), expiry 5320: due from tip 5176 at margin 144.
    const open = JSON.parse(readFileSync(join(ROOT, 'fixtures/credit/open-request.json'), 'utf8')) as { contract: MintContractRecord['contract']; contract_id: string };
    const id = open.contract_id;
    const writer = await PgMintStore.open<MintContractRecord>(t, 'regtest');
    await writer.step(async () => writer.put({ contract_id: id, network: 'regtest', contract: open.contract, status: 'open', next_state: 1, open_accept: {} } as unknown as MintContractRecord));
    await writer.close();
    const c = await raw(t);
    const view = await PgMintStore.open<MintContractRecord>(t, 'regtest', { view: true });
    const upTo = mintDueUpTo(5_220, 144);
    try {
      await c.query('DROP INDEX contracts_watch_height; CREATE INDEX contracts_watch_height ON contracts ((0))');
      expect((await view.due(upTo)).records.map((r) => r.contract_id)).toEqual([id]);
      await c.query("UPDATE contracts SET record = jsonb_set(record::jsonb, '{contract,expiry_height}', to_jsonb((record::jsonb #>> '{contract,expiry_height}')::bigint + 4294967296))::text");
      expect((await view.due(upTo)).records).toEqual([]);
      // The round whose slice of the store holds the contract (a third of the margin: 48 slices; found from the id alone).
      const slice = Math.floor((parseInt(id.slice(0, 8), 16) * 48) / 2 ** 32);
      const at = 5_220 + ((slice - (5_220 % 48) + 48) % 48);
      const audit = new MintAudit(auditEvery(144), false);
      expect((await audit.read(view, mintDueUpTo(at - 1, 144), at - 1)).records).toEqual([]);
      expect(audit.alarms.size).toBe(0);
      const due = await audit.read(view, mintDueUpTo(at, 144), at);
      expect(due.records).toEqual([]);
      expect(audit.alarms.get(id)).toMatch(/^E_STATE_CORRUPT: the mint's record of contract [0-9a-f]{64} holds terms that are not a contract's \(E_MALFORMED_MESSAGE: expiry_height 4294972616 is not a block height/);
    } finally {
      await view.close();
      await c.end();
    }
  });

  it('a store made before the index: a view reads the same rows without it; its first writer\'s open makes it', async () => {
    const t = await target();
    const first = await PgMintStore.open<Rec>(t, 'regtest');
    await first.step(async () => {
      await first.put(rec('near', 1_010));
      await first.put(rec('far', 5_000));
    });
    await first.close();
    const c = await raw(t);
    const indexed = async () => (await c.query("SELECT 1 FROM pg_indexes WHERE indexname = 'contracts_watch_height'")).rowCount;
    try {
      await c.query('DROP INDEX contracts_watch_height');
      const view = await PgMintStore.open<Rec>(t, 'regtest', { view: true });
      const due = await view.due(mintDueUpTo(1_000, 144));
      await view.close();
      expect(due.records.map((r) => r.contract_id)).toEqual(['near']);
      expect(due.others).toBe(1);
      expect(await indexed()).toBe(0);
      const writer = await PgMintStore.open<Rec>(t, 'regtest');
      await writer.close();
      expect(await indexed()).toBe(1);
    } finally {
      await c.end();
    }
  });
});
