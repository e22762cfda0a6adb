/**
 * The mint's SQLite database (mint-store.ts holds the rules that keep it safe): its schema,
 * its prepared statements, the migration mark that retires it, and its transactions — one
 * batch per COMMIT, a SAVEPOINT per protocol step, the nonce ledger settled before COMMIT.
 * The base of MintStore; not here: opening the file, the records and nonces (mint-store.ts),
 * the import of a directory from before SQLite (mint-store-legacy.ts).
 */
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import { OffchainError, StateConflictError } from '../errors.ts';
import type { NonceLedger } from './nonce-ledger.ts';
import { sealStateStepUntil } from './state-step.ts';
import { isFullError, StoreFullError } from './write-errors.ts';

export const SCHEMA = `
  CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS contracts (contract_id TEXT PRIMARY KEY, record TEXT NOT NULL, unfunded_since INTEGER);
  CREATE TABLE IF NOT EXISTS funding (outpoint TEXT PRIMARY KEY, contract_id TEXT NOT NULL, kind TEXT NOT NULL, from_contract_id TEXT);
  CREATE TABLE IF NOT EXISTS nonces (id TEXT PRIMARY KEY, context TEXT, pubnonce TEXT, secnonce TEXT, consumed INTEGER NOT NULL DEFAULT 0);
  CREATE TABLE IF NOT EXISTS blind_signatures (B_ TEXT PRIMARY KEY, contract_id TEXT NOT NULL, state INTEGER NOT NULL, keyset_id TEXT NOT NULL, amount INTEGER NOT NULL CHECK (amount > 0), C_ TEXT);
`;

/**
 * Unfunded opens (credit/mint.ts expires them) are found through a column of their own,
 * `unfunded_since`, written with the record: its opened_at_height while the contract is open,
 * unpaid and not seen funded, NULL otherwise. Stores before it had an index on json_extract()
 * of the record, which SQLite evaluated on every write of a record — a payment's included, the
 * record rewritten whole — tripling the instructions of that UPDATE (~63k against ~21k,
 * callgrind, a 1.8 kB record). A store without the column gets it at its first open
 * (`addUnfundedSince`); the old index goes.
 */
const UNFUNDED_SCHEMA = `
  CREATE INDEX IF NOT EXISTS unfunded_since ON contracts (unfunded_since) WHERE unfunded_since IS NOT NULL;
  DROP INDEX IF EXISTS unfunded_opens;
`;

/** The `unfunded_since` column of a record: its opened_at_height while it is an open never paid nor seen funded. */
export function unfundedSince(record: unknown): number | null {
  const r = record as { status?: unknown; latest?: unknown; funding_seen?: unknown; opened_at_height?: unknown };
  if (r.status !== 'open' || (r.latest ?? null) !== null || (r.funding_seen ?? null) !== null) return null;
  return typeof r.opened_at_height === 'number' ? r.opened_at_height : null;
}

/**
 * A store's contracts table gets `unfunded_since`, filled from its records by `unfundedSince`
 * (once, in one transaction), and its index (the caller holds the directory lock).
 */
export function addUnfundedSince(db: BetterSqlite3.Database): void {
  // A store that has the column opens as before, with no transaction of its own: an explicit
  // one at every open changes the files a refused command leaves (its -wal), which the
  // refusal tests check untouched.
  if (db.prepare("SELECT 1 FROM pragma_table_info('contracts') WHERE name = 'unfunded_since'").get()) {
    db.exec(UNFUNDED_SCHEMA);
    return;
  }
  db.transaction(() => {
    db.exec('ALTER TABLE contracts ADD COLUMN unfunded_since INTEGER');
    const fill = db.prepare<[number, string]>('UPDATE contracts SET unfunded_since = ? WHERE contract_id = ?');
    for (const r of db.prepare<[], { contract_id: string; record: string }>('SELECT contract_id, record FROM contracts').all()) {
      const since = unfundedSince(JSON.parse(r.record));
      if (since !== null) fill.run(since, r.contract_id);
    }
    db.exec(UNFUNDED_SCHEMA);
  })();
}

export const MINT_DB_FILE = 'mint.sqlite';

/** Where the processes on a mint directory keep their nonce ledger (nonce-ledger.ts). */
export const LEDGER_DIR = 'nonce-ledger';

/** The meta key set once every stored record's states are sealed (state-seal.ts). */
export const STATES_SEALED_KEY = 'states_sealed';

/**
 * The meta key a migration to PostgreSQL (store/migrate.ts) leaves in the source: while it
 * is there the store refuses every use — opening it, and the next transaction of a process
 * that had it open — so a migrated mint is never served from two places.
 */
export const MIGRATION_KEY = 'migration';
export type MigrationMark = { state: 'migrating' | 'migrated'; to: string; id: string; at: string };

