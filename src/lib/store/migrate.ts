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
 *   1. checks that the target is empty and claims it (a `migrating_from` row naming the
 *      migration), and burns every unused secret nonce in the source (its secret is
 *      erased, the row keeps its public nonce and context) in the same SQLite transaction
 *      that marks the source `migrating` — from that commit on the source refuses every use
 *      (E_STORE_MIGRATED), also a stream that had it open (checked at each transaction's
 *      start);
 *   2. copies everything, in one PostgreSQL transaction, into the claimed target: each
 *      burned nonce becomes an unused row of the migration's own epoch with an unopenable
 *      placeholder instead of a secret — exactly what a mint process that has exited
 *      leaves behind. A user's next request against it is refused without burning
 *      (E_NONCE_ELSEWHERE, exit 5) and the user recovers once with `credit abandon`: the
 *      mint burns that nonce and issues a fresh one from the serving process. No nonce can
 *      sign twice, because no secret was copied. The claim becomes `migrated_from`.
 *   3. marks the source `migrated`.
 *
 * THE TARGET IS CHECKED AND CLAIMED ATOMICALLY with the source's mark, so a migration never
 * leaves a source marked toward a target it cannot finish:
 * - A migration holds the target's migration lock (a session advisory lock) from before it
 *   touches the source to its end; a second migration into the same database meanwhile —
 *   of this source or another — is refused (E_STORE_MIGRATING, exit 5) with nothing changed.
 * - Phase 1's check and claim run in one PostgreSQL transaction holding the lock every mint
 *   process takes to open the store (pg/mint-open.ts OPEN_LOCK), and that transaction
 *   commits only after the source's mark did. A mint process that starts while the claim
 *   is there is refused (E_STORE_MIGRATING) and writes nothing; one that opened the empty
 *   database before (it created the schema and its epoch row, which are no content) has no
 *   offer, so the only thing it could write is an offer, and that is refused under the same
 *   lock once the claim is there.
 * - The claim outlives a killed migration: another migration into the database is refused
 *   (E_STORE_NOT_EMPTY, naming the unfinished one) and so is every mint start, until the
 *   rerun finishes it.
 *
 * Crash safety: the phases are idempotent and named by a migration id kept in both
 * stores. A crash before (1) commits leaves the source untouched and usable (the claim's
 * transaction is rolled back with the connection). After (1), the source is clearly marked
 * (`migrating` to URL, refusing every use; the error says to run the migration again);
 * running it again with the same --to copies (2) if the target has not got this
 * migration's copy yet (the copy is all-or-nothing: one transaction; killed between the
 * source's mark and the claim's commit, the rerun takes an empty unclaimed target as
 * claimed), then marks (3). Running a finished migration again to the same target finds
 * nothing left to do (the same report, `resumed`, nothing written) if the target holds it,
 * else E_STORE_MIGRATED; a migration of a migrated source to another target is refused
 * (E_STORE_MIGRATED), and so is a migration of a `migrating` source to another target (it
 * might already hold the first copy: two stores serving one mint would sign two different
 * states n).
 *
 * The source's write lock (SQLite BEGIN IMMEDIATE) is held through (1) and (3), so no
 * writer interleaves; between them the mark keeps every writer out.
 *
 * SEALED STATES (mint-records.ts): the target's records carry no fully signed state in the
 * clear. A source written by this toolkit's mint is sealed already and copied as it is; one
 * holding plain states (an older toolkit's, never opened since by a mint command with its
 * key) needs the mint's key to seal them in the copy — without it the migration is refused
 * before anything is touched (E_STATE_UNSEALED, exit 2), and with another key than the
 * offer's (E_WRONG_KEY, exit 4: a refusal).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { OffchainError, RefusedError, StateConflictError, UsageError } from '../errors.ts';
