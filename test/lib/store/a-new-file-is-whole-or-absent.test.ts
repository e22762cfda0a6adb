/**
 * A NEW FILE IS WHOLE OR ABSENT, AND NEVER REPLACES ONE (src/lib/store/exclusive.ts `writeNewFile`,
 * the secret files a command writes where the user says: key files, a token, an onion's
 * secrets, a preimage): written to a temporary name, fsynced, then linked into place — an
 * existing file is never overwritten (E_FILE_EXISTS), a reader never sees a partial one, even of
 * a process killed mid-write, and its mode is the one asked (0600).
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeNewFile } from '../../../src/lib/store/exclusive.ts';
import { tempDir } from '../../helpers.ts';
import { refusal } from '../../setup/refusal.ts';
import { killNow, MUTATION_RUN, startSqliteChild } from './processes.ts';

const tmp = tempDir('offchain-new-file-');
afterAll(() => tmp.cleanup());
let n = 0;
const fresh = () => {
  const d = join(tmp.path, `d-${++n}`);
  mkdirSync(d);
  return d;
};

describe('writeNewFile', () => {
  it('writes the bytes 0600, leaves no temporary file', () => {
    const d = fresh();
    writeNewFile(join(d, 'key'), 'secret\n');
    writeNewFile(join(d, 'bytes'), new Uint8Array([1, 2, 3]), 0o640);
    expect(readFileSync(join(d, 'key'), 'utf8')).toBe('secret\n');
    expect([...readFileSync(join(d, 'bytes'))]).toEqual([1, 2, 3]);
    expect(statSync(join(d, 'key')).mode & 0o777).toBe(0o600);
    expect(statSync(join(d, 'bytes')).mode & 0o777).toBe(0o640);
    expect(readdirSync(d).sort()).toEqual(['bytes', 'key']);
  });

  it('an existing file is never replaced: E_FILE_EXISTS (exit 4), its bytes kept, no temporary file left', () => {
    const d = fresh();
    writeFileSync(join(d, 'key'), 'the first key\n');
    const e = refusal(() => writeNewFile(join(d, 'key'), 'another\n'), 'E_FILE_EXISTS', 4);
    expect(e.message).toBe(`${join(d, 'key')} already exists; refusing to overwrite it`);
    expect(readFileSync(join(d, 'key'), 'utf8')).toBe('the first key\n');
    expect(readdirSync(d)).toEqual(['key']);
  });

  it('a directory that does not exist: E_OUTPUT_FILE (exit 2), nothing made', () => {
    const d = fresh();
    refusal(() => writeNewFile(join(d, 'missing', 'key'), 'x'), 'E_OUTPUT_FILE', 2);
    expect(readdirSync(d)).toEqual([]);
  });

  it.skipIf(MUTATION_RUN)('a process killed while writing (3 rounds): every file in place is whole', async () => {
    const d = fresh();
    const placedIn = (prefix = 'r\\d+-') => readdirSync(d).filter((f) => new RegExp(`^${prefix}f\\d+$`).test(f));
    for (let round = 0; round < 3; round++) {
      // Each round's writer names its files after the round: one that began at f0 again found
      // the last round's f0 there (E_FILE_EXISTS) and ended before the kill, checking nothing.
      const child = startSqliteChild(['new-files', d, `r${round}-`]);
      await child.waitFor('ready\n');
      // A file placed in this round first (up to 30 s), then the kill during a later one's writing.
      for (let i = 0; i < 600 && placedIn(`r${round}-`).length === 0; i++) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 80 + round * 60));
      const exit = await killNow(child);
      expect(exit, `round ${round + 1}: the writer died of the kill; stderr: ${exit.stderr}`).toMatchObject({ signal: 'SIGKILL' });
      expect(placedIn(`r${round}-`).length, `round ${round + 1} placed a file`).toBeGreaterThan(0);
    }
    const placed = placedIn();
    expect(placed.length).toBeGreaterThan(0);
    for (const f of placed) {
      const bytes = readFileSync(join(d, f));
      expect(bytes.length, f).toBe(4 << 20);
      expect(bytes.every((b) => b === bytes[0]), f).toBe(true);
    }
  });
});
