/**
 * A read-modify-write of one state document that erases the replaced version's bytes
 * (issue 22, deliver 7: a statechain operator's old share after rotation). A plain atomic
 * write renames a new file over the old one: the old inode — the old secret — is unlinked
 * but its bytes stay on the disk until reused. Here, under the same directory lock:
 *
 *   1. the current file is hard-linked to `<name>.json.replaced` (same inode, same bytes);
 *   2. the new version is written atomically (temp file, fsync, rename over `<name>.json`);
 *   3. the old inode, reachable only through the link now, is overwritten with zeros in
 *      place, fsynced, and unlinked (shredFile).
 *
 * A crash between 1 and 2 leaves a link to the live file: the next call sees the same
 * inode and only unlinks it. A crash between 2 and 3 leaves the old version under the
 * link: the next call sees another inode and erases it. The live document is never zeroed.
 *
 * What this does not achieve (docs/statechain.md): on a journaling or copy-on-write
 * filesystem, or an SSD that remaps writes, the zeros may land in other blocks than the
 * old bytes; snapshots and backups keep their copies. It narrows the window; only storage
 * you can destroy (or encrypt with a key you can destroy) ends it.
 */
import { linkSync, lstatSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonFile, writeJsonAtomic } from './atomic.ts';
import { shredFile } from './state-step.ts';
import { errnoCode } from './write-errors.ts';
import { unlinkQuietly } from './sync-fs.ts';
import { withLock } from './lock.ts';

export const REPLACED_SUFFIX = '.replaced';

async function inode(path: string): Promise<number | undefined> {
  try {
    return statSync(path).ino;
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw e;
  }
}

/** A leftover link from a crashed replace: erased if it is an old version, only unlinked if it is the live file. */
async function clearLeftover(path: string, old: string): Promise<void> {
  try {
    lstatSync(old);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return;
    throw e;
  }
  const [live, left] = [await inode(path), await inode(old)];
  if (live !== undefined && live === left) {
    unlinkSync(old);
  } else {
    await shredFile(old);
  }
}

/**
 * `fn` gets the current document and returns the next one and whether the current
 * version's bytes must be erased once replaced. Returns what was written — nothing when
 * `next` is the very document `fn` was given (a repeated request answered from it).
 */
export async function updateErasingReplaced<T>(dir: string, name: string, fn: (current: T | undefined) => Promise<{ next: T; erase: boolean }>): Promise<T> {
  const path = join(dir, `${name}.json`);
  const old = `${path}${REPLACED_SUFFIX}`;
  return withLock(dir, async () => {
    await clearLeftover(path, old);
    const current = await readJsonFile<T>(path);
    const { next, erase } = await fn(current);
    if (current !== undefined && next === current) return next;
    const keep = erase && (await inode(path)) !== undefined;
    if (keep) linkSync(path, old);
    try {
      await writeJsonAtomic(path, next);
    } catch (e) {
      // Not replaced (a full disk): the live file is the old one, the link goes.
      if (keep) unlinkQuietly(old);
      throw e;
    }
    if (keep) await shredFile(old);
    return next;
  });
}