import { MIGRATION_KEY, migratedError, type MigrationMark } from './sqlite/mint.ts';
import { STATE_DB_FILE as MINT_DB_FILE } from './sqlite/database.ts';
import { openSqlite } from './sqlite/driver.ts';
import type pg from 'pg';
import { pgConfig } from './pg/client.ts';
import { hasPlainState, resealed } from './mint-records.ts';
import { Sealer } from './seal.ts';
import { LEGACY_STATES_KEY } from './sqlite/migrate-v0.ts';
import type { PgTarget } from './pg/connect.ts';
import { storeConnectError } from './pg/mint-connection.ts';
import { MIGRATION_CLAIM_KEY, OPEN_LOCK, prepareSchema, type MigrationClaim } from './pg/mint-open.ts';

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
  /** True when an earlier run had already copied: an interrupted one (this run finished it), or a finished one (`nothingLeft`). */
  resumed: boolean;
  /** The migration had finished before this run, and the target holds it: nothing was done. */
  nothingLeft?: boolean;
}

/**
 * Called between the phases (1: the source marked and the target claimed, 2: the copy
 * committed), and inside phase 1 between the two commits. Only tests pass them (to kill the
 * process there); the command never does.
 */
export interface MigrationHooks {
  afterPhase?: (phase: 1 | 2) => void | Promise<void>;
  /** Inside phase 1: the source's mark committed, the target's claim not yet. */
  afterMark?: () => void | Promise<void>;
}

type Row = Record<string, unknown>;

/** Refused: the target already holds a mint's state. Exit 5. */
export function targetNotEmpty(to: string, what: string): StateConflictError {
  return new StateConflictError('E_STORE_NOT_EMPTY', `the store ${to} is not empty (${what}): a migration goes into an empty database only (create one with createdb)`);
}

/** Refused: another migration into the target holds its migration lock right now. Exit 5; nothing changed. */
function migrationRunning(to: string): StateConflictError {
  return new StateConflictError('E_STORE_MIGRATING', `another migration into the store ${to} is running now: nothing was changed here; when it has finished, run this one again if it is still needed`);
}

/** The mint's key, to seal states an older source holds in the clear or in the older form (SEALED STATES above). */
export type MigrationKey = { secret: Uint8Array; publicKey: string };

