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
 *                     and `watch_height` (version 3) for a watcher's round
 *   funding           one funding outpoint, one contract (PRIMARY KEY)
 *   blind_signatures  a blinded message B_ is signed once (PRIMARY KEY), with the C_ answered
 *
 * Single-use rules are constraints here, whatever the code does; the code checks the same
 * rules first so that a refusal carries the protocol's own error code.
 *
 * Version 3: `watch_height` beside the mint's contracts and the credit user's records (kind
 * `credit-user`), indexed — the height from which a watcher's round must read the contract
 * (src/lib/watch/ports.ts) — is a VIRTUAL generated column: SQLite computes it from the record
 * it stores (MINT_WATCH_HEIGHT_SQL, USER_WATCH_HEIGHT_SQL), whoever writes the row, and keeps its
 * index with it, as PostgreSQL's expression index does (pg/schema.ts). No statement can set it
 * (`cannot UPDATE generated column`), so a writer of the file cannot make the index disagree
 * with the record without changing the schema; the watcher's queries name no index, so an index
 * dropped only makes a round read the table. Version 2 (the toolkit before) wrote the column
 * from the record, and an administrator's `UPDATE contracts SET watch_height = …` made the
 * watcher skip a contract (attack review of issue 71): a version-2 store loses that column for
 * this one in the transaction that raises its version (the tables are rewritten once), a
 * version-1 store gets it; an offchain of version 2 or 1 then refuses the file
 * (E_STORE_SCHEMA_NEWER).
 */
import type BetterSqlite3 from 'better-sqlite3';

export const SCHEMA_VERSION = 3;

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

/** What version 2 added (the written column, src/lib/watch/ports.ts's rule computed in JavaScript by the stores' put): taken out by version 3. */
const V2_OUT = `
  DROP INDEX contracts_watch_height;
  ALTER TABLE contracts DROP COLUMN watch_height;
  DROP INDEX credit_user_watch_height;
  ALTER TABLE records DROP COLUMN watch_height;
`;

/** A JSON value at `path` of `column` that is a safe integer (src/lib/watch/ports.ts reads no other expiry). */
const safeInteger = (column: string, path: string) =>
  `json_type(${column}, '${path}') = 'integer' AND json_extract(${column}, '${path}') BETWEEN -9007199254740991 AND 9007199254740991`;

/**
 * A key at `path` written twice in `column`'s text: SQLite's JSON reads the first, JavaScript's
 * JSON.parse the last (json_remove takes out the first; the path still names one after it). Here,
 * in the index, because nowhere else sees it in time: json() keeps a key written twice (a text
 * compared with it shows nothing), JSON.parse keeps the last silently, and a record the index
 * leaves out is never read to be refused. json_remove, not jsonb_remove (about 6 µs cheaper a
 * record, measured at load 6): the sqlite3 shell of a distribution (3.40 in Debian 12) must still
 * write these tables (docs/deployment.md copies a witness so).
 */
const twice = (column: string, path: string) => `json_type(json_remove(${column}, '${path}'), '${path}') IS NOT NULL`;

/**
 * src/lib/watch/ports.ts mintWatchHeight and userWatchHeight in SQL — the generated columns, so
 * the index's every entry is computed from the record stored. Never later than the rule in
 * JavaScript on any text JSON.parse reads (test/lib/store/a-watcher-reads-the-contracts-due.test.ts):
 * 0, read at every round, for a record that is not JSON (its read then says E_STATE_CORRUPT) and
 * for one where a key the rule reads is written twice, as JSON.stringify never writes it — there
 * the two readings may differ (a gateway's payment in flight only in the last `gateway`, an
 * expiry in the last `contract`), and a round reads the record rather than trust the first.
 * Equal to it on every record offchain writes.
 */
export const MINT_WATCH_HEIGHT_SQL = `CASE
    WHEN NOT json_valid(record) THEN 0
    WHEN json_type(record, '$.exiting') IS NOT NULL OR json_type(record, '$.gateway.in_flight') IS NOT NULL THEN 0
    WHEN ${twice('record', '$.gateway')} OR ${twice('record', '$.contract')} OR ${twice('record', '$.contract.expiry_height')} THEN 0
    WHEN ${safeInteger('record', '$.contract.expiry_height')} THEN json_extract(record, '$.contract.expiry_height')
    ELSE 0 END`;
export const USER_WATCH_HEIGHT_SQL = `CASE
    WHEN NOT json_valid(body) THEN 0
    WHEN json_type(body, '$.device') IS NOT NULL THEN 0
    WHEN ${twice('body', '$.contract')} OR ${twice('body', '$.contract.expiry_height')} THEN 0
    WHEN ${safeInteger('body', '$.contract.expiry_height')} THEN json_extract(body, '$.contract.expiry_height')
    ELSE 0 END`;

/**
 * The watch heights, computed by SQLite from each row's record (VIRTUAL: nothing stored but the
 * index's entries). The credit user's index is on (kind, watch_height) so that the planner takes
 * it over the primary key's (kind, id) for `kind = 'credit-user' AND watch_height <= ?`.
 */
const V3 = `
  ALTER TABLE contracts ADD COLUMN watch_height INTEGER AS (${MINT_WATCH_HEIGHT_SQL}) VIRTUAL;
  CREATE INDEX contracts_watch_height ON contracts (watch_height);
  ALTER TABLE records ADD COLUMN watch_height INTEGER AS (${USER_WATCH_HEIGHT_SQL}) VIRTUAL;
  CREATE INDEX credit_user_watch_height ON records (kind, watch_height) WHERE kind = 'credit-user';
`;

/** Bring a database at `from` (0: new) to SCHEMA_VERSION, inside the caller's transaction. */
export function applySchema(sql: BetterSqlite3.Database, from: number): void {
  if (from < 1) sql.exec(V1);
  if (from === 2) sql.exec(V2_OUT);
  if (from < 3) sql.exec(V3);
}

/**
 * A database below SCHEMA_VERSION brought to it in one transaction under the write lock (BEGIN
 * IMMEDIATE), its version read again under the lock: another process may have made the schema since.
 */
export function upgradeSchema(sql: BetterSqlite3.Database): void {
  sql.exec('BEGIN IMMEDIATE');
  try {
    const now = sql.pragma('user_version', { simple: true }) as number;
    if (now < SCHEMA_VERSION) {
      applySchema(sql, now);
      sql.pragma(`user_version = ${SCHEMA_VERSION}`);
    }
    sql.exec('COMMIT');
  } catch (e) {
    if (sql.inTransaction) sql.exec('ROLLBACK');
    throw e;
  }
}

/** Every table, for a content digest (tests: a refused step wrote nothing). */
export const TABLES = ['meta', 'records', 'nonces', 'contracts', 'funding', 'blind_signatures'] as const;
