/**
 * The statechain operator's tables on PostgreSQL (pg/operator-store.ts), created once by the
 * first process, refused when another role owns any of them (owners.ts).
 *
 * Tables (one per concern, prefix statechain_operator_):
 *   coins      one row per coin: its record as JSON text (statement, finished transfers'
 *              receipts, last answer — no secret), its status and a version that rises by one per step
 *   shares     one row per coin: s and x₁, sealed (ChaCha20-Poly1305 under a key derived from
 *              the operator's own key, which is not in the database)
 *   nonces     every owner nonce the coin was signed against          PK (coin, nonce tag)
 *   backups    every backup the operator signed                        PK (coin, n), UNIQUE (coin, locktime)
 *   transfers  every transfer begun: pending, done or replaced         PK (coin, transfer id), UNIQUE (coin, backup n),
 *                                                                      one 'pending' per coin (partial unique index)
 *   withdrawals the one cooperative spend of a coin                    PK (coin)
 *   offers     the offer each deposit request got (no secret)         PK (request digest), UNIQUE (coin)
 * and a trigger: a withdrawn coin's row never changes again, and each update raises the
 * version by exactly one. These hold whatever a process's code does; the code checks the
 * same rules first, so a refusal carries the protocol's own code.
 *
 * Not here: the steps that write them (pg/operator-store.ts).
 */
import type { Client } from 'pg';
import { foreignOwnerError, ownership } from './owners.ts';
import type { PgTarget } from './connect.ts';

export const OPERATOR_TABLES = ['coins', 'shares', 'nonces', 'backups', 'transfers', 'withdrawals', 'offers'].map((t) => `statechain_operator_${t}`);

const SCHEMA = `
CREATE TABLE IF NOT EXISTS statechain_operator_coins (
  coin_id text PRIMARY KEY CHECK (coin_id ~ '^[0-9a-f]{32}$'),
  network text NOT NULL,
  status text NOT NULL CHECK (status IN ('deposit', 'active', 'transferring', 'withdrawn')),
  version bigint NOT NULL CHECK (version >= 1),
  record text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS statechain_operator_shares (
  coin_id text PRIMARY KEY REFERENCES statechain_operator_coins (coin_id),
  sealed bytea NOT NULL CHECK (length(sealed) > 28)
);
CREATE TABLE IF NOT EXISTS statechain_operator_nonces (
  coin_id text NOT NULL REFERENCES statechain_operator_coins (coin_id),
  ordinal integer NOT NULL CHECK (ordinal >= 0),
  nonce_tag text NOT NULL CHECK (nonce_tag ~ '^[0-9a-f]{32}$'),
  CONSTRAINT statechain_operator_nonce_once PRIMARY KEY (coin_id, nonce_tag),
  CONSTRAINT statechain_operator_nonce_order UNIQUE (coin_id, ordinal)
);
CREATE TABLE IF NOT EXISTS statechain_operator_backups (
  coin_id text NOT NULL REFERENCES statechain_operator_coins (coin_id),
  n integer NOT NULL CHECK (n >= 1),
  txid text NOT NULL CHECK (txid ~ '^[0-9a-f]{64}$'),
  locktime bigint NOT NULL,
  CONSTRAINT statechain_operator_backup_once PRIMARY KEY (coin_id, n),
  CONSTRAINT statechain_operator_locktime_once UNIQUE (coin_id, locktime)
);
CREATE TABLE IF NOT EXISTS statechain_operator_transfers (
  coin_id text NOT NULL,
  transfer_id text NOT NULL,
  backup_n integer NOT NULL,
  state text NOT NULL CHECK (state IN ('pending', 'done', 'replaced')),
  CONSTRAINT statechain_operator_transfer_once PRIMARY KEY (coin_id, transfer_id),
  UNIQUE (coin_id, backup_n),
  FOREIGN KEY (coin_id, backup_n) REFERENCES statechain_operator_backups (coin_id, n)
);
CREATE UNIQUE INDEX IF NOT EXISTS statechain_operator_one_pending ON statechain_operator_transfers (coin_id) WHERE state = 'pending';
CREATE TABLE IF NOT EXISTS statechain_operator_withdrawals (
  coin_id text CONSTRAINT statechain_operator_withdrawal_once PRIMARY KEY REFERENCES statechain_operator_coins (coin_id),
  txid text NOT NULL,
  signed_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS statechain_operator_offers (
  request text CONSTRAINT statechain_operator_offer_once PRIMARY KEY CHECK (request ~ '^[0-9a-f]{64}$'),
  coin_id text NOT NULL UNIQUE REFERENCES statechain_operator_coins (coin_id),
  offer text NOT NULL
);
CREATE OR REPLACE FUNCTION statechain_operator_coin_rules() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.status = 'withdrawn' THEN
    RAISE EXCEPTION 'coin % was withdrawn: its record never changes again', OLD.coin_id USING ERRCODE = 'P0001', HINT = 'statechain_operator_withdrawn';
  END IF;
  IF NEW.version <> OLD.version + 1 THEN
    RAISE EXCEPTION 'coin % version must rise by one (% to %)', OLD.coin_id, OLD.version, NEW.version USING ERRCODE = 'P0001', HINT = 'statechain_operator_version';
  END IF;
  RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS statechain_operator_coin_rules ON statechain_operator_coins;
CREATE TRIGGER statechain_operator_coin_rules BEFORE UPDATE ON statechain_operator_coins FOR EACH ROW EXECUTE FUNCTION statechain_operator_coin_rules();
`;

