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
import { closeSync, constants, fstatSync, fsyncSync, ftruncateSync, lstatSync, openSync, readdirSync, readFileSync, renameSync, rmdirSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { access, chmod, link, mkdir, open, readFile, rename, rmdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { MalformedInputError, OffchainError, StateConflictError, UsageError } from '../errors.ts';
import { currentProcess, processIsGone, type ProcessIdentity } from './process-identity.ts';

/** Points inside writeFileAtomic where a test can inject a failure (a simulated crash). */
export type AtomicWriteStep = 'opened' | 'written' | 'synced' | 'kept' | 'renamed';

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
 * no data blocks, so it is made on a full disk too), a file it creates as a second link
 * (`.<name>.<hex>.new`), and every `ensureDir` notes the directories it created; the
 * step's error puts the old versions back by rename (no space needed either), removes the
 * files and directories it created — the bytes of each version it discards overwritten
 * with zeros first, in place (a share that never left is not left on the disk) — and the
 * step's success drops the links.
 *
 * Never undone: what left the process or cannot be taken back. `sealStateStep()` — called
 * when a secret nonce is consumed (its signature may follow), a file is shredded, a message
 * is sent to a peer, a transaction to a node, a payment to a Lightning node — keeps
 * everything the step wrote up to then and from then on, whatever follows: a nonce never
 * becomes usable again, a payment sent is never forgotten. Streams and services write
 * outside any step (their stores commit request by request).
 *
 * A CRASH MID-STEP (STEP RECORD). Once a step knows its home (`stepHome`: the network's
 * state directory, named by the command before it reads or writes there), it keeps a
 * record there, `.step.<id>.open`: its owner (host, pid, start time, boot id) and, one
 * fsynced line each, every link and directory BEFORE the change it guards (the link's
 * directory fsynced before the rename). Sealing renames it `.step.<id>.sealed` and fsyncs
 * the home BEFORE `sealStateStep` returns, so before the act: a sealed act never has an
 * open record. A success seals too, then drops the links, then the record. The next
 * command that names the home (`recoverInterruptedSteps`, before anything is read) finds
 * the records of owners that are gone (lock.ts's test; a live or other-host owner is left
 * alone) and does what the dead step's own error path would have done — and again once a
 * lock is taken while such a step was seen running (`recoverUnfinishedSteps`, withLock: its
 * owner may have died holding that lock, which the waiter just took over):
 *   | record  | what happened                         | recovery                                  |
 *   | open    | died before its seal: nothing left    | old versions renamed back, its new files  |
 *   |         | the process                           | (same inode as their .new) and dirs gone  |
 *   | sealed  | sealed, perhaps acted, perhaps done   | links removed; every write kept           |
 * An act that may prove not to have happened (a COMMIT refused before its commit record)
 * seals with `sealStateStepUntil`, which can take the seal back then, if nothing
 * irreversible was written since.
 * A crash between the seal and the act keeps writes whose act never happened: the same
 * as a refusal after a seal (a nonce wasted, never reused). `keep` writes (witnesses, the
 * nonce ledger's journal) and renames outside writeFileAtomic (a nonce leaving unused/)
 * are never in a record, so no recovery lowers a witness or brings a nonce back. A
 * recovery that cannot finish (a read-only directory, a damaged record) refuses the
 * command E_STEP_INTERRUPTED (exit 5) saying what to run; run again, it resumes (every
 * undo is idempotent). Not covered: a step's writes before it names its home (none write
 * state), and a crash between a new directory's mkdir and its line (an empty directory).
 */
/** A write (target, the old version's link, the new file's link — one of the two is made —, its temp file) or a directory made. */
type StepEntry = { t: string; b: string; n: string; p: string } | { d: string; first: string };

class StepJournal {
  private undo: (() => Promise<void>)[] = [];
  private done: (() => Promise<void>)[] = [];
  sealed = false;
  /** Irreversible changes since the seal (writes no longer kept, a shred): a seal with any is never taken back. */
  afterSeal = 0;
  /** The state directory whose record lists this step's changes (see STEP RECORD). */
  home: string | undefined;
  private disk: { path: string; fd: number; size: number } | undefined;
  private readonly id = randomBytes(8).toString('hex');

  /** Durably note a change before it is made (a no-op without a home, or once sealed). */
  note(entry: StepEntry): void {
    if (this.home === undefined || this.sealed) return;
    this.disk ??= openStepRecord(this.home, this.id);
    const line = Buffer.from(`${JSON.stringify(entry)}\n`);
    const disk = this.disk;
    // Whole or not at all (review 41): write(2) may write part of a line and say so without an
    // error (a full filesystem, a file-size limit). A line without its newline is read as torn,
    // "never acted on", so the change must not follow it; and the next line must not be glued
    // to it (a damaged record): the piece is cut off again and the change refused.
    try {
      for (let done = 0; done < line.length; ) {
        const n = writeSync(disk.fd, line, done, line.length - done, disk.size + done);
        if (n <= 0) throw Object.assign(new Error('no space left on the device'), { code: 'ENOSPC' });
        done += n;
      }
      fsyncSync(disk.fd);
    } catch (e) {
      try {
        ftruncateSync(disk.fd, disk.size);
      } catch {
        // the torn piece stays: read as torn, and this step's error path ends the record
      }
      throw e;
    }
    disk.size += line.length;
  }

  record(undo: () => Promise<void>, done?: () => Promise<void>): void {
    this.undo.push(undo);
    if (done) this.done.push(done);
    // A long step (a stream that writes files) stops keeping old versions past a bound.
    if (this.undo.length > 256) {
      this.seal();
      this.undo = [];
    }
  }

  /** Sealed durably (the record renamed, its directory fsynced) before this returns; throws if it cannot be. */
  seal(): void {
    if (this.sealed) return;
    if (this.disk) {
      const open = this.disk.path;
      const sealed = open.replace(/\.open$/, '.sealed');
      renameSync(open, sealed);
      this.disk.path = sealed;
      try {
        syncDirSync(this.home!);
      } catch (e) {
        // Not known durable: not sealed (the step's error path undoes, under an open record).
        renameSync(sealed, open);
        this.disk.path = open;
        throw e;
      }
    }
    this.sealed = true;
    this.afterSeal = 0;
  }

  /** Take the seal back (its act provably did not happen); false, still sealed, if anything irreversible came since. */
  unseal(): boolean {
    if (!this.sealed || this.afterSeal > 0) return false;
    if (this.disk) {
      const sealed = this.disk.path;
      const open = sealed.replace(/\.sealed$/, '.open');
      try {
        renameSync(sealed, open);
        this.disk.path = open;
        syncDirSync(this.home!);
      } catch {
        return false; // sealed it stays on disk (or may): keeping is the safe side
      }
    }
    this.sealed = false;
    return true;
  }

  async rollback(): Promise<void> {
    let whole = true;
    if (!this.sealed) for (const undo of this.undo.reverse()) await undo().catch(() => (whole = false));
    this.undo = [];
    await this.finish(whole);
  }

  /** Drop the links, then the record — unless an undo failed: the next command finishes it. */
  async finish(whole = true): Promise<void> {
    for (const done of this.done) await done().catch(() => undefined);
    this.done = [];
    if (this.disk) {
      closeSync(this.disk.fd);
      if (whole) try {
        unlinkSync(this.disk.path);
        syncDirSync(this.home!);
      } catch {
        // Left for the next command, which finds its owner gone and finishes it.
      }
      this.disk = undefined;
    }
  }
}

const STEP_RECORD = /^\.step\.([0-9a-f]{16})\.(open|sealed)$/;

function openStepRecord(home: string, id: string): { path: string; fd: number; size: number } {
  // Complete before it has a name: the owner line written and fsynced in a temp file first.
  const path = join(home, `.step.${id}.open`);
  const temp = join(home, `.step.${id}.tmp`);
  const fd = openSync(temp, 'wx', 0o600);
  try {
    const owner = Buffer.from(`${JSON.stringify(currentProcess())}\n`);
    if (writeSync(fd, owner, 0, owner.length) !== owner.length) throw Object.assign(new Error('no space left on the device'), { code: 'ENOSPC' });
    fsyncSync(fd);
    renameSync(temp, path);
    syncDirSync(home);
  } catch (e) {
    closeSync(fd);
    try {
      unlinkSync(temp);
    } catch {
      // never named
    }
    throw stateAccessError(e, home);
  }
  return { path, fd, size: fstatSync(fd).size };
}

function syncDirSync(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
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
  try {
    // Done: sealed durably before any link goes, so a crash while they go keeps every write.
    journal.seal();
  } catch (e) {
    await journal.rollback();
    throw stateAccessError(e, journal.home ?? '.');
  }
  await journal.finish();
  return result;
}

/**
 * What the step wrote so far stays, whatever follows (see above). No-op outside a step.
 * Durable when it returns (STEP RECORD): call it before the act, never after.
 */
export function sealStateStep(): void {
  const step = steps.getStore();
  if (!step) return;
  try {
    step.seal();
  } catch (e) {
    throw stateAccessError(e, step.home ?? '.');
  }
}

/**
 * The current step's home: the state directory its record lives in (STEP RECORD). The
 * first call in a step wins; outside a step, nothing. Recovers the home first.
 */
export function stepHome(dir: string): void {
  const home = resolve(dir);
  recoverInterruptedSteps(home);
  const step = steps.getStore();
  if (step && step.home === undefined && !step.sealed) {
    try {
      if (lstatSync(home).isDirectory()) step.home = home;
    } catch {
      // Not there yet: this step creates it, with no record (an empty directory at worst).
    }
  }
}

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

function finishStep(path: string, sealed: boolean): boolean {
  const stuck = (why: string, run: string) =>
    new StateConflictError('E_STEP_INTERRUPTED', `a command died mid-step and left ${path}; ${why}: ${run}`, { path });
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return false; // finished concurrently
    throw e;
  }
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
  const dirs = new Set<string>();
  try {
    if (sealed) {
      for (const e of entries) {
        if ('d' in e) continue;
        dropIfThere(e.b);
        dropIfThere(e.n);
        dropIfThere(e.p);
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
  dropIfThere(e.p); // the dead writer's temp file, when it died before its rename
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

/** Overwrite a file's bytes with zeros where they are and fsync (no new blocks: a full disk allows it). Not shredFile: no seal. */
async function zeroInPlace(path: string): Promise<void> {
  await zeroOpened(await open(path, 'r+'));
}

/** Zeros over an opened file's bytes, fsync, close (zeroInPlace, shredFile). */
async function zeroOpened(fh: FileHandle): Promise<void> {
  try {
    const { size } = await fh.stat();
    await fh.write(new Uint8Array(size), 0, size, 0);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Only the inode `ino` seen there, a regular file, never through a symlink: anything else there is left as it is. */
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

function dropIfThere(path: string): void {
  try {
    unlinkSync(path);
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw e;
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

function openStep(): StepJournal | undefined {
  const j = steps.getStore();
  if (j?.sealed) j.afterSeal++; // written while sealed: the seal can no longer be taken back
  return j && !j.sealed ? j : undefined;
}

/**
 * `sealStateStep` before an act that may yet prove not to have happened — a COMMIT the
 * database refused before writing its commit record (SQLITE_FULL): the returned function
 * takes the seal back then, unless something irreversible came since (then it stays).
 * Sealed durably before the act, so a crash after the act never rolls back (STEP RECORD).
 */
export function sealStateStepUntil(): () => void {
  const step = steps.getStore();
  if (!step || step.sealed) return () => undefined;
  sealStateStep();
  return () => void step.unseal();
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
    let made: string | undefined;
    if (step) {
      // The version this write replaces, kept (a hard link: no data blocks) until the step ends;
      // or, for a new file, a second name for it, so a recovery removes only what it made.
      // Both names in the record first, and the link durable before the rename (STEP RECORD).
      const tag = randomBytes(8).toString('hex');
      const names = { t: target, b: join(dir, `.${basename(target)}.${tag}.undo`), n: join(dir, `.${basename(target)}.${tag}.new`), p: temp };
      step.note(names);
      try {
        await link(target, names.b);
        backup = names.b;
      } catch (e) {
        if (errnoCode(e) !== 'ENOENT') throw e;
        await link(temp, names.n);
        made = names.n;
      }
      try {
        if (step.home !== undefined) await syncDir(dir);
      } catch (e) {
        await unlink((backup ?? made)!).catch(() => undefined);
        throw e;
      }
      opts.onStep?.('kept');
    }
    try {
      await rename(temp, target);
    } catch (e) {
      if (backup) await unlink(backup).catch(() => undefined);
      if (made) await unlink(made).catch(() => undefined);
      throw e;
    }
    renamed = true;
    if (step) {
      const kept = backup;
      const second = made!;
      // Undone, the version this step wrote is erased before it goes (it may hold a share that
      // never left: erase-on-replace's rule, every version replaced is erased, holds for it too).
      if (kept) step.record(async () => (await zeroInPlace(target), await rename(kept, target)), () => unlink(kept));
      else step.record(async () => (await zeroInPlace(target), await unlink(target), await unlink(second)), () => unlink(second));
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
      // After the mkdir (the home may be what it made): a crash just here leaves an empty directory.
      try {
        step.note({ d: target, first: resolve(first) });
      } catch (e) {
        throw stateAccessError(e, target);
      }
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
    // Erased bytes cannot be put back: the step keeps what it wrote (withStateStep), for good.
    sealStateStep();
    const step = steps.getStore();
    if (step) step.afterSeal++;
    await zeroOpened(fh);
    await unlink(path);
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw e;
  }
}

export function errnoCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : undefined;
}
