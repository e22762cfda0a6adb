/**
 * `fileSnapshot` (test/helpers.ts) is what "nothing was written" is checked against in the
 * refusal tests: each kind of write a refused step could make must change it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { accessSync, chmodSync, constants, existsSync, mkdirSync, rmdirSync, statfsSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import { NODE_TMP_MIN_FREE, fileSnapshot, nodeTempDir, nodeTempDirRoot, roomyDir, tempDir } from './helpers.ts';

describe('fileSnapshot', () => {
  let dir: { path: string; cleanup: () => void };
  beforeEach(() => {
    dir = tempDir('offchain-snapshot-');
    mkdirSync(join(dir.path, 'state', 'regtest'), { recursive: true });
    mkdirSync(join(dir.path, 'state', 'empty'));
    writeFileSync(join(dir.path, 'state', 'regtest', 'record.json'), '{"state":1}', { mode: 0o600 });
    symlinkSync('record.json', join(dir.path, 'state', 'regtest', 'latest'));
  });
  afterEach(() => dir.cleanup());

  it('records every file (mode and bytes), directory (mode) and link (target) by path', () => {
    const p = (...x: string[]) => join(dir.path, ...x);
    expect(fileSnapshot(dir.path)).toEqual({
      [p('state')]: expect.stringMatching(/^dir 0[0-7]{3}$/),
      [p('state', 'empty')]: expect.stringMatching(/^dir 0[0-7]{3}$/),
      [p('state', 'regtest')]: expect.stringMatching(/^dir 0[0-7]{3}$/),
      [p('state', 'regtest', 'latest')]: 'link record.json',
      [p('state', 'regtest', 'record.json')]: `file 0600 ${Buffer.from('{"state":1}').toString('hex')}`,
    });
  });

  const writes: [string, (d: string) => void][] = [
    ['a changed byte', (d) => writeFileSync(join(d, 'state', 'regtest', 'record.json'), '{"state":2}')],
    ['a new empty file', (d) => writeFileSync(join(d, 'state', 'new'), '')],
    ['a removed file', (d) => unlinkSync(join(d, 'state', 'regtest', 'record.json'))],
    ['a chmod of a file', (d) => chmodSync(join(d, 'state', 'regtest', 'record.json'), 0o644)],
    ['a chmod of a directory', (d) => chmodSync(join(d, 'state'), (statSync(join(d, 'state')).mode & 0o777) === 0o700 ? 0o750 : 0o700)],
    ['a new empty directory', (d) => mkdirSync(join(d, 'state', 'mainnet'))],
    ['a removed empty directory', (d) => rmdirSync(join(d, 'state', 'empty'))],
    ['a link pointed elsewhere', (d) => {
      unlinkSync(join(d, 'state', 'regtest', 'latest'));
      symlinkSync('other.json', join(d, 'state', 'regtest', 'latest'));
    }],
  ];
  it.each(writes)('sees %s', (_, write) => {
    const before = fileSnapshot(dir.path);
    write(dir.path);
    expect(fileSnapshot(dir.path)).not.toEqual(before);
  });

  it('sqliteRows: a database is its rows — a row written shows, a WAL checkpointed into the file (same rows, other bytes) does not', () => {
    const Database = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3;
    const path = join(dir.path, 'state', 'mint.sqlite');
    // A writer that leaves its WAL behind (as a process that ends without closing the database does).
    const writer = new Database(path);
    writer.pragma('journal_mode = WAL');
    writer.exec('CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT)');
    writer.prepare('INSERT INTO t VALUES (?, ?)').run('a', 'one');
    const before = fileSnapshot(dir.path, { sqliteRows: true });
    expect(existsSync(`${path}-wal`)).toBe(true);
    expect(fileSnapshot(dir.path)).not.toEqual(fileSnapshot(dir.path, { sqliteRows: true }));
    writer.close(); // the last connection: checkpoints the WAL into the file and deletes it
    expect(existsSync(`${path}-wal`)).toBe(false);
    expect(fileSnapshot(dir.path, { sqliteRows: true })).toEqual(before);
    const again = new Database(path);
    again.prepare('UPDATE t SET v = ? WHERE k = ?').run('two', 'a');
    again.close();
    expect(fileSnapshot(dir.path, { sqliteRows: true })).not.toEqual(before);
  });

  it('leaves lock files out unless asked (a command holds .lock only while it runs)', () => {
    const before = fileSnapshot(dir.path);
    const withLocks = fileSnapshot(dir.path, { locks: true });
    writeFileSync(join(dir.path, 'state', '.lock'), 'pid 1');
    expect(fileSnapshot(dir.path)).toEqual(before);
    expect(fileSnapshot(dir.path, { locks: true })).not.toEqual(withLocks);
  });
});

describe('nodeTempDir (where the real nodes keep their data)', () => {
  const saved = process.env['OFFCHAIN_TEST_NODE_TMP'];
  afterEach(() => {
    if (saved === undefined) delete process.env['OFFCHAIN_TEST_NODE_TMP'];
    else process.env['OFFCHAIN_TEST_NODE_TMP'] = saved;
  });

  it('is in memory (/dev/shm) when the machine has a writable one with 2 GiB free, else the system temp dir', () => {
    delete process.env['OFFCHAIN_TEST_NODE_TMP'];
    let shm = false;
    try {
      accessSync('/dev/shm', constants.W_OK);
      const free = statfsSync('/dev/shm');
      shm = statSync('/dev/shm').isDirectory() && free.bavail * free.bsize >= NODE_TMP_MIN_FREE;
    } catch { /* none here */ }
    expect(nodeTempDirRoot()).toBe(shm ? '/dev/shm' : tmpdir());
    const d = nodeTempDir('offchain-node-dir-');
    expect(dirname(d.path)).toBe(nodeTempDirRoot());
    expect(basename(d.path)).toMatch(/^offchain-node-dir-/);
    d.cleanup();
    expect(existsSync(d.path)).toBe(false);
  });

  it('a directory without the room asked for, or not writable, or missing, is not taken', () => {
    const d = tempDir('offchain-roomy-');
    const free = statfsSync(d.path);
    expect(roomyDir(d.path, 0)).toBe(d.path);
    expect(roomyDir(d.path, free.bavail * free.bsize + 1024 ** 3)).toBeUndefined();
    expect(roomyDir(join(d.path, 'missing'), 0)).toBeUndefined();
    writeFileSync(join(d.path, 'file'), '');
    expect(roomyDir(join(d.path, 'file'), 0)).toBeUndefined();
    d.cleanup();
  });

  it('OFFCHAIN_TEST_NODE_TMP names another directory; empty means the system temp dir', () => {
    const other = tempDir('offchain-node-root-');
    process.env['OFFCHAIN_TEST_NODE_TMP'] = other.path;
    expect(nodeTempDirRoot()).toBe(other.path);
    expect(dirname(nodeTempDir('x-').path)).toBe(other.path);
    process.env['OFFCHAIN_TEST_NODE_TMP'] = '';
    expect(nodeTempDirRoot()).toBe(tmpdir());
    other.cleanup();
  });
});
