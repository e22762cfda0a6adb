/**
 * A dead step's record, finished by the next command (state-step.ts, "A CRASH MID-STEP"):
 * the record's format (one JSON line per change, written before the change) and its
 * recovery — an open record rolled back, a sealed one cleaned, a record that does not look
 * like one the toolkit writes refused E_STEP_INTERRUPTED with nothing touched. Its own file
 * so that the lock (lock.ts) can run it without importing the step itself.
 */
import { closeSync, constants, fstatSync, fsyncSync, lstatSync, openSync, readdirSync, readFileSync, renameSync, rmdirSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { OffchainError, StateConflictError } from '../errors.ts';
import { processIsGone, type ProcessIdentity } from './process-identity.ts';
import { errnoCode } from './write-errors.ts';
import { syncDirSync, unlinkIfPresent } from './sync-fs.ts';

/** A write (target, the old version's link, the new file's link — one of the two is made —, its temp file) or a directory made. */
export type StepEntry = { t: string; b: string; n: string; p: string } | { d: string; first: string };

export const STEP_RECORD = /^\.step\.([0-9a-f]{16})\.(open|sealed)$/;

const recovered = new Set<string>();
/** Homes where a step of a live process was seen: looked at again after every lock this process takes (withLock). */
const unfinished = new Set<string>();

/**
 * Finish the steps whose process died in `home` (STEP RECORD): an open record is rolled
 * back, a sealed one cleaned. Once per directory per process; returns how many it finished.
 * E_STEP_INTERRUPTED (exit 5) when one cannot be finished.
 */
export function recoverInterruptedSteps(dir: string): number {
  const home = resolve(dir);
  if (recovered.has(home)) return 0;
  let names: string[];
  try {
    names = readdirSync(home);
  } catch {
    return 0; // not there (nothing to finish), or not readable (the command says so itself)
  }
  let finished = 0;
  let running = 0;
  for (const name of names) {
    const m = STEP_RECORD.exec(name);
    if (!m) continue;
    if (finishStep(join(home, name), m[2] === 'sealed')) finished++;
    else running++;
  }
  // Looked at again by this process only while another's step is still running there.
  if (running === 0) {
    recovered.add(home);
    unfinished.delete(home);
  } else unfinished.add(home);
  return finished;
}

/**
 * Finish, again, the steps that were running when this process first looked (review 41): a
 * lock just taken may have been taken over from one of them, dead since — its step must be
 * undone before anything is read under that lock, or the reader builds on a version nothing
 * kept, and the next recovery puts the dead step's old version back over what it wrote.
 * withLock calls this once the lock is held; a no-op when no step was seen running.
 */
export function recoverUnfinishedSteps(): void {
  for (const home of [...unfinished]) recoverInterruptedSteps(home);
}

/**
 * A lock whose holder was found gone was just taken: every home this process has looked at is
 * looked at again, whatever it held then (a long-running stream looked before that holder's
 * step began). Rare: only after a holder died.
 */
export function recoverAfterTakeover(): void {
  for (const home of new Set([...recovered, ...unfinished])) {
    recovered.delete(home);
    recoverInterruptedSteps(home);
  }
}

/** A step record's text, or undefined when it is gone (its step finished, or sealed under its other name). */
function recordText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw e;
  }
}

function finishStep(path: string, sealed: boolean): boolean {
  const stuck = (why: string, run: string) =>
    new StateConflictError('E_STEP_INTERRUPTED', `a command died mid-step and left ${path}; ${why}: ${run}`, { path });
  const text = recordText(path);
  if (text === undefined) return false; // finished concurrently
  const lines = text.split('\n');
  const complete = lines.slice(0, -1); // the last piece has no newline: torn mid-write, never acted on
  let owner: ProcessIdentity;
  let entries: StepEntry[];
  try {
    owner = JSON.parse(complete[0] ?? '') as ProcessIdentity;
    entries = complete.slice(1).map((l) => JSON.parse(l) as StepEntry);
    if (!entries.every(wellFormed)) throw new Error('not a step line');
  } catch {
    throw stuck('its record is damaged, so what it changed is unknown', `look at the files it names, then remove it (rm '${path}') and run the command again`);
  }
  if (!processIsGone(owner)) return false; // still running (or on another host): its own step
  // Read while its owner ran, found gone after: the owner may have finished in between (sealed,
  // cleaned, removed the record — a live owner's last acts), and this text is then a step already
  // done, whose undo would put old versions back over it. Only the record as it stands once its
  // owner is known gone is acted on: gone or changed since, it is looked at again (unfinished).
  if (recordText(path) !== text) return false;
  const dirs = new Set<string>();
  try {
    if (sealed) {
      for (const e of entries) {
        if ('d' in e) continue;
        unlinkIfPresent(e.b);
        unlinkIfPresent(e.n);
        unlinkIfPresent(e.p);
        dirs.add(dirname(e.t));
      }
    } else {
      // Two commands finishing one record at once (both found its owner gone) can meet a name the
      // other just moved: E_STEP_INTERRUPTED below, and run again the survivor finds it finished.
      for (const e of entries.reverse()) undoEntry(e, dirs);
    }
    for (const d of dirs) if (inodeOf(d) !== undefined) syncDirSync(d);
    unlinkSync(path);
    syncDirSync(dirname(path));
  } catch (e) {
    if (e instanceof OffchainError) throw e;
    const why = `${errnoCode(e) ?? (e as Error).message}`;
    throw stuck(`its ${sealed ? 'links' : 'old versions'} cannot be ${sealed ? 'removed' : 'put back'} (${why})`, `make ${dirname(path)} and the directories under it writable by this user and run the command again`);
  }
  return true;
}

