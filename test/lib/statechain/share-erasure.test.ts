/**
 * Issue 22, deliver 7: the operator's old share is erased at rotation, not only replaced. In
 * state.sqlite (src/lib/store/sqlite/operator.ts) the share is kept sealed under the
 * operator's key, the step that replaces it frees the old row in its transaction
 * (`secure_delete` zeroes the freed bytes), and the WAL that held the old version is
 * checkpointed and truncated when the database closes. So, once the store is closed, neither
 * the old share — as hex text or as raw bytes — nor its sealed form is anywhere in
 * state.sqlite or beside it; a share imported in the clear from the file layout
 * (migrate-v0.ts) is sealed at the operator's first use and its clear text erased the same way.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StateDb } from '../../../src/lib/store/sqlite/database.ts';
import { openState } from '../../../src/lib/store/sqlite/open.ts';
import { OPERATOR_SECRETS, SqliteOperatorStore } from '../../../src/lib/store/sqlite/operator.ts';
import { Records } from '../../../src/lib/store/sqlite/records.ts';
import { Sealer } from '../../../src/lib/store/seal.ts';
import type { OperatorRecord } from '../../../src/lib/statechain/ports.ts';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), 'sc-erase-'));
  dirs.push(d);
  return d;
};

const COIN = 'c0'.repeat(16);
const OLD = 'aa'.repeat(16) + '5e'.repeat(16);
const NEXT = 'bb'.repeat(16) + '6f'.repeat(16);
const X1 = 'cc'.repeat(16) + '7a'.repeat(16);
const OPERATOR = Sealer.fromSecret(new Uint8Array(32).fill(3));
/** A record with the fields the store seals (the protocol's other fields play no part in what is kept). */
const rec = (share: string, x1: string | null = null) => ({ coin_id: COIN, network: 'regtest', share_secret: share, statement: { status: 'active', outpoint: null, amount_sat: null, count: 1 }, x1, done: [] }) as unknown as OperatorRecord;

/** Every file in the directory (state.sqlite, and a -wal or -shm if one were left), its bytes. */
function everyByte(dir: string): Buffer {
  return Buffer.concat(readdirSync(dir).map((n) => readFileSync(join(dir, n))));
}

/** Neither `secret` as hex text nor as raw bytes, nor any of `sealed` (the hex the row held) as text or bytes. */
function absent(dir: string, secret: string, sealed: string[] = []): void {
  const all = everyByte(dir);
  for (const s of [secret, ...sealed]) {
    expect(all.includes(Buffer.from(s, 'latin1')), `${s.slice(0, 16)}… as text`).toBe(false);
    expect(all.includes(Buffer.from(s, 'hex')), `${s.slice(0, 16)}… as bytes`).toBe(false);
  }
}

/** The coin's row as stored (its share sealed). */
function row(db: StateDb): Record<string, unknown> {
  return JSON.parse(db.sql.prepare<[string], { body: string }>("SELECT body FROM records WHERE kind = 'statechain-operator' AND id = ?").get(COIN)!.body) as Record<string, unknown>;
}

