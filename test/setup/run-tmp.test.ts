import { existsSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NODE_TMP_MIN_FREE, roomyDir, tempDir } from '../helpers.ts';
import setup, { runTempParent, SYSTEM_TMP_ENV, systemTempDir } from './run-tmp.ts';

describe("the run's temp dir (run-tmp.ts)", () => {
  it('this run has one: TMPDIR is an offchain-run- dir in /dev/shm when roomy (else the system temp dir), caches go to the system temp dir', () => {
    expect(basename(tmpdir())).toMatch(/^offchain-run-/);
    const expected = process.env['OFFCHAIN_TEST_TMP'] !== undefined ? null : (roomyDir('/dev/shm', NODE_TMP_MIN_FREE) ?? process.env[SYSTEM_TMP_ENV]);
    if (expected !== null) expect(dirname(tmpdir())).toBe(expected);
    expect(process.env[SYSTEM_TMP_ENV]).toBeTruthy();
    expect(process.env[SYSTEM_TMP_ENV]).not.toBe(tmpdir());
    expect(systemTempDir()).toBe(process.env[SYSTEM_TMP_ENV]);
  });

  it('OFFCHAIN_TEST_TMP names the parent; empty means the system temp dir', () => {
    const other = tempDir('offchain-run-parent-');
    expect(runTempParent({ OFFCHAIN_TEST_TMP: other.path })).toBe(other.path);
    expect(runTempParent({ OFFCHAIN_TEST_TMP: '' })).toBe(tmpdir());
    expect(runTempParent({})).toBe(roomyDir('/dev/shm', NODE_TMP_MIN_FREE) ?? tmpdir());
    other.cleanup();
  });

  it('setup makes a fresh dir as TMPDIR; its teardown removes it with what was left in it and puts the environment back', () => {
    const parent = tempDir('offchain-run-parent-');
    const saved = { ...process.env };
    process.env['OFFCHAIN_TEST_TMP'] = parent.path;
    let dir = '';
    try {
      const teardown = setup();
      dir = process.env['TMPDIR']!;
      expect(dirname(dir)).toBe(parent.path);
      expect(basename(dir)).toMatch(/^offchain-run-/);
      expect(statSync(dir).isDirectory()).toBe(true);
      expect(tmpdir()).toBe(dir);
      // The system temp dir is the one before any run moved it: an outer run's, not this one's.
      expect(process.env[SYSTEM_TMP_ENV]).toBe(saved[SYSTEM_TMP_ENV] || saved['TMPDIR']);
      writeFileSync(join(dir, 'left-behind'), 'x');
      teardown();
      expect(existsSync(dir)).toBe(false);
      expect(process.env['TMPDIR']).toBe(saved['TMPDIR']);
      expect(process.env[SYSTEM_TMP_ENV]).toBe(saved[SYSTEM_TMP_ENV]);
    } finally {
      if (saved['OFFCHAIN_TEST_TMP'] === undefined) delete process.env['OFFCHAIN_TEST_TMP'];
      else process.env['OFFCHAIN_TEST_TMP'] = saved['OFFCHAIN_TEST_TMP'];
      if (saved['TMPDIR'] === undefined) delete process.env['TMPDIR'];
      else process.env['TMPDIR'] = saved['TMPDIR'];
      parent.cleanup();
    }
  });
});
