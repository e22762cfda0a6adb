/**
 * Exclusive lock on a state directory, across processes on one host (BRIEF §2 "State":
 * concurrent invocations are serialised).
 *
 * Semantics
 * - `withLock(dir, fn)` runs `fn` while `<dir>/.lock` names this process; it waits
 *   (polling, `retryMs`) up to `timeoutMs`, then throws E_LOCK_HELD (exit 5). The lock
 *   is released in `finally`, whatever `fn` does. Not re-entrant: a nested call for
 *   the same dir from inside `fn` throws E_LOCK_REENTRANT at once instead of
 *   deadlocking. Concurrent calls from one process simply queue like other processes.
 * - The lock file is created complete: the owner record (pid, hostname, boot id,
 *   process start time, acquisition time, random token) is written and fsynced into a
 *   unique temp file, then hard-linked to `.lock`. link() fails with EEXIST exactly
 *   like open(O_CREAT|O_EXCL), but no other process can ever see a half-written lock.
 * - Release unlinks `.lock` only if it still carries our token; if it does not, the
 *   lock was removed by hand while we held it and E_LOCK_LOST is raised.
 *
 * Stale locks. An owner is gone when it is on this host and its boot id differs, or
 * `kill(pid, 0)` gives ESRCH, or the pid is a zombie, or /proc shows that pid started
 * at another time (the pid was reused). An owner on another host is never judged gone.
 * Removal follows one invariant: a file carrying token T is removed only by its owner,
 * or by the holder of the marker `.lock.takeover.<T>` (created with link(), so one
 * holder at a time) after re-reading the file under the marker and finding T again.
 * Since T is unique and a gone owner cannot release, the file cannot change between
 * that re-read and the unlink, so two waiters can never both remove a lock and both
 * believe they hold the next one. The remover does not take the lock directly; it
 * goes back to the ordinary link() race. A marker whose holder died is itself removed
 * by the same rule (marker `.lock.takeover.<its token>`), so a crash mid-takeover does
 * not wedge the directory.
 *
 * Residual races (documented in docs/state.md): the liveness test trusts that a
 * hostname names one pid namespace. Two containers with the same hostname sharing a
 * volume, or hosts sharing it over NFS with equal names, can see a live owner as gone
 * and break its lock. Pid reuse without /proc (non-Linux) makes a dead owner look
 * alive: safe, the waiter times out with E_LOCK_HELD and the operator removes the file.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { OffchainError, StateConflictError } from '../errors.ts';
import { ensureDir } from './atomic.ts';
import { closeQuietly, unlinkIfPresent, unlinkQuietly } from './sync-fs.ts';
import { errnoCode, stateAccessError } from './write-errors.ts';
import { currentProcess, processIsGone, type ProcessIdentity } from './process-identity.ts';

interface LockRecord extends ProcessIdentity {
  since: string;
  token: string;
}

export type LockStep = 'acquired' | 'takeover-marked';

export interface LockOptions {
  timeoutMs?: number;
  retryMs?: number;
  /** Test hook: called at each step; a test can crash the process there. */
  onStep?: (step: LockStep) => void;
}

const LOCK_NAME = '.lock';
const MARKER_PREFIX = '.lock.takeover.';
const MAX_TAKEOVER_DEPTH = 8;

const heldByTask = new AsyncLocalStorage<ReadonlySet<string>>();

export async function withLock<T>(dir: string, fn: () => Promise<T> | T, opts: LockOptions = {}): Promise<T> {
  const abs = resolve(dir);
  const outer = heldByTask.getStore();
  if (outer?.has(abs)) {
    throw new OffchainError('E_LOCK_REENTRANT', `the lock on ${abs} is already held by this task and is not re-entrant`);
  }
  await ensureDir(abs);
  const { token } = await acquire(abs, opts);
  let ok = false;
  try {
    opts.onStep?.('acquired');
    const result = await heldByTask.run(new Set([...(outer ?? []), abs]), fn);
    ok = true;
    return result;
  } finally {
    let stillOurs = true;
    try {
      stillOurs = await release(join(abs, LOCK_NAME), token);
    } catch (e) {
      if (ok) throw e; // otherwise fn's own error is the one to report
    }
    if (ok && !stillOurs) {
      throw new StateConflictError('E_LOCK_LOST', `the lock on ${abs} was removed while this process held it; another process may have written concurrently — check the state`);
    }
  }
}

/** The lock's token, and whether a holder found gone was waited out. */
async function acquire(dir: string, opts: LockOptions): Promise<{ token: string; deadHolder: boolean }> {
  const lockPath = join(dir, LOCK_NAME);
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const retryMs = opts.retryMs ?? 25;
  const deadline = Date.now() + timeoutMs;
  let deadHolder = false;
  for (;;) {
    const token = await tryCreate(dir, lockPath);
    if (token !== null) {
      // Housekeeping only: a failure here must not leave a lock we never release.
      await sweepLitter(dir, token).catch(() => undefined);
      return { token, deadHolder };
    }
    const holder = readRecord(lockPath);
    if (holder === 'missing') continue;
    const gone = holder !== 'unreadable' && processIsGone(holder);
    deadHolder ||= gone;
    if (gone && (await removeIfStale(dir, lockPath, holder, opts, 0))) continue;
    if (Date.now() >= deadline) throw lockHeldError(dir, lockPath, holder);
    // Jitter keeps a crowd of waiters from retrying in lockstep.
    await sleep(retryMs * (0.5 + Math.random()));
  }
}

