/**
 * Opening the mint's PostgreSQL store (pg/mint-store.ts): the one transaction every process
 * runs when it opens the store — and again when a stream renews its epoch — creating the
 * schema on first use, refusing a newer one or another network, refusing tables of another
 * role and a migration into the store that has not finished, registering the process's
 * epoch, and sealing states an older toolkit stored in the clear. Not here: the epoch's key, the restore rule
 * (pg/mint-store.ts) and what happens after the open (pg/mint-transactions.ts).
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type pg from 'pg';
import { OffchainError, RefusedError, StateConflictError, UsageError } from '../../errors.ts';
import type { PgTarget } from './connect.ts';
import { resealed } from '../mint-records.ts';
import { Sealer } from '../seal.ts';
import { foreignOwnerError, ownership } from './owners.ts';
import { CONTRACTS_STORAGE, INDEX_FUNCTIONS_SQL, OWNED_FUNCTIONS, OWNED_RELATIONS, SCHEMA_SQL, SCHEMA_VERSION, UNFUNDED_OPEN_INDEX, UNFUNDED_OPEN_SQL, WATCH_HEIGHT_INDEX, WATCH_HEIGHT_SQL } from './schema.ts';


/**
 * The lock every process that opens the store for writing takes in its opening
 * transaction (a mint registering its epoch, a migration checking the database is empty
 * and claiming it): so a migration's check and claim cannot interleave with a mint's start.
 */
export const OPEN_LOCK = 7283547001;

/** The meta row an unfinished migration into this database keeps (migrate.ts); no mint process opens it meanwhile. */
export const MIGRATION_CLAIM_KEY = 'migrating_from';
export interface MigrationClaim { from: string; id: string; at: string }

/** Refused: a migration into this store has started and not finished. Exit 5; nothing written. */
export function migratingInto(url: string, claim: MigrationClaim): StateConflictError {
  return new StateConflictError('E_STORE_MIGRATING', `a migration of the mint in ${claim.from} into the store ${url} started at ${claim.at} and has not finished: run "credit store migrate --to ${url}" on that mint again to finish it, then start this one`);
}

/**
 * Inside an open transaction (holding OPEN_LOCK unless `view`): create the schema on first
 * use, refuse a newer one, record the network (first use) and refuse another.
 */
export async function prepareSchema(client: pg.Client, target: PgTarget, network: string, view: boolean): Promise<void> {
  const exists = (await client.query<{ t: string | null }>("SELECT to_regclass('schema_version')::text AS t")).rows[0]!.t;
  let version = exists ? (await client.query<{ version: number }>('SELECT version FROM schema_version')).rows[0]?.version : undefined;
  if (version === undefined && view) throw new UsageError('E_NO_MINT_POLICY', `no mint in the store ${target.url} (nothing was created there): publish an offer first`);
  // A writer adopts only tables of its own: before creating (CREATE … IF NOT EXISTS adopts
  // anything found) and after.
  if (!view) await checkOwners(client, target);
  if (version === undefined) {
    await client.query(SCHEMA_SQL);
    await client.query('INSERT INTO schema_version (version) VALUES ($1)', [SCHEMA_VERSION]);
    version = SCHEMA_VERSION;
  }
  if (version > SCHEMA_VERSION) {
    throw new OffchainError('E_STORE_SCHEMA_NEWER', `the store ${target.url} has schema version ${version}, newer than this toolkit's ${SCHEMA_VERSION}: upgrade offchain`, 1);
  }
  // The functions the indexes are built on (schema.ts): a store made before them gets them,
  // and its indexes on the expressions they replace are built again on them, once.
  if (!view) await indexesOnFunctions(client);
  if (!view) await checkOwners(client, target, { complete: true });
  // A record inline up to a page (schema.ts CONTRACTS_STORAGE): looked up first, as the indexes are.
  if (!view && !(await client.query('SELECT 1 FROM pg_class WHERE oid = to_regclass($1) AND $2 = ANY(reloptions)', ['contracts', CONTRACTS_STORAGE])).rowCount) {
    await client.query(`ALTER TABLE contracts SET (${CONTRACTS_STORAGE})`);
  }
  // Rows keep the C_ they answered (ecash-restore.ts); a store created before gets the column once (its old rows none).
  if (!view && !(await client.query("SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'blind_signatures' AND column_name = 'c_'")).rowCount) {
    await client.query('ALTER TABLE blind_signatures ADD COLUMN IF NOT EXISTS c_ text');
  }
  if (!view) await client.query("INSERT INTO meta (key, value) VALUES ('network', $1) ON CONFLICT (key) DO NOTHING", [network]);
  const stored = (await client.query<{ value: string }>("SELECT value FROM meta WHERE key = 'network'")).rows[0]?.value ?? network;
  if (stored !== network) throw new RefusedError('E_NETWORK_MISMATCH', `the store ${target.url} holds a ${stored} mint, not ${network}`);
}

/**
 * The indexes of `contracts` on the functions of schema.ts (one parse of the record a write,
 * not one per `record::jsonb` of the expressions they held before): the functions created when
 * missing; an index missing, or on another expression (a store made by an older toolkit), built
 * (again). Looked up first: CREATE INDEX and DROP INDEX take a lock that waits for every write
 * in flight. An older toolkit's process still running finds its index by name (CREATE INDEX IF
 * NOT EXISTS) and its queries, on the old expression, read the table without it: the same rows.
 */
