/**
 * The mint's schema on PostgreSQL: the same tables as state.sqlite's (../sqlite/schema.ts),
 * with every single-use rule a constraint the database enforces, whatever the code does:
 *
 * - `funding.outpoint` PRIMARY KEY: one funding outpoint, one contract (two processes
 *   racing to open contracts on one outpoint: the second waits for the first's COMMIT,
 *   then finds the row and is refused).
 * - `nonces.id` PRIMARY KEY: a public nonce is issued once (a consumed one keeps its row,
 *   so it can never be issued again).
 * - `nonces` CHECK `consumed = (sealed IS NULL)`: an unconsumed nonce has its (sealed)
 *   secret, a consumed one has none; and the trigger `nonce_consumed_once` refuses any
 *   UPDATE that turns a consumed nonce back to unconsumed and any DELETE of a nonce row.
 * - `blind_signatures.b_` PRIMARY KEY: a blinded message is signed once.
 * - `epochs`: one row per running mint process (its epoch), whose counter the process
 *   checks against its memory in every transaction that issues or takes a nonce (see
 *   the restore rule in mint-store.ts).
 * - `schema_version`: one row; a store written by a newer toolkit is refused. Version 3:
 *   the records' fully signed states are sealed under the mint's key by the one seal every
 *   store uses (../mint-records.ts, ../seal.ts); a store of version 1 (states in the clear)
 *   or 2 (sealed by the scheme before) is sealed again by the first mint process that opens
 *   it with its key (pg/mint-open.ts).
 * - Every relation here must be owned by the mint's role (or a role it is a member of):
 *   checked at every writer's open (pg/mint-open.ts `checkOwners`), so tables another role
 *   created first in `public` are never adopted.
 *
 * Records are kept as the exact JSON text the SQLite store keeps (not jsonb, which would
 * reorder keys): a receipt answered again on replay is byte-identical.
 *
 * A watcher's round reads the contracts due at its tip (src/lib/watch/ports.ts) through the
 * expression index `contracts_watch_height`: the database computes each row's watch height from
 * the record it stores, whoever writes it (an older toolkit's process still running included), so
 * the height can never disagree with the record. A store made before it gets the index from its
 * first writer's open (CREATE INDEX IF NOT EXISTS, under OPEN_LOCK); until then a watcher's query
 * is the same, without the index.
 */
export const SCHEMA_VERSION = 3;

/** A JSON number in the record `j` at `path` (-> keys), read as numeric. */
const numberAt = (path: string, j = 'j') => `(${j} ${path})::numeric`;

/** The watch height of `j`, a record as jsonb (WATCH_HEIGHT_SQL). */
const watchHeightOf = (j: string) => `(CASE
      WHEN ${j} ? 'exiting' OR (jsonb_typeof(${j} -> 'gateway') = 'object' AND (${j} -> 'gateway') ? 'in_flight') THEN 0
      WHEN jsonb_typeof(${j} -> 'contract' -> 'expiry_height') = 'number'
        AND ${numberAt("-> 'contract' ->> 'expiry_height'", j)} = trunc(${numberAt("-> 'contract' ->> 'expiry_height'", j)})
        AND abs(${numberAt("-> 'contract' ->> 'expiry_height'", j)}) <= 9007199254740991
        THEN ${numberAt("-> 'contract' ->> 'expiry_height'", j)}
      ELSE 0 END)`;

/**
 * The expression the watcher's index held before WATCH_HEIGHT_SQL (the record parsed at each
 * `record::jsonb`): a view of a store no writer of this toolkit has opened yet (no function
 * there) reads with it, through that store's index.
 */
export const WATCH_HEIGHT_INLINE_SQL = watchHeightOf('record::jsonb');

/**
 * src/lib/watch/ports.ts mintWatchHeight, in SQL: 0 when the record has `exiting`, or a `gateway`
 * object with `in_flight`; else its contract's expiry when that is a safe integer; else 0 — as a
 * function of the record's text that parses it once (`offchain_watch_height`). Written inline,
 * `record::jsonb` eight times, every write of a record parsed it eight times over to keep the
 * index (~1 ms of the server's CPU a payment for a record of 2.6 kB, against one parse here).
 * Index and query use this text alike (PostgreSQL matches an index expression by its text).
 */
export const WATCH_HEIGHT_SQL = 'offchain_watch_height(record)';

/**
 * The watcher's height of a record's text (WATCH_HEIGHT_SQL): the expression the index held
 * before, `record::jsonb` read once into `j`. IMMUTABLE (an index expression must be): it reads
 * its argument alone. Not STRICT: a NULL record gives 0, as the expression did.
 */
const WATCH_HEIGHT_FUNCTION = `
  CREATE OR REPLACE FUNCTION offchain_watch_height(record text) RETURNS numeric LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
  DECLARE j jsonb := record::jsonb;
  BEGIN
    RETURN ${watchHeightOf('j')};
  END $$;`;

/**
 * An open the mint accepted whose funding it has not seen (no `latest`, no `funding_seen`): its
 * `opened_at_height`, as bigint; NULL for any other record — the partial index's predicate and
 * expression before, one parse of the record instead of four.
 */
