/**
 * SQLITE'S ERRORS ARE SAID AS THE TOOLKIT'S (src/lib/store/sqlite/driver.ts): a better-sqlite3
 * binary this Node cannot load, where it is loaded (`sqliteLoadError`: the require, the first
 * open), is E_NATIVE_MODULE saying what to run — never a corrupt state, and never read into a
 * step's own errors; a busy database E_LOCK_HELD (exit 5); a full one E_STORE_FULL; one this process
 * may not open E_STATE_ACCESS (exit 2); a damaged one E_STATE_CORRUPT (exit 3) — a file that is
 * not a database is refused so, and left as it is; anything else passes through unchanged.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OffchainError } from '../../../src/lib/errors.ts';
import { StateDb, STATE_DB_FILE } from '../../../src/lib/store/sqlite/database.ts';
import { sqliteError, sqliteLoadError } from '../../../src/lib/store/sqlite/driver.ts';
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
    'ERR_DLOPEN_FAILED: /x/better_sqlite3.node: wrong ELF class: ELFCLASS32',
  ])('%s: E_NATIVE_MODULE (exit 1), its first line and what to run', (message) => {
    const e = sqliteLoadError(coded(message))!;
    expect({ code: e.code, exitCode: e.exitCode }).toEqual({ code: 'E_NATIVE_MODULE', exitCode: 1 });
    // The same words in a step's error (a path, a message) are not read as a loading failure.
    const inStep = coded(message);
    expect(sqliteError(inStep, '/state/regtest')).toBe(inStep);
    expect(e.message).toBe(`the SQLite module cannot be loaded: better-sqlite3's native module cannot be loaded by Node.js ${process.version} (${message.split('\n')[0]}) — run "npm ci" in the toolkit's folder (it was built for another Node.js, or is damaged)`);
    expect(e.message).not.toContain('\n');
  });
});

describe('what is not a binary this Node cannot load', () => {
  it('a missing system library of another package, a dependency of the driver missing: not E_NATIVE_MODULE here', () => {
    expect(sqliteLoadError(coded('libsecp256k1.so.2: cannot open shared object file: No such file or directory'))).toBeUndefined();
    expect(sqliteLoadError(coded("Cannot find module 'bindings'\nRequire stack:\n- /x/node_modules/better-sqlite3/lib/index.js", 'MODULE_NOT_FOUND'))).toBeUndefined();
  });

  it('the driver not installed: "npm install better-sqlite3"; no binary for this platform: the same as one that cannot load', () => {
    expect(sqliteLoadError(coded("Cannot find module 'better-sqlite3'\nRequire stack:\n- /x/dist/offchain.cjs", 'MODULE_NOT_FOUND'))!.message).toBe(
      'the SQLite module cannot be loaded: better-sqlite3 is not installed (Cannot find module \'better-sqlite3\') — run "npm install better-sqlite3" in the toolkit\'s folder',
    );
    expect(sqliteLoadError(coded("Cannot find module '/x/node_modules/better-sqlite3/build/Release/better_sqlite3.node'", 'MODULE_NOT_FOUND'))!.message).toMatch(/better-sqlite3's native module cannot be loaded .* run "npm ci"/);
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
