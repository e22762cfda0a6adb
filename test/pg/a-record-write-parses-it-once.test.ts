/**
 * A WRITE OF A CONTRACT'S RECORD PARSES IT ONCE PER INDEX (src/lib/store/pg/schema.ts): the two
 * indexes of `contracts` over its JSON — the watcher's height and the unfunded opens — are on
 * functions of the record's text that cast it to jsonb once, not on expressions that cast it at
 * each `record::jsonb` (eight for the height, four for the unfunded opens: ~1 ms of the server's
 * CPU for each payment's write of a 2.6 kB record). What they compute is what the expressions
 * computed (the old texts, kept here, are the oracle), the queries go through them, and a store
 * made by the toolkit before has its indexes rebuilt on them by its first writer's open, a view
 * before that reading the same rows. On a server of the suite's own; skips visibly without one.
 */
import { expect, it } from 'vitest';
import fc from 'fast-check';
import { PgMintStore } from '../../src/lib/store/pg/mint-store.ts';
import { resolvePgTarget, type PgTarget } from '../../src/lib/store/pg/connect.ts';
import { mintDueUpTo } from '../../src/lib/watch/ports.ts';
import { describePostgres } from './fixture.ts';
import { dba } from './rewind.ts';

/** The indexes as the toolkit before this change made them (its schema.ts, verbatim). */
const OLD_NUMBER = (path: string) => `(record::jsonb ${path})::numeric`;
const OLD_WATCH_HEIGHT = `(CASE
    WHEN record::jsonb ? 'exiting' OR (jsonb_typeof(record::jsonb -> 'gateway') = 'object' AND (record::jsonb -> 'gateway') ? 'in_flight') THEN 0
    WHEN jsonb_typeof(record::jsonb -> 'contract' -> 'expiry_height') = 'number'
      AND ${OLD_NUMBER("-> 'contract' ->> 'expiry_height'")} = trunc(${OLD_NUMBER("-> 'contract' ->> 'expiry_height'")})
      AND abs(${OLD_NUMBER("-> 'contract' ->> 'expiry_height'")}) <= 9007199254740991
      THEN ${OLD_NUMBER("-> 'contract' ->> 'expiry_height'")}
    ELSE 0 END)`;
const OLD_UNFUNDED_WHERE = "(record::jsonb ->> 'status') = 'open' AND (record::jsonb -> 'latest') IS NULL AND (record::jsonb -> 'funding_seen') IS NULL";
const OLD_UNFUNDED_HEIGHT = "((record::jsonb ->> 'opened_at_height')::bigint)";
const OLD_INDEXES = `
  DROP INDEX contracts_watch_height; DROP INDEX unfunded_opens;
  DROP FUNCTION offchain_watch_height(text); DROP FUNCTION offchain_unfunded_open_height(text);
  CREATE INDEX unfunded_opens ON contracts (${OLD_UNFUNDED_HEIGHT}) WHERE ${OLD_UNFUNDED_WHERE};
  CREATE INDEX contracts_watch_height ON contracts (${OLD_WATCH_HEIGHT})`;

type Open = { contract_id: string; status: string; contract?: { expiry_height: unknown }; opened_at_height?: unknown; latest?: unknown; funding_seen?: unknown };

