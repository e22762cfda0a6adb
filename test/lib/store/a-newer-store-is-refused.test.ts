/**
 * A NEWER STORE IS REFUSED (src/lib/store/sqlite/database.ts, schema.ts): a state.sqlite whose
 * user_version is above the schema this toolkit knows was written by a newer offchain — its
 * tables may mean what this one cannot tell — and is refused (E_STORE_SCHEMA_NEWER, exit 1)
 * before anything is read or written, also where the directory still holds files of the layout
 * before it (nothing imported, nothing removed). An older one (a database made before the
 * schema) is brought up to it in one transaction.
 */
import { cpSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { StateDb, STATE_DB_FILE } from '../../../src/lib/store/sqlite/database.ts';
import { openState } from '../../../src/lib/store/sqlite/open.ts';
import { SCHEMA_VERSION, TABLES } from '../../../src/lib/store/sqlite/schema.ts';
import { fileSnapshot, tempDir } from '../../helpers.ts';
import { refusal } from '../../setup/refusal.ts';

const tmp = tempDir('offchain-newer-');
afterAll(() => tmp.cleanup());
let n = 0;
const fresh = () => join(tmp.path, `s-${++n}`, 'regtest');

/** A database of this toolkit with a row, its user_version then raised to `version` (as a newer offchain leaves it: WAL mode). */
async function fromTheFuture(dir: string, version: number): Promise<void> {
  const db = StateDb.open(dir, { create: true })!;
  await db.step(() => db.sql.prepare("INSERT INTO meta (key, value) VALUES ('from', 'the future')").run());
  db.close();
  const raw = new Database(join(dir, STATE_DB_FILE));
  raw.pragma(`user_version = ${version}`);
  raw.close();
}

describe('a database written by a newer offchain', () => {
  it.each([SCHEMA_VERSION + 1, 99])('user_version %i: E_STORE_SCHEMA_NEWER (exit 1) naming both versions, whether or not asked to create; nothing read or written', async (version) => {
    const dir = fresh();
    await fromTheFuture(dir, version);
    const before = fileSnapshot(dir);
    for (const create of [false, true]) {
      const e = refusal(() => StateDb.open(dir, { create }), 'E_STORE_SCHEMA_NEWER', 1);
      expect(e.message).toBe(`the state in ${dir} was written by a newer offchain (schema ${version}; this one knows ${SCHEMA_VERSION}): upgrade offchain — nothing was read or written`);
      expect(e.detail).toEqual({ path: join(dir, STATE_DB_FILE) });
      refusal(() => openState(dir, { create }), 'E_STORE_SCHEMA_NEWER', 1);
    }
    expect(fileSnapshot(dir)).toEqual(before);
  });

  it('beside folders of the layout before state.sqlite: refused, those files neither imported nor removed', async () => {
    const dir = fresh();
    await fromTheFuture(dir, 99);
    mkdirSync(join(dir, 'statechain'));
    cpSync(join(import.meta.dirname, '../../fixtures/state-v0/statechain-owner/regtest/statechain'), join(dir, 'statechain'), { recursive: true });
    const before = fileSnapshot(dir);
    refusal(() => openState(dir, { create: false }), 'E_STORE_SCHEMA_NEWER', 1);
    expect(fileSnapshot(dir)).toEqual(before);
    expect(readdirSync(join(dir, 'statechain')).length).toBeGreaterThan(5);
  });
});

describe('a database from before the schema', () => {
  it('user_version 0 (an empty SQLite file) gets every table, at this version, in one transaction', () => {
    const dir = fresh();
    mkdirSync(dir, { recursive: true });
    new Database(join(dir, STATE_DB_FILE)).close();
    expect(readFileSync(join(dir, STATE_DB_FILE)).length).toBe(0);
    const db = StateDb.open(dir, { create: false })!;
    expect(db.sql.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    const tables = db.sql.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all().map((t) => t.name);
    expect(tables).toEqual([...TABLES].sort());
    db.close();
  });
});
