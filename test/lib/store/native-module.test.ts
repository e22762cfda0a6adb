/**
 * SQLITE'S ERRORS ARE SAID AS THE TOOLKIT'S (src/lib/store/sqlite/database.ts `sqliteError`): a
 * better-sqlite3 binary built for another Node is E_NATIVE_MODULE saying what to run — never a
 * corrupt state; a busy database E_LOCK_HELD (exit 5); a full one E_STORE_FULL; one this process
 * may not open E_STATE_ACCESS (exit 2); a damaged one E_STATE_CORRUPT (exit 3) — a file that is
 * not a database is refused so, and left as it is; anything else passes through unchanged.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OffchainError } from '../../../src/lib/errors.ts';
import { StateDb, STATE_DB_FILE } from '../../../src/lib/store/sqlite/database.ts';
import { sqliteError } from '../../../src/lib/store/sqlite/driver.ts';
import { tempDir } from '../../helpers.ts';
import { refusal } from '../../setup/refusal.ts';

const coded = (message: string, code?: string) => Object.assign(new Error(message), code ? { code } : {});
/** What the toolkit says for SQLite's error `e`: one of its own errors, on one line. */
function said(e: unknown): OffchainError {
  const out = sqliteError(e, '/state/regtest');
  expect(out).toBeInstanceOf(OffchainError);
  expect((out as Error).message).not.toContain('\n');
  return out as OffchainError;
}

describe('a native module built for another Node', () => {
  it.each([
    'The module \'/x/better_sqlite3.node\'\nwas compiled against a different Node.js version using\nNODE_MODULE_VERSION 115. This version of Node.js requires\nNODE_MODULE_VERSION 127.',
    '/x/better_sqlite3.node: invalid ELF header',
    'ERR_DLOPEN_FAILED: cannot open shared object file',
  ])('%s: E_NATIVE_MODULE (exit 1), its first line and what to run', (message) => {
    const e = sqliteError(coded(message), '/state/regtest') as OffchainError;
    expect({ code: e.code, exitCode: e.exitCode }).toEqual({ code: 'E_NATIVE_MODULE', exitCode: 1 });
    expect(e.message).toBe(`the SQLite module cannot be loaded: better-sqlite3's native module cannot be loaded by Node.js ${process.version} (${message.split('\n')[0]}) — run "npm ci" in the toolkit's folder (it was built for another Node.js, or is damaged)`);
    expect(e.message).not.toContain('\n');
  });
});

describe('SQLite\'s codes', () => {
  it.each([
    ['SQLITE_BUSY', 'E_LOCK_HELD', 5],
    ['SQLITE_BUSY_SNAPSHOT', 'E_LOCK_HELD', 5],
    ['SQLITE_LOCKED', 'E_LOCK_HELD', 5],
    ['SQLITE_FULL', 'E_STORE_FULL', 1],
    ['SQLITE_READONLY', 'E_STATE_ACCESS', 2],
    ['SQLITE_READONLY_DIRECTORY', 'E_STATE_ACCESS', 2],
    ['SQLITE_CANTOPEN', 'E_STATE_ACCESS', 2],
    ['SQLITE_PERM', 'E_STATE_ACCESS', 2],
    ['SQLITE_AUTH', 'E_STATE_ACCESS', 2],
    ['SQLITE_CORRUPT', 'E_STATE_CORRUPT', 3],
    ['SQLITE_CORRUPT_INDEX', 'E_STATE_CORRUPT', 3],
    ['SQLITE_NOTADB', 'E_STATE_CORRUPT', 3],
  ] as const)('%s: %s (exit %i), naming the state directory', (sqlite, code, exit) => {
    const e = said(coded('what SQLite said', sqlite));
    expect({ code: e.code, exitCode: e.exitCode }).toEqual({ code, exitCode: exit });
    expect(e.message).toContain('/state/regtest');
  });

  it('anything else passes through as it is; a toolkit error too', () => {
    for (const e of [coded('disk I/O error', 'SQLITE_IOERR'), coded('constraint', 'SQLITE_CONSTRAINT_CHECK'), coded('no code'), new OffchainError('E_NONCE_USED', 'used', 5)]) expect(sqliteError(e, '/x')).toBe(e);
  });

  it('a state.sqlite that is not a database: E_STATE_CORRUPT (exit 3) on open, the file left as it was', () => {
    const tmp = tempDir('offchain-notadb-');
    try {
      const dir = join(tmp.path, 'regtest');
      mkdirSync(dir);
      const junk = Buffer.alloc(8192, 0x5a);
      writeFileSync(join(dir, STATE_DB_FILE), junk);
      const e = refusal(() => StateDb.open(dir, { create: false }), 'E_STATE_CORRUPT', 3);
      expect(e.message).toContain(`the state database in ${dir} is damaged`);
      expect(readFileSync(join(dir, STATE_DB_FILE)).equals(junk)).toBe(true);
    } finally {
      tmp.cleanup();
    }
  });
});
