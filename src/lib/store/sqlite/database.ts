/**
 * ONE DATABASE PER STATE DIRECTORY. Every role's state on one network — the credit user's
 * and the mint's contracts, the gateway's and the device's channels, the BOLT 2/3 channel
 * party's records, the statechain owner's and operator's coins, every signer's single-use
 * secret nonces — lives in `<state-dir>/<network>/state.sqlite` (better-sqlite3):
 * `journal_mode=WAL`, `synchronous=FULL` (a COMMIT that returned survives a power cut),
 * `secure_delete=ON` (freed content zeroed: a consumed nonce, a replaced share), files 0600
 * in a 0700 directory.
 *
 * ONE STEP, ONE TRANSACTION. `step(fn)` runs a protocol step — read, check, sign, write — as
 * one transaction begun with BEGIN IMMEDIATE (writers serialised by SQLite across processes;
 * readers see the last commit without waiting) and committed when `fn` returns: all of it is
 * durable, or, when `fn` throws, none of it happened. A step inside a step is a SAVEPOINT.
 * Steps of one process on one database take turns (one connection per file per process).
 *
 * COMMIT BEFORE THE ACT. Nothing the world can see — a signature sent to a peer, a
 * transaction broadcast, a Lightning payment, a message printed — happens inside a step: the
 * acts themselves refuse to run while one is open (`refuseInsideStep`, E_INTERNAL), so a step
 * that forgot to end before its act fails at once in every test that reaches it. A command
 * that acts in the middle of its work writes the record of the act in one step, acts, then
 * writes what the act returned in another. A crash therefore never leaves anything to roll
 * back or recover: a step either committed (its act may follow) or never happened.
 *
 * The database file is the authority for the state it holds: whoever can write the state
 * directory can rewind it (put back a consumed nonce's row) — as for Core Lightning's
 * lightningd.sqlite3 or Nutshell's database — and is out of scope; never restore or copy it
 * (docs/state.md, "Backups").
 *
 * Not here: loading the driver and saying its errors (driver.ts), the directory and the files
 * (files.ts), the tables' meaning (schema.ts), each role's rows (nonces.ts, records.ts,
 * mint.ts), the import of a directory of the file layout before this one (migrate-v0.ts).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { accessSync, constants, existsSync, unlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { OffchainError } from '../../errors.ts';
import { errnoCode, isFullError, stateAccessError, StoreFullError } from '../write-errors.ts';
import { aloneOnFile, openSqlite, sqliteError } from './driver.ts';
import { freeBytes, makeDir, makeFile, removeDirs, sidesThere, takeBackFailedOpen } from './files.ts';
import { SCHEMA_VERSION, TABLES, upgradeSchema } from './schema.ts';
import { holdStateDir } from './service-lock.ts';

export const STATE_DB_FILE = 'state.sqlite';

/** Below this many free bytes, an I/O error of SQLite's at open is taken for a full filesystem. */
const FULL_BELOW = 1 << 20;

/** The step a piece of code runs in (this process's async context), if any. */
const current = new AsyncLocalStorage<{ db: StateDb; depth: number; live: boolean }>();

/**
 * E_INTERNAL when called inside an open step: an act — a message to a peer, a broadcast, a
 * payment — must follow the COMMIT that records it, never precede it (see COMMIT BEFORE THE ACT).
 */
export function refuseInsideStep(act: string): void {
  if (insideStep()) {
    throw new OffchainError('E_INTERNAL', `${act} inside an open state step: a step commits before its act (src/lib/store/sqlite/database.ts)`);
  }
}

/** Whether this async context runs inside a step of any database (tests and asserts). */
export function insideStep(): boolean {
  const s = current.getStore();
  return s !== undefined && s.live && s.db.isOpen;
}

/** Every database this process has open, by file: one connection each, shared by every store on it. */
const open = new Map<string, StateDb>();

/** Closed at exit, whatever ends the process: each connection's statements finalised while Node still runs. */
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const db of [...open.values()]) db.closeNow();
  });
}

/** A long-running owner's open batch (`StateDb.begin`): a transaction across its steps. */
export type Batch = { rolledBack: boolean };

export type OpenOptions = {
  /** Create the database (and the directory) when there is none; otherwise there must be one. */
  create: boolean;
};

export class StateDb {
  /** The network's state directory (`<state-dir>/<network>`). */
  readonly dir: string;
  readonly path: string;
  readonly sql: BetterSqlite3.Database;
  private refs = 1;
  /** The end of the last step begun on this connection: steps from other contexts wait for it. */
  private tail: Promise<unknown> = Promise.resolve();
  /** A transaction a long-running owner holds open across its steps (`begin`, the mint's group commit). */
  private batch: Batch | undefined;
  private failed: Error | undefined;
  /**
   * The directories this open made (deepest first) and that it made the file: a database whose
   * every step failed (refused, or a full disk) is taken back at close, so the state directory is
   * as it was (`takeBack`).
   */
  private made: { dirs: string[] } | undefined;
  /** Whether a step (or a batch) began on this connection, and whether one committed. */
  private attempted = false;
  private committed = false;
  /** A long-running owner's hold on the directory (`holdAlone`), released when this database closes. */
  private holder: { release(): void } | undefined;

