/**
 * The tables of `state.sqlite` (database.ts), one set for every role, versioned by SQLite's
 * `user_version` (a database of a newer version is refused: E_STATE_NEWER).
 *
 *   meta              key → value: the nonce counter, the mint's documents (`doc:offer`, its
 *                     keysets), marks (a migration to PostgreSQL, the import of the file layout)
 *   records           (kind, id) → JSON: every role's record but the mint's — the credit
 *                     user's contracts (kind `credit-user`, the device's channel inside them),
 *                     the BOLT 2/3 party's channels (`bolt3`), the statechain owner's coins
 *                     and the operator's (`statechain-…`), a watcher's chain view and bids
 *                     (`watch`): records.ts
 *   nonces            every signer's single-use secret nonces (nonces.ts): the secret sealed
 *                     (seal.ts) under the signer's key, NULL once consumed; a row is never
 *                     deleted and never goes from consumed back to unused (triggers)
 *   contracts         the mint's (and gateway's) contracts, as PostgreSQL keeps them
 *                     (pg/schema.ts), with `unfunded_since` for the expiry of unfunded opens
 *                     and `watch_height` (version 2) for a watcher's round
 *   funding           one funding outpoint, one contract (PRIMARY KEY)
 *   blind_signatures  a blinded message B_ is signed once (PRIMARY KEY), with the C_ answered
 *
 * Single-use rules are constraints here, whatever the code does; the code checks the same
 * rules first so that a refusal carries the protocol's own error code.
 *
 * Version 2: `watch_height` beside the mint's contracts and the credit user's records (kind
 * `credit-user`), indexed: the height from which a watcher's round must read the contract
 * (src/lib/watch/due.ts), written by the one statement that writes the record (mint.ts `put`,
 * records.ts `put`) from that record. A row written by anything else keeps the default, 0:
 * read at every round, never left out. A version-1 store gets the columns, each row's height
 * from its record, in the transaction that raises its version (an offchain of version 1 then
 * refuses the file, E_STORE_SCHEMA_NEWER: it would write records without their height).
 */
import type BetterSqlite3 from 'better-sqlite3';
import { mintWatchHeight, userWatchHeight } from '../../watch/due.ts';

export const SCHEMA_VERSION = 2;

const V1 = `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
  CREATE TABLE records (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (kind, id)
  ) WITHOUT ROWID;
  CREATE TABLE nonces (
    id TEXT PRIMARY KEY CHECK (length(id) = 32),
    context TEXT,
    pubnonce TEXT,
    sealed BLOB,
    consumed INTEGER NOT NULL DEFAULT 0 CHECK (consumed IN (0, 1)),
    CHECK ((consumed = 1) = (sealed IS NULL)),
    CHECK (consumed = 1 OR (context IS NOT NULL AND pubnonce IS NOT NULL))
  );
  CREATE TRIGGER nonce_consumed_once BEFORE UPDATE ON nonces
    WHEN OLD.consumed = 1 AND (NEW.consumed = 0 OR NEW.sealed IS NOT NULL) OR NEW.id <> OLD.id
    BEGIN SELECT RAISE(ABORT, 'a consumed nonce never becomes usable again, and a nonce id never changes'); END;
  CREATE TRIGGER nonce_never_deleted BEFORE DELETE ON nonces
    BEGIN SELECT RAISE(ABORT, 'a nonce row is never deleted'); END;
  CREATE TABLE contracts (contract_id TEXT PRIMARY KEY, record TEXT NOT NULL, unfunded_since INTEGER);
  CREATE INDEX unfunded_since ON contracts (unfunded_since) WHERE unfunded_since IS NOT NULL;
  CREATE TABLE funding (
    outpoint TEXT PRIMARY KEY,
    contract_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('open', 'rollover')),
    from_contract_id TEXT
  );
  CREATE TABLE blind_signatures (
    B_ TEXT PRIMARY KEY,
    contract_id TEXT NOT NULL,
    state INTEGER NOT NULL,
    keyset_id TEXT NOT NULL,
    amount INTEGER NOT NULL CHECK (amount > 0),
    C_ TEXT
  );
`;

const V2 = `
  ALTER TABLE contracts ADD COLUMN watch_height INTEGER NOT NULL DEFAULT 0;
  CREATE INDEX contracts_watch_height ON contracts (watch_height);
  ALTER TABLE records ADD COLUMN watch_height INTEGER NOT NULL DEFAULT 0;
  CREATE INDEX credit_user_watch_height ON records (watch_height) WHERE kind = 'credit-user';
`;

/** Bring a database at `from` (0: new) to SCHEMA_VERSION, inside the caller's transaction. */
export function applySchema(sql: BetterSqlite3.Database, from: number): void {
  if (from < 1) sql.exec(V1);
  if (from < 2) {
    sql.exec(V2);
    fillWatchHeights(sql);
  }
}

/** The `watch_height` of a record of `kind` (records.ts `put`): a credit user's contract's (../../watch/due.ts); 0 for any other kind, which no watcher selects by it. */
export function recordWatchHeight(kind: string, record: unknown): number {
  return kind === 'credit-user' && typeof record === 'object' && record !== null ? userWatchHeight(record) : 0;
}

/**
 * Every row's `watch_height` from its record (../../watch/due.ts): a store of version 1, and a
 * directory of the file layout imported (migrate-v0.ts). A record that is not JSON keeps 0
 * (read at every round: its read then says E_STATE_CORRUPT, as before). In pages of 500 rows
 * (a statement cannot run while another iterates on the connection; 100,000 records at once
 * would be their whole text in memory).
 */
export function fillWatchHeights(sql: BetterSqlite3.Database): void {
  const parsed = (text: string): unknown => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return undefined;
    }
  };
  const mintPage = sql.prepare<[string], { contract_id: string; record: string }>('SELECT contract_id, record FROM contracts WHERE contract_id > ? ORDER BY contract_id LIMIT 500');
  const mint = sql.prepare<[number, string]>('UPDATE contracts SET watch_height = ? WHERE contract_id = ?');
  for (let after = '', page = mintPage.all(after); page.length > 0; after = page.at(-1)!.contract_id, page = mintPage.all(after)) {
    for (const r of page) {
      const record = parsed(r.record);
      if (typeof record === 'object' && record !== null) mint.run(mintWatchHeight(record), r.contract_id);
    }
  }
  const userPage = sql.prepare<[string], { id: string; body: string }>("SELECT id, body FROM records WHERE kind = 'credit-user' AND id > ? ORDER BY id LIMIT 500");
  const user = sql.prepare<[number, string]>("UPDATE records SET watch_height = ? WHERE kind = 'credit-user' AND id = ?");
  for (let after = '', page = userPage.all(after); page.length > 0; after = page.at(-1)!.id, page = userPage.all(after)) {
    for (const r of page) user.run(recordWatchHeight('credit-user', parsed(r.body)), r.id);
  }
}

/** Every table, for a content digest (tests: a refused step wrote nothing). */
export const TABLES = ['meta', 'records', 'nonces', 'contracts', 'funding', 'blind_signatures'] as const;
