/**
 * The store's part of "state directories" (docs/state.md): reading creates nothing, a
 * directory the process may not write is E_STATE_ACCESS (exit 2) wherever the store
 * meets it, and a path that is a file is E_STATE_NOT_DIR (exit 2).
 */
import { existsSync, mkdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../helpers.ts';
import { refusal, refusalAsync } from '../../setup/refusal.ts';
import { ensureDir, writeJsonAtomic } from '../../../src/lib/store/atomic.ts';
import { stateAccessError } from '../../../src/lib/store/write-errors.ts';
import { RecordBook } from '../../../src/lib/store/record-book.ts';
import { MintStore } from '../../../src/lib/store/mint-store.ts';
import { checkNotUnderFile } from '../../../src/lib/cli/base-command.ts';

const dir = tempDir('offchain-state-dir-');
afterAll(() => dir.cleanup());

/** A directory this process cannot create entries in: sysfs for root, a 0500 directory for others. */
function unwritable(): string {
  if (process.getuid?.() === 0) {
    const probe = '/sys/offchain-state-dir-probe';
    let refused = false;
    try {
      mkdirSync(probe);
      rmdirSync(probe);
    } catch {
      refused = true;
    }
    expect(refused, '/sys accepted a new directory: no unwritable directory to test with').toBe(true);
    return '/sys';
  }
  const d = join(dir.path, 'ro');
  mkdirSync(d, { mode: 0o500 });
  return d;
}

describe('reading creates nothing', () => {
  it('RecordBook.list() on a directory that does not exist is empty and leaves it absent', async () => {
    const book = new RecordBook(join(dir.path, 'typo', 'credit-user'));
    expect(await book.list()).toEqual([]);
    expect(existsSync(join(dir.path, 'typo'))).toBe(false);
  });
});

describe('a directory the process may not write: E_STATE_ACCESS, exit 2', () => {
  it('ensureDir under it', async () => {
    const e = await refusalAsync(ensureDir(join(unwritable(), 'offchain-x', 'regtest')), 'E_STATE_ACCESS', 2);
    expect(e.message).toMatch(/\((EACCES|EPERM|EROFS)\)/);
  });

  it('MintStore.open under it', async () => {
    await refusalAsync(MintStore.open(join(unwritable(), 'offchain-x')), 'E_STATE_ACCESS', 2);
  });

  it('an atomic write into it', async () => {
    await refusalAsync(writeJsonAtomic(join(unwritable(), 'offchain-x.json'), {}), 'E_STATE_ACCESS', 2);
  });

  it('any other error passes through unchanged', () => {
    const other = Object.assign(new Error('disk on fire'), { code: 'EIO' });
    expect(stateAccessError(other, '/x')).toBe(other);
  });
});

describe('a file where a directory is expected: E_STATE_NOT_DIR, exit 2, naming the path given', () => {
  const file = join(dir.path, 'file');
  writeFileSync(file, '');

  it('the path itself', () => {
    const e = refusal(() => checkNotUnderFile(file, '--state-dir given/file'), 'E_STATE_NOT_DIR', 2);
    expect(e.message).toBe('--state-dir given/file is a file, not a directory');
  });

  it('a path under a file names the file', () => {
    const e = refusal(() => checkNotUnderFile(join(file, 'a', 'b'), '--state-dir file/a/b'), 'E_STATE_NOT_DIR', 2);
    expect(e.message).toBe(`--state-dir file/a/b lies under ${file}, which is a file, not a directory`);
  });

  it('a path that does not exist yet under a directory is fine (nothing created)', () => {
    checkNotUnderFile(join(dir.path, 'new', 'deeper'), '--state-dir new/deeper');
    expect(existsSync(join(dir.path, 'new'))).toBe(false);
  });

  it('ensureDir of a file', async () => {
    await refusalAsync(ensureDir(file), 'E_STATE_NOT_DIR', 2);
  });
});
