/**
 * Crash-safe file writes for the state directory (BRIEF §2 "State"): a reader, or a
 * process restarted after a crash or power loss, sees either the whole old file or
 * the whole new one, never a mix. The classic POSIX sequence: unique temp file in the
 * same directory, write, fsync the file, rename over the target, fsync the directory.
 *
 * What it writes: key files, and the few files PostgreSQL's stores keep beside a host's
 * --state-dir. Every role's state is in state.sqlite (sqlite/database.ts), whose
 * transactions need none of this. Deliberately not here: locking (lock.ts). POSIX
 * filesystems only (rename atomicity and directory fsync are what we rely on); a write the
 * filesystem refused, said as an error: write-errors.ts.
 */
import { closeSync, constants, fchmodSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { access, chmod, open } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { MalformedInputError, OffchainError, UsageError } from '../errors.ts';
import { closeQuietly, syncDirSync, unlinkQuietly } from './sync-fs.ts';
import { errnoCode, stateAccessError } from './write-errors.ts';

/** Points inside writeFileAtomic where a test can inject a failure (a simulated crash). */
export type AtomicWriteStep = 'opened' | 'written' | 'synced' | 'renamed';

export interface AtomicWriteOptions {
  /** Permission bits of the target; default 0o600 (state may hold secrets). */
  mode?: number;
  /** Test hook, called after each step; throwing from it aborts the write there. */
  onStep?: (step: AtomicWriteStep) => void;
  /** Accepted for the callers that said a write must survive a command's rollback: every write does now. */
  keep?: boolean;
}

export async function writeFileAtomic(path: string, data: Uint8Array | string, opts: AtomicWriteOptions = {}): Promise<void> {
  const target = resolve(path);
  const dir = dirname(target);
  const mode = opts.mode ?? 0o600;
  // Dot-prefixed and random, so concurrent writers never share a temp file and
  // directory listings of documents can skip it.
  const temp = join(dir, `.${basename(target)}.${randomBytes(8).toString('hex')}.tmp`);
  let renamed = false;
  // The file work is synchronous (a few µs a call): a file store writes a record this way at
  // every step, and on a VM each awaited fs call cost 100–270 µs of CPU in its thread-pool hand-off.
  let fd: number | undefined;
  try {
    fd = openSync(temp, 'wx', mode);
  } catch (e) {
    throw stateAccessError(e, dir);
  }
  try {
    // The umask may have stripped bits from `mode`; set exactly what was asked for.
    fchmodSync(fd, mode);
    opts.onStep?.('opened');
    writeFileSync(fd, data);
    opts.onStep?.('written');
    fsyncSync(fd);
    opts.onStep?.('synced');
    const written = fd;
    fd = undefined;
    closeSync(written);
    renameSync(temp, target);
    renamed = true;
    opts.onStep?.('renamed');
    syncDirSync(dir);
  } catch (e) {
    // A full disk or a read-only remount mid-write: coded, and (before the rename) the
    // target untouched and the temp file gone (`finally`).
    throw stateAccessError(e, dir);
  } finally {
    if (!renamed) {
      if (fd !== undefined) closeQuietly(fd);
      unlinkQuietly(temp);
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
    text = readFileSync(path, 'utf8');
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
    // Synchronous, as the rest of a step's file work on the mint's commit path: on a VM an
    // awaited fs call costs 100–270 µs of CPU in its thread-pool hand-off, the call itself ~7.
    first = mkdirSync(target, { recursive: true, mode });
  } catch (e) {
    if (errnoCode(e) === 'EEXIST' || errnoCode(e) === 'ENOTDIR') throw notDir();
    // A recursive mkdir on a read-only mount says ENOENT: ask the nearest existing parent.
    if (errnoCode(e) === 'ENOENT') await unwritableParent(target);
    throw stateAccessError(e, target);
  }
  if (first !== undefined) {
    // New entries exist in their parents only once the parents are synced.
    for (let d = target; ; d = dirname(d)) {
      await syncDir(dirname(d)).catch((e) => {
        throw stateAccessError(e, target);
      });
      if (d === resolve(first)) break;
    }
  }
  const st = statSync(target);
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
