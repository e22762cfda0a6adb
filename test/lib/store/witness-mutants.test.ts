/**
 * The rollback witness (src/lib/store/pg/witness.ts) at its edges, pinned where
 * `npm run mutate` found a planted change passing every test: each refusal names the store,
 * the coin, the version it holds and the one this host saw (message and detail); the
 * version rule is strict (the version seen is taken, one below is not); the witness only
 * rises; what it keeps (a `statechain-witness` record in the host's state.sqlite) is exactly
 * version and fingerprint, and checking writes nothing (no state.sqlite made for it).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../helpers.ts';
import { refusalAsync } from '../../setup/refusal.ts';
import type { VersionWitness } from '../../../src/lib/store/pg/witness.ts';
import { dbFile, versionWitness, witnessSeen } from '../../state.ts';

async function withWitness(fn: (w: VersionWitness, dir: string) => Promise<void>): Promise<void> {
  const d = tempDir();
  try {
    const dir = join(d.path, 'w');
    await fn(versionWitness(dir), dir);
  } finally {
    d.cleanup();
  }
}
/** What the witness keeps for `id` in the host's state.sqlite (a record of kind `statechain-witness`). */
const stored = (dir: string, id: string) => witnessSeen(dir, id);

describe('the rollback witness at its edges', () => {
  it('a version below the one seen: refused naming the store, the coin, both versions; the version seen itself is taken', async () => {
    await withWitness(async (w, dir) => {
      expect(w.dir).toBe(dir);
      await w.check('coin-1', 0, 'at db-a'); // nothing seen yet
      expect(existsSync(dbFile(dir)), 'a check makes no state.sqlite').toBe(false);
      await w.advance('coin-1', 7);
      await w.check('coin-1', 7, 'at db-a');
      const e = await refusalAsync(w.check('coin-1', 6, 'at db-a'), 'E_STORE_ROLLED_BACK', 1);
      expect(e.message).toContain('the store at db-a holds version 6 of coin-1, but this host committed version 7');
      expect(e.detail).toEqual({ id: 'coin-1', version: 6, seen: 7, witness: dir });
      await w.check('coin-2', 0, 'at db-a'); // another coin has its own witness
    });
  });
  it('the same version with another fingerprint: refused naming the store, the coin and the version', async () => {
    await withWitness(async (w, dir) => {
      await w.advance('coin-1', 4, 'f1');
      const e = await refusalAsync(w.check('coin-1', 4, 'at db-b', 'f2'), 'E_STORE_ROLLED_BACK', 1);
      expect(e.message).toContain('the store at db-b holds another version 4 of coin-1 than the one this host saw');
      expect(e.detail).toEqual({ id: 'coin-1', version: 4, seen: 4, witness: dir });
      await w.check('coin-1', 4, 'at db-b', 'f1');
    });
  });
  it('only rises: a lower version never lowers it, the same version keeps its fingerprint, a higher one replaces both', async () => {
    await withWitness(async (w, dir) => {
      await w.advance('c', 5);
      expect(stored(dir, 'c')).toEqual({ version: 5 });
      await w.advance('c', 4, 'low');
      expect(stored(dir, 'c')).toEqual({ version: 5 });
      await w.advance('c', 5);
      expect(stored(dir, 'c')).toEqual({ version: 5 });
      await w.advance('c', 5, 'f5');
      expect(stored(dir, 'c')).toEqual({ version: 5, fingerprint: 'f5' });
      await w.advance('c', 5);
      expect(stored(dir, 'c')).toEqual({ version: 5, fingerprint: 'f5' });
      await w.advance('c', 6);
      expect(stored(dir, 'c')).toEqual({ version: 6 });
      await w.advance('c', 7, 'f7');
      expect(stored(dir, 'c')).toEqual({ version: 7, fingerprint: 'f7' });
    });
  });
});
