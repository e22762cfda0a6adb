/**
 * THE FILES OF A STATE DATABASE: its network directory made 0700 (and the directories an open
 * made taken back when it fails), the database file made 0600 with O_EXCL (so an open knows
 * whether the file is its own), and what a failed open takes back of the files it added — never
 * a file another process made or holds open.
 */
import { accessSync, chmodSync, closeSync, constants, existsSync, fchmodSync, fstatSync, lstatSync, mkdirSync, openSync, readFileSync, rmdirSync, rmSync, statfsSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UsageError } from '../../errors.ts';
import { errnoCode, stateAccessError } from '../write-errors.ts';

/** Make the database file, 0600, if there is none (O_EXCL): its inode when this call made it, undefined when it was there. */
export function makeFile(path: string): number | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (e) {
    if (errnoCode(e) === 'EEXIST') return undefined;
    throw e;
  }
  try {
    fchmodSync(fd, 0o600); // whatever the umask
    return fstatSync(fd).ino;
  } finally {
    closeSync(fd);
  }
}

/** What SQLite keeps beside a database file. */
const SIDE_FILES = ['-wal', '-shm', '-journal'];

/**
 * Whether any process holds a POSIX lock on the database or its -shm (Linux's /proc/locks: a
 * connection in WAL mode holds one on the -shm for as long as it is open). Where that cannot
 * be read, held: the files are left (empty, SQLite's own; they change no state).
 */
export function heldElsewhere(path: string): boolean {
  let locks: string;
  try {
    locks = readFileSync('/proc/locks', 'utf8');
  } catch {
    return true;
  }
  const inodes = new Set([statOf(path)?.ino, statOf(`${path}-shm`)?.ino].filter((i) => i !== undefined).map(String));
  // "1: POSIX  ADVISORY  READ 4242 fd:01:1310738 128 128" (a waiter's line has "->" before POSIX).
  return locks.split('\n').some((line) => inodes.has(/\s[0-9a-f]+:[0-9a-f]+:(\d+)\s/.exec(line)?.[1] ?? ''));
}

/** The file at `path` as lstat sees it, or undefined when there is none. */
function statOf(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

/** Remove the directories an open made (deepest first), as far as they are still empty. */
export function removeDirs(dirs: string[]): void {
  for (const d of dirs) {
    try {
      rmdirSync(d);
    } catch {
      return;
    }
  }
}

/**
 * The network's state directory, created 0700 (an existing one tightened, never loosened):
 * E_STATE_NOT_DIR / E_STATE_ACCESS. Returns the directories it made, deepest first.
 */
export function makeDir(abs: string): string[] {
  let first: string | undefined;
  try {
    first = mkdirSync(abs, { recursive: true, mode: 0o700 });
  } catch (e) {
    if (errnoCode(e) === 'EEXIST' || errnoCode(e) === 'ENOTDIR') throw new UsageError('E_STATE_NOT_DIR', `state path ${abs} exists and is not a directory`);
    // A recursive mkdir on a read-only mount says ENOENT: the nearest existing parent says why.
    if (errnoCode(e) === 'ENOENT') unwritableParent(abs);
    throw stateAccessError(e, abs);
  }
  const made: string[] = [];
  if (first !== undefined) {
    for (let d = abs; ; d = dirname(d)) {
      made.push(d);
      if (d === resolve(first) || dirname(d) === d) break;
    }
  }
  const st = lstatSync(abs);
  if (!st.isDirectory()) throw new UsageError('E_STATE_NOT_DIR', `state path ${abs} exists and is not a directory`);
  if ((st.mode & 0o077) !== 0) {
    try {
      chmodSync(abs, st.mode & 0o700);
    } catch (e) {
      throw stateAccessError(e, abs);
    }
  }
  return made;
}

/** E_STATE_ACCESS when the nearest existing ancestor of `path` cannot be written (otherwise returns). */
function unwritableParent(path: string): void {
  for (let d = dirname(path); ; d = dirname(d)) {
    if (existsSync(d)) {
      try {
        accessSync(d, constants.W_OK);
      } catch (e) {
        throw stateAccessError(e, path);
      }
      return;
    }
    if (dirname(d) === d) return;
  }
}

export function freeBytes(dir: string): number {
  try {
    const st = statfsSync(dir);
    return st.bavail * st.bsize;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/**
 * After a failed open of `path`: the files it created taken back (a full disk: the directory as
 * it was) — all of them when the open made the database file itself (`made`, its inode, still
 * the file there); beside a database that was there, only the -wal and -shm it added
 * (`sidesBefore`: those there before it), and only while no process holds a lock on the
 * database (`heldElsewhere`): another process that opened it meanwhile made them its own.
 */
export function takeBackFailedOpen(path: string, made: number | undefined, sidesBefore: ReadonlySet<string>): void {
  const sides = SIDE_FILES.map((s) => `${path}${s}`);
  if (made !== undefined) {
    if (statOf(path)?.ino === made) for (const p of [path, ...sides]) rmSync(p, { force: true });
    return;
  }
  if (heldElsewhere(path)) return;
  for (const p of sides) {
    // A -wal with frames in it is not this open's (it wrote nothing).
    if (!sidesBefore.has(p) && (!p.endsWith('-wal') || statOf(p)?.size === 0)) rmSync(p, { force: true });
  }
}

/** The side files of `path` there now (before an open: `takeBackFailedOpen` leaves them). */
export function sidesThere(path: string): Set<string> {
  return new Set(SIDE_FILES.map((s) => `${path}${s}`).filter((p) => existsSync(p)));
}