  private constructor(dir: string, path: string, sql: BetterSqlite3.Database) {
    this.dir = dir;
    this.path = path;
    this.sql = sql;
  }

  /**
   * The database of the network state directory `dir`, opened (created when `create` and
   * missing). Undefined when there is none and `create` is not set: reading creates nothing.
   * Refused: a database written by a newer toolkit (E_STATE_NEWER), a state directory of the
   * file layout that is half migrated (migrate-v0.ts).
   */
  static open(dir: string, opts: OpenOptions): StateDb | undefined {
    const shared = StateDb.reopen(dir);
    if (shared) return shared;
    const abs = resolve(dir);
    const path = join(abs, STATE_DB_FILE);
    let made: { dirs: string[] } | undefined;
    if (!existsSync(path)) {
      if (!opts.create) return undefined;
      made = { dirs: makeDir(abs) };
    }
    let db: StateDb;
    try {
      db = StateDb.connect(abs, path);
    } catch (e) {
      if (made) removeDirs(made.dirs);
      throw e;
    }
    // Made here only if no other process made the file first (connect takes back only what it created).
    if (made && db.createdFile) db.made = made;
    open.set(path, db);
    installExitHook();
    return db;
  }

  /** The database of `dir` when this process has it open, with one more reference; else undefined (nothing opened). */
  static reopen(dir: string): StateDb | undefined {
    const shared = open.get(join(resolve(dir), STATE_DB_FILE));
    if (shared) shared.refs++;
    return shared;
  }

  private static connect(abs: string, path: string): StateDb {
    const sidesBefore = sidesThere(path);
    let made: number | undefined;
    let sql: BetterSqlite3.Database | undefined;
    try {
      try {
        accessSync(abs, constants.W_OK);
      } catch (e) {
        throw stateAccessError(e, abs);
      }
      made = makeFile(path);
      sql = openSqlite(path);
      sql.pragma('foreign_keys = ON');
      const version = sql.pragma('user_version', { simple: true }) as number;
      if (version > SCHEMA_VERSION) {
        throw new OffchainError('E_STORE_SCHEMA_NEWER', `the state in ${abs} was written by a newer offchain (schema ${version}; this one knows ${SCHEMA_VERSION}): upgrade offchain — nothing was read or written`, 1, { path });
      }
      if (version < SCHEMA_VERSION) upgradeSchema(sql);
      // After the schema: a new file gets its schema in the file itself (rollback journal), so its WAL
      // holds only steps — one whose steps all failed is taken back without writing (takeBack).
      sql.pragma('journal_mode = WAL');
      // A first read in WAL mode makes the WAL index (-shm): a full disk fails it here, at the open.
      sql.prepare('SELECT count(*) FROM sqlite_master').get();
      const db = new StateDb(abs, path, sql);
      db.createdFile = made !== undefined;
      return db;
    } catch (e) {
      if (sql?.open) sql.close();
      const code = errnoCode(e) ?? '';
      const full = isFullError(e) || (/^SQLITE_(IOERR|CANTOPEN)/.test(code) && freeBytes(abs) < FULL_BELOW);
      // Taken back when SQLite failed, and whatever failed when this open made the file (a driver that never loaded: E_NATIVE_MODULE).
      if (full || !(e instanceof OffchainError) || made !== undefined) takeBackFailedOpen(path, made, sidesBefore);
      if (full) throw new StoreFullError(abs, `the filesystem is full (${code}: ${(e as Error).message})`);
      throw sqliteError(e, abs);
    }
  }

  /** Whether this connection's open created the database file. */
  private createdFile = false;

  get isOpen(): boolean {
    return this.sql.open;
  }

  /** The meta table's two statements (a mark an import or a migration leaves, a document), prepared once per connection. */
  private metaRows: { get: BetterSqlite3.Statement<[string], { value: string }>; drop: BetterSqlite3.Statement<[string]> } | undefined;

  /** A meta row's value, or undefined. */
  meta(key: string): string | undefined {
    this.metaRows ??= { get: this.sql.prepare('SELECT value FROM meta WHERE key = ?'), drop: this.sql.prepare('DELETE FROM meta WHERE key = ?') };
    return this.metaRows.get.get(key)?.value;
  }

