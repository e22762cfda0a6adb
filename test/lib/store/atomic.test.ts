import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDir, readJsonFile, writeFileAtomic, writeJsonAtomic, type AtomicWriteStep } from '../../../src/lib/store/atomic.ts';
import { shredFile } from '../../../src/lib/store/state-step.ts';
import { tempDir } from '../../helpers.ts';
import { bundleChild, kill, startChild } from './spawn.ts';

const tmp = tempDir('offchain-atomic-');
let script = '';
beforeAll(() => {
  script = bundleChild(tmp.path);
});
afterAll(() => tmp.cleanup());

function fresh(): string {
  const dir = join(tmp.path, `case-${Math.random().toString(16).slice(2)}`);
  mkdirSync(dir);
  return dir;
}

const mode = (p: string) => statSync(p).mode & 0o777;

describe('writeFileAtomic', () => {
  it('writes the content with mode 0600 by default and leaves no temp file', async () => {
    const dir = fresh();
    const file = join(dir, 'state.json');
    await writeFileAtomic(file, 'hello');
    await writeFileAtomic(file, new Uint8Array([1, 2, 3]));
    expect([...readFileSync(file)]).toEqual([1, 2, 3]);
    expect(mode(file)).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['state.json']);
  });

  it('applies the requested mode exactly, whatever the umask', async () => {
    const dir = fresh();
    const old = process.umask(0o077);
    try {
      await writeFileAtomic(join(dir, 'pub'), 'x', { mode: 0o644 });
    } finally {
      process.umask(old);
    }
    expect(mode(join(dir, 'pub'))).toBe(0o644);
  });

  it.each<AtomicWriteStep>(['opened', 'written', 'synced'])('a failure after %s leaves the old file intact and no temp file', async (step) => {
    const dir = fresh();
    const file = join(dir, 'state.json');
    await writeFileAtomic(file, 'old');
    const boom = new Error(`crash at ${step}`);
    await expect(
      writeFileAtomic(file, 'new', {
        onStep: (s) => {
          if (s === step) throw boom;
        },
      }),
    ).rejects.toBe(boom);
    expect(readFileSync(file, 'utf8')).toBe('old');
    expect(readdirSync(dir)).toEqual(['state.json']);
  });

  it('a failing rename (target is a directory) cleans up its temp file', async () => {
    const dir = fresh();
    mkdirSync(join(dir, 'target'));
    writeFileSync(join(dir, 'target', 'keep'), 'k');
    await expect(writeFileAtomic(join(dir, 'target'), 'x')).rejects.toMatchObject({ code: expect.stringMatching(/EISDIR|ENOTEMPTY|EEXIST/) });
    expect(readdirSync(dir)).toEqual(['target']);
    expect(readFileSync(join(dir, 'target', 'keep'), 'utf8')).toBe('k');
  });

  it('a process killed mid-write leaves either the whole old or the whole new content', async () => {
    const dir = fresh();
    const file = join(dir, 'big');
    for (let round = 0; round < 3; round++) {
      const child = startChild(script, ['atomic-loop', file]);
      await child.waitFor('ready\n');
      await sleep(50 + round * 40);
      await kill(child);
      const data = readFileSync(file);
      expect(data.length).toBe(4 << 20);
      const first = data[0];
      expect(first === 0x61 || first === 0x62).toBe(true);
      expect(data.every((b) => b === first)).toBe(true);
    }
  });
});

describe('JSON helpers', () => {
  it('round-trips JSON with a trailing newline, 0600', async () => {
    const dir = fresh();
    const file = join(dir, 'doc.json');
    await writeJsonAtomic(file, { b: 1, a: ['x'] });
    expect(readFileSync(file, 'utf8')).toBe('{\n  "b": 1,\n  "a": [\n    "x"\n  ]\n}\n');
    expect(await readJsonFile(file)).toEqual({ b: 1, a: ['x'] });
    expect(mode(file)).toBe(0o600);
  });

  it('reads a missing file as undefined and a damaged one as E_STATE_CORRUPT (exit 3)', async () => {
    const dir = fresh();
    expect(await readJsonFile(join(dir, 'none.json'))).toBeUndefined();
    writeFileSync(join(dir, 'bad.json'), '{"half":');
    await expect(readJsonFile(join(dir, 'bad.json'))).rejects.toMatchObject({ code: 'E_STATE_CORRUPT', exitCode: 3 });
  });

  it('refuses raw bytes and bigints instead of mangling them, writing nothing', async () => {
    const dir = fresh();
    await expect(writeJsonAtomic(join(dir, 'a.json'), { k: new Uint8Array(2) })).rejects.toMatchObject({ code: 'E_STATE_UNSERIALISABLE' });
    await expect(writeJsonAtomic(join(dir, 'b.json'), { n: 1n })).rejects.toMatchObject({ code: 'E_STATE_UNSERIALISABLE' });
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('ensureDir', () => {
  it('creates nested directories 0700', async () => {
    const dir = fresh();
    await ensureDir(join(dir, 'a', 'b'));
    expect(mode(join(dir, 'a'))).toBe(0o700);
    expect(mode(join(dir, 'a', 'b'))).toBe(0o700);
  });

  it('tightens a too-open directory but never loosens one', async () => {
    const dir = fresh();
    mkdirSync(join(dir, 'open'));
    chmodSync(join(dir, 'open'), 0o755);
    await ensureDir(join(dir, 'open'));
    expect(mode(join(dir, 'open'))).toBe(0o700);
    mkdirSync(join(dir, 'tight'));
    chmodSync(join(dir, 'tight'), 0o500);
    await ensureDir(join(dir, 'tight'));
    expect(mode(join(dir, 'tight'))).toBe(0o500);
  });

  it('refuses a path that is a file', async () => {
    const dir = fresh();
    writeFileSync(join(dir, 'f'), '');
    await expect(ensureDir(join(dir, 'f'))).rejects.toMatchObject({ code: 'E_STATE_NOT_DIR' });
  });
});

describe('shredFile', () => {
  it('removes the file and accepts one that is already gone', async () => {
    const dir = fresh();
    writeFileSync(join(dir, 'secret'), 'ab'.repeat(100));
    await shredFile(join(dir, 'secret'));
    expect(readdirSync(dir)).toEqual([]);
    await expect(shredFile(join(dir, 'secret'))).resolves.toBeUndefined();
  });
});
