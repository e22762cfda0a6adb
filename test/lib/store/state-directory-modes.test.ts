/**
 * THE STATE DIRECTORY'S MODES (src/lib/store/sqlite/database.ts): the network's directory is made
 * 0700 (an existing one tightened to 0700 when its database is made, never loosened), the
 * database and its WAL and shared-memory files 0600; a path that is a file, or lies under one,
 * is E_STATE_NOT_DIR (exit 2); a directory this process may not write is E_STATE_ACCESS (exit
 * 2), with nothing made there.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkNotUnderFile } from '../../../src/lib/cli/state-dir.ts';
import { StateDb, STATE_DB_FILE } from '../../../src/lib/store/sqlite/database.ts';
import { stateAccessError } from '../../../src/lib/store/write-errors.ts';
import { tempDir } from '../../helpers.ts';
import { refusal } from '../../setup/refusal.ts';
import { MUTATION_RUN, startSqliteChild } from './processes.ts';

const tmp = tempDir('offchain-modes-');
// Another user (below, as root) must be able to pass through to the directories under test.
chmodSync(tmp.path, 0o711);
afterAll(() => tmp.cleanup());
let n = 0;
const base = () => {
  const d = join(tmp.path, `b-${++n}`);
  mkdirSync(d, { mode: 0o755 });
  chmodSync(d, 0o755);
  return d;
};
const mode = (p: string) => statSync(p).mode & 0o777;
const root = process.getuid?.() === 0;

describe('what it makes', () => {
  it('the state directory and the network\'s 0700, state.sqlite and its -wal and -shm 0600', async () => {
    const stateDir = join(base(), 'state');
    const dir = join(stateDir, 'regtest');
    const db = StateDb.open(dir, { create: true })!;
    await db.step(() => db.sql.prepare("INSERT INTO meta (key, value) VALUES ('a', 'b')").run());
    expect(readdirSync(dir).sort()).toEqual([STATE_DB_FILE, `${STATE_DB_FILE}-shm`, `${STATE_DB_FILE}-wal`]);
    for (const f of readdirSync(dir)) expect(mode(join(dir, f)), f).toBe(0o600);
    expect(mode(dir)).toBe(0o700);
    expect(mode(stateDir)).toBe(0o700);
    db.close();
    expect(readdirSync(dir)).toEqual([STATE_DB_FILE]);
    expect(mode(join(dir, STATE_DB_FILE))).toBe(0o600);
  });

  it('an existing network directory others could read (0755, a git checkout) is tightened to 0700 when its database is made; a tighter one (0500) is never loosened', () => {
    const open = join(base(), 'regtest');
    mkdirSync(open);
    chmodSync(open, 0o755);
    StateDb.open(open, { create: true })!.close();
    expect(mode(open)).toBe(0o700);
    if (root) {
      // Root may write a 0500 directory: the database is made, the mode kept.
      const tight = join(base(), 'regtest');
      mkdirSync(tight);
      chmodSync(tight, 0o500);
      StateDb.open(tight, { create: true })!.close();
      expect(mode(tight)).toBe(0o500);
    }
  });
});

describe('a file where a directory is expected: E_STATE_NOT_DIR (exit 2)', () => {
  it('the network path itself is a file, or lies under one', () => {
    const b = base();
    writeFileSync(join(b, 'regtest'), 'not a directory');
    const e = refusal(() => StateDb.open(join(b, 'regtest'), { create: true }), 'E_STATE_NOT_DIR', 2);
    expect(e.message).toBe(`state path ${join(b, 'regtest')} exists and is not a directory`);
    refusal(() => StateDb.open(join(b, 'regtest', 'deeper'), { create: true }), 'E_STATE_NOT_DIR', 2);
    expect(readdirSync(b)).toEqual(['regtest']);
  });
});

describe('--state-dir as given, before anything is opened (cli/state-dir.ts checkNotUnderFile): E_STATE_NOT_DIR (exit 2) naming it', () => {
  it('the path itself is a file', () => {
    const file = join(base(), 'file');
    writeFileSync(file, '');
    const e = refusal(() => checkNotUnderFile(file, '--state-dir given/file'), 'E_STATE_NOT_DIR', 2);
    expect(e.message).toBe('--state-dir given/file is a file, not a directory');
  });

  it('a path under a file names the file', () => {
    const file = join(base(), 'file');
    writeFileSync(file, '');
    const e = refusal(() => checkNotUnderFile(join(file, 'a', 'b'), '--state-dir file/a/b'), 'E_STATE_NOT_DIR', 2);
    expect(e.message).toBe(`--state-dir file/a/b lies under ${file}, which is a file, not a directory`);
  });

  it('a path that does not exist yet under a directory is fine, and nothing is made', () => {
    const b = base();
    checkNotUnderFile(join(b, 'new', 'deeper'), '--state-dir new/deeper');
    expect(readdirSync(b)).toEqual([]);
  });
});

describe('a directory this process may not write: E_STATE_ACCESS (exit 2), nothing made', () => {
  it('an error that is not about access or room passes through as it is', () => {
    const other = Object.assign(new Error('disk on fire'), { code: 'EIO' });
    expect(stateAccessError(other, '/x')).toBe(other);
    const full = stateAccessError(Object.assign(new Error('full'), { code: 'ENOSPC' }), '/x') as { code: string; exitCode: number };
    expect({ code: full.code, exitCode: full.exitCode }).toEqual({ code: 'E_STORE_FULL', exitCode: 1 });
  });

  it.skipIf(!root)('as root: under a filesystem that refuses new directories (sysfs)', () => {
    let refused = false;
    try {
      mkdirSync('/sys/offchain-modes-probe');
      rmdirSync('/sys/offchain-modes-probe');
    } catch {
      refused = true;
    }
    expect(refused, '/sys accepted a new directory: nothing to test with').toBe(true);
    const e = refusal(() => StateDb.open('/sys/offchain-modes-x/regtest', { create: true }), 'E_STATE_ACCESS', 2);
    expect(e.message).toMatch(/\((EACCES|EPERM|EROFS)\)/);
    expect(existsSync('/sys/offchain-modes-x')).toBe(false);
  });

  /** Open `dir` in a process of another user (root: nobody) or, not root, in this one. */
  async function openAsAnother(dir: string): Promise<{ code: string; exitCode: number; message: string }> {
    if (!root) {
      try {
        StateDb.open(dir, { create: true })?.close();
        return { code: 'opened', exitCode: 0, message: '' };
      } catch (e) {
        return e as { code: string; exitCode: number; message: string };
      }
    }
    const child = startSqliteChild(['open', dir, 'create'], { uid: 65534, gid: 65534 });
    const r = await child.exited;
    expect(r.code, r.stderr).toBe(0);
    const line = r.stdout.trim();
    return line.startsWith('{') ? JSON.parse(line) : { code: line, exitCode: 0, message: '' };
  }

  it.skipIf(MUTATION_RUN)('a directory of another owner (or 0500): refused, nothing made in it', async () => {
    const b = base();
    const dir = join(b, 'regtest');
    mkdirSync(dir);
    chmodSync(dir, root ? 0o755 : 0o500);
    const e = await openAsAnother(dir);
    expect({ code: e.code, exitCode: e.exitCode }).toEqual({ code: 'E_STATE_ACCESS', exitCode: 2 });
    expect(e.message).toMatch(new RegExp(`^cannot write the state directory ${dir}: (permission denied \\(EACCES\\)|operation not permitted \\(EPERM\\))`));
    expect(readdirSync(dir)).toEqual([]);
    expect(mode(dir)).toBe(root ? 0o755 : 0o500);
  });

  it.skipIf(MUTATION_RUN)('under a directory of another owner: refused, nothing made', async () => {
    const b = base();
    if (!root) chmodSync(b, 0o500);
    const e = await openAsAnother(join(b, 'state', 'regtest'));
    expect({ code: e.code, exitCode: e.exitCode }).toEqual({ code: 'E_STATE_ACCESS', exitCode: 2 });
    expect(readdirSync(b)).toEqual([]);
  });

  it.skipIf(MUTATION_RUN || !root)('a database of another owner (0600) in a directory it may write: refused, the database untouched', async () => {
    const b = base();
    const dir = join(b, 'regtest');
    const db = StateDb.open(dir, { create: true })!;
    db.close();
    chmodSync(dir, 0o777);
    const before = statSync(join(dir, STATE_DB_FILE)).mtimeMs;
    const e = await openAsAnother(dir);
    expect({ code: e.code, exitCode: e.exitCode }).toEqual({ code: 'E_STATE_ACCESS', exitCode: 2 });
    expect(readdirSync(dir)).toEqual([STATE_DB_FILE]);
    expect(statSync(join(dir, STATE_DB_FILE)).mtimeMs).toBe(before);
  });
});
