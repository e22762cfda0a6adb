/**
 * A step record written by someone else (store/state-step.ts STEP RECORD, review 41): whoever
 * can write the state directory can leave a `.step.<id>.open` naming a dead owner and any
 * lines. The next command's recovery runs as the directory's owner, so a record must not make
 * it zero, unlink or rename anything the step it describes could not have written: a name
 * that is not absolute and normal (`..`), a link or temp name that is not its target's own
 * `.<name>.<hex>.undo|new|tmp` beside it (a key file, the nonce store as "what the step
 * made"), a symlink planted under a link's name, a directory line that walks above its own
 * `first`. Such a record is refused as damaged (E_STEP_INTERRUPTED), nothing touched.
 * (A step's target itself may lie outside the directory — `--token-out` —, so the targets
 * are not confined to it; the link beside a target outside is not the attacker's to make.)
 */
import { mkdirSync, readFileSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { recoverInterruptedSteps } from '../../../src/lib/store/step-recovery.ts';
import { currentProcess } from '../../../src/lib/store/process-identity.ts';
import { tempDir } from '../../helpers.ts';

let tmp: { path: string; cleanup: () => void };
beforeAll(() => (tmp = tempDir('offchain-step-forged-')));
afterAll(() => tmp.cleanup());

let home: string;
let outside: string;
let n = 0;
beforeEach(() => {
  const base = join(tmp.path, `case-${++n}`);
  home = join(base, 'state', 'regtest');
  outside = join(base, 'elsewhere');
  mkdirSync(home, { recursive: true, mode: 0o700 });
  mkdirSync(outside, { recursive: true, mode: 0o700 });
  writeFileSync(join(outside, 'key'), 'secret key bytes\n', { mode: 0o600 });
  writeFileSync(join(outside, 'other'), 'other\n', { mode: 0o600 });
});

/** A record naming a process that is gone (same host, same boot, another start time). */
function forge(lines: object[]): string {
  const owner = { ...currentProcess(), procStart: '1' };
  const path = join(home, '.step.0123456789abcdef.open');
  writeFileSync(path, [owner, ...lines].map((l) => `${JSON.stringify(l)}\n`).join(''), { mode: 0o600 });
  return path;
}

const tag = 'fedcba9876543210';

function refusedUntouched(record: string): void {
  expect(() => recoverInterruptedSteps(home)).toThrow(expect.objectContaining({ code: 'E_STEP_INTERRUPTED' }));
  expect(readFileSync(join(outside, 'key'), 'utf8')).toBe('secret key bytes\n');
  expect(readFileSync(join(outside, 'other'), 'utf8')).toBe('other\n');
  expect(existsSync(record)).toBe(true);
}

describe('a forged step record', () => {
  it('absolute paths outside the state directory: refused, the files there untouched', () => {
    const key = join(outside, 'key');
    const record = forge([{ t: key, b: join(outside, `.key.${tag}.undo`), n: key, p: join(outside, 'other') }]);
    refusedUntouched(record);
  });

  it('a `..` path that leaves the state directory: refused, untouched', () => {
    const up = join(home, '..', '..', 'elsewhere');
    const record = forge([{ t: `${home}/../../elsewhere/key`, b: `${up}/.key.${tag}.undo`, n: `${up}/.key.${tag}.new`, p: `${up}/.key.${tag}.tmp` }]);
    refusedUntouched(record);
  });

  it('link names that are not the step pattern of their target (the nonce store as "new"): refused', () => {
    writeFileSync(join(home, 'nonces.json'), '{"n":1}\n', { mode: 0o600 });
    const record = forge([{ t: join(home, 'x.json'), b: join(home, `.x.json.${tag}.undo`), n: join(home, 'nonces.json'), p: join(home, 'a.json') }]);
    expect(() => recoverInterruptedSteps(home)).toThrow(expect.objectContaining({ code: 'E_STEP_INTERRUPTED' }));
    expect(readFileSync(join(home, 'nonces.json'), 'utf8')).toBe('{"n":1}\n');
    expect(existsSync(record)).toBe(true);
  });

  it('a symlink planted under a step link name: the file it points to is never zeroed', () => {
    symlinkSync(join(outside, 'key'), join(home, `.a.json.${tag}.new`));
    forge([{ t: join(home, 'a.json'), b: join(home, `.a.json.${tag}.undo`), n: join(home, `.a.json.${tag}.new`), p: join(home, `.a.json.${tag}.tmp`) }]);
    try {
      recoverInterruptedSteps(home);
    } catch (e) {
      expect((e as { code?: string }).code).toBe('E_STEP_INTERRUPTED');
    }
    expect(readFileSync(join(outside, 'key'), 'utf8')).toBe('secret key bytes\n');
  });

  it('a subdirectory that is a symlink out of the state directory: refused, untouched', () => {
    symlinkSync(outside, join(home, 'sub'));
    const s = join(home, 'sub');
    const record = forge([{ t: join(s, 'key'), b: join(s, `.key.${tag}.undo`), n: join(s, 'key'), p: join(s, 'other') }]);
    refusedUntouched(record);
  });

  it('a directory line whose `first` is not an ancestor of `d`: refused, the directory kept', () => {
    mkdirSync(join(outside, 'empty'));
    const record = forge([{ d: join(outside, 'empty'), first: home }]);
    expect(() => recoverInterruptedSteps(home)).toThrow(expect.objectContaining({ code: 'E_STEP_INTERRUPTED' }));
    expect(existsSync(join(outside, 'empty'))).toBe(true);
    expect(existsSync(record)).toBe(true);
  });

  it('a genuine shape inside the directory is still recovered (the check is not a blanket refusal)', () => {
    writeFileSync(join(home, 'a.json'), 'a2\n', { mode: 0o600 });
    writeFileSync(join(home, `.a.json.${tag}.undo`), 'a1\n', { mode: 0o600 });
    const record = forge([{ t: join(home, 'a.json'), b: join(home, `.a.json.${tag}.undo`), n: join(home, `.a.json.${tag}.new`), p: join(home, `.a.json.${tag}.tmp`) }]);
    expect(recoverInterruptedSteps(home)).toBe(1);
    expect(readFileSync(join(home, 'a.json'), 'utf8')).toBe('a1\n');
    expect(existsSync(record)).toBe(false);
  });
});
