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
import { AsyncLocalStorage } from 'node:async_hooks';
import { closeSync, fstatSync, fsyncSync, ftruncateSync, lstatSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { currentProcess } from './process-identity.ts';
import { type StepEntry, recoverInterruptedSteps } from './step-recovery.ts';
import { closeQuietly, syncDirSync, writeAll } from './sync-fs.ts';
import { errnoCode, stateAccessError } from './write-errors.ts';

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

/** Overwrite a file's bytes with zeros where they are and fsync (no new blocks: a full disk allows it). Not shredFile: no seal. */
export async function zeroInPlace(path: string): Promise<void> {
  zeroOpened(openSync(path, 'r+'));
}

/** Zeros over an opened file's bytes, fsync, close (zeroInPlace, shredFile). Synchronous: a file store erases a replaced record at every step. */
function zeroOpened(fd: number): void {
  try {
    const { size } = fstatSync(fd);
    writeAll(fd, new Uint8Array(size), 0);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Only the inode `ino` seen there, a regular file, never through a symlink: anything else there is left as it is. */

export function openStep(): StepJournal | undefined {
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

/**
 * Overwrite a secret-bearing file with zeros, fsync, then unlink it; a missing file is
 * fine. Best effort only: copy-on-write filesystems, snapshots and flash wear levelling
 * can keep the old blocks (docs/state.md: use an encrypted volume).
 */
export async function shredFile(path: string): Promise<void> {
  try {
    const fd = openSync(path, 'r+');
    // Erased bytes cannot be put back: the step keeps what it wrote (withStateStep), for good.
    try {
      sealStateStep();
    } catch (e) {
      closeQuietly(fd);
      throw e;
    }
    const step = steps.getStore();
    if (step) step.afterSeal++;
    zeroOpened(fd);
    unlinkSync(path);
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw e;
  }
}
