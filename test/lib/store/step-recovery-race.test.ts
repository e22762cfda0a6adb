/**
 * Recovery reads a step's record while its owner runs and finds the owner gone only after: the
 * owner may have sealed its step in between (and died cleaning up, or finished). The record as
 * first read is then a step already done: undoing it would put the old version back over the
 * committed one (a consumed nonce restored). Recovery acts only on the record as it stands once
 * the owner is known gone (the clean-clone run's race.test.ts: 10 concurrent `musig nonce`, one
 * refused E_STEP_INTERRUPTED undoing a step its owner had finished).
 */
import { describe, it, expect, vi, afterAll } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';

/** Between recovery's two reads of one record: its owner seals it (renames .open to .sealed), as a live owner does before it cleans up. */
const interleave = vi.hoisted(() => ({ path: '', reads: 0, between: undefined as (() => void) | undefined }));
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const readFileSync = ((p: unknown, ...rest: unknown[]) => {
    if (p === interleave.path && ++interleave.reads === 2) interleave.between?.();
    return (fs.readFileSync as (...a: unknown[]) => unknown)(p, ...rest);
  }) as typeof fs.readFileSync;
  return { ...fs, default: { ...fs, readFileSync }, readFileSync };
});

const { recoverInterruptedSteps } = await import('../../../src/lib/store/step-recovery.ts');

const root = mkdtempSync(join(tmpdir(), 'offchain-step-race-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('step recovery: a record read while its owner ran', () => {
  it('sealed by its owner between the two reads: cleaned as sealed, the committed version kept (not undone)', () => {
    const dir = join(root, 'home');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const target = join(dir, 'state.json');
    const tag = '0123456789abcdef';
    const entry = { t: target, b: join(dir, `.state.json.${tag}.undo`), n: join(dir, `.state.json.${tag}.new`), p: join(dir, '.state.json.fedcba9876543210.tmp') };
    writeFileSync(target, 'committed');
    writeFileSync(entry.b, 'old'); // the old version's link, which the owner had not removed yet
    // An owner that is gone by the time recovery asks (a process that has exited).
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    const owner = { hostname: hostname(), pid: dead, procStart: null, bootId: null };
    const open = join(dir, '.step.aaaaaaaaaaaaaaaa.open');
    writeFileSync(open, `${JSON.stringify(owner)}\n${JSON.stringify(entry)}\n`);
    interleave.path = open;
    interleave.reads = 0;
    interleave.between = () => renameSync(open, open.replace(/\.open$/, '.sealed'));

    expect(recoverInterruptedSteps(dir)).toBe(0); // the open record is gone: nothing undone now
    expect(readFileSync(target, 'utf8')).toBe('committed');
    // Looked at again (the sealed record, its owner gone): its links cleaned, the committed version kept.
    expect(recoverInterruptedSteps(dir)).toBe(1);
    expect(readFileSync(target, 'utf8')).toBe('committed');
    expect(existsSync(entry.b)).toBe(false);
    expect(existsSync(open.replace(/\.open$/, '.sealed'))).toBe(false);
  });
});