async function indexesOnFunctions(client: pg.Client): Promise<void> {
  const found = (await client.query<{ fns: boolean; watch: string | null; unfunded: string | null }>(
    `SELECT to_regprocedure('offchain_watch_height(text)') IS NOT NULL AND to_regprocedure('offchain_unfunded_open_height(text)') IS NOT NULL AS fns,
       pg_get_indexdef(to_regclass('contracts_watch_height')) AS watch, pg_get_indexdef(to_regclass('unfunded_opens')) AS unfunded`,
  )).rows[0]!;
  if (!found.fns) await client.query(INDEX_FUNCTIONS_SQL);
  const on = (def: string | null, expression: string) => def !== null && def.includes(expression);
  if (!on(found.watch, WATCH_HEIGHT_SQL)) await client.query(`DROP INDEX IF EXISTS contracts_watch_height; ${WATCH_HEIGHT_INDEX}`);
  if (!on(found.unfunded, UNFUNDED_OPEN_SQL)) await client.query(`DROP INDEX IF EXISTS unfunded_opens; ${UNFUNDED_OPEN_INDEX}`);
}

/**
 * Every relation of the mint's schema that exists (all of them once `complete`) must be
 * owned by this role or a role it is a member of (owners.ts): the mint refuses to keep its
 * state in tables another role created (E_STORE_TABLE_OWNER, exit 4). Checked inside the
 * opening transaction, under OPEN_LOCK.
 */
async function checkOwners(client: pg.Client, target: PgTarget, opts: { complete?: boolean } = {}): Promise<void> {
  const { missing: absent, foreign } = await ownership(client, OWNED_RELATIONS, OWNED_FUNCTIONS);
  if (foreign) throw foreignOwnerError(foreign, target.url, "the mint's");
  if (!opts.complete) return;
  const missing = absent[0];
  const trigger = (await client.query<{ enabled: string }>("SELECT tgenabled AS enabled FROM pg_trigger WHERE tgrelid = to_regclass('nonces') AND tgname = 'nonce_consumed_once'")).rows[0];
  if (missing || trigger?.enabled !== 'O') {
    throw new OffchainError('E_STATE_CORRUPT', `the store ${target.url} is missing ${missing ?? 'its nonce trigger nonce_consumed_once (or it was disabled)'}: the schema was altered; nothing was written`, 3);
  }
}

/**
 * Schemas 1 and 2 (older toolkits) stored fully signed states in the clear, or sealed by the
 * scheme before ../seal.ts: written again in its form, once, by the first process that opens
 * the store with the mint's key (under OPEN_LOCK, in the opening transaction), which then marks
 * the schema 3. Stop the older processes first: one still running would store its next state in
 * the older form (schema 3 refuses their restart).
 */
async function resealStoredStates(client: pg.Client, key: Uint8Array, where: string): Promise<void> {
  const version = (await client.query<{ version: number }>('SELECT version FROM schema_version')).rows[0]!.version;
  if (version >= SCHEMA_VERSION) return;
  const sealer = Sealer.fromSecret(key);
  const rows = (await client.query<{ contract_id: string; record: string }>("SELECT contract_id, record FROM contracts WHERE record LIKE '%\"hex%'")).rows;
  for (const r of rows) await client.query('UPDATE contracts SET record = $2 WHERE contract_id = $1', [r.contract_id, resealed(r.record, key, sealer, where)]);
  await client.query('UPDATE schema_version SET version = $1', [SCHEMA_VERSION]);
}

/**
 * The opening transaction, committed before it returns: under OPEN_LOCK (a writer; a view
 * takes no lock and writes nothing), the schema prepared, a migration into the store that has
 * not finished refused, and as asked: the store's id recorded (`storeId`, a writer's first
 * open), a process epoch registered (`epoch`) in place of the one a stream retires (`retire`,
 * at `renew`), and states stored by an older toolkit sealed again (`key`, the mint's). The
 * caller rolls back and words the failure.
 */
export async function openingTransaction(client: pg.Client, target: PgTarget, network: string, o: { view: boolean; storeId?: boolean; epoch?: string; retire?: string; key?: Uint8Array }): Promise<void> {
  await client.query('BEGIN');
  // Many processes start at once: one creates the schema, the others wait and find it.
  // A view (credit list, monitoring; a read-only role is enough) writes nothing.
  if (!o.view) await client.query('SELECT pg_advisory_xact_lock($1)', [OPEN_LOCK]);
  await prepareSchema(client, target, network, o.view);
  // A migration into this database that has not finished (migrate.ts): serving it now
  // would serve a mint without its contracts, and anything written would stop the copy.
  const claim = (await client.query<{ value: string }>('SELECT value FROM meta WHERE key = $1', [MIGRATION_CLAIM_KEY])).rows[0];
  if (claim) throw migratingInto(target.url, JSON.parse(claim.value) as MigrationClaim);
  if (o.storeId) await client.query("INSERT INTO meta (key, value) VALUES ('store_id', $1) ON CONFLICT (key) DO NOTHING", [randomBytes(16).toString('hex')]);
  if (o.epoch !== undefined) await client.query('INSERT INTO epochs (epoch, counter, pid, host) VALUES ($1, 0, $2, $3)', [o.epoch, process.pid, hostname()]);
  if (o.retire !== undefined) await client.query('DELETE FROM epochs WHERE epoch = $1', [o.retire]);
  // States stored by an older toolkit (schemas 1, 2) are sealed again once, by the first process holding the key.
  if (o.key) await resealStoredStates(client, o.key, target.url);
  await client.query('COMMIT');
}