/** E_STORE_MIGRATED (exit 5): this SQLite store was (or is being) moved to PostgreSQL. */
export function migratedError(dir: string, mark: MigrationMark): StateConflictError {
  return mark.state === 'migrated'
    ? new StateConflictError('E_STORE_MIGRATED', `the mint's state in ${dir} was migrated to ${mark.to} at ${mark.at}: serve it with --store ${mark.to} (this copy refuses every use)`)
    : new StateConflictError('E_STORE_MIGRATED', `a migration of the mint's state in ${dir} to ${mark.to} started at ${mark.at} and did not finish: run "credit store migrate --to ${mark.to}" again to finish it (this copy refuses every use)`);
}

/** The store failed to write: nothing of the batch may be released. Exit 1. */
export class StoreWriteError extends OffchainError {
  constructor(message: string) {
    super('E_STATE_WRITE', message, 1);
  }
}

let Database: typeof BetterSqlite3 | undefined;
export function sqlite(): typeof BetterSqlite3 {
  // Loaded on first use: a native module, needed only by commands that keep mint state.
  Database ??= createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3;
  return Database;
}

/** The statements every step runs, prepared once per connection. */
function statements(db: BetterSqlite3.Database) {
  return {
    getMeta: db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?'),
    putMeta: db.prepare<[string, string]>('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)'),
    getContract: db.prepare<[string], { record: string }>('SELECT record FROM contracts WHERE contract_id = ?'),
    putContract: db.prepare<[string, string, number | null]>('INSERT OR REPLACE INTO contracts (contract_id, record, unfunded_since) VALUES (?, ?, ?)'),
    // A record written again (every update): its row rewritten in place, not deleted and inserted (REPLACE).
    updateContract: db.prepare<[string, number | null, string]>('UPDATE contracts SET record = ?, unfunded_since = ? WHERE contract_id = ?'),
    // The record's text only (its states sealed once: `unfunded_since` does not change).
    rewriteContract: db.prepare<[string, string]>('UPDATE contracts SET record = ? WHERE contract_id = ?'),
    listContracts: db.prepare<[], { record: string }>('SELECT record FROM contracts ORDER BY contract_id'),
    countContracts: db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM contracts'),
    countUnusedNonces: db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM nonces WHERE consumed = 0'),
    removeContract: db.prepare<[string]>('DELETE FROM contracts WHERE contract_id = ?'),
    unfundedOpens: db.prepare<[number, number], { record: string }>(
      'SELECT record FROM contracts WHERE unfunded_since IS NOT NULL AND unfunded_since < ? ORDER BY unfunded_since LIMIT ?',
    ),
    getFunding: db.prepare<[string], { contract_id: string; kind: string; from_contract_id: string | null }>('SELECT contract_id, kind, from_contract_id FROM funding WHERE outpoint = ?'),
    putFunding: db.prepare<[string, string, string, string | null]>('INSERT OR REPLACE INTO funding (outpoint, contract_id, kind, from_contract_id) VALUES (?, ?, ?, ?)'),
    getNonce: db.prepare<[string], { context: string | null; secnonce: string | null; consumed: number }>('SELECT context, secnonce, consumed FROM nonces WHERE id = ?'),
    issueNonce: db.prepare<[string, string, string, string]>('INSERT INTO nonces (id, context, pubnonce, secnonce) VALUES (?, ?, ?, ?)'),
    // Of ids given as a JSON array, those consumed (the nonce ledger's prune: nonce-ledger.ts).
    consumedOf: db.prepare<[string], { id: string }>('SELECT id FROM nonces WHERE consumed != 0 AND id IN (SELECT value FROM json_each(?))'),
    takeNonce: db.prepare<[string]>('UPDATE nonces SET consumed = 1, secnonce = NULL, context = NULL, pubnonce = NULL WHERE id = ?'),
    getBlindSig: db.prepare<[string], { contract_id: string; state: number }>('SELECT contract_id, state FROM blind_signatures WHERE B_ = ?'),
    // No OR REPLACE / OR IGNORE: a second row for a B_ is a constraint violation.
    putBlindSig: db.prepare<[string, string, number, string, number, string]>('INSERT INTO blind_signatures (B_, contract_id, state, keyset_id, amount, C_) VALUES (?, ?, ?, ?, ?, ?)'),
    issuance: db.prepare<[], { keyset_id: string; issued_sat: number; signatures: number }>('SELECT keyset_id, SUM(amount) AS issued_sat, COUNT(*) AS signatures FROM blind_signatures GROUP BY keyset_id ORDER BY keyset_id'),
    // A step's savepoint, prepared once (one name: SQLite's ROLLBACK TO and RELEASE take the
    // innermost savepoint of that name, so nested steps unwind as with a name each).
    savepoint: db.prepare('SAVEPOINT step'),
    rollbackTo: db.prepare('ROLLBACK TO step'),
    release: db.prepare('RELEASE step'),
  };
}
export type MintStatements = ReturnType<typeof statements>;