export const UNFUNDED_OPEN_SQL = 'offchain_unfunded_open_height(record)';
const UNFUNDED_OPEN_FUNCTION = `
  CREATE OR REPLACE FUNCTION offchain_unfunded_open_height(record text) RETURNS bigint LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
  DECLARE j jsonb := record::jsonb;
  BEGIN
    IF (j ->> 'status') = 'open' AND (j -> 'latest') IS NULL AND (j -> 'funding_seen') IS NULL THEN
      RETURN (j ->> 'opened_at_height')::bigint;
    END IF;
    RETURN NULL;
  END $$;`;

/** The functions the indexes are built on: created with the schema, and by a writer's open of a store made before them. */
export const INDEX_FUNCTIONS_SQL = `${WATCH_HEIGHT_FUNCTION}${UNFUNDED_OPEN_FUNCTION}`;

/** The watcher's index: created with the schema, and by a writer's open of a store made before it. */
export const WATCH_HEIGHT_INDEX = `CREATE INDEX IF NOT EXISTS contracts_watch_height ON contracts (${WATCH_HEIGHT_SQL})`;
/** The unfunded opens' index (NULL for every other record: `<` never matches it). */
export const UNFUNDED_OPEN_INDEX = `CREATE INDEX IF NOT EXISTS unfunded_opens ON contracts (${UNFUNDED_OPEN_SQL}) WHERE ${UNFUNDED_OPEN_SQL} IS NOT NULL`;

/**
 * The contracts table's storage: a record is kept inline, as written, up to a page (a record
 * is ~2.5 kB; PostgreSQL's default target, ~2 kB, moved each one into the TOAST table — an
 * insert there, in its index and a dead chunk at every write, a second lookup at every read:
 * ~75 µs of the server's CPU a payment measured, and a TOAST table that grew ~2.7 kB a payment).
 * Larger records are still compressed or moved out, as PostgreSQL does. Set by a writer's open
 * (pg/mint-open.ts), on stores made before it too; rows written before move inline when rewritten.
 */
export const CONTRACTS_STORAGE = 'toast_tuple_target=8160';

/** Run once, in one transaction, under an advisory lock (many processes start at once). */
export const SCHEMA_SQL = `
  CREATE TABLE IF NOT EXISTS schema_version (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    version integer NOT NULL
  );
  CREATE TABLE IF NOT EXISTS meta (key text PRIMARY KEY, value text NOT NULL);
  CREATE TABLE IF NOT EXISTS contracts (contract_id text PRIMARY KEY, record text NOT NULL);
  ${INDEX_FUNCTIONS_SQL}
  ${UNFUNDED_OPEN_INDEX};
  ${WATCH_HEIGHT_INDEX};
  CREATE TABLE IF NOT EXISTS funding (
    outpoint text PRIMARY KEY,
    contract_id text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('open', 'rollover')),
    from_contract_id text
  );
  CREATE TABLE IF NOT EXISTS epochs (
    epoch text PRIMARY KEY,
    counter bigint NOT NULL CHECK (counter >= 0),
    started_at timestamptz NOT NULL DEFAULT now(),
    pid integer,
    host text
  );
  CREATE SEQUENCE IF NOT EXISTS nonce_counter;
  CREATE TABLE IF NOT EXISTS nonces (
    id text PRIMARY KEY,
    context text,
    pubnonce text,
    epoch text,
    sealed bytea,
    consumed boolean NOT NULL DEFAULT false,
    CHECK (consumed = (sealed IS NULL)),
    CHECK (consumed OR (epoch IS NOT NULL AND context IS NOT NULL))
  );
  CREATE OR REPLACE FUNCTION nonce_consumed_once() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF TG_OP = 'DELETE' THEN
      RAISE EXCEPTION 'a nonce row is never deleted (nonce %)', OLD.id USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF OLD.consumed AND NOT NEW.consumed THEN
      RAISE EXCEPTION 'a consumed nonce cannot become unused (nonce %)', OLD.id USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF OLD.id <> NEW.id THEN
      RAISE EXCEPTION 'a nonce id never changes' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
  END $$;
  DROP TRIGGER IF EXISTS nonce_consumed_once ON nonces;
  CREATE TRIGGER nonce_consumed_once BEFORE UPDATE OR DELETE ON nonces FOR EACH ROW EXECUTE FUNCTION nonce_consumed_once();
  CREATE TABLE IF NOT EXISTS blind_signatures (
    b_ text PRIMARY KEY,
    contract_id text NOT NULL,
    state integer NOT NULL,
    keyset_id text NOT NULL,
    amount bigint NOT NULL CHECK (amount > 0),
    c_ text
  );
`;

/** Every relation the mint creates (the owner check): tables and the nonce counter. */
export const OWNED_RELATIONS = ['schema_version', 'meta', 'contracts', 'funding', 'epochs', 'nonces', 'blind_signatures', 'nonce_counter'] as const;

/** Every function the mint creates (the owner check): the nonces' trigger and the indexes' functions. */
export const OWNED_FUNCTIONS = ['nonce_consumed_once()', 'offchain_watch_height(text)', 'offchain_unfunded_open_height(text)'] as const;

/** Every table, for a content digest (tests) and for migration tools. */
export const TABLES = ['meta', 'contracts', 'funding', 'nonces', 'blind_signatures'] as const;
