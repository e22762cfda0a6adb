import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StateConflictError } from '../../../src/lib/errors.ts';
import { withLock } from '../../../src/lib/store/lock.ts';
import { tempDir } from '../../helpers.ts';
import { bundleChild, kill, raceChildren, startChild } from './spawn.ts';

const tmp = tempDir('offchain-lock-');
let script = '';
beforeAll(() => {
  script = bundleChild(tmp.path);
});
afterAll(() => tmp.cleanup());

function fresh(): string {
  const dir = join(tmp.path, `case-${Math.random().toString(16).slice(2)}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'count.txt'), '0');
  return dir;
}

const count = (dir: string) => Number(readFileSync(join(dir, 'count.txt'), 'utf8'));
const lockLitter = (dir: string) => readdirSync(dir).filter((n) => n.startsWith('.lock'));

async function holdInChild(dir: string) {
  const child = startChild(script, ['hold', dir]);
  await child.waitFor('held\n');
  return child;
}

describe('withLock across processes', () => {
  const PROCS = 8;
  const TIMES = 40;

  it('without the lock the workload loses updates (so the next test can fail)', async () => {
    const dir = fresh();
    await raceChildren(script, () => ['count', dir, String(TIMES), 'nolock'], PROCS);
    expect(count(dir)).toBeLessThan(PROCS * TIMES);
  });

  it(`serialises ${PROCS} processes: every increment counted`, async () => {
    const dir = fresh();
    const results = await raceChildren(script, () => ['count', dir, String(TIMES), 'lock'], PROCS);
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    expect(count(dir)).toBe(PROCS * TIMES);
    expect(lockLitter(dir)).toEqual([]);
  });

  it('times out with E_LOCK_HELD (exit 5) naming the live holder', async () => {
    const dir = fresh();
    const holder = await holdInChild(dir);
    try {
      const started = Date.now();
      const err = await withLock(dir, () => 'never', { timeoutMs: 300 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StateConflictError);
      expect(err).toMatchObject({ code: 'E_LOCK_HELD', exitCode: 5 });
      expect((err as Error).message).toContain(`locked by pid ${holder.proc.pid} since `);
      expect((err as Error).message).toContain(dir);
      expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    } finally {
      await kill(holder);
    }
  });

  it('takes over the lock of a killed holder', async () => {
    const dir = fresh();
    const pid = await kill(await holdInChild(dir));
    expect(JSON.parse(readFileSync(join(dir, '.lock'), 'utf8'))).toMatchObject({ pid });
    expect(await withLock(dir, () => 'mine', { timeoutMs: 2_000 })).toBe('mine');
    expect(lockLitter(dir)).toEqual([]);
  });

  it(`${PROCS} processes racing to take over one stale lock still count exactly`, async () => {
    const dir = fresh();
    await kill(await holdInChild(dir));
    const results = await raceChildren(script, () => ['count', dir, '10', 'lock'], PROCS);
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    expect(count(dir)).toBe(PROCS * 10);
    expect(lockLitter(dir)).toEqual([]);
  });

  it('recovers when a process dies in the middle of a takeover', async () => {
    const dir = fresh();
    await kill(await holdInChild(dir));
    const taker = startChild(script, ['crash-at-takeover', dir]);
    const r = await taker.exited;
    expect(r.signal).toBe('SIGKILL');
    expect(lockLitter(dir).some((n) => n.startsWith('.lock.takeover.'))).toBe(true);
    expect(await withLock(dir, () => 'mine', { timeoutMs: 2_000 })).toBe('mine');
    expect(lockLitter(dir)).toEqual([]);
  });
});

describe('withLock in one process', () => {
  it('serialises concurrent callers', async () => {
    const dir = fresh();
    let inside = 0;
    let maxInside = 0;
    await Promise.all(
      Array.from({ length: 10 }, () =>
        withLock(dir, async () => {
          maxInside = Math.max(maxInside, ++inside);
          await sleep(2);
          inside--;
        }),
      ),
    );
    expect(maxInside).toBe(1);
  });

  it('releases when fn throws, and rethrows its error', async () => {
    const dir = fresh();
    const boom = new Error('boom');
    await expect(withLock(dir, () => Promise.reject(boom))).rejects.toBe(boom);
    expect(existsSync(join(dir, '.lock'))).toBe(false);
    expect(await withLock(dir, () => 1, { timeoutMs: 0 })).toBe(1);
  });

  it('refuses a nested call for the same dir instead of deadlocking', async () => {
    const dir = fresh();
    await expect(withLock(dir, () => withLock(dir, () => 1))).rejects.toMatchObject({ code: 'E_LOCK_REENTRANT' });
    expect(await withLock(dir, () => withLock(fresh(), () => 2))).toBe(2);
  });

  it('reports E_LOCK_LOST if the lock file was removed while held', async () => {
    const dir = fresh();
    await expect(withLock(dir, () => rmSync(join(dir, '.lock')))).rejects.toMatchObject({ code: 'E_LOCK_LOST', exitCode: 5 });
  });

  it('never breaks a lock it cannot judge: unreadable file, or a holder on another host', async () => {
    const dir = fresh();
    writeFileSync(join(dir, '.lock'), 'garbage');
    await expect(withLock(dir, () => 1, { timeoutMs: 100 })).rejects.toMatchObject({ code: 'E_LOCK_HELD', message: expect.stringContaining('unreadable') });
    expect(readFileSync(join(dir, '.lock'), 'utf8')).toBe('garbage');

    const other = { hostname: `not-${hostname()}`, pid: 999_999_999, procStart: null, bootId: null, since: '2020-01-01T00:00:00.000Z', token: 'ab'.repeat(16) };
    writeFileSync(join(dir, '.lock'), JSON.stringify(other));
    await expect(withLock(dir, () => 1, { timeoutMs: 100 })).rejects.toMatchObject({
      code: 'E_LOCK_HELD',
      message: expect.stringContaining(`pid 999999999 on host not-${hostname()} since 2020-01-01T00:00:00.000Z`),
    });
  });

  it('treats a record from another boot of this host as stale', async () => {
    const dir = fresh();
    const rebooted = { hostname: hostname(), pid: process.pid, procStart: null, bootId: 'some-earlier-boot', since: '2020-01-01T00:00:00.000Z', token: 'cd'.repeat(16) };
    writeFileSync(join(dir, '.lock'), JSON.stringify(rebooted));
    const onLinux = existsSync('/proc/sys/kernel/random/boot_id');
    const result = withLock(dir, () => 'taken', { timeoutMs: 100 });
    if (onLinux) expect(await result).toBe('taken');
    else await expect(result).rejects.toMatchObject({ code: 'E_LOCK_HELD' });
  });
});