/**
 * Remove `path` if it still carries `seen.token` (whose owner is gone), following the
 * marker rule above. True when the file is gone now (by us or someone else).
 */
async function removeIfStale(dir: string, path: string, seen: LockRecord, opts: LockOptions, depth: number): Promise<boolean> {
  if (depth > MAX_TAKEOVER_DEPTH) return false;
  const markerPath = join(dir, MARKER_PREFIX + seen.token);
  let markerToken: string | null = null;
  while (markerToken === null) {
    markerToken = await tryCreate(dir, markerPath);
    if (markerToken !== null) break;
    const other = readRecord(markerPath);
    if (other === 'missing') continue;
    if (other === 'unreadable' || !processIsGone(other)) return false; // a live taker is on it
    if (!(await removeIfStale(dir, markerPath, other, opts, depth + 1))) return false;
  }
  try {
    opts.onStep?.('takeover-marked');
    const again = readRecord(path);
    if (typeof again === 'object' && again.token === seen.token) unlinkIfPresent(path);
    return true;
  } finally {
    await release(markerPath, markerToken);
  }
}

/**
 * Create `path` holding a fresh owner record, exclusively. Our token, or null if it exists.
 * The lock's file work is synchronous (a few µs a call): a mint takes this lock twice per
 * COMMIT, and on a VM each awaited fs call cost 100–270 µs of CPU in its thread-pool hand-off.
 */
async function tryCreate(dir: string, path: string): Promise<string | null> {
  const token = randomBytes(16).toString('hex');
  const record: LockRecord = { ...currentProcess(), since: new Date().toISOString(), token };
  const temp = join(dir, `${LOCK_NAME}.${token}.tmp`);
  let fd: number;
  try {
    fd = openSync(temp, 'wx', 0o600);
  } catch (e) {
    throw stateAccessError(e, dir);
  }
  let open = true; // closed once only: a second close of a reused number closes another file
  try {
    writeFileSync(fd, `${JSON.stringify(record)}\n`);
    // Synced so that a lock file surviving a power cut is readable (and then stale by boot id).
    fsyncSync(fd);
    open = false;
    closeSync(fd);
  } catch (e) {
    // A full disk: no lock, and no temp file left behind.
    if (open) closeQuietly(fd);
    unlinkQuietly(temp); // should it stay, sweepLitter removes it once this process is gone
    throw stateAccessError(e, dir);
  }
  try {
    linkSync(temp, path);
    return token;
  } catch (e) {
    if (errnoCode(e) === 'EEXIST') return null;
    throw stateAccessError(e, dir);
  } finally {
    unlinkIfPresent(temp);
  }
}

/** Unlink `path` if it still carries `token`. False if it does not (lost or already gone). */
async function release(path: string, token: string): Promise<boolean> {
  const current = readRecord(path);
  if (typeof current !== 'object' || current.token !== token) return false;
  unlinkIfPresent(path);
  return true;
}

/**
 * Temp files and markers left by crashed processes. Only files whose writer is gone;
 * markers through the takeover rule, temp files directly (nobody else ever uses them).
 */
async function sweepLitter(dir: string, ourToken: string): Promise<void> {
  for (const name of readdirSync(dir)) {
    const isMarker = name.startsWith(MARKER_PREFIX);
    const isTemp = name.startsWith(`${LOCK_NAME}.`) && name.endsWith('.tmp');
    if ((!isMarker && !isTemp) || name.includes(ourToken)) continue;
    const path = join(dir, name);
    const rec = readRecord(path);
    if (typeof rec !== 'object' || !processIsGone(rec)) continue;
    if (isMarker) await removeIfStale(dir, path, rec, {}, 0);
    else unlinkIfPresent(path);
  }
}

function readRecord(path: string): LockRecord | 'missing' | 'unreadable' {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return 'missing';
    throw e;
  }
  try {
    const r = JSON.parse(text) as Partial<LockRecord>;
    const ok =
      typeof r.hostname === 'string' && Number.isSafeInteger(r.pid) && typeof r.since === 'string' &&
      typeof r.token === 'string' && /^[0-9a-f]{32}$/.test(r.token) &&
      (r.procStart === null || typeof r.procStart === 'string') && (r.bootId === null || typeof r.bootId === 'string');
    return ok ? (r as LockRecord) : 'unreadable';
  } catch {
    return 'unreadable';
  }
}

function lockHeldError(dir: string, lockPath: string, holder: LockRecord | 'unreadable'): StateConflictError {
  if (holder === 'unreadable') {
    return new StateConflictError(
      'E_LOCK_HELD',
      `state directory ${dir} is locked (${lockPath} is unreadable); wait or remove the stale lock if no offchain process is using it`,
      { lockFile: lockPath },
    );
  }
  const where = holder.hostname === currentProcess().hostname ? '' : ` on host ${holder.hostname}`;
  return new StateConflictError(
    'E_LOCK_HELD',
    `state directory ${dir} is locked by pid ${holder.pid}${where} since ${holder.since}; wait or remove the stale lock (${lockPath}) if that process is gone`,
    { lockFile: lockPath, pid: holder.pid, hostname: holder.hostname, since: holder.since },
  );
}

