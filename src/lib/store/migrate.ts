/**
 * Moving a mint's state from its embedded SQLite store (--state-dir) to PostgreSQL
 * (`credit store migrate --from DIR --to postgres://…`): contracts (their records as the
 * exact JSON text), the funding-outpoint index, the blind signatures (a B_ signed once
 * stays signed once), the documents (the offer), the consumed nonces (so no nonce id is
 * ever issued again) and the nonce counter.
 *
 * THE RULE FOR UNUSED SECRET NONCES: they are never copied. A secret nonce is single-use;
 * a copy of an unused one in a second store is a second chance to sign with it, and a
 * PostgreSQL database is backed up, replicated and restored, which is exactly what the
 * restore rule (pg/mint-store.ts) keeps secrets out of: there a secret exists only sealed
 * under the key of the one process that issued it. So the migration
 *   1. burns every unused secret nonce in the source (its secret is erased, the row keeps
 *      its public nonce and context) in the same SQLite transaction that marks the source
 *      `migrating` — from that commit on the source refuses every use (E_STORE_MIGRATED),
 *      also a stream that had it open (checked at each transaction's start);
 *   2. copies everything, in one PostgreSQL transaction, into a target that must be empty
 *      (E_STORE_NOT_EMPTY otherwise): each burned nonce becomes an unused row of the
 *      migration's own epoch with an unopenable placeholder instead of a secret — exactly
 *      what a mint process that has exited leaves behind. A user's next request against
 *      it is refused without burning (E_NONCE_ELSEWHERE, exit 5) and the user recovers
 *      once with `credit abandon`: the mint burns that nonce and issues a fresh one from
 *      the serving process. No nonce can sign twice, because no secret was copied.
 *   3. marks the source `migrated`.
 *
 * Crash safety: the phases are idempotent and named by a migration id kept in both
 * stores. A crash before (1) commits leaves the source untouched and usable. After (1),
 * the source is clearly marked (`migrating` to URL, refusing every use; the error says to
 * run the migration again); running it again with the same --to copies (2) if the target
 * has not got this migration's copy yet (the copy is all-or-nothing: one transaction,
 * under an advisory lock so two migrations never copy at once), then marks (3). A second
 * migration of a migrated source is refused (E_STORE_MIGRATED), and so is a migration of a
 * `migrating` source to another target (it might already hold the first copy: two stores
 * serving one mint would sign two different states n).
 *
 * The source's write lock (SQLite BEGIN IMMEDIATE) is held through (1) and (3), so no
 * writer interleaves; between them the mark keeps every writer out.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { OffchainError, StateConflictError, UsageError } from '../errors.ts';
import { MIGRATION_KEY, MINT_DB_FILE, migratedError, type MigrationMark } from './mint-store.ts';
import type { PgTarget } from './pg/connect.ts';
import { PgMintStore, storeConnectError } from './pg/mint-store.ts';

export interface MigrationReport {
  from: string;
  to: string;
  migration_id: string;
  contracts: number;
  funding_outpoints: number;
  blind_signatures: number;
  documents: number;
  nonces_consumed: number;
  /** Unused secret nonces burned in the source; each contract's user abandons once. */
  nonces_burned: number;
  /** True when an earlier, interrupted run had already copied (this run only finished). */
  resumed: boolean;
}

/** A seam for the crash tests: called between the phases, may throw (or exit) to simulate a crash. */
export type MigrationHook = (phase: 'source-marked' | 'target-copied') => void | Promise<void>;

type Row = Record<string, unknown>;

/** Refused: the target already holds a mint's state. Exit 5. */
export function targetNotEmpty(to: string, what: string): StateConflictError {
  return new StateConflictError('E_STORE_NOT_EMPTY', `the store ${to} is not empty (${what}): a migration goes into an empty database only (create one with createdb)`);
}

