/**
 * THE SQLITE DRIVER: better-sqlite3, loaded on first use, and SQLite's errors said as the
 * toolkit's — a full disk E_STORE_FULL, another writer past the busy timeout E_LOCK_HELD, no
 * access E_STATE_ACCESS, a damaged file E_STATE_CORRUPT, a binary built for another Node
 * E_NATIVE_MODULE (never taken for a corrupt state).
 */
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import { MalformedInputError, OffchainError, StateConflictError } from '../../errors.ts';
import { nativeModuleError } from '../../native-module.ts';
import { errnoCode, isFullError, stateAccessError, StoreFullError } from '../write-errors.ts';

/** How long a step waits for another process's write transaction before E_LOCK_HELD. */
export const BUSY_TIMEOUT_MS = 10_000;

let Database: typeof BetterSqlite3 | undefined;

/** better-sqlite3, loaded on first use; a binary built for another Node is E_NATIVE_MODULE, never a corrupt state. */
function sqlite(): typeof BetterSqlite3 {
  if (Database) return Database;
  try {
    Database = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3;
  } catch (e) {
    throw sqliteLoadError(e) ?? e;
  }
  return Database;
}

/**
 * A connection to the database file at `path`, as every one of ours is set: a COMMIT that
 * returned survives a power cut (synchronous=FULL), what is deleted is overwritten
 * (secure_delete: a consumed nonce's secret is not left in a free page), another writer is
 * waited for BUSY_TIMEOUT_MS. better-sqlite3 loads its binary at the first open, not at
 * require: a binary this Node cannot load is E_NATIVE_MODULE here too.
 */
export function openSqlite(path: string, busyTimeoutMs = BUSY_TIMEOUT_MS): BetterSqlite3.Database {
  const Driver = sqlite();
  let sql: BetterSqlite3.Database;
  try {
    // The wait from the first statement on (better-sqlite3's own default is 5 s until the pragma below).
    sql = new Driver(path, { timeout: busyTimeoutMs });
  } catch (e) {
    throw sqliteLoadError(e) ?? e;
  }
  try {
    sql.pragma('synchronous = FULL');
    sql.pragma('secure_delete = ON');
    sql.pragma(`busy_timeout = ${busyTimeoutMs}`);
  } catch (e) {
    sql.close();
    throw e;
  }
  return sql;
}

/**
 * better-sqlite3 13 loads a binary someone compiled (build/Release, which `npm rebuild` leaves
 * as it is) before the prebuilt one its package carries: `npm ci` puts back exactly the locked one.
 */
export function sqliteLoadError(e: unknown): OffchainError | undefined {
  return nativeModuleError(e, 'better-sqlite3', 'the SQLite module cannot be loaded', 'npm ci');
}

/**
 * Whether `sql` is the only connection to its file: SQLite lets a WAL database leave WAL mode
 * only when no other connection has it open, so the switch (to rollback mode, without waiting)
 * is the test. The file is left in rollback mode when it is.
 */
export function aloneOnFile(sql: BetterSqlite3.Database): boolean {
  try {
    sql.pragma('busy_timeout = 0');
    return sql.pragma('journal_mode = DELETE', { simple: true }) === 'delete';
  } catch {
    return false; // another connection holds a lock
  }
}

/** E_STORE_MIGRATED and friends are thrown as they are; SQLite's own errors are said as the toolkit's. */
export function sqliteError(e: unknown, where: string): unknown {
  if (e instanceof OffchainError) return e;
  const code = errnoCode(e) ?? '';
  if (isFullError(e)) return new StoreFullError(where, `the database or disk is full (${code})`);
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new StateConflictError('E_LOCK_HELD', `the state in ${where} is being written by another offchain process (its write transaction did not end within ${BUSY_TIMEOUT_MS / 1000} s): wait, or stop the other process`);
  }
  if (code.startsWith('SQLITE_READONLY') || code === 'SQLITE_CANTOPEN' || code === 'SQLITE_PERM' || code === 'SQLITE_AUTH') {
    return stateAccessError(Object.assign(new Error((e as Error).message), { code: 'EACCES' }), where);
  }
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') {
    return new MalformedInputError('E_STATE_CORRUPT', `the state database in ${where} is damaged (${code}: ${(e as Error).message}); restore it from the copy you trust or move it aside`, { path: where });
  }
  return e;
}
