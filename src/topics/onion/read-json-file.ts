/** Small helpers shared by the onion commands (reading messages from named files): I/O, so not in src/lib/onion/. */
import { readFileSync, statSync } from 'node:fs';
import { MalformedInputError, RefusedError, UsageError } from '../../lib/errors.ts';

export function readJsonFile(path: string, flag: string, secret = false): unknown {
  let text: string;
  try {
    if (secret && process.platform !== 'win32' && (statSync(path).mode & 0o077) !== 0)
      throw new RefusedError('E_SECRET_FILE_PERMISSIONS', `${flag} ${path} is readable by others; run chmod 600 ${path}`);
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof RefusedError) throw e;
    throw new UsageError('E_INPUT_FILE', `cannot read ${flag} ${path}: ${(e as NodeJS.ErrnoException).code}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new MalformedInputError('E_EXPECTED_MESSAGE', `${flag} ${path} does not hold one JSON message`);
  }
}
