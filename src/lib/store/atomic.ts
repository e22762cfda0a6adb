/**
 * Crash-safe file writes for the state directory (BRIEF §2 "State"): a reader, or a
 * process restarted after a crash or power loss, sees either the whole old file or
 * the whole new one, never a mix. The classic POSIX sequence: unique temp file in the
 * same directory, write, fsync the file, rename over the target, fsync the directory.
 *
 * Deliberately not here: locking (lock.ts) and any policy about what is stored. POSIX
 * filesystems only (rename atomicity and directory fsync are what we rely on).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { constants } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { access, chmod, link, mkdir, open, readFile, rename, rmdir, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { MalformedInputError, OffchainError, UsageError } from '../errors.ts';

/** Points inside writeFileAtomic where a test can inject a failure (a simulated crash). */
export type AtomicWriteStep = 'opened' | 'written' | 'synced' | 'renamed';

export interface AtomicWriteOptions {
  /** Permission bits of the target; default 0o600 (state may hold secrets). */
  mode?: number;
  /** Test hook, called after each step; throwing from it aborts the write there. */
  onStep?: (step: AtomicWriteStep) => void;
  /**
   * Never put back by the step's rollback (withStateStep): a rewrite of a record that only
   * grows — the nonce ledger's journal compacted, whose appends are not undone either.
   */
  keep?: boolean;
}

/**
 * ONE STEP, ALL OR NOTHING. A command's step may write several files (a contract's record
 * and its next state, an operator's offer and its coin, a nonce's counter and its record):
 * a write that fails half-way (a full disk, a read-only remount) or a refusal after the
 * first write must leave the state directory as it was. Inside `withStateStep`, every
 * `writeFileAtomic` keeps the version it replaces as a hard link (`.<name>.<hex>.undo`:
 * no data blocks, so it is made on a full disk too) and every `ensureDir` notes the
 * directories it created; the step's error puts the old versions back by rename (no space
 * needed either), removes the files and directories it created, and the step's success
 * drops the links.
 *
 * Never undone: what left the process or cannot be taken back. `sealStateStep()` — called
 * when a secret nonce is consumed (its signature may follow), a file is shredded, a message
 * is sent to a peer, a transaction to a node, a payment to a Lightning node — keeps
 * everything the step wrote up to then and from then on, whatever follows: a nonce never
 * becomes usable again, a payment sent is never forgotten. Streams and services write
 * outside any step (their stores commit request by request).
 */
class StepJournal {
  private undo: (() => Promise<void>)[] = [];
  private done: (() => Promise<void>)[] = [];
  sealed = false;

  record(undo: () => Promise<void>, done?: () => Promise<void>): void {
    this.undo.push(undo);
    if (done) this.done.push(done);
    // A long step (a stream that writes files) stops keeping old versions past a bound.
    if (this.undo.length > 256) this.seal();
  }

  seal(): void {
    this.sealed = true;
    this.undo = [];
  }

  async rollback(): Promise<void> {
    for (const undo of this.undo.reverse()) await undo().catch(() => undefined);
    this.undo = [];
    await this.finish();
  }

  async finish(): Promise<void> {
    for (const done of this.done) await done().catch(() => undefined);
    this.done = [];
  }
}

const steps = new AsyncLocalStorage<StepJournal>();

/** Run `fn` as one step (see above): on its error, the files it wrote are put back as they were unless it sealed the step. */
export async function withStateStep<T>(fn: () => Promise<T>): Promise<T> {
  if (steps.getStore()) return fn();
  const journal = new StepJournal();
  let result: T;
  try {
    result = await steps.run(journal, fn);
  } catch (e) {
    await journal.rollback();
    throw e;
  }
  await journal.finish();
  return result;
}

/** What the step wrote so far stays, whatever follows (see above). No-op outside a step. */
export function sealStateStep(): void {
  steps.getStore()?.seal();
}

function openStep(): StepJournal | undefined {
  const j = steps.getStore();
  return j && !j.sealed ? j : undefined;
}

export async function writeFileAtomic(path: string, data: Uint8Array | string, opts: AtomicWriteOptions = {}): Promise<void> {
  const target = resolve(path);
  const dir = dirname(target);
  const mode = opts.mode ?? 0o600;
  // Dot-prefixed and random, so concurrent writers never share a temp file and
  // directory listings of documents can skip it.
  const temp = join(dir, `.${basename(target)}.${randomBytes(8).toString('hex')}.tmp`);
  let renamed = false;
  const fh = await open(temp, 'wx', mode).catch((e) => {
    throw stateAccessError(e, dir);
  });
  try {
    // The umask may have stripped bits from `mode`; set exactly what was asked for.
    await fh.chmod(mode);
    opts.onStep?.('opened');
    await fh.writeFile(data);
    opts.onStep?.('written');
    await fh.sync();
    opts.onStep?.('synced');
    await fh.close();
    const step = opts.keep ? undefined : openStep();
    let backup: string | undefined;
    if (step) {
      // The version this write replaces, kept (a hard link: no data blocks) until the step ends.
      backup = join(dir, `.${basename(target)}.${randomBytes(8).toString('hex')}.undo`);
      try {
        await link(target, backup);
      } catch (e) {
        if (errnoCode(e) !== 'ENOENT') throw e;
        backup = undefined;
      }
    }
    try {
      await rename(temp, target);
    } catch (e) {
      if (backup) await unlink(backup).catch(() => undefined);
      throw e;
    }
    renamed = true;
    if (step) {
      const kept = backup;
      if (kept) step.record(() => rename(kept, target), () => unlink(kept));
      else step.record(() => unlink(target));
    }
    opts.onStep?.('renamed');
    await syncDir(dir);
  } catch (e) {
    // A full disk or a read-only remount mid-write: coded, and (before the rename) the
    // target untouched and the temp file gone (`finally`).
    throw stateAccessError(e, dir);
  } finally {
    if (!renamed) {
      await fh.close().catch(() => undefined);
      await unlink(temp).catch(() => undefined);
    }
  }
}

