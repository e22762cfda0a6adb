/**
 * Create a new file that must not already exist (secret key files, a secret or a token the
 * user names for a command's output): written to a
 * temporary name, fsynced, then hard-linked into place — link(2) fails if the target
 * exists, so an existing key is never overwritten and no reader ever sees a partial file.
 */
import { closeSync, fsyncSync, linkSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { RefusedError, UsageError } from '../errors.ts';
import { syncDirSync } from './sync-fs.ts';
import { isFullError, StoreFullError } from './write-errors.ts';

export function writeNewFile(path: string, data: Uint8Array | string, mode = 0o600): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number;
  try {
    fd = openSync(tmp, 'wx', mode);
  } catch (e) {
    throw new UsageError('E_OUTPUT_FILE', `cannot create a file in ${dirname(path)}: ${(e as NodeJS.ErrnoException).code}`);
  }
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } catch (e) {
    // A full disk mid-write: no partial file left behind, and the error coded.
    closeSync(fd);
    unlinkSync(tmp);
    if (isFullError(e)) throw new StoreFullError(dirname(path), (e as NodeJS.ErrnoException).code!);
    throw new UsageError('E_OUTPUT_FILE', `cannot write ${path}: ${(e as NodeJS.ErrnoException).code}`);
  }
  closeSync(fd);
  try {
    linkSync(tmp, path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new RefusedError('E_FILE_EXISTS', `${path} already exists; refusing to overwrite it`);
    }
    throw new UsageError('E_OUTPUT_FILE', `cannot create ${path}: ${(e as NodeJS.ErrnoException).code}`);
  } finally {
    unlinkSync(tmp);
  }
  syncDirSync(dirname(path));
}
