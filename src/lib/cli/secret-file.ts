/**
 * One reader for secrets kept in files as hex (a payment preimage, a per-commitment
 * secret or seed, an adaptor secret): the path must be a readable regular file; its
 * text, whitespace trimmed, is decoded as hex of `length` bytes when given. An
 * unreadable path is a usage error (exit 2) naming the flag; bad hex is malformed (exit 3).
 */
import { readFileSync, statSync } from 'node:fs';
import { fromHex } from '../bytes.ts';
import { MalformedInputError, UsageError } from '../errors.ts';

/** The file's text, or E_USAGE naming `flag` when it is not a readable regular file. */
export function readSecretText(path: string, flag: string): string {
  try {
    if (!statSync(path).isFile()) throw new UsageError('E_USAGE', `${flag} ${path} is not a file`);
    return readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError('E_USAGE', `cannot read ${flag} ${path}: ${(e as NodeJS.ErrnoException).code}`);
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
