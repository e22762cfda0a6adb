/**
 * The credit mint's (and the gateway's) store in `state.sqlite`: one implementation of the
 * mint's port (../mint-store-port.ts; PostgreSQL is pg/mint-store.ts). Its tables — the
 * contracts, the funding-outpoint index, the blind signatures — are schema.ts's; its nonces
 * are the one nonce table's (nonces.ts), sealed under the mint's key.
 *
 * GROUP COMMIT. A long-running mint (the stream, `serve mint`) serves many requests per
 * COMMIT: each request is a `step` — a SAVEPOINT of the batch's transaction, undone whole
 * when it throws (a nonce it took is unused again: the signature made with it never left the
 * process) — and `commit()` makes the batch durable with one WAL fsync. A one-shot command's
 * step is a batch of one, committed by `close()` before anything is printed.
 *
 * Rules the mint's commands keep (mint-store-port.ts): nothing derived from a step leaves
 * the process before `commit()` returned; a failed COMMIT (a full disk, an I/O error) leaves
 * the store `broken`, and the process exits without releasing anything of that batch.
 *
 * SEALED STATES (../mint-records.ts). A contract's fully signed states are kept sealed under
 * the mint's key: the user never gets one, and a reader of the database (a monitoring login,
 * a backup) cannot hand one over. A view without the key (`credit list`) reads them sealed.
 *
 * MIGRATED. Once `credit store migrate` moved the mint to PostgreSQL, the meta key
 * `migration` refuses every use (E_STORE_MIGRATED): a migrated mint is never served from two
 * places.
 */
import { createHash } from 'node:crypto';
import type { FundingBinding, SignedBlindedMessage } from '../../credit/ports.ts';
import { RefusedError, StateConflictError, UsageError } from '../../errors.ts';
import type { MintStorePort } from '../mint-store-port.ts';
import type { NonceStatus } from '../../musig/nonce-port.ts';
import type { Sealer } from '../seal.ts';
import { mintRecordOf, mintRecordText, resealed } from '../mint-records.ts';
import { errnoCode } from '../write-errors.ts';
import type { Batch, StateDb } from './database.ts';
import { SqliteNonces } from './nonces.ts';
import { TABLES } from './schema.ts';
import { LEGACY_STATES_KEY } from './migrate-v0.ts';
import type { Due, IdRange, Sliced } from '../../watch/ports.ts';

/** The meta key a migration to PostgreSQL (store/migrate.ts) leaves: while it is there the store refuses every use. */
export const MIGRATION_KEY = 'migration';
export type MigrationMark = { state: 'migrating' | 'migrated'; to: string; id: string; at: string };

/** E_STORE_MIGRATED (exit 5): this mint was (or is being) moved to PostgreSQL. */
export function migratedError(dir: string, mark: MigrationMark): StateConflictError {
  return mark.state === 'migrated'
    ? new StateConflictError('E_STORE_MIGRATED', `the mint's state in ${dir} was migrated to ${mark.to} at ${mark.at}: serve it with --store ${mark.to} (this copy refuses every use)`)
    : new StateConflictError('E_STORE_MIGRATED', `a migration of the mint's state in ${dir} to ${mark.to} started at ${mark.at} and did not finish: run "credit store migrate --to ${mark.to}" again to finish it (this copy refuses every use)`);
}

/**
 * Unfunded opens (credit/mint.ts expires them) are found through a column of their own,
 * written with the record: its opened_at_height while the contract is open, unpaid and not
 * seen funded, NULL otherwise (an index on JSON inside the record would be evaluated at every
 * write of it, a payment's included).
 */
export function unfundedSince(record: unknown): number | null {
  const r = record as { status?: unknown; latest?: unknown; funding_seen?: unknown; opened_at_height?: unknown };
  if (r.status !== 'open' || (r.latest ?? null) !== null || (r.funding_seen ?? null) !== null) return null;
  return typeof r.opened_at_height === 'number' ? r.opened_at_height : null;
}

