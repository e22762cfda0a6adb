/**
 * A step whose process dies (store/state-step.ts STEP RECORD): a real child process runs one
 * step in a state directory and is SIGKILLed at a chosen point of a chosen write; the next
 * process that names the directory (recoverInterruptedSteps, which every command runs
 * through stateDir()) finishes it. Died before its seal: the directory byte for byte as
 * before the step. Died after it: every write kept, no link and no record left. A step
 * still running is never touched; a damaged record refuses with what to run.
 */
import { linkSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { recoverInterruptedSteps } from '../../../src/lib/store/step-recovery.ts';
import { currentProcess } from '../../../src/lib/store/process-identity.ts';
import { fileSnapshot, tempDir } from '../../helpers.ts';
import { bundleChild, kill, startChild } from './spawn.ts';
import { run } from '../../e2e/cli.ts';

let tmp: { path: string; cleanup: () => void };
let script: string;
beforeAll(() => {
  tmp = tempDir('offchain-step-crash-');
  script = bundleChild(tmp.path);
});
afterAll(() => tmp.cleanup());

let home: string;
let n = 0;
beforeEach(() => {
  home = join(tmp.path, `state-${++n}`, 'regtest');
  mkdirSync(home, { recursive: true, mode: 0o700 });
  writeFileSync(join(home, 'a.json'), 'a1\n', { mode: 0o600 });
});

const contents = (dir: string) => Object.fromEntries(Object.entries(fileSnapshot(dir, { locks: true })).map(([k, v]) => [k.slice(dir.length), v]));
const names = (dir: string) => Object.keys(contents(dir));

/** Run the child's step, killed at write `nth`'s `at` (or never); returns once it is dead. */
async function crash(seal: 'open' | 'sealed', nth: number, at: string): Promise<void> {
  const child = startChild(script, ['step-crash', home, seal, String(nth), at]);
  const { signal } = await child.exited;
  expect(signal).toBe('SIGKILL');
}

describe('a step killed mid-way, then the next command', () => {
  // Write 1 replaces a.json, 2 makes sub/b.json, 3 replaces a.json again, 4 makes c.json.
  for (const [nth, at] of [[1, 'kept'], [2, 'kept'], [3, 'renamed'], [4, 'kept'], [4, 'renamed']] as const) {
    it(`died before its seal (write ${nth}, ${at}): everything put back as it was`, async () => {
      const before = contents(home);
      await crash('open', nth, at);
      expect(names(home).some((k) => /\.(undo|new)$|\/\.step\./.test(k))).toBe(true); // the leftovers are there
      // The version the dead step wrote (write 3: a.json is a3), held by a link here: erased when it is undone.
      const held = join(home, '..', 'held');
      if (nth === 3) linkSync(join(home, 'a.json'), held);
      expect(recoverInterruptedSteps(home)).toBe(1);
      expect(contents(home)).toEqual(before);
      if (nth === 3) expect(readFileSync(held)).toEqual(Buffer.alloc(3));
    });
  }

  it('the next command itself (the built CLI, any command naming the state directory) puts it back', async () => {
    const before = contents(home);
    await crash('open', 3, 'renamed');
    const r = run(['credit', 'list', '--state-dir', join(home, '..'), '--network', 'regtest']);
    expect(r.stderr).toContain('E_NO_MINT_POLICY'); // its own answer, after the recovery
    expect(contents(home)).toEqual(before);
  });

  it('died after its seal: every write kept, the links and the record gone', async () => {
    await crash('sealed', 4, 'renamed');
    expect(recoverInterruptedSteps(home)).toBe(1);
    const after = contents(home);
    expect(Object.keys(after)).toEqual(['/a.json', '/c.json', '/sub', '/sub/b.json']);
    expect(after['/a.json']).toContain(Buffer.from('a3\n').toString('hex'));
    expect(after['/sub/b.json']).toContain(Buffer.from('b1\n').toString('hex'));
  });

  it('a step still running is left alone; once its process is gone, it is rolled back', async () => {
    const before = contents(home);
    const child = startChild(script, ['step-crash', home, 'open', '0', 'never']);
    await child.waitFor('mid\n');
    const mid = contents(home);
    expect(recoverInterruptedSteps(home)).toBe(0);
    expect(contents(home)).toEqual(mid);
    await kill(child);
    expect(recoverInterruptedSteps(join(home, '.', '..', 'regtest'))).toBe(1);
    expect(contents(home)).toEqual(before);
  });

  it('a damaged record of a dead step: E_STEP_INTERRUPTED, exit 5, saying what to run; nothing touched', () => {
    const dead = { ...currentProcess(), pid: 2 ** 22 + 7, procStart: null };
    writeFileSync(join(home, '.step.00112233445566aa.open'), `${JSON.stringify(dead)}\n{"t":"${home}/a.json","b":\n{"d":1}\n`);
    const before = contents(home);
    let err: unknown;
    try {
      recoverInterruptedSteps(home);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'E_STEP_INTERRUPTED', exitCode: 5 });
    expect((err as Error).message).toContain(`rm '${home}/.step.00112233445566aa.open'`);
    expect(contents(home)).toEqual(before);
    expect(readdirSync(home)).toContain('.step.00112233445566aa.open');
  });
});
