/**
 * One reader for secrets kept in files as hex (a payment preimage, a per-commitment
 * secret or seed, an adaptor secret), and the one permission rule for every file that
 * holds a secret: the path must be a readable regular file that only its owner can read
 * (mode 0600 or stricter — as ssh refuses identity files and `--key-file` refuses keys),
 * else E_SECRET_FILE_PERMISSIONS (exit 4) before a byte is read. Its text, whitespace
 * trimmed, is decoded as hex of `length` bytes when given. An unreadable path is
 * E_INPUT_FILE (exit 2) naming the flag, as for every file flag; bad hex is malformed (exit 3).
 */
import { readFileSync, statSync } from 'node:fs';
import { fromHex } from '../bytes.ts';
import { MalformedInputError, RefusedError } from '../errors.ts';
import { fileError, notAFile } from './input.ts';

/**
 * A file holding a secret: a regular file readable by its owner alone. E_INPUT_FILE naming
 * `flag` when it is not a readable regular file, E_SECRET_FILE_PERMISSIONS when group or
 * others may read it.
 */
export function requirePrivateFile(path: string, flag: string): void {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    throw fileError(flag, path, e);
  }
  if (!st.isFile()) throw notAFile(flag, path, st);
  if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
    throw new RefusedError('E_SECRET_FILE_PERMISSIONS', `${flag} ${path} holds a secret but is readable by others (mode ${(st.mode & 0o777).toString(8)}); run chmod 600 ${path}`);
  }
}

/** The file's text, once `requirePrivateFile` holds. */
export function readSecretText(path: string, flag: string): string {
  requirePrivateFile(path, flag);
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw fileError(flag, path, e);
  }
}

/**
 * A hex secret from a file: exactly `length` bytes when given; else 1..520 bytes, an empty
 * or oversized file refused as E_BAD_PREIMAGE (`what` names it in the messages).
 */
export function readHexSecretFile(path: string, flag: string, opts: { length?: number; what?: string } = {}): Uint8Array {
  const hex = readSecretText(path, flag).trim();
  if (opts.length !== undefined) return fromHex(hex, `${flag} ${path}`, opts.length);
  const what = opts.what ?? 'the secret';
  if (hex.length === 0 || hex.length > 1040) throw new MalformedInputError('E_BAD_PREIMAGE', `${path} must hold ${what} as hex`);
  return fromHex(hex, what);
}