/** Which constraint refused a write, as the protocol's own code. */
export const CONSTRAINT_CODES: Record<string, [string, string]> = {
  statechain_operator_nonce_once: ['E_NONCE_REPLAY', 'this owner nonce was already signed against for this coin: start the step again for a fresh one'],
  statechain_operator_backup_once: ['E_ALREADY_SIGNED', 'this backup number of the coin is signed already: one backup per number'],
  statechain_operator_locktime_once: ['E_ALREADY_SIGNED', 'a backup with this locktime is signed already for this coin'],
  statechain_operator_transfer_once: ['E_TRANSFER_REPEATED', 'this transfer id was used already for this coin'],
  statechain_operator_one_pending: ['E_TRANSFER_PENDING', 'another transfer of this coin is pending'],
  statechain_operator_withdrawal_once: ['E_COIN_WITHDRAWN', 'this coin was withdrawn already'],
  statechain_operator_coins_pkey: ['E_COIN_EXISTS', 'this coin exists already'],
  // The same deposit request answered by another process meanwhile: the store reads that offer instead (operator-store.ts offer).
  statechain_operator_offer_once: ['E_STATE_CONFLICT', 'this deposit request was answered by another step meanwhile; send it again for that answer'],
  // Two steps on one coin both read the same version (only possible without the row lock): the later one loses here.
  statechain_operator_nonce_order: ['E_STATE_CONFLICT', 'another step on this coin committed first; run the step again'],
};

/** The operator's schema: every relation and function it keeps state in, which must be its own role's (owners.ts). */
const OPERATOR_RELATIONS = [...OPERATOR_TABLES, 'statechain_operator_one_pending'];
const OPERATOR_FUNCTIONS = ['statechain_operator_coin_rules()'];

/**
 * Create the tables once, under a transaction-scoped advisory lock so racing first processes
 * do not collide. At every connection, before and after: every one of them that exists must be
 * owned by this role (or a role it is a member of) — tables another role created first are
 * refused, E_STORE_TABLE_OWNER (exit 4), nothing written (owners.ts).
 */
export async function ensureSchema(db: Client, target: PgTarget): Promise<void> {
  const have = await db.query<{ t: string | null }>("SELECT to_regclass('statechain_operator_withdrawals')::text AS t");
  const first = await ownership(db, OPERATOR_RELATIONS, OPERATOR_FUNCTIONS);
  if (first.foreign) throw foreignOwnerError(first.foreign, target.url, "the operator's");
  if (have.rows[0]?.t && first.missing.length === 0) return;
  await db.query('BEGIN');
  try {
    await db.query("SELECT pg_advisory_xact_lock(hashtext('offchain statechain operator schema'))");
    // Under the lock: what another role may have created meanwhile, then ours.
    const before = await ownership(db, OPERATOR_RELATIONS, OPERATOR_FUNCTIONS);
    if (before.foreign) throw foreignOwnerError(before.foreign, target.url, "the operator's");
    await db.query(SCHEMA);
    const after = await ownership(db, OPERATOR_RELATIONS, OPERATOR_FUNCTIONS);
    if (after.foreign) throw foreignOwnerError(after.foreign, target.url, "the operator's");
    await db.query('COMMIT');
  } catch (e) {
    await db.query('ROLLBACK').catch(() => {});
    throw e;
  }
}