describe('the operator\'s replaced share is erased, not only replaced', () => {
  it('a rotation leaves neither the old share nor its sealed form in state.sqlite (or a WAL) once the database closes; the new share is kept sealed', async () => {
    const dir = fresh();
    const db = StateDb.open(dir, { create: true })!;
    const coins = new Records<OperatorRecord>(db, 'statechain-operator', { fields: OPERATOR_SECRETS, sealer: OPERATOR });
    // Other coins beside it, on the same page: the old version's bytes would stay there in a free block, were they not zeroed.
    await db.step(() => {
      coins.put('b0'.repeat(16), { ...rec('11'.repeat(32)), coin_id: 'b0'.repeat(16) });
      coins.put(COIN, rec(OLD, X1));
      coins.put('d0'.repeat(16), { ...rec('22'.repeat(32)), coin_id: 'd0'.repeat(16) });
    });
    const oldSealed = [row(db).share_secret_sealed, row(db).x1_sealed] as string[];
    expect(oldSealed.every((s) => /^[0-9a-f]{100,}$/.test(s))).toBe(true);
    // The share is never in the file in the clear, even while it is the live one.
    absent(dir, OLD);
    absent(dir, X1);
    const store = new SqliteOperatorStore(async (create) => StateDb.open(dir, { create }), OPERATOR, dir);
    const answer = await store.step(COIN, async (r) => {
      expect([r.share_secret, r.x1]).toEqual([OLD, X1]);
      // The new version is longer (a finished transfer's receipt added): it is written beside the old one, whose bytes are freed.
      return { record: { ...r, share_secret: NEXT, x1: null, done: [{ transfer_id: 'dd'.repeat(16), count: 2, operator_sig: 'ee'.repeat(64) }] } as unknown as OperatorRecord, message: { rotated: true } };
    });
    expect(answer).toEqual({ rotated: true });
    const newSealed = row(db).share_secret_sealed as string;
    expect(row(db).x1).toBe(null);
    db.closeNow();
    expect(readdirSync(dir)).toEqual(['state.sqlite']);
    absent(dir, OLD, oldSealed);
    absent(dir, X1);
    absent(dir, NEXT);
    // The new share is there, sealed, and opens under the operator's key only.
    expect(everyByte(dir).includes(Buffer.from(newSealed, 'latin1'))).toBe(true);
    const again = StateDb.open(dir, { create: false })!;
    try {
      expect(new Records<OperatorRecord>(again, 'statechain-operator', { fields: OPERATOR_SECRETS, sealer: OPERATOR }).get(COIN)!.share_secret).toBe(NEXT);
      expect(() => new Records<OperatorRecord>(again, 'statechain-operator', { fields: OPERATOR_SECRETS, sealer: Sealer.fromSecret(new Uint8Array(32).fill(4)) }).get(COIN)).toThrow(/does not open under this key/);
    } finally {
      again.closeNow();
    }
  });

  it('a step that returns the very record it was given (a repeated request answered from it) changes no byte of the database or its WAL', async () => {
    const dir = fresh();
    const db = StateDb.open(dir, { create: true })!;
    try {
      const coins = new Records<OperatorRecord>(db, 'statechain-operator', { fields: OPERATOR_SECRETS, sealer: OPERATOR });
      await db.step(() => coins.put(COIN, rec(OLD)));
      // The files that hold state (the -shm beside them is SQLite's shared-memory index of the WAL, no state).
      const bytes = () => ['state.sqlite', 'state.sqlite-wal'].map((n) => createHash('sha256').update(readFileSync(join(dir, n))).digest('hex'));
      const before = bytes();
      const store = new SqliteOperatorStore(async (create) => StateDb.open(dir, { create }), OPERATOR, dir);
      await store.step(COIN, async (r) => ({ record: r, message: {} }));
      expect(bytes()).toEqual(before);
    } finally {
      db.closeNow();
    }
  });

  it('a share imported in the clear from the file layout is sealed at the operator\'s first use, and its clear text is gone from the file', async () => {
    const dir = fresh();
    mkdirSync(join(dir, 'statechain'));
    // Beside it, the offers it made and an owner's document (rows the sealing leaves as they are, on the same page).
    writeFileSync(join(dir, 'statechain', `offer-${'0a'.repeat(32)}.json`), JSON.stringify({ coin_id: 'b0'.repeat(16), offer: { n: 1 } }));
    writeFileSync(join(dir, 'statechain', `op-${COIN}.json`), JSON.stringify(rec(OLD)));
    writeFileSync(join(dir, 'statechain', `offer-${'0e'.repeat(32)}.json`), JSON.stringify({ coin_id: COIN, offer: { n: 2 } }));
    writeFileSync(join(dir, 'statechain', 'coin-e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0.json'), JSON.stringify({ coin_id: 'e0'.repeat(16) }));
    const imported = openState(dir, { create: false })!;
    expect(existsSync(join(dir, 'statechain'))).toBe(false);
    // Imported as it was (the share in the clear: no key opened the store yet).
    expect(row(imported).share_secret).toBe(OLD);
    imported.close();
    const store = new SqliteOperatorStore(async (create) => StateDb.open(dir, { create }), OPERATOR, dir);
    expect((await store.coins()).map((c) => c.coin_id)).toEqual([COIN]);
    const db = StateDb.open(dir, { create: false })!;
    expect(row(db).share_secret).toBeUndefined();
    expect(typeof row(db).share_secret_sealed).toBe('string');
    db.closeNow();
    expect(readdirSync(dir)).toEqual(['state.sqlite']);
    absent(dir, OLD);
  });
});