/** Make a directory's entries (creations, renames, removals) durable. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Read a JSON state file. `undefined` when it does not exist; a file that exists but
 * does not parse is corruption the operator must look at, not something to paper over.
 */
export async function readJsonFile<T = unknown>(path: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw e;
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new MalformedInputError('E_STATE_CORRUPT', `state file ${path} is not valid JSON; restore it or move it aside`, { path });
  }
}

/**
 * Write JSON (two-space indent, trailing newline) atomically. Bytes and bigints are
 * refused rather than silently mangled (`{"0":1,…}`, TypeError): encode them first.
 */
export async function writeJsonAtomic(path: string, value: unknown, opts: AtomicWriteOptions = {}): Promise<void> {
  const text = JSON.stringify(value, rejectUnencoded, 2);
  if (text === undefined) throw new OffchainError('E_STATE_UNSERIALISABLE', `refusing to write ${path}: value is not JSON`);
  await writeFileAtomic(path, `${text}\n`, opts);
}

function rejectUnencoded(key: string, v: unknown): unknown {
  if (v instanceof Uint8Array || typeof v === 'bigint') {
    throw new OffchainError('E_STATE_UNSERIALISABLE', `state field ${JSON.stringify(key)} must be encoded (hex / decimal string) before it is stored`);
  }
  return v;
}

/**
 * Create `path` (and missing parents) with `mode`, durably. An existing directory is
 * tightened to at most `mode` — state dirs hold secrets — but never loosened.
 */
export async function ensureDir(path: string, mode = 0o700): Promise<void> {
  const target = resolve(path);
  const notDir = () => new UsageError('E_STATE_NOT_DIR', `state path ${target} exists and is not a directory`);
  let first: string | undefined;
  try {
    first = await mkdir(target, { recursive: true, mode });
  } catch (e) {
    if (errnoCode(e) === 'EEXIST' || errnoCode(e) === 'ENOTDIR') throw notDir();
    // A recursive mkdir on a read-only mount says ENOENT: ask the nearest existing parent.
    if (errnoCode(e) === 'ENOENT') await unwritableParent(target);
    throw stateAccessError(e, target);
  }
  if (first !== undefined) {
    const step = openStep();
    if (step) {
      step.record(async () => {
        for (let d = target; ; d = dirname(d)) {
          await rmdir(d);
          if (d === resolve(first)) break;
        }
      });
    }
    // New entries exist in their parents only once the parents are synced.
    for (let d = target; ; d = dirname(d)) {
      await syncDir(dirname(d)).catch((e) => {
        throw stateAccessError(e, target);
      });
      if (d === resolve(first)) break;
    }
  }
  const st = await stat(target);
  if (!st.isDirectory()) throw notDir();
  if ((st.mode & 0o777 & ~mode) !== 0) {
    await chmod(target, st.mode & 0o777 & mode).catch((e) => {
      throw stateAccessError(e, target);
    });
  }
}

/** E_STATE_ACCESS when the nearest existing ancestor of `path` cannot be written (otherwise returns). */
async function unwritableParent(path: string): Promise<void> {
  for (let d = dirname(path); ; d = dirname(d)) {
    const here = await access(d).then(() => true, () => false);
    if (here) {
      await access(d, constants.W_OK).catch((e) => {
        throw stateAccessError(e, path);
      });
      return;
    }
    if (dirname(d) === d) return;
  }
}

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

/**
 * Overwrite a secret-bearing file with zeros, fsync, then unlink it; a missing file is
 * fine. Best effort only: copy-on-write filesystems, snapshots and flash wear levelling
 * can keep the old blocks (docs/state.md: use an encrypted volume).
 */
export async function shredFile(path: string): Promise<void> {
  try {
    const fh = await open(path, 'r+');
    // Erased bytes cannot be put back: the step keeps what it wrote (withStateStep).
    sealStateStep();
    try {
      const { size } = await fh.stat();
      await fh.write(new Uint8Array(size), 0, size, 0);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await unlink(path);
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw e;
  }
}

export function errnoCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : undefined;
}
