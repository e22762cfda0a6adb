/**
 * A watcher's round reads the contracts due at its tip, through an index (schema version 3:
 * `watch_height` beside the mint's contracts and the credit user's records, a column SQLite
 * computes from the record; src/lib/watch/ports.ts), not the whole store. The height follows every
 * step of the protocol that writes a record (open, pay, abandon, rollover, close, the exit's freeze
 * and its release, a gateway's payment in flight, a device channel), and every row written by
 * anything else — no statement sets it, and the administrator's `UPDATE … SET watch_height` of the
 * attack review of issue 71 is refused; a store of version 1 or 2 gets every row's height from its
 * record and yields the same decisions as a read of every contract. Expected heights are the
 * contracts' expiries as this file sets them (5,320, 5,420, 6,000), or 0.
 */
import { afterAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { join } from 'node:path';
import * as mint from '../../../src/lib/credit/mint.ts';
import * as abandon from '../../../src/lib/credit/abandon.ts';
import { applyClosed, closeRequest } from '../../../src/lib/credit/user-close.ts';
import { applyRolloverAccept, rolloverRequest, rolloverSign } from '../../../src/lib/credit/user-rollover.ts';
import { updateRequest } from '../../../src/lib/credit/user-update.ts';
import { frozenForExit, releaseAttempt } from '../../../src/lib/credit/exit.ts';
import { contractsMessage } from '../../../src/lib/credit/operator.ts';
import type { MintContractRecord, UserContractRecord } from '../../../src/lib/credit/ports.ts';
import { termsFromJson } from '../../../src/lib/credit/codec.ts';
import { StateDb, STATE_DB_FILE } from '../../../src/lib/store/sqlite/database.ts';
import { SqliteMintStore } from '../../../src/lib/store/sqlite/mint.ts';
import { ContractBook } from '../../../src/lib/store/sqlite/records.ts';
import { applySchema, SCHEMA_VERSION } from '../../../src/lib/store/sqlite/schema.ts';
import { decideMint, type MintRow } from '../../../src/lib/watch/credit.ts';
import { mintDueUpTo, mintWatchHeight, userDueUpTo, userWatchHeight } from '../../../src/lib/watch/ports.ts';
import { OfflineChainSource } from '../../../src/lib/chain/offline.ts';
import { MINT_SEALER, POLICY, world } from '../credit/world.ts';
import { openContract, pay } from '../credit/tamper.ts';
import { tempDir } from '../../helpers.ts';
import { recordText } from '../watch/record-texts.ts';

const mintHeights = (db: StateDb) => Object.fromEntries(db.sql.prepare<[], { contract_id: string; watch_height: number }>('SELECT contract_id, watch_height FROM contracts').all().map((r) => [r.contract_id, r.watch_height]));
const userHeights = (db: StateDb) => Object.fromEntries(db.sql.prepare<[], { id: string; watch_height: number }>("SELECT id, watch_height FROM records WHERE kind = 'credit-user'").all().map((r) => [r.id, r.watch_height]));

describe('the watch height follows every step that writes a record', () => {
  const w = world();
  afterAll(() => w.dir.cleanup());
  const userDb = () => StateDb.open(join(w.dir.path, 'user'), { create: false })!;
  let a = '';
  let b = '';
  let c = '';

  it('open and pay: the contract\'s expiry, at the mint and at the user', async () => {
    a = (await openContract(w, { expiryHeight: 5_320 })).id;
    c = (await openContract(w, { expiryHeight: 6_000, input: 'f1' })).id;
    expect(mintHeights(w.mintBook.db)).toEqual({ [a]: 5_320, [c]: 6_000 });
    await pay(w, a, 1_000n);
    await pay(w, c, 2_000n);
    expect(mintHeights(w.mintBook.db)).toEqual({ [a]: 5_320, [c]: 6_000 });
    expect(userHeights(userDb())).toEqual({ [a]: 5_320, [c]: 6_000 });
  });

  it('abandon: a request the mint never signed, given up — the record rewritten, its height kept', async () => {
    await updateRequest(w.user, a, 500n);
    const sent = await abandon.abandonRequest(w.user, a);
    const answer = await abandon.acceptAbandon(w.mint, sent as never);
    await abandon.applyAbandoned(w.user, answer as never);
    expect((await w.mintBook.get(a))!.abandoned).toBeDefined();
    expect(mintHeights(w.mintBook.db)[a]).toBe(5_320);
  });

  it('rollover: the old contract keeps its expiry (its state still exits until the rollover is mined), the new one has its own', async () => {
    w.chain.height = 1_100;
    const req = await rolloverRequest(w.user, a, { expiryHeight: 5_420, feeRate: 2 });
    const sign = await rolloverSign(w.user, (await mint.proposeRollover(w.mint, req as never)) as never);
    const rolled = await applyRolloverAccept(w.user, (await mint.acceptRollover(w.mint, sign as never)) as never);
    b = rolled.new_contract_id as string;
    const t = termsFromJson((req as { new_contract: never }).new_contract, 'regtest');
    w.chain.confirm(t.funding.txid, t.funding.vout, t.capacity, t.script, 1);
    expect((await w.mintBook.get(a))!.settlement?.kind).toBe('rollover');
    expect(mintHeights(w.mintBook.db)).toEqual({ [a]: 5_320, [b]: 5_420, [c]: 6_000 });
    expect(userHeights(userDb())).toEqual({ [a]: 5_320, [b]: 5_420, [c]: 6_000 });
  });

  it('close: the closed contract keeps its expiry', async () => {
    await pay(w, b, 700n);
    const closed = await mint.acceptClose(w.mint, (await closeRequest(w.user, b, 3)) as never);
    await applyClosed(w.user, closed as never);
    expect((await w.mintBook.get(b))!.status).toBe('closing');
    expect(mintHeights(w.mintBook.db)[b]).toBe(5_420);
    expect(userHeights(userDb())[b]).toBe(5_420);
  });

  it('the exit\'s freeze (exit-credit, the watcher\'s exit): 0, read at every tip; its release (a send that never left): the expiry again', async () => {
    await w.mintBook.step(async () => w.mintBook.put(frozenForExit((await w.mintBook.get(c))!, 'attempt-1')));
    expect(mintHeights(w.mintBook.db)[c]).toBe(0);
    const released = releaseAttempt(await w.mintBook.get(c), 'attempt-1', true)!;
    expect(released.unfrozen).toBe(true);
    await w.mintBook.step(async () => w.mintBook.put(released.record));
    expect(mintHeights(w.mintBook.db)[c]).toBe(6_000);
  });

  it('a gateway\'s payment in flight (its claim acts on the HTLC\'s expiry): 0; decided: the expiry again', async () => {
    const record = (await w.mintBook.get(c))!;
    const inFlight = { payment_hash: 'aa'.repeat(32), state: 2, amount_sat: 100, fee_sat: 1, invoice_amount_msat: '99000', preimage: 'bb'.repeat(32) };
    const gateway = { network: 'regtest', contract_id: c, contract: record.contract, next_state: 3, settled_sat: 0 } as NonNullable<MintContractRecord['gateway']>;
    await w.mintBook.step(async () => w.mintBook.put({ ...record, gateway: { ...gateway, in_flight: inFlight } as never }));
    expect(mintHeights(w.mintBook.db)[c]).toBe(0);
    await w.mintBook.step(async () => w.mintBook.put({ ...record, gateway: { ...gateway, decided: { payment_hash: 'aa'.repeat(32), answer: {} } } }));
    expect(mintHeights(w.mintBook.db)[c]).toBe(6_000);
  });

  it('a device channel in the user\'s record (its refunds act on its HTLCs\' expiries): 0', async () => {
    const record = (await w.userBook.get(c))!;
    await w.userBook.put({ ...record, device: { network: 'regtest', contract_id: c, contract: record.contract, next_state: 3, settled_sat: 0 } as never });
    expect(userHeights(userDb())[c]).toBe(0);
  });
});

/** A mint's record as the watcher sees it: the fields the rule and credit list read. */
const record = (id: string, expiry: number, extra: Partial<MintContractRecord> = {}): MintContractRecord => ({
  contract_id: id, network: 'regtest', contract: { expiry_height: expiry, capacity_sat: 100_000 } as never, status: 'open', next_state: 2, open_accept: {},
  latest: { state: 1, cumulative_sat: 1_000, txid: '11'.repeat(32), hex_sealed: '00' } as never, ...extra,
});

describe('a round reads the contracts due at its tip', () => {
  const dir = tempDir('offchain-due-');
  afterAll(() => dir.cleanup());
  // Tip 1,000, margin 144: due are the contracts whose expiry is at most 1,144, and those in flight.
  const store = new SqliteMintStore<MintContractRecord>(StateDb.open(dir.path, { create: true })!);
  const ids = { near: 'a1'.repeat(32), edge: 'a2'.repeat(32), next: 'a3'.repeat(32), far: 'a4'.repeat(32), exiting: 'a5'.repeat(32), past: 'a6'.repeat(32) };

  it('within the margin, at its edge, past expiry, or exiting: read; one block beyond the margin, or far: not read, counted', async () => {
    await store.step(async () => {
      await store.put(record(ids.near, 1_010));
      await store.put(record(ids.edge, 1_144));
      await store.put(record(ids.next, 1_145));
      await store.put(record(ids.far, 5_000));
      await store.put(record(ids.exiting, 5_000, { exiting: { state: 1, txid: '11'.repeat(32) } }));
      await store.put(record(ids.past, 900));
    });
    const due = await store.due(mintDueUpTo(1_000, 144));
    expect(due.records.map((r) => r.contract_id)).toEqual([ids.near, ids.edge, ids.exiting, ids.past]);
    expect(due.others).toBe(2);
    // The nearest expiry among those not read: the report's nearest deadline counts them.
    expect(due.next).toBe(1_145);
  });

  it('the contract one block beyond the margin is read at the next tip, and acts there (exit), where it did nothing before', async () => {
    expect((await store.due(mintDueUpTo(1_000, 144))).records.map((r) => r.contract_id)).not.toContain(ids.next);
    const at = await store.due(mintDueUpTo(1_001, 144));
    expect(at.records.map((r) => r.contract_id)).toContain(ids.next);
    const next = at.records.find((r) => r.contract_id === ids.next)!;
    const row = (await contractsMessage([next], 1_001, POLICY, 'regtest', new OfflineChainSource({ tipHeight: 1_001 }))).contracts[0] as MintRow;
    expect(decideMint(row, { tip: 1_001, startRate: 100, budgetRate: 10_000, incrementalRate: 100 }).action).toBe('exit');
  });

  it('the read goes through the index (EXPLAIN QUERY PLAN), which the query does not name: one dropped makes the round read the table, the same rows', async () => {
    const plan = (sql: string) => (store.db.sql.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(1_144) as { detail: string }[]).map((p) => p.detail).join('\n');
    expect(plan('SELECT contract_id, record FROM contracts WHERE watch_height <= ?')).toMatch(/^SEARCH contracts USING INDEX contracts_watch_height \(watch_height<\?\)$/);
    expect(plan('SELECT MIN(watch_height) AS h FROM contracts WHERE watch_height > ?')).toMatch(/^SEARCH contracts USING INDEX contracts_watch_height \(watch_height>\?\)$/);
    expect(plan("SELECT id, body FROM records WHERE kind = 'credit-user' AND watch_height <= ?")).toMatch(/^SEARCH records USING INDEX credit_user_watch_height \(kind=\? AND watch_height<\?\)$/);
    const before = await store.due(mintDueUpTo(1_000, 144));
    store.db.sql.exec('DROP INDEX contracts_watch_height');
    try {
      expect(plan('SELECT contract_id, record FROM contracts WHERE watch_height <= ?')).toMatch(/^SCAN contracts$/);
      expect(await store.due(mintDueUpTo(1_000, 144))).toEqual(before);
    } finally {
      store.db.sql.exec('CREATE INDEX contracts_watch_height ON contracts (watch_height)');
    }
  });

  it('a row written by anything but the store (an older toolkit, a copy by hand, the administrator\'s SQL) has the height of its record; `UPDATE contracts SET watch_height` is refused, and the contract stays due', async () => {
    const planted = 'a7'.repeat(32);
    const insert = store.db.sql.prepare('INSERT INTO contracts (contract_id, record) VALUES (?, ?)');
    insert.run(planted, JSON.stringify(record(planted, 1_100)));
    expect(mintHeights(store.db)[planted]).toBe(1_100);
    store.db.sql.prepare('UPDATE contracts SET record = ? WHERE contract_id = ?').run(JSON.stringify(record(planted, 9_000)), planted);
    expect(mintHeights(store.db)[planted]).toBe(9_000);
    expect((await store.due(mintDueUpTo(1_000, 144))).records.map((r) => r.contract_id)).not.toContain(planted);
    // The attack review's tamper: a due contract's height raised by hand, so the index would skip it.
    expect(() => store.db.sql.prepare('UPDATE contracts SET watch_height = 1000000000 WHERE contract_id = ?').run(ids.near)).toThrow(/cannot UPDATE generated column "watch_height"/);
    expect((await store.due(mintDueUpTo(1_000, 144))).records.map((r) => r.contract_id)).toContain(ids.near);
    expect(mintHeights(store.db)[ids.near]).toBe(1_010);
  });
});

/**
 * Version 2's own statements (the toolkit before this one: schema.ts at the merge of issue 71):
 * the height written by the stores' put, from the record, in a column anyone could set.
 */
const VERSION_2 = `
  ALTER TABLE contracts ADD COLUMN watch_height INTEGER NOT NULL DEFAULT 0;
  CREATE INDEX contracts_watch_height ON contracts (watch_height);
  ALTER TABLE records ADD COLUMN watch_height INTEGER NOT NULL DEFAULT 0;
  CREATE INDEX credit_user_watch_height ON records (watch_height) WHERE kind = 'credit-user';
`;

/** A database's schema as SQLite keeps it: every table's, index's and trigger's statement. */
const schemaOf = (sql: Database.Database) => sql.prepare<[], { sql: string }>("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name").all().map((r) => r.sql);

describe.each([1, 2])('a store of version %i (a toolkit before) is migrated: each row\'s height from its record, the same decisions', (version) => {
  const w = world();
  afterAll(() => w.dir.cleanup());
  let ids: string[] = [];

  it(`made as version ${version} left it${version === 2 ? ' (one height raised by the administrator)' : ''}, reopened: version 3, every height from its record, the schema a new store's`, async () => {
    const a = (await openContract(w, { expiryHeight: 5_320 })).id;
    const b = (await openContract(w, { expiryHeight: 6_000, input: 'f1' })).id;
    const c = (await openContract(w, { expiryHeight: 1_500, input: 'f2' })).id;
    ids = [a, b, c];
    for (const id of ids) await pay(w, id, 1_000n);
    await w.mintBook.step(async () => w.mintBook.put(frozenForExit((await w.mintBook.get(b))!, 'attempt-1')));
    await w.close();
    const fresh = new Database(':memory:');
    applySchema(fresh, 0);
    expect(schemaOf(fresh).join('\n')).toMatch(/watch_height INTEGER AS \(CASE/);
    // What version 1 had: no watch_height, no index (its tables are version 3's less them); version 2 its written column.
    for (const dir of ['mint', 'user']) {
      const raw = new Database(join(w.dir.path, dir, STATE_DB_FILE));
      raw.exec('DROP INDEX contracts_watch_height; DROP INDEX credit_user_watch_height; ALTER TABLE contracts DROP COLUMN watch_height; ALTER TABLE records DROP COLUMN watch_height; PRAGMA user_version = 1;');
      if (version === 2) {
        raw.exec(`${VERSION_2} PRAGMA user_version = 2;`);
        raw.prepare('UPDATE contracts SET watch_height = ? WHERE contract_id = ?').run(1_000_000_000, c);
        raw.prepare("UPDATE records SET watch_height = ? WHERE kind = 'credit-user' AND id = ?").run(1_000_000_000, c);
      }
      raw.close();
    }
    const db = StateDb.open(join(w.dir.path, 'mint'), { create: false })!;
    expect(db.sql.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(mintHeights(db)).toEqual({ [a]: 5_320, [b]: 0, [c]: 1_500 });
    const user = StateDb.open(join(w.dir.path, 'user'), { create: false })!;
    expect(userHeights(user)).toEqual({ [a]: 5_320, [b]: 6_000, [c]: 1_500 });
    expect(schemaOf(db.sql)).toEqual(schemaOf(fresh));
    expect(schemaOf(user.sql)).toEqual(schemaOf(fresh));
    user.closeNow();
    db.closeNow();
  });

  it('at every tip from 1,000 to 6,100: the contracts read decide as a read of every contract does, and each one left unread decides none or done there', async () => {
    const db = StateDb.open(join(w.dir.path, 'mint'), { create: false })!;
    const store = new SqliteMintStore<MintContractRecord>(db, { sealer: MINT_SEALER });
    const decide = async (records: MintContractRecord[], tip: number) => {
      const rows = (await contractsMessage(records, tip, POLICY, 'regtest', new OfflineChainSource({ tipHeight: tip }))).contracts as MintRow[];
      return new Map(rows.map((row) => [row.contract_id, decideMint(row, { tip, startRate: 100, budgetRate: 10_000, incrementalRate: 100 }).action]));
    };
    const acting = new Set<string>();
    for (let tip = 1_000; tip <= 6_100; tip += 25) {
      const all = await decide(await store.list(), tip);
      const due = await store.due(mintDueUpTo(tip, POLICY.safety_margin_blocks));
      const read = await decide(due.records, tip);
      expect(due.others).toBe(ids.length - read.size);
      for (const id of ids) {
        if (read.has(id)) expect(read.get(id), `${id} at ${tip}`).toBe(all.get(id));
        else expect(['none', 'done'], `${id} at ${tip}`).toContain(all.get(id));
        if (!['none', 'done'].includes(all.get(id)!)) acting.add(id);
      }
    }
    // Each contract acts somewhere in that range (the test compares decisions that matter).
    expect([...acting].sort()).toEqual([...ids].sort());
    db.closeNow();
  });

  it('the user\'s contracts: read from their expiry on', async () => {
    const book = new ContractBook<UserContractRecord>(async (create) => StateDb.open(join(w.dir.path, 'user'), { create }), 'credit-user', join(w.dir.path, 'user'));
    const [a, b, c] = ids as [string, string, string];
    expect((await book.due(userDueUpTo(1_499))).records.map((r) => r.contract_id)).toEqual([]);
    expect((await book.due(userDueUpTo(1_500))).records.map((r) => r.contract_id)).toEqual([c]);
    expect((await book.due(userDueUpTo(1_499))).next).toBe(1_500);
    const at = await book.due(userDueUpTo(6_000));
    expect(at.records.map((r) => r.contract_id).sort()).toEqual([a, b, c].sort());
    expect(at.others).toBe(0);
    expect(at.next).toBeUndefined();
  });
});

describe('SQLite\'s height (the generated column) against src/lib/watch/ports.ts\'s, on any record text', () => {
  /** Any value a stored record's field may hold, the odd ones included. */
  const anyValue = fc.oneof(fc.constant(null), fc.boolean(), fc.string({ maxLength: 12 }), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constant([]), fc.constant({}), fc.constant('in_flight'), fc.constant(['in_flight']));
  const expiry = fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: -10, max: 10_000_000 }) },
    fc.constant(2 ** 53 - 1), fc.constant(2 ** 53), fc.constant(-(2 ** 63)), fc.constant(1e21), fc.double({ noNaN: true, noDefaultInfinity: true }), anyValue,
  );
  const field = (weight: number) => fc.oneof({ weight, arbitrary: fc.constant(undefined) }, anyValue, fc.record({ in_flight: anyValue, state: anyValue }, { requiredKeys: [] }));
  const anyRecord = fc.record({
    contract: fc.oneof({ weight: 4, arbitrary: fc.record({ expiry_height: expiry }) }, fc.record({ expiry_height: expiry }, { requiredKeys: [] }), anyValue),
    exiting: field(4), gateway: field(2), device: field(2),
  }, { requiredKeys: [] });

  /** Each text in both tables of a new store, SQLite's heights read back, by the text's index. */
  const heightsOf = (texts: string[]) => {
    const dir = tempDir('offchain-heights-');
    try {
      const db = StateDb.open(dir.path, { create: true })!;
      db.sql.transaction(() => {
        texts.forEach((text, i) => {
          db.sql.prepare('INSERT INTO contracts (contract_id, record) VALUES (?, ?)').run(`c${i}`, text);
          db.sql.prepare("INSERT INTO records (kind, id, body) VALUES ('credit-user', ?, ?)").run(`u${i}`, text);
        });
      })();
      const heights = { mint: mintHeights(db), user: userHeights(db) };
      db.closeNow();
      return texts.map((_, i) => ({ mint: heights.mint[`c${i}`]!, user: heights.user[`u${i}`]! }));
    } finally {
      dir.cleanup();
    }
  };

  it('property: the rule\'s own height (mintWatchHeight, userWatchHeight) for 3,000 records of every shape as offchain writes them (JSON.stringify), 0 for a text that is not JSON', () => {
    const texts = [...fc.sample(anyRecord, { numRuns: 3_000, seed: 71 }).map((r) => JSON.stringify(r)), '{', 'null'];
    heightsOf(texts).forEach((h, i) => {
      const parsed = JSON.parse(texts[i] === '{' ? '{}' : texts[i]!) as object | null;
      expect(h.mint, texts[i]).toBe(parsed === null ? 0 : mintWatchHeight(parsed));
      expect(h.user, texts[i]).toBe(parsed === null ? 0 : userWatchHeight(parsed));
    });
  });

  it('property: never later than the rule on 5,000 texts a writer of the database may leave — keys written twice, escaped, numbers written otherwise — so the index never leaves out what a round must read', () => {
    const texts = [
      // The attack review's: a gateway's payment in flight only in the second `gateway`, a near expiry only in the second `contract` or `expiry_height`.
      '{"gateway":{"state":1},"contract":{"expiry_height":900000},"gateway":{"in_flight":{"state":2}}}',
      '{"contract":{"expiry_height":900000},"contract":{"expiry_height":5320}}',
      '{"contract":{"expiry_height":900000,"expiry_height":5320}}',
      '{"contract":{"expiry_height":900000},"\\u0065xiting":{}}',
      ...fc.sample(recordText(), { numRuns: 5_000, seed: 72 }),
    ];
    let differ = 0;
    heightsOf(texts).forEach((h, i) => {
      const parsed = JSON.parse(texts[i]!) as object;
      // Due at a tip T ≥ 0 when the height is at most T + lead: SQLite's is due whenever the rule's is.
      expect(h.mint, texts[i]).toBeLessThanOrEqual(Math.max(0, mintWatchHeight(parsed)));
      expect(h.user, texts[i]).toBeLessThanOrEqual(Math.max(0, userWatchHeight(parsed)));
      if (h.mint !== mintWatchHeight(parsed)) differ++;
    });
    // The texts reach the cases where the two readings differ (SQLite takes a key's first value, JSON.parse its last).
    expect(differ).toBeGreaterThan(100);
    expect(heightsOf(texts.slice(0, 4)).map((h) => h.mint)).toEqual([0, 0, 0, 0]);
  });
});
