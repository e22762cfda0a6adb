import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { StateStore } from '../../../src/lib/store/state-store.ts';
import { tempDir } from '../../helpers.ts';

const tmp = tempDir('offchain-state-');
afterAll(() => tmp.cleanup());
const fresh = () => join(tmp.path, `store-${Math.random().toString(16).slice(2)}`);

describe('StateStore', () => {
  it('writes atomically (0600, JSON + newline) and reads back; missing reads as undefined', async () => {
    const store = new StateStore(fresh());
    expect(await store.read('contract-ab12')).toBeUndefined();
    await store.write('contract-ab12', { state: 3, cumulative: '1000' });
    expect(await store.read('contract-ab12')).toEqual({ state: 3, cumulative: '1000' });
    const file = join(store.dir, 'contract-ab12.json');
    expect(readFileSync(file, 'utf8').endsWith('}\n')).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(store.dir).mode & 0o777).toBe(0o700);
    expect(readdirSync(store.dir)).toEqual(['contract-ab12.json']); // no lock or temp left over
  });

  it('update is a serialised read-modify-write: no lost updates', async () => {
    const store = new StateStore(fresh());
    await Promise.all(
      Array.from({ length: 20 }, () =>
        store.update<{ n: number }>('counter', async (cur) => {
          const n = cur?.n ?? 0;
          await sleep(1);
          return { n: n + 1 };
        }),
      ),
    );
    expect(await store.read('counter')).toEqual({ n: 20 });
  });

  it('leaves the document untouched when the update function throws', async () => {
    const store = new StateStore(fresh());
    await store.write('doc', { v: 1 });
    await expect(store.update('doc', () => Promise.reject(new Error('refused')))).rejects.toThrow('refused');
    expect(await store.read('doc')).toEqual({ v: 1 });
  });

  it('refuses names that could escape the directory or hide as dotfiles', async () => {
    const store = new StateStore(fresh());
    for (const bad of ['../x', 'a/b', '.lock', '', 'X', 'doc.json']) {
      await expect(store.write(bad, {})).rejects.toMatchObject({ code: 'E_STATE_NAME' });
    }
  });

  it('lists stored documents, sorted, ignoring anything else', async () => {
    const store = new StateStore(fresh());
    await store.write('b', 1);
    await store.write('a', 2);
    writeFileSync(join(store.dir, 'notes.txt'), '');
    expect(await store.list()).toEqual(['a', 'b']);
  });

  it('reports a damaged document as E_STATE_CORRUPT (exit 3)', async () => {
    const store = new StateStore(fresh());
    await store.write('doc', { v: 1 });
    writeFileSync(join(store.dir, 'doc.json'), '{');
    await expect(store.read('doc')).rejects.toMatchObject({ code: 'E_STATE_CORRUPT', exitCode: 3 });
    await expect(store.update('doc', () => ({ v: 2 }))).rejects.toMatchObject({ code: 'E_STATE_CORRUPT' });
  });
});
