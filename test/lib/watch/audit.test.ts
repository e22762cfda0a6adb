/**
 * The watcher's rolling audit of a mint's store (src/topics/watch/audit.ts over SQLite; the
 * slices: src/lib/watch/ports.ts): each round reads the slice of the store its tip names, so any
 * 48 consecutive tips (a third of the demo's margin, 144) read every record once. What a writer of
 * the database can still do after schema version 3 — and what the audit finds within those 48
 * blocks: an expiry moved in the record (its terms no longer hash to the id: held), a key written
 * twice (the store reads the first, offchain the last: due at every tip all the same, reported),
 * an index that leaves a due contract out (an index edited under SQLite: here a store whose due()
 * drops it — read from then on, every round, reported). Four real contracts (the credit world's
 * open and one payment each), expiry 5,320: due from tip 5,176. The tip at which a contract's slice
 * is read is found here from its id alone: its first 4 bytes × 48 / 2^32 is the slice, the tip the
 * one whose remainder mod 48 it is.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { MintContractRecord } from '../../../src/lib/credit/ports.ts';
import type { MintStorePort } from '../../../src/lib/store/mint-store-port.ts';
import { auditEvery, mintDueUpTo } from '../../../src/lib/watch/ports.ts';
import { MintAudit, withAlarms } from '../../../src/topics/watch/audit.ts';
import { openContract, pay } from '../credit/tamper.ts';
import { world } from '../credit/world.ts';

const EVERY = 48;
const MARGIN = 144;
/** The slice a contract id is in, from the id alone (a hash: its first 4 bytes uniform). */
const sliceOf = (id: string) => Math.floor((parseInt(id.slice(0, 8), 16) * EVERY) / 2 ** 32);

