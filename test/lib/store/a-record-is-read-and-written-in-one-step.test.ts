/**
 * A RECORD IS READ AND WRITTEN IN ONE STEP (src/lib/store/sqlite/records.ts, channels.ts): every
 * role's records are JSON rows by (kind, id); an update reads, transforms and writes in one
 * transaction, so concurrent updates lose nothing and one that throws leaves the record as it
 * was; the text is stored as given (key order: a replayed answer is byte-identical); what is
 * not JSON — raw bytes, a bigint — is refused before anything is written; a name that could
 * not have been a file name of the layout before is refused (E_STATE_NAME); a row that is not
 * JSON is E_STATE_CORRUPT (exit 3). A channel step returns its message only once its record
 * is committed.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { StateDb } from '../../../src/lib/store/sqlite/database.ts';
import { ChannelBook } from '../../../src/lib/store/sqlite/channels.ts';
import { ContractBook, Documents, Records } from '../../../src/lib/store/sqlite/records.ts';
import { tempDir } from '../../helpers.ts';
import { refusal, refusalAsync } from '../../setup/refusal.ts';

const tmp = tempDir('offchain-records-');
afterAll(() => tmp.cleanup());
let n = 0;
const fresh = () => join(tmp.path, `s-${++n}`, 'regtest');
const opener = (dir: string) => async (create: boolean) => StateDb.open(dir, { create });
const refused = new Error('refused');

describe('documents', () => {
  it('written and read back (a missing one undefined), listed by name, sorted, their kind only; removed', async () => {
    const dir = fresh();
    const docs = new Documents(opener(dir), 'statechain', dir);
    expect(await docs.read('coin-a')).toBeUndefined();
    await docs.write('coin-b', { state: 3, cumulative: '1000' });
    await docs.write('coin-a', [1, 'x']);
    await new Documents(opener(dir), 'statechain-offer', dir).write('other-kind', {});
    expect(await docs.read('coin-b')).toEqual({ state: 3, cumulative: '1000' });
    expect(await docs.list()).toEqual(['coin-a', 'coin-b']);
    await docs.remove('coin-a');
    expect(await docs.list()).toEqual(['coin-b']);
  });

  it.each([['on an existing database', true], ['on a directory without one yet (its first writes)', false]])('%s, 20 concurrent read-wait-write updates lose nothing; an update that throws leaves the document as it was', async (_, existing) => {
    const dir = fresh();
    const docs = new Documents(opener(dir), 'statechain', dir);
    if (existing) await docs.write('other', {});
    await Promise.all(
      Array.from({ length: 20 }, () =>
        docs.update<{ n: number }>('counter', async (cur) => {
          const value = cur?.n ?? 0;
          await new Promise((r) => setTimeout(r, 1));
          return { n: value + 1 };
        }),
      ),
    );
    expect(await docs.read('counter')).toEqual({ n: 20 });
    await expect(docs.update('counter', () => Promise.reject(refused))).rejects.toBe(refused);
    expect(await docs.read('counter')).toEqual({ n: 20 });
  });

  it('names: lower-case, no path separators, not hidden — E_STATE_NAME otherwise, nothing written', async () => {
    const dir = fresh();
    const docs = new Documents(opener(dir), 'statechain', dir);
    await docs.write('ok', 1);
    for (const bad of ['../x', 'a/b', '.lock', '', 'X', 'coin-A', `a${'b'.repeat(200)}`, 'a b']) {
      await refusalAsync(docs.write(bad, {}), 'E_STATE_NAME', 1);
      await refusalAsync(docs.read(bad), 'E_STATE_NAME', 1);
    }
    // A name of the layout before (a dotted one, coin-<E>.sent-<transfer>) is one.
    await docs.write('coin-e.sent-9ed5948873e6fcf6970d89f306ab5816', 2);
    expect(await docs.list()).toEqual(['coin-e.sent-9ed5948873e6fcf6970d89f306ab5816', 'ok']);
  });
});

describe('the stored text', () => {
  it('is the JSON given, keys in their order: read back, it serialises to the same bytes', async () => {
    const db = StateDb.open(fresh(), { create: true })!;
    const r = new Records<Record<string, unknown>>(db, 'bolt3');
    const record = { z: 1, a: { y: [3, 2, 1], b: 'x' }, m: null };
    await db.step(() => r.put('ab:0', record));
    expect(db.sql.prepare("SELECT body FROM records WHERE kind = 'bolt3'").get()).toEqual({ body: '{"z":1,"a":{"y":[3,2,1],"b":"x"},"m":null}' });
    expect(JSON.stringify(r.get('ab:0'))).toBe(JSON.stringify(record));
    db.close();
  });

  it('raw bytes and bigints are refused (E_STATE_UNSERIALISABLE) naming the field, as is what is not JSON; nothing written', async () => {
    const db = StateDb.open(fresh(), { create: true })!;
    const r = new Records<unknown>(db, 'statechain');
    for (const bad of [{ k: new Uint8Array(2) }, { n: 1n }, { deep: { n: 2n } }]) {
      const e = await refusalAsync(db.step(() => r.put('x', bad)), 'E_STATE_UNSERIALISABLE', 1);
      expect(e.message).toMatch(/^state field "(k|n)" must be encoded/);
    }
    await refusalAsync(db.step(() => r.put('x', undefined)), 'E_STATE_UNSERIALISABLE', 1);
    expect(r.list()).toEqual([]);
    db.close();
  });

  it('a row that is not JSON: E_STATE_CORRUPT (exit 3) naming it, on a read and inside an update', async () => {
    const dir = fresh();
    const docs = new Documents(opener(dir), 'statechain', dir);
    await docs.write('doc', { v: 1 });
    const db = StateDb.open(dir, { create: false })!;
    db.sql.prepare("UPDATE records SET body = '{' WHERE id = 'doc'").run();
    const e = refusal(() => new Records(db, 'statechain').get('doc'), 'E_STATE_CORRUPT', 3);
    expect(e.message).toContain('the statechain record doc in');
    await refusalAsync(docs.update('doc', () => ({ v: 2 })), 'E_STATE_CORRUPT', 3);
    expect(db.sql.prepare("SELECT body FROM records WHERE id = 'doc'").get()).toEqual({ body: '{' });
    db.close();
  });
});

describe('contracts and channels', () => {
  it('a contract book\'s step is one transaction: a step that throws after writing leaves nothing', async () => {
    const dir = fresh();
    const book = new ContractBook<{ contract_id: string; n: number }>(opener(dir), 'credit-user', dir);
    await book.put({ contract_id: 'c1', n: 1 });
    await expect(
      book.exclusive(async () => {
        await book.put({ contract_id: 'c1', n: 2 });
        await book.put({ contract_id: 'c2', n: 1 });
        throw refused;
      }),
    ).rejects.toBe(refused);
    expect(await book.list()).toEqual([{ contract_id: 'c1', n: 1 }]);
    expect(await book.isEmpty()).toBe(false);
  });

  it('a channel step: a new channel only with `create`; the message returned once the record is committed; a step that throws writes nothing', async () => {
    const dir = fresh();
    const channels = new ChannelBook(opener(dir), dir);
    await refusalAsync(channels.step('ab:0', () => ({ record: { n: 0 }, message: 'm' })), 'E_UNKNOWN_CHANNEL', 5);
    expect(await channels.step('ab:0', (cur) => ({ record: { n: 0, was: cur ?? null }, message: 'opened' }), { create: true })).toBe('opened');
    // Committed when the message comes back: another connection reads the record.
    const Database = (await import('better-sqlite3')).default;
    const other = new Database(join(dir, 'state.sqlite'), { readonly: true });
    expect(other.prepare("SELECT body FROM records WHERE kind = 'bolt3' AND id = 'ab:0'").get()).toEqual({ body: '{"n":0,"was":null}' });
    other.close();
    await expect(
      channels.step('ab:0', () => {
        throw refused;
      }),
    ).rejects.toBe(refused);
    expect(await channels.get('ab:0')).toEqual({ n: 0, was: null });
    expect(await channels.step('ab:0', () => ({ message: 'read only' }))).toBe('read only');
    await refusalAsync(channels.get('cd:1'), 'E_UNKNOWN_CHANNEL', 5);
  });
});