export async function migrateMintStore(sourceDir: string, target: PgTarget, network: string, hook?: MigrationHook): Promise<MigrationReport> {
  const dir = resolve(sourceDir);
  const file = join(dir, MINT_DB_FILE);
  if (!existsSync(file)) throw new UsageError('E_NO_MINT_POLICY', `no mint store in ${dir} (no ${MINT_DB_FILE}): check --from, or --state-dir and --network`);
  const Database = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3;
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('secure_delete = ON');
    db.pragma('busy_timeout = 10000');
    const meta = (key: string) => db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?').get(key)?.value;

    // Phase 1: burn the unused secrets and mark the source, under its write lock.
    db.exec('BEGIN IMMEDIATE');
    let mark: MigrationMark;
    let marked = false;
    try {
      const found = meta(MIGRATION_KEY);
      if (found) {
        mark = JSON.parse(found) as MigrationMark;
        marked = true;
        if (mark.state === 'migrated') throw migratedError(dir, mark);
        if (mark.to !== target.url) throw migratedError(dir, mark);
      } else {
        const offer = meta('doc:offer');
        if (!offer) throw new UsageError('E_NO_MINT_POLICY', `no mint policy in ${dir}: nothing to migrate`);
        const offerNetwork = (JSON.parse(offer) as { network?: string }).network;
        if (offerNetwork !== undefined && offerNetwork !== network) throw new UsageError('E_NETWORK_MISMATCH', `the mint in ${dir} is a ${offerNetwork} mint, not ${network}: pass --network ${offerNetwork}`);
        // Before anything is marked: a target that is not empty is refused with the source untouched.
        await checkTargetEmpty(target, network);
        mark = { state: 'migrating', to: target.url, id: randomBytes(16).toString('hex'), at: new Date().toISOString() };
        // The secret goes; the public nonce and its context stay, for the target's row.
        db.prepare('UPDATE nonces SET secnonce = NULL, consumed = 1 WHERE consumed = 0').run();
        db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run(MIGRATION_KEY, JSON.stringify(mark));
      }
      db.exec('COMMIT');
    } catch (e) {
      if (db.inTransaction) db.exec('ROLLBACK');
      throw e;
    }
    // The erased secrets must not linger in the WAL either.
    db.pragma('wal_checkpoint(TRUNCATE)');
    await hook?.('source-marked');

    // Phase 2: one transaction into the target, unless this migration's copy is already there.
    const counts = await copyToTarget(db, dir, target, network, mark);
    await hook?.('target-copied');

    // Phase 3: the source is migrated.
    db.exec('BEGIN IMMEDIATE');
    db.prepare('UPDATE meta SET value = ? WHERE key = ?').run(JSON.stringify({ ...mark, state: 'migrated' }), MIGRATION_KEY);
    db.exec('COMMIT');
    db.pragma('wal_checkpoint(TRUNCATE)');
    return { from: dir, to: target.url, migration_id: mark.id, ...counts, resumed: counts.resumed || marked };
  } finally {
    if (db.inTransaction) db.exec('ROLLBACK');
    db.close();
  }
}

const MIGRATION_LOCK = 7283547002;

async function client(target: PgTarget) {
  const { default: pgm } = await import('pg');
  const c = new pgm.Client({
    host: target.host, port: target.port, database: target.database,
    ...(target.user !== undefined ? { user: target.user } : {}),
    ...(target.password !== undefined ? { password: target.password } : {}),
    ...(target.options.sslmode && target.options.sslmode !== 'disable' ? { ssl: { rejectUnauthorized: target.options.sslmode === 'verify-full' } } : {}),
    application_name: 'offchain-migrate',
  });
  try {
    await c.connect();
  } catch (e) {
    await c.end().catch(() => undefined);
    throw storeConnectError(e, target);
  }
  return c;
}

/** What makes a target not empty: any contract, outpoint, nonce, B_ or document. */
async function nonEmpty(c: { query: (q: string) => Promise<{ rows: Row[] }> }): Promise<string | undefined> {
  const r = (await c.query(
    `SELECT (SELECT count(*) FROM contracts) AS contracts, (SELECT count(*) FROM funding) AS funding, (SELECT count(*) FROM nonces) AS nonces,
            (SELECT count(*) FROM blind_signatures) AS blind_signatures, (SELECT count(*) FROM meta WHERE key LIKE 'doc:%') AS documents`,
  )).rows[0]!;
  const parts = Object.entries(r).filter(([, n]) => Number(n) > 0).map(([k, n]) => `${n} ${k}`);
  return parts.length ? parts.join(', ') : undefined;
}

