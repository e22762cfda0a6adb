/**
 * A write the filesystem refused, said as the toolkit's errors: a full filesystem or quota
 * is E_STORE_FULL (exit 1: the environment, and the same command succeeds once there is
 * room), a directory this process may not write E_STATE_ACCESS (exit 2). Shared by the
 * state database (sqlite/database.ts), the files PostgreSQL's stores keep and every store.
 */
import { OffchainError, UsageError } from '../errors.ts';

const ACCESS_WORDS: Record<string, string> = {
  EACCES: 'permission denied (EACCES)',
  EPERM: 'operation not permitted (EPERM)',
  EROFS: 'read-only file system (EROFS)',
};

const FULL_WORDS: Record<string, string> = {
  ENOSPC: 'no space left on the device (ENOSPC)',
  EDQUOT: 'disk quota exceeded (EDQUOT)',
  SQLITE_FULL: 'the database or disk is full (SQLITE_FULL)',
};

/** E_STORE_FULL (exit 1): the filesystem under the state is full; nothing of the step was kept. */
export class StoreFullError extends OffchainError {
  constructor(path: string, why: string) {
    super('E_STORE_FULL', `cannot write the state in ${path}: ${why}; nothing of this step was kept — free space (or raise the quota) and run it again`, 1, { path });
  }
}

/** True for the errors of a full filesystem or quota (a Node errno, or SQLite's own code). */
export function isFullError(e: unknown): boolean {
  const code = errnoCode(e);
  return code !== undefined && (code in FULL_WORDS || code === 'E_STORE_FULL');
}

/** A write the filesystem refused: full (E_STORE_FULL) or not writable (E_STATE_ACCESS), coded or not yet. */
export function isWriteFailure(e: unknown): boolean {
  const code = errnoCode(e);
  return isFullError(e) || (code !== undefined && (code in ACCESS_WORDS || code === 'E_STATE_ACCESS'));
}

/**
 * A state directory this process may not write (its permissions, a read-only mount):
 * E_STATE_ACCESS, exit 2 — the directory given is the wrong one for this user, not an
 * internal error. A full filesystem or quota: E_STORE_FULL, exit 1 — the environment,
 * not the invocation, and the same command succeeds once there is room. Any other error
 * is returned as it is.
 */
export function stateAccessError(e: unknown, path: string): unknown {
  if (e instanceof OffchainError) return e;
  const code = errnoCode(e);
  if (code !== undefined && code in FULL_WORDS) return new StoreFullError(path, FULL_WORDS[code]!);
  if (code === undefined || !(code in ACCESS_WORDS)) return e;
  return new UsageError('E_STATE_ACCESS', `cannot write the state directory ${path}: ${ACCESS_WORDS[code]}; check its owner and mode, or pass another --state-dir`, { path, errno: code });
}

export function errnoCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : undefined;
}

/** The store failed to write: nothing of the batch may be released. Exit 1. */
export class StoreWriteError extends OffchainError {
  constructor(message: string) {
    super('E_STATE_WRITE', message, 1);
  }
}
