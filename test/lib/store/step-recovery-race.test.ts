/**
 * Recovery reads a step's record while its owner runs and finds the owner gone only after: the
 * owner may have sealed its step in between (and died cleaning up, or finished). The record as
 * first read is then a step already done: undoing it would put the old version back over the
 * committed one (a consumed nonce restored). Recovery acts only on the record as it stands once
 * the owner is known gone (the clean-clone run's race.test.ts: 10 concurrent `musig nonce`, one
 * refused E_STEP_INTERRUPTED undoing a step its owner had finished).
 */
import { describe, it, expect, vi, afterAll, afterEach } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { recoverInterruptedSteps } from '../../../src/lib/store/step-recovery.ts';

afterEach(() => vi.restoreAllMocks());
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
    // procStart '0': a live process that reuses the pid still reads as another process (gone).
    const owner = { hostname: hostname(), pid: dead, procStart: '0', bootId: null };
    const open = join(dir, '.step.aaaaaaaaaaaaaaaa.open');
    writeFileSync(open, `${JSON.stringify(owner)}\n${JSON.stringify(entry)}\n`);
    // The race: recovery has read the record; as it asks whether the owner is alive, the owner
    // seals its step (and then dies before its cleanup). Injected at the liveness check itself.
    const kill = process.kill.bind(process);
    vi.spyOn(process, 'kill').mockImplementation(((pid: number, signal?: string | number) => {
      if (pid === dead && existsSync(open)) renameSync(open, open.replace(/\.open$/, '.sealed'));
      return kill(pid, signal);
    }) as typeof process.kill);

    expect(recoverInterruptedSteps(dir)).toBe(0); // the open record is gone: nothing undone now
    expect(readFileSync(target, 'utf8')).toBe('committed');
    // Looked at again (the sealed record, its owner gone): its links cleaned, the committed version kept.
    expect(recoverInterruptedSteps(dir)).toBe(1);
    expect(readFileSync(target, 'utf8')).toBe('committed');
    expect(existsSync(entry.b)).toBe(false);
    expect(existsSync(open.replace(/\.open$/, '.sealed'))).toBe(false);
  });
});