/** Creates the schema if needed (as a mint process would), then refuses a target with anything in it. */
async function checkTargetEmpty(target: PgTarget, network: string): Promise<void> {
  const store = await PgMintStore.open(target, network);
  await store.close();
  const c = await client(target);
  try {
    const what = await nonEmpty(c);
    if (what) throw targetNotEmpty(target.url, what);
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function copyToTarget(db: BetterSqlite3.Database, dir: string, target: PgTarget, network: string, mark: MigrationMark): Promise<Omit<MigrationReport, 'from' | 'to' | 'migration_id'>> {
  // The schema and the migration's epoch (the dead epoch its placeholder nonces belong to).
  const store = await PgMintStore.open(target, network);
  const epoch = store.epoch;
  await store.close();
  const all = <T>(sql: string) => db.prepare(sql).all() as T[];
  const contracts = all<{ contract_id: string; record: string }>('SELECT contract_id, record FROM contracts ORDER BY contract_id');
  const funding = all<{ outpoint: string; contract_id: string; kind: string; from_contract_id: string | null }>('SELECT outpoint, contract_id, kind, from_contract_id FROM funding ORDER BY outpoint');
  const blind = all<{ B_: string; contract_id: string; state: number; keyset_id: string; amount: number }>('SELECT B_, contract_id, state, keyset_id, amount FROM blind_signatures ORDER BY B_');
  const docs = all<{ key: string; value: string }>("SELECT key, value FROM meta WHERE key LIKE 'doc:%' ORDER BY key");
  const nonces = all<{ id: string; context: string | null; pubnonce: string | null; secnonce: string | null }>('SELECT id, context, pubnonce, secnonce FROM nonces ORDER BY id');
  if (nonces.some((n) => n.secnonce !== null)) throw new OffchainError('E_STATE_CORRUPT', `the source ${dir} still holds an unused secret nonce after it was marked: refusing to copy`, 3);
  const counter = Number((db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?').get('counter')?.value) ?? 0);
  const burned = nonces.filter((n) => n.context !== null && n.pubnonce !== null);
  const counts = { contracts: contracts.length, funding_outpoints: funding.length, blind_signatures: blind.length, documents: docs.length, nonces_consumed: nonces.length - burned.length, nonces_burned: burned.length };

  const c = await client(target);
  try {
    await c.query('BEGIN');
    await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    const done = (await c.query<{ value: string }>("SELECT value FROM meta WHERE key = 'migrated_from'")).rows[0];
    if (done) {
      const from = JSON.parse(done.value) as { id: string };
      if (from.id !== mark.id) throw targetNotEmpty(target.url, 'it holds another migration');
      await c.query('ROLLBACK');
      return { ...counts, resumed: true };
    }
    const what = await nonEmpty(c);
    if (what) throw targetNotEmpty(target.url, what);
    const many = async (sql: string, rows: unknown[][]) => {
      for (const r of rows) await c.query(sql, r);
    };
    await many('INSERT INTO contracts (contract_id, record) VALUES ($1, $2)', contracts.map((r) => [r.contract_id, r.record]));
    await many('INSERT INTO funding (outpoint, contract_id, kind, from_contract_id) VALUES ($1, $2, $3, $4)', funding.map((r) => [r.outpoint, r.contract_id, r.kind, r.from_contract_id]));
    await many('INSERT INTO blind_signatures (b_, contract_id, state, keyset_id, amount) VALUES ($1, $2, $3, $4, $5)', blind.map((r) => [r.B_, r.contract_id, r.state, r.keyset_id, r.amount]));
    await many('INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value', docs.map((r) => [r.key, r.value]));
    // Consumed: the id alone, consumed for ever. Burned: an unused row of the migration's
    // (dead) epoch whose `sealed` is random bytes — no key, no secret, nothing to open.
    await many('INSERT INTO nonces (id, consumed) VALUES ($1, true)', nonces.filter((n) => !burned.includes(n)).map((n) => [n.id]));
    await many('INSERT INTO nonces (id, context, pubnonce, epoch, sealed) VALUES ($1, $2, $3, $4, $5)', burned.map((n) => [n.id, n.context, n.pubnonce, epoch, randomBytes(12 + 97 + 16)]));
    if (counter > 0) await c.query("SELECT setval('nonce_counter', GREATEST($1::bigint, (SELECT last_value FROM nonce_counter)))", [counter]);
    await c.query('INSERT INTO meta (key, value) VALUES ($1, $2)', ['migrated_from', JSON.stringify({ from: dir, id: mark.id, at: new Date().toISOString() })]);
    await c.query('COMMIT');
    return { ...counts, resumed: false };
  } catch (e) {
    await c.query('ROLLBACK').catch(() => undefined);
    if (e instanceof OffchainError) throw e;
    throw storeConnectError(e, target);
  } finally {
    await c.end().catch(() => undefined);
  }
}
