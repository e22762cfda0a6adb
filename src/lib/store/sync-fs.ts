/**
 * The stores' small synchronous file moves, in one place: a directory synced, bytes written
 * whole, and the clean-up calls made while another error is on its way. Synchronous because
 * the stores call them at every step and COMMIT: on a VM an awaited fs call costs 100–270 µs
 * of CPU in its thread-pool hand-off, the call itself a few µs.
 */
import { closeSync, fstatSync, fsyncSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { errnoCode } from './write-errors.ts';

/** Make a directory's entries (creations, renames, removals) durable. */
export function syncDirSync(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * All of `bytes`, at the descriptor's position or at `position` (a write may take part
 * of them: the rest follows, or its error).
 */
export function writeAll(fd: number, bytes: Uint8Array, position?: number): void {
  for (let at = 0; at < bytes.length; ) {
    const n = writeSync(fd, bytes, at, bytes.length - at, position === undefined ? null : position + at);
    if (n <= 0) throw new Error(`write of ${bytes.length - at} bytes made no progress`);
    at += n;
  }
}

/** Unlink `path`; a missing file is fine, any other failure thrown. */
export function unlinkIfPresent(path: string): void {
  try {
    unlinkSync(path);
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw e;
  }
}

/** Unlink `path`, whatever happens: clean-up while the caller's own error is on its way. */
export function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // gone already, or not removable: the caller's error is the one to report
  }
}

/**
 * Close `fd`, whatever happens: clean-up while the caller's own error is on its way. Call it
 * only for a descriptor not closed yet — a number closed twice may by then be another task's
 * file (FileHandle.close was idempotent; closeSync is not).
 */
export function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // the caller's error is the one to report
  }
}

/**
 * Overwrite a secret-bearing file with zeros, fsync, then unlink it; a missing file is fine.
 * Best effort only: copy-on-write filesystems, snapshots and flash wear levelling can keep
 * the old blocks (docs/state.md: use an encrypted volume).
 */
export async function shredFile(path: string): Promise<void> {
  let fd: number;
  try {
    fd = openSync(path, 'r+');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return;
    throw e;
  }
  try {
    writeAll(fd, new Uint8Array(fstatSync(fd).size), 0);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  unlinkIfPresent(path);
}