  /** Documents (meta `doc:` rows) written through this connection: with PRAGMA data_version (another connection's commits), what says a stored document may have changed (SqliteMintStore.docStamp). */
  docWrites = 0;

  /** A meta row removed (a mark whose work is done). */
  dropMeta(key: string): void {
    this.meta(key);
    this.metaRows!.drop.run(key);
  }

  /** Set once a COMMIT failed: the process must exit without releasing anything of that step (E_STATE_WRITE / E_STORE_FULL). */
  get broken(): Error | undefined {
    return this.failed;
  }

  private usable(): void {
    if (this.failed) throw new OffchainError('E_STATE_WRITE', `the state in ${this.dir} could not be written earlier (${this.failed.message}); restart`, 1);
    if (!this.sql.open) throw new OffchainError('E_INTERNAL', `the state database ${this.path} is closed`);
  }

  /**
   * Run `fn` as one step: one transaction, committed (durably) before this returns, rolled back
   * when `fn` throws. Inside a step of this database, or inside a batch (`begin`), a SAVEPOINT:
   * its writes undone when it throws, committed with the enclosing transaction.
   */
  async step<T>(fn: () => Promise<T> | T): Promise<T> {
    const outer = current.getStore();
    if ((outer?.db === this && outer.live) || this.batch !== undefined) return this.savepoint(fn, outer?.db === this ? outer.depth : 0);
    const turn = this.tail.then(() => this.transaction(fn));
    this.tail = turn.catch(() => undefined);
    return turn;
  }

  private async transaction<T>(fn: () => Promise<T> | T): Promise<T> {
    this.usable();
    this.attempted = true;
    try {
      this.control.begin.run();
    } catch (e) {
      throw sqliteError(e, this.dir);
    }
    const scope = { db: this as StateDb, depth: 1, live: true };
    let result: T;
    try {
      result = await current.run(scope, fn);
    } catch (e) {
      if (this.sql.inTransaction) this.sql.exec('ROLLBACK');
      throw sqliteError(e, this.dir);
    } finally {
      scope.live = false;
    }
    this.commitNow();
    return result;
  }

  private async savepoint<T>(fn: () => Promise<T> | T, depth: number): Promise<T> {
    this.usable();
    this.attempted = true;
    // Inside a step or a batch there is a transaction: one that is gone was rolled back under
    // the caller, and a new one begun here would commit this step alone, out of its batch.
    if (!this.sql.inTransaction) throw new OffchainError('E_STATE_WRITE', `the transaction of the state in ${this.dir} this step belongs to was rolled back under it: nothing of it was kept or released`, 1);
    const sp = this.savepointStatements(depth);
    sp.begin.run();
    const scope = { db: this as StateDb, depth: depth + 1, live: true };
    try {
      const result = await current.run(scope, fn);
      sp.release.run();
      return result;
    } catch (e) {
      if (this.sql.inTransaction) {
        sp.rollback.run();
        sp.release.run();
      }
      throw sqliteError(e, this.dir);
    } finally {
      scope.live = false;
    }
  }

  /** A savepoint's statements for one nesting depth, prepared once (the mint's every request nests two or three). */
  private readonly savepoints: { begin: BetterSqlite3.Statement; release: BetterSqlite3.Statement; rollback: BetterSqlite3.Statement }[] = [];
  private savepointStatements(depth: number) {
    return (this.savepoints[depth] ??= {
      begin: this.sql.prepare(`SAVEPOINT step${depth}`),
      release: this.sql.prepare(`RELEASE step${depth}`),
      rollback: this.sql.prepare(`ROLLBACK TO step${depth}`),
    });
  }

  /**
   * BEGIN IMMEDIATE and COMMIT, prepared once: exec parsed and finalised each one every time
   * (~0.03 ms of CPU a request for a service at one user, where every request is its own commit).
   */
  private get control(): { begin: BetterSqlite3.Statement; commit: BetterSqlite3.Statement } {
    return (this.controlStatements ??= { begin: this.sql.prepare('BEGIN IMMEDIATE'), commit: this.sql.prepare('COMMIT') });
  }
  private controlStatements: { begin: BetterSqlite3.Statement; commit: BetterSqlite3.Statement } | undefined;

  private commitNow(): void {
    try {
      this.control.commit.run();
      this.committed = true;
    } catch (e) {
      this.failed = e as Error;
      if (this.sql.inTransaction) this.sql.exec('ROLLBACK');
      if (isFullError(e)) throw new StoreFullError(this.dir, 'the database or disk is full (SQLITE_FULL)');
      throw new OffchainError('E_STATE_WRITE', `could not make the state in ${this.dir} durable (${(e as Error).message}): nothing of this step was released`, 1);
    }
  }