export async function migrateMintStore(sourceDir: string, target: PgTarget, network: string, hooks: MigrationHooks = {}, key?: MigrationKey): Promise<MigrationReport> {
  const dir = resolve(sourceDir);
  const file = join(dir, MINT_DB_FILE);
  if (!existsSync(file)) throw new UsageError('E_NO_MINT_POLICY', `no mint store in ${dir} (no ${MINT_DB_FILE}): check --from, or --state-dir and --network`);
  // The target first: an unreachable one, or one another migration is running into, is
  // refused before the source is touched. The migration lock is held to the end (the
  // session's: a migration that dies releases it with its connection).
  const c = await client(target);
  try {
    const got = (await c.query<{ got: boolean }>('SELECT pg_try_advisory_lock($1) AS got', [MIGRATION_LOCK]).catch((e: unknown) => {
      throw storeConnectError(e, target);
    })).rows[0]!.got;
    if (!got) throw migrationRunning(target.url);
    return await migrateLocked(dir, file, c, target, network, hooks, key);
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function migrateLocked(dir: string, file: string, c: pg.Client, target: PgTarget, network: string, hooks: MigrationHooks, key: MigrationKey | undefined): Promise<MigrationReport> {
  const db = openSqlite(file);
  // A process ending in the middle (an uncaught error, process.exit) closes it too, as StateDb's exit hook does its own.
  const closeAtExit = () => db.open && db.close();
  process.once('exit', closeAtExit);
  try {
    db.pragma('journal_mode = WAL');
    const metaRow = db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?');
    const meta = (name: string) => metaRow.get(name)?.value;
    // Plain states need the mint's key, checked before either store is touched.
    // (A store imported from the file layout keeps its states in the older seal until a mint command with the key opens it.)
    const plain = meta(LEGACY_STATES_KEY) !== undefined || db.prepare<[], { record: string }>(`SELECT record FROM contracts WHERE record LIKE '%"hex"%'`).all().some((r) => hasPlainState(JSON.parse(r.record)));
    if (key) {
      const offerKey = (JSON.parse(meta('doc:offer') ?? '{}') as { mint_pubkey?: string }).mint_pubkey;
      if (offerKey !== undefined && offerKey !== key.publicKey) throw new RefusedError('E_WRONG_KEY', `this key is not the mint key of ${dir} (${offerKey})`);
    }
    // (A finished migration run again copies nothing: it needs no key to say so.)
    const finished = (JSON.parse(meta(MIGRATION_KEY) ?? '{}') as Partial<MigrationMark>).state === 'migrated';
    if (plain && !key && !finished) {
      throw new UsageError('E_STATE_UNSEALED', `the mint in ${dir} holds fully signed states stored in the clear (by an older offchain): pass the mint's key (--key-file or --key-env) so the migration seals them — the database never sees the key; nothing was changed`);
    }

    // Phase 1: check and claim the target, burn the unused secrets and mark the source —
    // under the source's write lock and, in the target, the lock every mint process takes to
    // open it: no writer of either store interleaves between the check and the mark.
    db.exec('BEGIN IMMEDIATE');
    let mark: MigrationMark;
    let marked = false;
    let claiming = false;
    try {
      const found = meta(MIGRATION_KEY);
      if (found) {
        mark = JSON.parse(found) as MigrationMark;
        marked = true;
        if (mark.to !== target.url) throw migratedError(dir, mark);
        // Finished before, to this target: nothing is left to do — if the target holds it.
        if (mark.state === 'migrated') return await finishedBefore(db, dir, c, target, mark);
        db.exec('ROLLBACK');
      } else {
        const offer = meta('doc:offer');
        if (!offer) throw new UsageError('E_NO_MINT_POLICY', `no mint policy in ${dir}: nothing to migrate`);
        const offerNetwork = (JSON.parse(offer) as { network?: string }).network;
        if (offerNetwork !== undefined && offerNetwork !== network) throw new RefusedError('E_NETWORK_MISMATCH', `the mint in ${dir} is a ${offerNetwork} mint, not ${network}: pass --network ${offerNetwork}`);
        mark = { state: 'migrating', to: target.url, id: randomBytes(16).toString('hex'), at: new Date().toISOString() };
        claiming = true;
        await pgQuery(target, async () => {
          await c.query('BEGIN');
          await c.query('SELECT pg_advisory_xact_lock($1)', [OPEN_LOCK]);
          await prepareSchema(c, target, network, false);
          // Before anything is marked: a target that is not empty (or claimed by another
          // migration) is refused with the source untouched.
          const what = await occupied(c, mark.id);
          if (what) throw targetNotEmpty(target.url, what);
          const claim: MigrationClaim = { from: dir, id: mark.id, at: mark.at };
          await c.query('INSERT INTO meta (key, value) VALUES ($1, $2)', [MIGRATION_CLAIM_KEY, JSON.stringify(claim)]);
        }, c);
        // The secret goes; the public nonce and its context stay, for the target's row.
        db.prepare("UPDATE nonces SET sealed = NULL, consumed = 1 WHERE consumed = 0 AND context LIKE 'offchain/credit/%'").run();
        db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run(MIGRATION_KEY, JSON.stringify(mark));
        db.exec('COMMIT');
        await hooks.afterMark?.();
        // The source is marked first: killed before the claim commits, the rerun finds the
        // mark and claims the target in its copy (an empty, unclaimed target is accepted).
        try {
          claiming = false;
          await c.query('COMMIT');
        } catch (e) {
          throw new OffchainError('E_STORE_UNREACHABLE', `the source ${dir} is marked migrating to ${target.url} but the store did not confirm its claim (${(e as Error).message}): run "credit store migrate --to ${target.url}" again to finish`, 1);
        }
      }
    } catch (e) {
      if (db.inTransaction) db.exec('ROLLBACK');
      if (claiming) await c.query('ROLLBACK').catch(() => undefined); // the claim, not committed
      throw e;
    }
    // The erased secrets must not linger in the WAL either.
    db.pragma('wal_checkpoint(TRUNCATE)');
    await hooks.afterPhase?.(1);

    // Phase 2: one transaction into the target, unless this migration's copy is already there.
    const counts = await copyToTarget(db, dir, c, target, network, mark, key?.secret);
    await hooks.afterPhase?.(2);

    // Phase 3: the source is migrated.
    db.exec('BEGIN IMMEDIATE');
    db.prepare('UPDATE meta SET value = ? WHERE key = ?').run(JSON.stringify({ ...mark, state: 'migrated' }), MIGRATION_KEY);
    db.exec('COMMIT');
    db.pragma('wal_checkpoint(TRUNCATE)');
    return { from: dir, to: target.url, migration_id: mark.id, ...counts, resumed: counts.resumed || marked };
  } finally {
    process.removeListener('exit', closeAtExit);
    try {
      if (db.inTransaction) db.exec('ROLLBACK');
    } finally {
      db.close();
    }
  }
}

/**
 * A rerun of a finished migration to the same target: the report again (the counts read from
 * the source, which has not changed since its mark), nothing written anywhere — when the
 * target holds that migration. A target that does not (restored from before it, or another
 * database at that URL) is refused E_STORE_MIGRATED: the source stays frozen either way.
 */
async function finishedBefore(db: BetterSqlite3.Database, dir: string, c: pg.Client, target: PgTarget, mark: MigrationMark): Promise<MigrationReport> {
  let held: string | undefined;
  try {
    const exists = (await c.query<{ t: string | null }>("SELECT to_regclass('meta')::text AS t")).rows[0]!.t;
    held = exists ? (await c.query<{ value: string }>("SELECT value FROM meta WHERE key = 'migrated_from'")).rows[0]?.value : undefined;
  } catch (e) {
    throw storeConnectError(e, target);
  }
  if (!held || (JSON.parse(held) as MigrationClaim).id !== mark.id) {
    throw new StateConflictError('E_STORE_MIGRATED', `the mint's state in ${dir} was migrated to ${mark.to} at ${mark.at}, but that database does not hold this migration (${mark.id}) now: it was restored from before it, or another database answers at that URL; nothing was changed — find the database that holds it (this copy refuses every use)`);
  }
  return { from: dir, to: target.url, migration_id: mark.id, ...sourceCounts(db), resumed: true, nothingLeft: true };
}

type SourceRows = {
  contracts: { contract_id: string; record: string }[];
  funding: { outpoint: string; contract_id: string; kind: string; from_contract_id: string | null }[];
  blind: { B_: string; contract_id: string; state: number; keyset_id: string; amount: number; C_?: string | null }[];
  docs: { key: string; value: string }[];
  nonces: { id: string; context: string | null; pubnonce: string | null; secnonce: string | null }[];
  /** The unused nonces burned by phase 1: their public nonce and context kept, the secret gone. */
  burned: { id: string; context: string | null; pubnonce: string | null; secnonce: string | null }[];
};

/** What the source holds to copy, once phase 1 has burned its unused secrets. */
function sourceRows(db: BetterSqlite3.Database): SourceRows {
  const all = <T>(sql: string) => db.prepare(sql).all() as T[];
  // The mint's nonces (state.sqlite holds every signer's: another role's unused ones are not the mint's to move).
  const nonces = all<SourceRows['nonces'][number]>("SELECT id, context, pubnonce, sealed AS secnonce FROM nonces WHERE consumed = 1 OR context LIKE 'offchain/credit/%' ORDER BY id");
  return {
    contracts: all('SELECT contract_id, record FROM contracts ORDER BY contract_id'),
    funding: all('SELECT outpoint, contract_id, kind, from_contract_id FROM funding ORDER BY outpoint'),
    blind: all('SELECT * FROM blind_signatures ORDER BY B_'), // C_ where the source has it
    docs: all("SELECT key, value FROM meta WHERE key LIKE 'doc:%' ORDER BY key"),
    nonces,
    burned: nonces.filter((n) => n.context !== null && n.pubnonce !== null),
  };
}

function sourceCounts(db: BetterSqlite3.Database, rows = sourceRows(db)): Omit<MigrationReport, 'from' | 'to' | 'migration_id' | 'resumed'> {
  return { contracts: rows.contracts.length, funding_outpoints: rows.funding.length, blind_signatures: rows.blind.length, documents: rows.docs.length, nonces_consumed: rows.nonces.length - rows.burned.length, nonces_burned: rows.burned.length };
}

/** Held (session-level) by a running migration into the database, for its whole run. */
const MIGRATION_LOCK = 7283547002;

async function client(target: PgTarget): Promise<pg.Client> {
  const { default: pgm } = await import('pg');
  const c = new pgm.Client(pgConfig(target, 'offchain-migrate'));
  c.on('error', () => undefined);
  try {
    await c.connect();
  } catch (e) {
    await c.end().catch(() => undefined);
    throw storeConnectError(e, target);
  }
  return c;
}

/** One PostgreSQL transaction's body (BEGIN inside): rolled back and coded on any failure. */
async function pgQuery(target: PgTarget, body: () => Promise<void>, c: pg.Client): Promise<void> {
  try {
    await body();
  } catch (e) {
    await c.query('ROLLBACK').catch(() => undefined);
    if (e instanceof OffchainError) throw e;
    throw storeConnectError(e, target);
  }
}

/**
 * What keeps a target from taking this migration (`ownId`): any contract, outpoint, nonce,
 * B_ or document; another migration's claim or copy. The schema, and the epoch row a mint
 * process that opened the empty database left (it found no offer and stopped), are not
 * content: a process without an offer can write nothing but an offer, and that write
 * (pg/mint-store.ts writeDoc) is refused once the target is claimed.
 */
async function occupied(c: pg.Client, ownId: string): Promise<string | undefined> {
  const r = (await c.query<Row>(
    `SELECT (SELECT count(*) FROM contracts) AS contracts, (SELECT count(*) FROM funding) AS funding, (SELECT count(*) FROM nonces) AS nonces,
            (SELECT count(*) FROM blind_signatures) AS blind_signatures, (SELECT count(*) FROM meta WHERE key LIKE 'doc:%') AS documents`,
  )).rows[0]!;
  const parts = Object.entries(r).filter(([, n]) => Number(n) > 0).map(([k, n]) => `${n} ${k}`);
  for (const key of [MIGRATION_CLAIM_KEY, 'migrated_from']) {
    const row = (await c.query<{ value: string }>('SELECT value FROM meta WHERE key = $1', [key])).rows[0];
    if (!row) continue;
    const other = JSON.parse(row.value) as MigrationClaim;
    if (other.id === ownId) continue;
    parts.push(key === MIGRATION_CLAIM_KEY
      ? `claimed by the unfinished migration of ${other.from} started at ${other.at}: run that one again to finish it`
      : `it holds the migration of ${other.from}`);
  }
  return parts.length ? parts.join('; ') : undefined;
}

async function copyToTarget(db: BetterSqlite3.Database, dir: string, c: pg.Client, target: PgTarget, network: string, mark: MigrationMark, secret: Uint8Array | undefined): Promise<Omit<MigrationReport, 'from' | 'to' | 'migration_id'>> {
  // The migration's own epoch: the dead epoch its placeholder nonces belong to (no process holds its key).
  const epoch = randomBytes(16).toString('hex');
  const rows = sourceRows(db);
  const { funding, blind, docs, nonces, burned } = rows;
  // A state in the clear or in the older seal is sealed on its way (checked above: then the key is here), so the target holds only this form.
  const older = db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?').get(LEGACY_STATES_KEY) !== undefined;
  const sealer = secret && Sealer.fromSecret(secret);
  const contracts = rows.contracts.map((r) => {
    if (!older && !hasPlainState(JSON.parse(r.record))) return r;
    if (!secret || !sealer) throw new UsageError('E_STATE_UNSEALED', `the mint in ${dir} holds fully signed states stored in the clear or in an older seal: pass the mint's key (--key-file or --key-env) so the migration seals them`);
    return { contract_id: r.contract_id, record: resealed(r.record, secret, sealer, dir) };
  });
  if (nonces.some((n) => n.secnonce !== null)) throw new OffchainError('E_STATE_CORRUPT', `the source ${dir} still holds an unused secret nonce after it was marked: refusing to copy`, 3);
  const counter = Number((db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?').get('nonce_counter')?.value) ?? 0);
  const counts = sourceCounts(db, rows);

  let resumed = false;
  await pgQuery(target, async () => {
    await c.query('BEGIN');
    // A mint starting now waits for the copy, then opens the finished store.
    await c.query('SELECT pg_advisory_xact_lock($1)', [OPEN_LOCK]);
    await prepareSchema(c, target, network, false);
    const done = (await c.query<{ value: string }>("SELECT value FROM meta WHERE key = 'migrated_from'")).rows[0];
    if (done && (JSON.parse(done.value) as MigrationClaim).id === mark.id) {
      await c.query('ROLLBACK');
      resumed = true;
      return;
    }
    // The claim is this migration's, or (killed between the source's mark and the claim's
    // commit) there is none and the target is still empty.
    const what = await occupied(c, mark.id);
    if (what) throw targetNotEmpty(target.url, what);
    const many = async (sql: string, rows: unknown[][]) => {
      for (const r of rows) await c.query(sql, r);
    };
    await many('INSERT INTO contracts (contract_id, record) VALUES ($1, $2)', contracts.map((r) => [r.contract_id, r.record]));
    await many('INSERT INTO funding (outpoint, contract_id, kind, from_contract_id) VALUES ($1, $2, $3, $4)', funding.map((r) => [r.outpoint, r.contract_id, r.kind, r.from_contract_id]));
    await many('INSERT INTO blind_signatures (b_, contract_id, state, keyset_id, amount, c_) VALUES ($1, $2, $3, $4, $5, $6)', blind.map((r) => [r.B_, r.contract_id, r.state, r.keyset_id, r.amount, r.C_ ?? null]));
    await many('INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value', docs.map((r) => [r.key, r.value]));
    // Consumed: the id alone, consumed for ever. Burned: an unused row of the migration's
    // (dead) epoch whose `sealed` is random bytes — no key, no secret, nothing to open.
    await many('INSERT INTO nonces (id, consumed) VALUES ($1, true)', nonces.filter((n) => !burned.includes(n)).map((n) => [n.id]));
    await many('INSERT INTO nonces (id, context, pubnonce, epoch, sealed) VALUES ($1, $2, $3, $4, $5)', burned.map((n) => [n.id, n.context, n.pubnonce, epoch, randomBytes(12 + 97 + 16)]));
    if (counter > 0) await c.query("SELECT setval('nonce_counter', GREATEST($1::bigint, (SELECT last_value FROM nonce_counter)))", [counter]);
    await c.query('DELETE FROM meta WHERE key = $1', [MIGRATION_CLAIM_KEY]);
    await c.query('INSERT INTO meta (key, value) VALUES ($1, $2)', ['migrated_from', JSON.stringify({ from: dir, id: mark.id, at: new Date().toISOString() })]);
    await c.query('COMMIT');
  }, c);
  return { ...counts, resumed };
}