describe('the rolling audit: every record read within a third of the margin, one slice a round', () => {
  const w = world();
  const ids = { sound: '', moved: '', twice: '', hidden: '' };
  /** The mint's store, as a round reads it: its index leaves `hidden` out (an index edited under the database). */
  let store: MintStorePort<MintContractRecord>;
  /** Records each round read through the slices, and the store's. */
  let sliced = 0;
  let contracts = 0;

  beforeAll(async () => {
    // Four contracts in four slices (else this test could not tell their tips apart); one opened in a slice already taken stays sound.
    const names = ['sound', 'moved', 'twice', 'hidden'] as const;
    for (let i = 0, named = 0; named < names.length; i++) {
      const id = (await openContract(w, { expiryHeight: 5_320, input: `f${i}` })).id;
      await pay(w, id, 1_000n);
      contracts++;
      if (Object.values(ids).some((x) => x !== '' && sliceOf(x) === sliceOf(id))) continue;
      ids[names[named++]!] = id;
    }
    await w.mintBook.commit();
    expect(auditEvery(MARGIN)).toBe(EVERY);
    const sql = w.mintBook.db.sql;
    // The expiry moved 1,000 blocks out in the record: the index follows it (due from 6,176), its id does not.
    sql.prepare("UPDATE contracts SET record = json_set(record, '$.contract.expiry_height', 6320) WHERE contract_id = ?").run(ids.moved);
    // A far expiry written before the record's own `contract`: SQLite reads the first, offchain (JSON.parse) the last.
    sql.prepare(`UPDATE contracts SET record = '{"contract":' || json_set(json_extract(record, '$.contract'), '$.expiry_height', 900000) || ',' || substr(record, 2) WHERE contract_id = ?`).run(ids.twice);
    const real = w.mintBook;
    store = Object.assign(Object.create(real) as MintStorePort<MintContractRecord>, {
      due: async (upTo: number) => {
        const due = await real.due(upTo);
        const records = due.records.filter((r) => r.contract_id !== ids.hidden);
        return { ...due, records, others: due.others + due.records.length - records.length };
      },
      slice: async (range: Parameters<MintStorePort<MintContractRecord>['slice']>[0]) => {
        const rows = await real.slice(range);
        sliced += rows.length;
        return rows;
      },
    });
  });
  afterAll(() => w.dir.cleanup());

  const round = async (audit: MintAudit, tip: number) => {
    const due = await audit.read(store, mintDueUpTo(tip, MARGIN), tip);
    return { read: due.records.map((r) => r.contract_id), alarms: new Map(audit.alarms), held: new Set(audit.held) };
  };

  it('property: --once from any tip — the 48 rounds from it find each altered record at the one tip whose slice holds it, and nothing else; together they read the store once', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 5_176, max: 6_100 }), async (start) => {
      sliced = 0;
      for (let tip = start; tip < start + EVERY; tip++) {
        const r = await round(new MintAudit(EVERY, false), tip);
        const at = (id: string) => tip % EVERY === sliceOf(id);
        expect([...r.alarms.keys()].sort(), `tip ${tip}`).toEqual([ids.moved, ids.twice, ids.hidden].filter(at).sort());
        if (at(ids.moved)) {
          expect(r.alarms.get(ids.moved)).toMatch(/^E_STATE_CORRUPT: the mint's record of contract [0-9a-f]{64} holds terms that hash to [0-9a-f]{64}: its expiry cannot be trusted/);
          expect(r.held).toEqual(new Set([ids.moved]));
        }
        if (at(ids.twice)) expect(r.alarms.get(ids.twice)).toMatch(/reads otherwise to the store \(watch height 0\) than to offchain \(5320\): a key written twice/);
        if (at(ids.hidden)) expect(r.alarms.get(ids.hidden)).toMatch(/is due at this tip \(its record's watch height 5320\) but the store's index left it out/);
        // The key written twice makes the record due at every tip (the store reads 0), and offchain acts on what it reads: 5,320.
        expect(r.read, `tip ${tip}`).toContain(ids.twice);
        expect(r.read.includes(ids.hidden), `tip ${tip}`).toBe(at(ids.hidden));
        expect(r.read).not.toContain(ids.moved);
      }
      expect(sliced).toBe(contracts);
    }), { numRuns: 8 });
  });

  it('a long-running watcher: each found within 48 blocks, the contract its index left out read every round from then on, the moved one held until its slice finds it restored', async () => {
    const audit = new MintAudit(EVERY, true);
    const start = 5_200;
    const found = new Map<string, number>();
    sliced = 0;
    for (let tip = start; tip < start + EVERY; tip++) {
      const r = await round(audit, tip);
      for (const id of r.alarms.keys()) if (!found.has(id)) found.set(id, tip);
      if (found.has(ids.hidden)) expect(r.read, `tip ${tip}`).toContain(ids.hidden);
    }
    expect(sliced).toBe(contracts);
    for (const name of ['moved', 'twice', 'hidden'] as const) expect(found.get(ids[name]), name).toBe(start + ((sliceOf(ids[name]) - (start % EVERY) + EVERY) % EVERY));
    expect(found.has(ids.sound)).toBe(false);
    // The same tip again (a retry) reads no slice; a gap of 48 blocks or more reads them all.
    sliced = 0;
    await round(audit, start + EVERY - 1);
    expect(sliced).toBe(0);
    await round(audit, start + 3 * EVERY);
    expect(sliced).toBe(contracts);
    // The record restored: held until its slice is read again, then read and acted on (it is due: 5,320).
    const sql = w.mintBook.db.sql;
    sql.prepare("UPDATE contracts SET record = json_set(record, '$.contract.expiry_height', 5320) WHERE contract_id = ?").run(ids.moved);
    let tip = start + 3 * EVERY + 1;
    for (; tip % EVERY !== sliceOf(ids.moved); tip++) expect((await round(audit, tip)).held).toEqual(new Set([ids.moved]));
    const restored = await round(audit, tip);
    expect(restored.held).toEqual(new Set());
    expect(restored.alarms.has(ids.moved)).toBe(false);
    expect(restored.read).toContain(ids.moved);
  });
});

describe('withAlarms: what the audit found, in the round\'s decisions', () => {
  const exit = { kind: 'credit-mint' as const, contract: 'a', action: 'exit' as const, deadline: 5_320, blocks_left: 100, reason: 'must exit' };
  it('an alarm in its contract\'s decision; one with no decision this round a `hold` when its terms are untrusted, else `none` (a contract settled for good whose record was altered since)', () => {
    const decisions = withAlarms([{ ...exit }], new Map([['a', 'E_STATE_CORRUPT: a'], ['b', 'E_STATE_CORRUPT: b'], ['c', 'E_STATE_CORRUPT: c']]), new Set(['b']), 5_220);
    expect(decisions.map((d) => [d.contract, d.action, d.error])).toEqual([['a', 'exit', 'E_STATE_CORRUPT: a'], ['b', 'hold', 'E_STATE_CORRUPT: b'], ['c', 'none', 'E_STATE_CORRUPT: c']]);
    expect(decisions[1]!.reason).toMatch(/cannot be trusted: nothing is done for it/);
  });
});