describePostgres('a record\'s write parses it once per index', (fx) => {
  let db = 0;
  const target = async (): Promise<PgTarget & { url: string }> => {
    const url = await fx.server.createDatabase(`parse_once_${++db}`);
    return { ...resolvePgTarget({}, { OFFCHAIN_STORE_URL: url, OFFCHAIN_STORE_PASSWORD: fx.server.password })!, url };
  };
  const indexDefs = async (c: Awaited<ReturnType<typeof dba>>) => (await c.query<{ indexname: string; indexdef: string }>("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'contracts' AND indexname <> 'contracts_pkey' ORDER BY indexname")).rows;
  const open = (id: string, height: number, more: Partial<Open> = {}): Open => ({ contract_id: id, status: 'open', contract: { expiry_height: 5_000 }, opened_at_height: height, ...more });
  const unfundedRows = async (s: PgMintStore<Open>) => {
    await s.step(async () => {
      for (const [id, h] of [['a', 30], ['b', 10], ['c', 20], ['d', 40]] as const) await s.put(open(id, h));
      await s.put(open('paid', 5, { latest: { state: 1 } }));
      await s.put(open('seen', 6, { funding_seen: true }));
      await s.put(open('closing', 7, { status: 'closing' }));
      await s.put({ contract_id: 'old', status: 'open', contract: { expiry_height: 5_000 } });
      await s.put(open('near', 3, { contract: { expiry_height: 1_010 }, latest: { state: 2 } }));
    });
  };

  it('the indexes are on the functions (one cast of the record each), and a write computes each once', async () => {
    const t = await target();
    const s = await PgMintStore.open<Open>(t, 'regtest');
    const c = await dba(fx.server, t.url);
    try {
      const defs = await indexDefs(c);
      expect(defs.map((d) => d.indexname)).toEqual(['contracts_watch_height', 'unfunded_opens']);
      for (const d of defs) expect(d.indexdef).not.toContain('::jsonb');
      expect(defs[0]!.indexdef).toContain('(offchain_watch_height(record))');
      expect(defs[1]!.indexdef).toContain('(offchain_unfunded_open_height(record))');
      // Counted by the server (track_functions): one write of a record, each function called for it
      // (the partial index's predicate and its expression: twice), each call one cast.
      await c.query("ALTER DATABASE " + new URL(t.url).pathname.slice(1) + " SET track_functions = 'pl'");
      await s.close();
      const w = await PgMintStore.open<Open>(t, 'regtest');
      await w.step(async () => w.put(open('x', 9)));
      await w.close();
      await new Promise((r) => setTimeout(r, 700)); // a backend's counts reach the statistics at its exit
      const calls = Object.fromEntries((await c.query<{ funcname: string; calls: string }>('SELECT funcname, calls FROM pg_stat_user_functions')).rows.map((r) => [r.funcname, Number(r.calls)]));
      expect(calls).toEqual({ offchain_watch_height: 1, offchain_unfunded_open_height: 2 });
    } finally {
      await c.end();
    }
  });

  it('unfundedOpens(): the opens never paid nor seen funded, oldest first, up to the limit — through the index', async () => {
    const t = await target();
    const s = await PgMintStore.open<Open>(t, 'regtest');
    await unfundedRows(s);
    expect((await s.unfundedOpens(35, 10)).map((r) => r.contract_id)).toEqual(['b', 'c', 'a']);
    expect((await s.unfundedOpens(35, 2)).map((r) => r.contract_id)).toEqual(['b', 'c']);
    expect((await s.unfundedOpens(20, 10)).map((r) => r.contract_id)).toEqual(['b']);
    await s.step(async () => s.put(open('b', 10, { latest: { state: 1 } })));
    expect((await s.unfundedOpens(35, 10)).map((r) => r.contract_id)).toEqual(['c', 'a']);
    await s.close();
    const c = await dba(fx.server, t.url);
    try {
      await c.query('SET enable_seqscan = off');
      const plan = (await c.query<{ 'QUERY PLAN': string }>("EXPLAIN SELECT record FROM contracts WHERE offchain_unfunded_open_height(record) IS NOT NULL AND offchain_unfunded_open_height(record) < 35 ORDER BY offchain_unfunded_open_height(record) LIMIT 10")).rows.map((r) => r['QUERY PLAN']).join('\n');
      expect(plan).toContain('unfunded_opens');
    } finally {
      await c.end();
    }
  });

  it('property: for any record, each function gives what the expression it replaces gave (the old index\'s text)', async () => {
    const t = await target();
    const s = await PgMintStore.open<Open>(t, 'regtest');
    await s.close();
    const anyValue = fc.oneof(fc.constant(null), fc.boolean(), fc.string({ maxLength: 8 }), fc.constant('open'), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constant({}), fc.constant([]));
    const height = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: -5, max: 10_000_000 }) }, fc.constant(2 ** 53), fc.constant(1e21), anyValue);
    const rec = fc.record({
      status: fc.oneof({ weight: 3, arbitrary: fc.constant('open') }, anyValue),
      opened_at_height: fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 0, max: 2 ** 40 }) }, fc.constant(undefined)),
      latest: fc.oneof({ weight: 2, arbitrary: fc.constant(undefined) }, anyValue),
      funding_seen: fc.oneof({ weight: 2, arbitrary: fc.constant(undefined) }, anyValue),
      contract: fc.oneof({ weight: 4, arbitrary: fc.record({ expiry_height: height }) }, anyValue),
      exiting: fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, anyValue),
      gateway: fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, anyValue, fc.record({ in_flight: anyValue }, { requiredKeys: [] })),
    }, { requiredKeys: [] });
    const texts = fc.sample(rec, { numRuns: 2_000, seed: 73 }).map((r, i) => JSON.stringify({ contract_id: `c${i}`, ...r }));
    const c = await dba(fx.server, t.url);
    try {
      await c.query('INSERT INTO contracts (contract_id, record) SELECT * FROM unnest($1::text[], $2::text[])', [texts.map((_, i) => `c${i}`), texts]);
      const rows = (await c.query<{ id: string; w_new: string; w_old: string; u_new: string | null; u_old: string | null }>(
        `SELECT contract_id AS id, offchain_watch_height(record)::text AS w_new, ${OLD_WATCH_HEIGHT}::text AS w_old,
           offchain_unfunded_open_height(record)::text AS u_new, CASE WHEN ${OLD_UNFUNDED_WHERE} THEN ${OLD_UNFUNDED_HEIGHT} END::text AS u_old FROM contracts`,
      )).rows;
      expect(rows).toHaveLength(texts.length);
      expect(rows.filter((r) => r.u_old !== null).length).toBeGreaterThan(100);
      for (const r of rows) expect([r.id, r.w_new, r.u_new]).toEqual([r.id, r.w_old, r.u_old]);
    } finally {
      await c.end();
    }
  });

  it('a store made by the toolkit before (indexes on the expressions, no functions): a view reads the same rows, creating nothing; its first writer\'s open rebuilds both indexes on the functions', async () => {
    const t = await target();
    const first = await PgMintStore.open<Open>(t, 'regtest');
    await unfundedRows(first);
    await first.close();
    const c = await dba(fx.server, t.url);
    try {
      await c.query(OLD_INDEXES);
      const before = await indexDefs(c);
      expect(before.every((d) => d.indexdef.includes('::jsonb'))).toBe(true);
      const view = await PgMintStore.open<Open>(t, 'regtest', { view: true });
      const due = await view.due(mintDueUpTo(1_000, 144));
      await view.close();
      expect(due.records.map((r) => r.contract_id)).toEqual(['near']);
      expect(due.others).toBe(8);
      expect(await indexDefs(c)).toEqual(before);
      expect((await c.query("SELECT 1 FROM pg_proc WHERE proname LIKE 'offchain\\_%height'")).rowCount).toBe(0);
      const writer = await PgMintStore.open<Open>(t, 'regtest');
      expect((await writer.due(mintDueUpTo(1_000, 144))).records.map((r) => r.contract_id)).toEqual(['near']);
      expect((await writer.unfundedOpens(35, 10)).map((r) => r.contract_id)).toEqual(['b', 'c', 'a']);
      await writer.close();
      const after = await indexDefs(c);
      expect(after.map((d) => d.indexname)).toEqual(['contracts_watch_height', 'unfunded_opens']);
      for (const d of after) expect(d.indexdef).not.toContain('::jsonb');
      // A second writer finds them as they are: nothing rebuilt (the same index files).
      const files = (await c.query("SELECT relname, relfilenode FROM pg_class WHERE relname IN ('contracts_watch_height', 'unfunded_opens') ORDER BY relname")).rows;
      const again = await PgMintStore.open<Open>(t, 'regtest');
      await again.close();
      expect((await c.query("SELECT relname, relfilenode FROM pg_class WHERE relname IN ('contracts_watch_height', 'unfunded_opens') ORDER BY relname")).rows).toEqual(files);
    } finally {
      await c.end();
    }
  });
});