export abstract class MintDatabase {
  readonly dir: string;
  protected readonly db: BetterSqlite3.Database;
  private inTransaction = false;
  private failed: Error | undefined;
  protected readonly q: MintStatements;
  /** The nonces the processes on this directory may still open (nonce-ledger.ts). */
  protected ledger!: NonceLedger;
  /** A nonce issued, taken or burned in the open transaction: the ledger settles before COMMIT. */
  protected nonceTouched = false;
  /**
   * The nonce counter as the open transaction has it (meta `counter`): read at its first issue,
   * written once, before its COMMIT — not a statement pair per nonce. Only this connection
   * writes while its BEGIN IMMEDIATE holds; a step rolled back takes its ticks back with it.
   * Undefined outside a transaction (another process may have moved it since).
   */
  protected counter: number | undefined;
  private counterStored: number | undefined;

  /** The next nonce counter value, in the open transaction (the caller has begun it). */
  protected nextCounter(): number {
    if (this.counter === undefined) this.counter = this.counterStored = Number(this.q.getMeta.get('counter')?.value ?? 0);
    return ++this.counter;
  }

  protected constructor(dir: string, db: BetterSqlite3.Database) {
    this.dir = dir;
    this.db = db;
    this.q = statements(db);
  }

  // ——— transactions ———

  get broken(): Error | undefined {
    return this.failed;
  }

  private usable(): void {
    if (this.failed) throw new StoreWriteError(`the mint's state could not be written earlier (${this.failed.message}); restart the mint`);
  }

  protected begin(): void {
    this.usable();
    if (!this.inTransaction) {
      this.db.exec('BEGIN IMMEDIATE');
      // A migration that committed while this process had the store open: stop here.
      const mark = this.q.getMeta.get(MIGRATION_KEY);
      if (mark) {
        this.db.exec('ROLLBACK');
        this.failed = migratedError(this.dir, JSON.parse(mark.value) as MigrationMark);
        throw this.failed;
      }
      this.inTransaction = true;
    }
  }

  /**
   * Run one protocol step atomically inside the batch: if it throws, everything it
   * wrote is undone (the batch's earlier steps stay).
   */
  async step<T>(fn: () => Promise<T>): Promise<T> {
    this.begin();
    this.q.savepoint.run();
    const mark = this.ledger.mark();
    const counter = this.counter;
    try {
      const result = await fn();
      this.q.release.run();
      return result;
    } catch (e) {
      this.q.rollbackTo.run();
      this.q.release.run();
      // Nothing of the step left the process: the nonces it claimed stay openable.
      this.ledger.discard(mark);
      this.counter = counter; // its counter ticks were rolled back with it
      throw e;
    }
  }

  /** A transaction is open: something may be written but not yet committed. */
  get dirty(): boolean {
    return this.inTransaction && this.db.inTransaction;
  }

  /** Make everything written durable: one COMMIT, one WAL fsync (group commit). */
  async commit(): Promise<void> {
    this.usable();
    if (!this.inTransaction) return;
    let settled = false;
    let reopen: (() => void) | undefined;
    try {
      if (this.counter !== undefined && this.counter !== this.counterStored) this.q.putMeta.run('counter', String(this.counter));
      // The ledger first (nonce-ledger.ts): final before COMMIT, so before anything leaves.
      if (this.nonceTouched) await this.ledger.settle();
      settled = this.nonceTouched;
      // Sealed before the COMMIT, not after (store/state-step.ts STEP RECORD): a crash just after it
      // must not roll back the files that go with it; taken back below if it provably did not happen.
      if (settled) reopen = sealStateStepUntil();
      this.db.exec('COMMIT');
      if (this.nonceTouched) await this.ledger.committed();
    } catch (e) {
      this.failed = e as Error;
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      if (isFullError(e) && !(e instanceof OffchainError)) {
        // SQLITE_FULL: the commit record was never written, so the COMMIT did not happen and
        // nothing of the batch left: the ledger's lines go too, the directory as it was.
        if (settled) await this.ledger.unsettle().catch(() => undefined);
        reopen?.();
        throw new StoreFullError(this.dir, 'the database or disk is full (SQLITE_FULL)');
      }
      if (e instanceof OffchainError) throw e;
      throw new StoreWriteError(`could not make the mint's state durable (${(e as Error).message}): nothing of this batch was released`);
    } finally {
      this.inTransaction = this.db.inTransaction;
      this.nonceTouched = false;
      this.counter = this.counterStored = undefined;
    }
  }

  /** Commit, checkpoint the WAL into the database and truncate it, close. */
  async close(): Promise<void> {
    try {
      await this.commit();
      try {
        this.db.pragma('wal_checkpoint(TRUNCATE)');
      } catch (e) {
        // Committed already (in the WAL, durable): a full disk only defers the checkpoint,
        // which copies into mint.sqlite and may grow it; the next close does it.
        if (!isFullError(e)) throw e;
      }
    } finally {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      this.db.close();
    }
  }

  /** Close without committing: what a crash leaves (for tests and failed commands). */
  abandon(): void {
    if (this.db.open) this.db.close();
    this.ledger?.discard();
  }
}
