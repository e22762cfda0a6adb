/**
 * READING CREATES NOTHING (src/lib/store/sqlite/database.ts `open`, open.ts): a state directory
 * that holds no database is made only by a step that writes — a look (a status, a listing, a
 * record read, a take or a step on something that is not there) on a mistyped --state-dir
 * leaves no trace, not even the directory; and reading a database that exists writes nothing
 * to it.
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { StateDb, STATE_DB_FILE } from '../../../src/lib/store/sqlite/database.ts';
import { ChannelBook } from '../../../src/lib/store/sqlite/channels.ts';
import { SqliteNonces } from '../../../src/lib/store/sqlite/nonces.ts';
import { openState } from '../../../src/lib/store/sqlite/open.ts';
import { SqliteOperatorStore } from '../../../src/lib/store/sqlite/operator.ts';
import { ContractBook, Documents, Records } from '../../../src/lib/store/sqlite/records.ts';
import { Sealer } from '../../../src/lib/store/seal.ts';
import { tempDir } from '../../helpers.ts';
import { refusalAsync } from '../../setup/refusal.ts';

const tmp = tempDir('offchain-reading-');
afterAll(() => tmp.cleanup());
let n = 0;

/** A parent directory that exists and is empty, and a mistyped state directory under it. */
function mistyped(): { parent: string; dir: string } {
  const parent = join(tmp.path, `p-${++n}`);
  mkdirSync(parent);
  return { parent, dir: join(parent, 'alcie', 'regtest') };
}
const opener = (dir: string) => async (create: boolean) => StateDb.open(dir, { create });
const key = Sealer.fromSecret(new Uint8Array(32).fill(7));

describe('on a state directory that holds no database', () => {
  it('opening without `create` gives none, and makes nothing (openState too, on a directory that exists but is empty)', () => {
    const { parent, dir } = mistyped();
    expect(StateDb.open(dir, { create: false })).toBeUndefined();
    expect(openState(dir, { create: false })).toBeUndefined();
    expect(readdirSync(parent)).toEqual([]);
    mkdirSync(dir, { recursive: true });
    expect(openState(dir, { create: false })).toBeUndefined();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('nonces: a status is unknown, a take and a burn E_NONCE_UNKNOWN (exit 5)', async () => {
    const { parent, dir } = mistyped();
    const nonces = new SqliteNonces(opener(dir), key);
    const pub = new Uint8Array(66).fill(2);
    expect(await nonces.status(pub)).toBe('unknown');
    await refusalAsync(nonces.take(pub, 'ctx'), 'E_NONCE_UNKNOWN', 5);
    await refusalAsync(nonces.burn(pub, 'ctx'), 'E_NONCE_UNKNOWN', 5);
    expect(readdirSync(parent)).toEqual([]);
  });

  it('records: a contract read, listed, found empty or removed; a document read, listed or removed; an update whose function refuses', async () => {
    const { parent, dir } = mistyped();
    const book = new ContractBook<{ contract_id: string }>(opener(dir), 'credit-user', dir);
    expect(await book.get('a'.repeat(64))).toBeUndefined();
    expect(await book.list()).toEqual([]);
    expect(await book.isEmpty()).toBe(true);
    await book.remove('a'.repeat(64));
    const docs = new Documents(opener(dir), 'statechain', dir);
    expect(await docs.read('coin-x')).toBeUndefined();
    expect(await docs.list()).toEqual([]);
    await docs.remove('coin-x');
    expect(readdirSync(parent)).toEqual([]);
    // An update makes the database for its step (two first writes racing are two steps, never a
    // lost one); refused, the database it made is taken back when the run closes it.
    const opened: StateDb[] = [];
    const tracking = new Documents(async (create) => {
      const db = StateDb.open(dir, { create });
      if (db) opened.push(db);
      return db;
    }, 'statechain', dir);
    await expect(tracking.update('coin-x', () => Promise.reject(new Error('refused')))).rejects.toThrow('refused');
    for (const db of opened) db.close();
    expect(readdirSync(parent)).toEqual([]);
  });

  it('a channel read, listed, or stepped on without `create`: E_UNKNOWN_CHANNEL (exit 5)', async () => {
    const { parent, dir } = mistyped();
    const channels = new ChannelBook(opener(dir), dir);
    expect(await channels.read('ab:0')).toBeUndefined();
    expect(await channels.all()).toEqual(new Map());
    await refusalAsync(channels.get('ab:0'), 'E_UNKNOWN_CHANNEL', 5);
    await refusalAsync(channels.step('ab:0', () => ({ record: { x: 1 }, message: 'm' })), 'E_UNKNOWN_CHANNEL', 5);
    expect(readdirSync(parent)).toEqual([]);
  });

  it('the statechain operator: a step on a coin is E_UNKNOWN_COIN, a listing is empty', async () => {
    const { parent, dir } = mistyped();
    const operator = new SqliteOperatorStore(opener(dir), key, dir);
    expect(await operator.coins()).toEqual([]);
    await refusalAsync(operator.step('1'.repeat(32), (r) => ({ record: r, message: 'm' })), 'E_UNKNOWN_COIN', 5);
    expect(readdirSync(parent)).toEqual([]);
  });

  it('the first write makes it: a document written (and nothing before)', async () => {
    const { parent, dir } = mistyped();
    const docs = new Documents(opener(dir), 'statechain', dir);
    await docs.update('coin-x', (cur) => ({ was: cur ?? null }));
    expect(readdirSync(parent)).toEqual(['alcie']);
    expect(await docs.read('coin-x')).toEqual({ was: null });
  });
});

describe('on a database that exists', () => {
  it('reading writes nothing: state.sqlite byte for byte as before, no WAL or shared-memory file left', async () => {
    const dir = join(tmp.path, `p-${++n}`, 'regtest');
    const db = StateDb.open(dir, { create: true })!;
    await db.step(() => new Records(db, 'statechain').put('coin-a', { v: 1 }));
    const nonces = new SqliteNonces(db, key);
    const { pubnonce } = await nonces.issue('ctx', () => ({ secnonce: new Uint8Array(97).fill(1), pubnonce: new Uint8Array(66).fill(3) }));
    db.close();
    const before = readFileSync(join(dir, STATE_DB_FILE));
    const again = StateDb.open(dir, { create: false })!;
    expect(new Records(again, 'statechain').list()).toEqual([{ id: 'coin-a', record: { v: 1 } }]);
    expect(await new SqliteNonces(again, undefined).status(pubnonce)).toBe('unused');
    expect(await new ContractBook(async () => again, 'credit-user', dir).list()).toEqual([]);
    again.close();
    expect(readFileSync(join(dir, STATE_DB_FILE)).equals(before)).toBe(true);
    expect(readdirSync(dir)).toEqual([STATE_DB_FILE]);
  });
});