  /**
   * A long-running owner's batch (the mint's group commit): a transaction held open across
   * its steps — each a SAVEPOINT — until `commit(batch)`. Nothing derived from a step of the
   * batch may leave before `commit` has returned. One batch at a time per connection: a
   * second `begin` while one is open joins it (the same object).
   */
  begin(): Batch {
    this.usable();
    this.attempted = true;
    if (this.batch !== undefined) return this.batch;
    try {
      if (!this.sql.inTransaction) this.control.begin.run();
    } catch (e) {
      throw sqliteError(e, this.dir);
    }
    this.batch = { rolledBack: false };
    return this.batch;
  }

  /**
   * End `batch`: one COMMIT, one WAL fsync, whatever its steps wrote. A batch that is no longer
   * the open one was rolled back by another owner on this connection: its steps' answers must
   * not leave — E_STATE_WRITE, the store broken (the process exits, releasing nothing).
   */
  commit(batch: Batch | undefined): void {
    this.usable();
    if (batch === undefined) return;
    if (batch !== this.batch || batch.rolledBack) {
      this.failed = new Error('the batch was rolled back before its COMMIT');
      throw new OffchainError('E_STATE_WRITE', `the state in ${this.dir} lost its open batch before its COMMIT (rolled back on this connection): nothing of it was released`, 1);
    }
    this.batch = undefined;
    if (this.sql.inTransaction) this.commitNow();
  }

  /** Whether a batch is open with something perhaps written. */
  get dirty(): boolean {
    return this.batch !== undefined && this.sql.inTransaction;
  }

  /** Drop `batch`, if it is the open one: nothing of it happened (a failed step's owner, a test's crash). Another owner's is left alone. */
  rollback(batch: Batch | undefined): void {
    if (batch === undefined || batch !== this.batch) return;
    batch.rolledBack = true;
    this.batch = undefined;
    if (this.sql.open && this.sql.inTransaction) this.sql.exec('ROLLBACK');
  }

  /** One use of the shared connection ended: the last closes it (WAL checkpointed into the file and removed). */
  close(): void {
    if (--this.refs > 0) return;
    this.closeNow();
  }

  /** This process alone runs long on the directory (./service-lock.ts): E_LOCK_HELD when another already does. */
  holdAlone(what: string): void {
    this.holder ??= holdStateDir(this.dir, what);
  }

  /** Close whatever the count (the exit hook; a test's crash). An open batch is rolled back, as a crash would leave it. */
  closeNow(): void {
    open.delete(this.path);
    this.refs = 0;
    this.holder?.release();
    this.holder = undefined;
    if (!this.sql.open) return;
    let takenBack = false;
    if (this.batch !== undefined) {
      this.batch.rolledBack = true;
      this.batch = undefined;
    }
    try {
      if (this.sql.inTransaction) this.sql.exec('ROLLBACK');
      takenBack = this.takeBack();
      if (!takenBack) {
        try {
          // Without waiting: another process writing now checkpoints when it closes (the last one out does).
          this.sql.pragma('busy_timeout = 0');
          this.sql.pragma('wal_checkpoint(TRUNCATE)');
        } catch (e) {
          // Committed already (in the WAL, durable): a full disk, or a writer in another process, only defers the checkpoint.
          if (!isFullError(e) && !/^SQLITE_BUSY|^SQLITE_LOCKED/.test(errnoCode(e) ?? '')) throw e;
        }
      }
    } finally {
      this.sql.close();
    }
    if (takenBack) removeDirs(this.made!.dirs);
  }

  /**
   * A database this open created for a step, and no step of it committed to (each refused or
   * failed: a full disk), is removed, with the directories the open made: a command that wrote nothing leaves the
   * state directory as it found it. Only when no other connection has it open — leaving WAL mode
   * needs every other one gone, and takes the WAL and its index with it — and it holds no row,
   * checked under an exclusive lock; the file is unlinked under that lock, so a process that opens
   * it meanwhile cannot write to it afterwards (in rollback mode SQLite refuses a write to a moved
   * file: SQLITE_READONLY_DBMOVED).
   */
  private takeBack(): boolean {
    if (this.made === undefined || !this.attempted || this.committed) return false;
    if (!aloneOnFile(this.sql)) return false;
    try {
      this.sql.exec('BEGIN EXCLUSIVE');
    } catch {
      return false;
    }
    try {
      // Under the exclusive lock, once more: another process may have opened the file between the
      // switch and the lock and turned it back to WAL, whose writes an unlinked file would lose.
      if (this.sql.pragma('journal_mode', { simple: true }) !== 'delete') return false;
      const empty = TABLES.every((t) => this.sql.prepare(`SELECT 1 FROM ${t} LIMIT 1`).get() === undefined);
      if (!empty) return false;
      unlinkSync(this.path);
      return true;
    } catch {
      return false;
    } finally {
      this.sql.exec('ROLLBACK');
    }
  }
}

