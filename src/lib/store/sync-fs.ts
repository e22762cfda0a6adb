/**
 * Small synchronous file moves: a directory synced (a new file's link, exclusive.ts; the
 * import of the older file layout, sqlite/migrate-v0.ts), bytes written whole, a file unlinked.
 */
import { closeSync, fsyncSync, openSync, unlinkSync, writeSync } from 'node:fs';
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

