/**
 * withStateStep (store/state-step.ts): one step, all or nothing. A step that fails after writing
 * leaves the directory byte for byte as it was — replaced files back, new files and new
 * directories gone, no `.undo` link left — unless it sealed (a nonce consumed, a message
 * sent): then everything written stays. The full filesystem itself: test/e2e/full-disk.test.ts.
 */
import { linkSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeJsonAtomic, ensureDir } from '../../../src/lib/store/atomic.ts';
import { sealStateStep, withStateStep, shredFile } from '../../../src/lib/store/state-step.ts';
import { fileSnapshot, tempDir } from '../../helpers.ts';

let dir: { path: string; cleanup: () => void };
beforeEach(() => {
  dir = tempDir('offchain-state-step-');
  mkdirSync(join(dir.path, 'state'), { mode: 0o700 });
  writeFileSync(join(dir.path, 'state', 'contract.json'), '{"n":1}\n', { mode: 0o600 });
  writeFileSync(join(dir.path, 'state', 'secret.json'), '{"s":"aa"}\n', { mode: 0o600 });
});
afterEach(() => dir.cleanup());

const p = (...parts: string[]) => join(dir.path, 'state', ...parts);
const refusal = new Error('refused after the writes');

describe('withStateStep', () => {
  it('a step that throws after writing: the old versions back, new files and directories gone, no link left', async () => {
    const before = fileSnapshot(dir.path, { locks: true });
    await expect(
      withStateStep(async () => {
        await writeJsonAtomic(p('contract.json'), { n: 2 });
        await ensureDir(p('regtest', 'nonces'));
        await writeJsonAtomic(p('regtest', 'nonces', 'counter.json'), { counter: 1 });
        await writeJsonAtomic(p('contract.json'), { n: 3 });
        throw refusal;
      }),
    ).rejects.toBe(refusal);
    expect(fileSnapshot(dir.path, { locks: true })).toEqual(before);
  });

  it('a step that succeeds keeps its writes and drops the old versions\' links', async () => {
    await withStateStep(async () => {
      await writeJsonAtomic(p('contract.json'), { n: 2 });
      await writeJsonAtomic(p('new.json'), { n: 1 });
    });
    const after = fileSnapshot(dir.path, { locks: true });
    expect(Object.keys(after).map((k) => k.slice(dir.path.length))).toEqual(['/state', '/state/contract.json', '/state/new.json', '/state/secret.json']);
    expect(after[p('contract.json')]).toContain(Buffer.from('{\n  "n": 2\n}\n').toString('hex'));
  });

  it('sealed (something left the process): what was written stays, before and after the seal', async () => {
    await expect(
      withStateStep(async () => {
        await writeJsonAtomic(p('contract.json'), { n: 2 });
        sealStateStep();
        await writeJsonAtomic(p('new.json'), { n: 1 });
        throw refusal;
      }),
    ).rejects.toBe(refusal);
    const after = fileSnapshot(dir.path, { locks: true });
    expect(after[p('contract.json')]).toContain(Buffer.from('{\n  "n": 2\n}\n').toString('hex'));
    expect(after[p('new.json')]).toBeDefined();
    expect(Object.keys(after).some((k) => k.endsWith('.undo'))).toBe(false);
  });

  it('a shredded file seals the step: its bytes cannot come back, so nothing before it is undone', async () => {
    await expect(
      withStateStep(async () => {
        await writeJsonAtomic(p('contract.json'), { n: 2 });
        await shredFile(p('secret.json'));
        throw refusal;
      }),
    ).rejects.toBe(refusal);
    const after = fileSnapshot(dir.path, { locks: true });
    expect(after[p('secret.json')]).toBeUndefined();
    expect(after[p('contract.json')]).toContain(Buffer.from('{\n  "n": 2\n}\n').toString('hex'));
  });

  it('a step undone erases each version it discards before it goes (a statechain operator\'s op-<coin> holds its share): a link to it reads zeros', async () => {
    const before = fileSnapshot(join(dir.path, 'state'), { locks: true });
    const held = (name: string) => join(dir.path, `held-${name}`);
    await expect(
      withStateStep(async () => {
        await writeJsonAtomic(p('secret.json'), { s: 'bb'.repeat(32) });
        linkSync(p('secret.json'), held('replaced'));
        await writeJsonAtomic(p('fresh.json'), { s: 'cc'.repeat(32) });
        linkSync(p('fresh.json'), held('created'));
        throw refusal;
      }),
    ).rejects.toBe(refusal);
    expect(fileSnapshot(join(dir.path, 'state'), { locks: true })).toEqual(before);
    for (const name of ['replaced', 'created']) {
      const bytes = readFileSync(held(name));
      expect(bytes.length, name).toBeGreaterThan(64);
      expect(bytes.every((b) => b === 0), name).toBe(true);
    }
  });

  it('outside a step, writes are as before (nothing kept, nothing undone)', async () => {
    await writeJsonAtomic(p('contract.json'), { n: 2 });
    expect(Object.keys(fileSnapshot(dir.path, { locks: true })).some((k) => k.endsWith('.undo'))).toBe(false);
  });
});