function statements(db: StateDb) {
  const sql = db.sql;
  return {
    putMeta: sql.prepare<[string, string]>('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
    // Moves once another connection (another process, a sqlite3 shell) committed to the file; this one's own commits never move it.
    dataVersion: sql.prepare<[], { data_version: number }>('PRAGMA data_version'),
    getContract: sql.prepare<[string], { record: string }>('SELECT record FROM contracts WHERE contract_id = ?'),
    // A record written again (every update): its row rewritten in place, tried first; a new one inserted.
    updateContract: sql.prepare<[string, number | null, string]>('UPDATE contracts SET record = ?, unfunded_since = ? WHERE contract_id = ?'),
    putContract: sql.prepare<[string, string, number | null]>('INSERT INTO contracts (contract_id, record, unfunded_since) VALUES (?, ?, ?) ON CONFLICT (contract_id) DO UPDATE SET record = excluded.record, unfunded_since = excluded.unfunded_since'),
    listContracts: sql.prepare<[], { record: string }>('SELECT record FROM contracts ORDER BY contract_id'),
    // watch_height is SQLite's, from the record (schema.ts, version 3), read through its index. No index named: one
    // dropped makes the planner read the table (slower, never wrong), where INDEXED BY would fail the round.
    dueContracts: sql.prepare<[number], { contract_id: string; record: string }>('SELECT contract_id, record FROM contracts WHERE watch_height <= ?'),
    nextDue: sql.prepare<[number], { h: number | null }>('SELECT MIN(watch_height) AS h FROM contracts WHERE watch_height > ?'),
    // A slice of the rolling audit (src/lib/watch/ports.ts auditSlice): a key range of the primary key, the height SQLite computes beside each record.
    slice: sql.prepare<[string, string], { record: string; watch_height: number }>('SELECT record, watch_height FROM contracts WHERE contract_id >= ? AND contract_id < ? ORDER BY contract_id'),
    lastSlice: sql.prepare<[string], { record: string; watch_height: number }>('SELECT record, watch_height FROM contracts WHERE contract_id >= ? ORDER BY contract_id'),
    countContracts: sql.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM contracts'),
    countUnusedNonces: sql.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM nonces WHERE consumed = 0'),
    removeContract: sql.prepare<[string]>('DELETE FROM contracts WHERE contract_id = ?'),
    unfundedOpens: sql.prepare<[number, number], { record: string }>('SELECT record FROM contracts WHERE unfunded_since IS NOT NULL AND unfunded_since < ? ORDER BY unfunded_since LIMIT ?'),
    getFunding: sql.prepare<[string], { contract_id: string; kind: string; from_contract_id: string | null }>('SELECT contract_id, kind, from_contract_id FROM funding WHERE outpoint = ?'),
    putFunding: sql.prepare<[string, string, string, string | null]>('INSERT INTO funding (outpoint, contract_id, kind, from_contract_id) VALUES (?, ?, ?, ?) ON CONFLICT (outpoint) DO UPDATE SET contract_id = excluded.contract_id, kind = excluded.kind, from_contract_id = excluded.from_contract_id'),
    getBlindSig: sql.prepare<[string], { contract_id: string; state: number }>('SELECT contract_id, state FROM blind_signatures WHERE B_ = ?'),
    // No upsert: a second row for a B_ is a constraint violation.
    putBlindSig: sql.prepare<[string, string, number, string, number, string]>('INSERT INTO blind_signatures (B_, contract_id, state, keyset_id, amount, C_) VALUES (?, ?, ?, ?, ?, ?)'),
    issuance: sql.prepare<[], { keyset_id: string; issued_sat: number; signatures: number }>('SELECT keyset_id, SUM(amount) AS issued_sat, COUNT(*) AS signatures FROM blind_signatures GROUP BY keyset_id ORDER BY keyset_id'),
    signedOf: sql.prepare<[string], SignedBlindedMessage>('SELECT B_, contract_id, state, keyset_id, amount, C_ FROM blind_signatures WHERE B_ IN (SELECT value FROM json_each(?))'),
  };
}

export type SqliteMintOptions = {
  /** The mint's seal (from its key): its nonces and its records' signed states. A view has none. */
  sealer?: Sealer;
  /** The mint's compressed public key: its nonces an older store kept in the clear are sealed at its first use. */
  signer?: Uint8Array;
};

export class SqliteMintStore<R extends { contract_id: string }> implements MintStorePort<R> {
  readonly dir: string;
  private readonly q: ReturnType<typeof statements>;
  private readonly nonces: SqliteNonces | undefined;
  private readonly sealer: Sealer | undefined;

  constructor(
    readonly db: StateDb,
    opts: SqliteMintOptions = {},
  ) {
    this.dir = db.dir;
    this.q = statements(db);
    this.sealer = opts.sealer;
    this.nonces = opts.sealer && new SqliteNonces(db, opts.sealer, "the mint's nonce", opts.signer);
    const mark = this.db.meta(MIGRATION_KEY);
    if (mark) throw migratedError(this.dir, JSON.parse(mark) as MigrationMark);
  }

  /** Seal the nonces an import of the older layout left in the clear, in a transaction of its own: before the first batch (nonces.ts `sealImported`). */
  async sealImported(): Promise<void> {
    await this.nonces?.prepare();
  }

  /**
   * With the mint's key, once: the states an imported store (migrate-v0.ts) holds sealed by
   * the scheme before seal.ts, or in the clear, sealed again in this one — in one transaction.
   */
  async resealLegacy(mintSecret: Uint8Array): Promise<void> {
    const sealer = this.sealer;
    if (!sealer || this.db.meta(LEGACY_STATES_KEY) === undefined) return;
    await this.db.step(() => {
      for (const row of this.db.sql.prepare<[], { contract_id: string; record: string }>('SELECT contract_id, record FROM contracts').all()) {
        // Through the one writer's statement: the record's columns from the record written.
        const text = resealed(row.record, mintSecret, sealer, this.db.path);
        const record = JSON.parse(text) as R;
        this.q.updateContract.run(text, unfundedSince(record), row.contract_id);
      }
      this.db.dropMeta(LEGACY_STATES_KEY);
    });
  }

  /** The batch this store began (or joined) and has not committed: only it is committed or dropped by this store. */
  private batch: Batch | undefined;

  /** Set once a migration to PostgreSQL was found committed under this open store: it refuses every use from then on. */
  private migrated: Error | undefined;

  /** Set once a COMMIT failed, or the mint was found migrated: the process must exit, releasing nothing of its batch. */
  get broken(): Error | undefined {
    return this.migrated ?? this.db.broken;
  }

  /** A batch is open: something may be written but not yet committed. */
  get dirty(): boolean {
    return this.db.dirty;
  }

  // ——— transactions ———

  /** The batch's transaction, begun at its first write; a migration that committed meanwhile stops it here. */
  private begin(): void {
    if (this.migrated) throw this.migrated;
    const was = this.db.dirty;
    this.batch = this.db.begin();
    if (!was) {
      const mark = this.db.meta(MIGRATION_KEY);
      if (mark) {
        this.db.rollback(this.batch);
        this.batch = undefined;
        // A stream that had the store open stops here, answering nothing more (as a restart would find it).
        this.migrated = migratedError(this.dir, JSON.parse(mark) as MigrationMark);
        throw this.migrated;
      }
    }
  }

  /** One protocol step, a SAVEPOINT of the batch: undone whole when it throws (the batch's earlier steps stay). */
  async step<T>(fn: () => Promise<T>): Promise<T> {
    this.begin();
    return this.db.step(fn);
  }

  /** Make the batch durable: one COMMIT, one WAL fsync (E_STATE_WRITE if it was rolled back under this store: nothing of it released). */
  async commit(): Promise<void> {
    const batch = this.batch;
    this.batch = undefined;
    this.db.commit(batch);
  }

  /** One long-running process per directory (./service-lock.ts), held until the command's connection closes. */
  holdAlone(what: string): void {
    this.db.holdAlone(what);
  }

  /** Commit what the batch holds. The connection is the command's (its `state`), closed when the command ends. */
  async close(): Promise<void> {
    await this.commit();
  }

  /** Drop this store's batch uncommitted: what a crash leaves (a failed command, a test). A view, which began none, drops nothing. */
  abandon(): void {
    const batch = this.batch;
    this.batch = undefined;
    this.db.rollback(batch);
  }

  // ——— records ———

  private decode(text: string): R {
    return mintRecordOf<R>(text, this.sealer, this.db.path);
  }

  private encode(record: R): string {
    return mintRecordText(record, this.sealer, this.dir);
  }

  async get(id: string): Promise<R | undefined> {
    const row = this.q.getContract.get(id);
    return row ? this.decode(row.record) : undefined;
  }

  /** The one writer of a contract's row: its record, and the column read from it (unfunded_since), in one statement — its watch_height is SQLite's. */
  async put(record: R): Promise<void> {
    const text = this.encode(record);
    const since = unfundedSince(record);
    this.begin();
    if (this.q.updateContract.run(text, since, record.contract_id).changes === 0) this.q.putContract.run(record.contract_id, text, since);
  }

  async list(): Promise<R[]> {
    return this.q.listContracts.all().map((row) => this.decode(row.record));
  }

  async due(upTo: number): Promise<Due<R>> {
    const rows = this.q.dueContracts.all(upTo).sort((a, b) => (a.contract_id < b.contract_id ? -1 : a.contract_id > b.contract_id ? 1 : 0));
    const next = this.q.nextDue.get(upTo)!.h;
    return { records: rows.map((row) => this.decode(row.record)), others: this.q.countContracts.get()!.n - rows.length, ...(next !== null ? { next } : {}) };
  }

  async slice(range: IdRange): Promise<Sliced<R>[]> {
    const rows = range.to === undefined ? this.q.lastSlice.all(range.from) : this.q.slice.all(range.from, range.to);
    return rows.map((row) => ({ record: this.decode(row.record), height: row.watch_height }));
  }

  async counts(): Promise<{ contracts: number; unusedNonces: number }> {
    return { contracts: this.q.countContracts.get()!.n, unusedNonces: this.q.countUnusedNonces.get()!.n };
  }

  async remove(id: string): Promise<void> {
    this.begin();
    this.q.removeContract.run(id);
  }

  async unfundedOpens(openedBefore: number, limit: number): Promise<R[]> {
    // The record says so too: a row whose column is stale is never expired.
    return this.q.unfundedOpens.all(openedBefore, limit).map((row) => this.decode(row.record)).filter((r) => {
      const since = unfundedSince(r);
      return since !== null && since < openedBefore;
    });
  }

  async readDoc<T>(name: string): Promise<T | undefined> {
    const row = this.db.meta(`doc:${name}`);
    return row === undefined ? undefined : (JSON.parse(row) as T);
  }

  /**
   * A value that changes whenever a stored document may have changed since it was taken: read
   * BEFORE the document, it differs at the next read once anyone committed to the file from
   * another connection (data_version) or wrote a document through this one (writeDoc).
   */
  docStamp(): string {
    return `${this.q.dataVersion.get()!.data_version}/${this.db.docWrites}`;
  }

  /** Store a small document (the mint's offer) durably at once. */
  async writeDoc(name: string, value: unknown): Promise<void> {
    this.db.docWrites++;
    this.begin();
    this.q.putMeta.run(`doc:${name}`, JSON.stringify(value));
    await this.commit();
  }

  // ——— the funding-outpoint index (one outpoint, one contract) ———

  async fundingOwner(outpoint: string): Promise<FundingBinding | undefined> {
    const row = this.q.getFunding.get(outpoint);
    if (!row) return undefined;
    return { contract_id: row.contract_id, kind: row.kind as FundingBinding['kind'], ...(row.from_contract_id ? { from_contract_id: row.from_contract_id } : {}) };
  }

  async bindFunding(outpoint: string, binding: FundingBinding): Promise<void> {
    const existing = await this.fundingOwner(outpoint);
    if (existing && existing.contract_id !== binding.contract_id) {
      throw new RefusedError('E_FUNDING_IN_USE', `funding outpoint ${outpoint} already belongs to contract ${existing.contract_id}`);
    }
    this.begin();
    this.q.putFunding.run(outpoint, binding.contract_id, binding.kind, binding.from_contract_id ?? null);
  }

  // ——— nonces (NoncePort): the one nonce table, sealed under the mint's key ———

  private keyed(): SqliteNonces {
    if (!this.nonces) throw new UsageError('E_USAGE', `this view of the mint's state in ${this.dir} holds no key: it issues and takes no nonce`);
    return this.nonces;
  }

  async issue(context: string, generate: (counter: number) => { secnonce: Uint8Array; pubnonce: Uint8Array }): Promise<{ pubnonce: Uint8Array }> {
    const nonces = this.keyed();
    this.begin();
    return nonces.issue(context, generate);
  }

  /** `_session`: PostgreSQL's ledger keys a reopening by it (nonce-ledger.ts); here the database is the authority. */
  async take(pubnonce: Uint8Array, expectedContext: string, _session?: Uint8Array): Promise<Uint8Array> {
    const nonces = this.keyed();
    this.begin();
    return nonces.take(pubnonce, expectedContext);
  }

  /** Consume without using (an abandoned request's nonce). */
  async burn(pubnonce: Uint8Array, expectedContext: string): Promise<void> {
    const nonces = this.keyed();
    this.begin();
    return nonces.burn(pubnonce, expectedContext);
  }

  async status(pubnonce: Uint8Array, context?: string): Promise<NonceStatus> {
    return (this.nonces ?? new SqliteNonces(this.db, undefined)).status(pubnonce, context);
  }

  // ——— blind signatures: a B_ is signed once ———

  async blindSignatureOwner(B_: string): Promise<{ contract_id: string; state: number } | undefined> {
    return this.q.getBlindSig.get(B_);
  }

  async recordBlindSignatures(contractId: string, state: number, rows: { B_: string; keyset_id: string; amount: number; C_: string }[]): Promise<void> {
    this.begin();
    for (const r of rows) {
      try {
        this.q.putBlindSig.run(r.B_, contractId, state, r.keyset_id, r.amount, r.C_);
      } catch (e) {
        if (errnoCode(e) === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
          throw new RefusedError('E_BLINDED_MESSAGE_REUSED', `the blinded message ${r.B_.slice(0, 16)}… was already signed: a blinded message is signed once`);
        }
        throw e;
      }
    }
  }

  async ecashIssuance(): Promise<{ keyset_id: string; issued_sat: number; signatures: number }[]> {
    return this.q.issuance.all();
  }

  async signedBlindedMessages(B_s: string[]): Promise<SignedBlindedMessage[]> {
    if (B_s.length === 0) return [];
    // One query over a JSON array of the asked B_ (no statement per B_, no SQL built from input).
    return this.q.signedOf.all(JSON.stringify(B_s));
  }

  /**
   * SHA-256 over every row of the mint's tables, as this connection sees them (uncommitted
   * writes included): lets a test show that a refused step wrote nothing.
   */
  contentDigest(): string {
    const h = createHash('sha256');
    for (const table of TABLES) {
      for (const row of this.db.sql.prepare(`SELECT * FROM ${table} ORDER BY 1`).all()) h.update(`${table}:${JSON.stringify(row)}\n`);
    }
    return h.digest('hex');
  }
}