/**
 * A line a step of this toolkit could have written (review 41): whoever can write the state
 * directory can forge a record, and its recovery runs as the directory's owner. So every name
 * is absolute and normal (no `..`), the links and the temp file are the target's own
 * (`.<name>.<hex>.undo|new|tmp` beside it: a forged line cannot point recovery at a key file,
 * the nonce store or anything else as "a version the step made"), and a directory line only
 * removes directories from `d` up to `first`, an ancestor of it.
 */
function wellFormed(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const o = e as Record<string, unknown>;
  const normal = (v: unknown): v is string => typeof v === 'string' && v.length > 1 && resolve(v) === v;
  if ('d' in o) return normal(o['d']) && normal(o['first']) && (o['d'] === o['first'] || o['d'].startsWith(`${o['first']}/`)) && o['first'] !== '/';
  if (!normal(o['t']) || !normal(o['b']) || !normal(o['n']) || !normal(o['p'])) return false;
  const dir = dirname(o['t']);
  const name = basename(o['t']);
  const own = (v: string, suffix: RegExp) => dirname(v) === dir && basename(v).startsWith(`.${name}.`) && suffix.test(basename(v).slice(name.length + 2));
  const tag = basename(o['b']).slice(name.length + 2, -'.undo'.length);
  return own(o['b'], /^[0-9a-f]{16}\.undo$/) && o['n'] === join(dir, `.${name}.${tag}.new`) && own(o['p'], /^[0-9a-f]{16}\.tmp$/);
}

/** Undo one line of an open record, as the step's own error path would have (idempotent). */
function undoEntry(e: StepEntry, dirs: Set<string>): void {
  if ('d' in e) {
    for (let d = e.d; ; d = dirname(d)) {
      try {
        rmdirSync(d);
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') break;
      }
      if (d === e.first || dirname(d) === d) break;
    }
    dirs.add(dirname(e.first));
    return;
  }
  unlinkIfPresent(e.p); // the dead writer's temp file, when it died before its rename
  const old = fileInode(e.b);
  if (old !== undefined) {
    const live = inodeOf(e.t);
    if (live !== undefined && live !== old) zeroInPlaceSync(e.t, live); // the version it wrote, erased (as in-process)
    renameSync(e.b, e.t);
    if (inodeOf(e.b) !== undefined) unlinkSync(e.b); // the rename never happened: both named one inode
  } else {
    const made = fileInode(e.n);
    if (made === undefined) return; // never made, or already undone
    zeroInPlaceSync(e.n, made); // the file it made (same inode as its target, if it was renamed there)
    if (inodeOf(e.t) === made) unlinkSync(e.t);
    unlinkSync(e.n);
  }
  dirs.add(dirname(e.t));
}

function zeroInPlaceSync(path: string, ino: number): void {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDWR | constants.O_NOFOLLOW);
  } catch (e) {
    if (errnoCode(e) === 'ELOOP' || errnoCode(e) === 'ENOENT') return;
    throw e;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.ino !== ino) return;
    const size = st.size;
    writeSync(fd, new Uint8Array(size), 0, size, 0);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The inode of a step's own link (a regular file it made), or undefined; anything else there (a planted symlink) refuses. */
function fileInode(path: string): number | undefined {
  try {
    const st = lstatSync(path);
    if (!st.isFile()) throw new Error(`${path} is not a regular file (not a link this toolkit made)`);
    return st.ino;
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw e;
  }
}

function inodeOf(path: string): number | undefined {
  try {
    return lstatSync(path).ino;
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw e;
  }
}
