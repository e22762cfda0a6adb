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
 *   funding           one funding outpoint, one contract (PRIMARY KEY)
 *   blind_signatures  a blinded message B_ is signed once (PRIMARY KEY), with the C_ answered
 *
 * Single-use rules are constraints here, whatever the code does; the code checks the same
 * rules first so that a refusal carries the protocol's own error code.
 */
import type BetterSqlite3 from 'better-sqlite3';

export const SCHEMA_VERSION = 1;

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

/** Bring a database at `from` (0: new) to SCHEMA_VERSION, inside the caller's transaction. */
export function applySchema(sql: BetterSqlite3.Database, from: number): void {
  if (from < 1) sql.exec(V1);
}

/** Every table, for a content digest (tests: a refused step wrote nothing). */
export const TABLES = ['meta', 'records', 'nonces', 'contracts', 'funding', 'blind_signatures'] as const;
