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
 * (src/lib/watch/ports.ts), written by the one statement that writes the record (mint.ts `put`,
 * records.ts `put`) from that record. A row written by anything else keeps the default, 0:
 * read at every round, never left out. A version-1 store gets the columns, each row's height
 * from its record (the same rule in SQL: MINT_WATCH_HEIGHT_SQL), in the transaction that raises
 * its version (an offchain of version 1 then refuses the file, E_STORE_SCHEMA_NEWER: it would
 * write records without their height).
 */
import type BetterSqlite3 from 'better-sqlite3';

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

/** A JSON value at `path` of `column` that is a safe integer (src/lib/watch/ports.ts reads no other expiry). */
const safeInteger = (column: string, path: string) =>
  `json_type(${column}, '${path}') = 'integer' AND json_extract(${column}, '${path}') BETWEEN -9007199254740991 AND 9007199254740991`;

/**
 * src/lib/watch/ports.ts mintWatchHeight and userWatchHeight in SQL, for the rows already there
 * when the column comes (a store of version 1, the old layout's import: migrate-v0.ts) — the
 * stores' writers compute it from the record in hand (mint.ts, records.ts `put`). 0 for a record
 * that is not JSON (read at every round: its read then says E_STATE_CORRUPT, as before).
 * test/lib/store/a-watcher-reads-the-contracts-due.test.ts checks both against ports.ts.
 */
export const MINT_WATCH_HEIGHT_SQL = `CASE
    WHEN NOT json_valid(record) THEN 0
    WHEN json_type(record, '$.exiting') IS NOT NULL OR json_type(record, '$.gateway.in_flight') IS NOT NULL THEN 0
    WHEN ${safeInteger('record', '$.contract.expiry_height')} THEN json_extract(record, '$.contract.expiry_height')
    ELSE 0 END`;
export const USER_WATCH_HEIGHT_SQL = `CASE
    WHEN NOT json_valid(body) THEN 0
    WHEN json_type(body, '$.device') IS NOT NULL THEN 0
    WHEN ${safeInteger('body', '$.contract.expiry_height')} THEN json_extract(body, '$.contract.expiry_height')
    ELSE 0 END`;

/** Every row's `watch_height` from its record, in the caller's transaction: two statements, whatever the store's size. */
export function fillWatchHeights(sql: BetterSqlite3.Database): void {
  sql.prepare(`UPDATE contracts SET watch_height = ${MINT_WATCH_HEIGHT_SQL}`).run();
  sql.prepare(`UPDATE records SET watch_height = ${USER_WATCH_HEIGHT_SQL} WHERE kind = 'credit-user'`).run();
}

/** Every table, for a content digest (tests: a refused step wrote nothing). */
export const TABLES = ['meta', 'records', 'nonces', 'contracts', 'funding', 'blind_signatures'] as const;
