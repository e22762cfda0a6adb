/**
 * A STORE GONE BACK IS REFUSED (src/lib/store/pg/witness.ts): a PostgreSQL operator host keeps,
 * in its own state.sqlite (records `statechain-witness`), the highest version of each coin it
 * committed or read, with the fingerprint of the row at that version. A version below it —
 * the database restored, failed over to a lagging standby, recovered to an earlier point — or
 * the same version with another fingerprint (gone back and written forward again) is refused,
 * E_STORE_ROLLED_BACK (exit 1, as the mint's), naming the store, the coin, the version it holds
 * and the one this host saw (message and detail). The version rule is strict (the version seen
 * itself is taken); the witness only rises, racing writers on one host never lower it, a
 * fingerprint once seen is never replaced at its version (one from before fingerprints learns
 * the first); what it keeps is exactly version and fingerprint; a check writes nothing.
 * (Folded from witness-mutants, witness-review and pg-operator-parts.)
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

describe('the fingerprint', () => {
  it('refuses another row at the version seen; accepts the same one, and any later version', async () => {
    const d = tempDir();
    try {
      const w = versionWitness(join(d.path, 'w'));
      await w.advance('c', 3, 'aa');
      await w.check('c', 3, 'db', 'aa');
      await expect(w.check('c', 3, 'db', 'bb')).rejects.toMatchObject({ code: 'E_STORE_ROLLED_BACK', exitCode: 1 });
      await w.check('c', 4, 'db', 'bb'); // past the version seen: nothing to compare
      await w.check('c', 3, 'db'); // no fingerprint given: the version rule only
      await w.advance('c', 3, 'bb'); // never replaced at the same version
      await expect(w.check('c', 3, 'db', 'bb')).rejects.toMatchObject({ code: 'E_STORE_ROLLED_BACK' });
    } finally {
      d.cleanup();
    }
  });

  it('a witness without a fingerprint (older) learns the first one at its version, then holds it', async () => {
    const d = tempDir();
    try {
      const w = versionWitness(join(d.path, 'w'));
      await w.advance('c', 5);
      await w.check('c', 5, 'db', 'aa');
      await w.advance('c', 5, 'aa');
      await expect(w.check('c', 5, 'db', 'cc')).rejects.toMatchObject({ code: 'E_STORE_ROLLED_BACK' });
      await w.advance('c', 6, 'dd');
      await w.check('c', 6, 'db', 'dd');
      await expect(w.check('c', 5, 'db', 'aa')).rejects.toMatchObject({ code: 'E_STORE_ROLLED_BACK' });
    } finally {
      d.cleanup();
    }
  });
});

describe('the version rule, per coin, only rising', () => {
  it('refuses a version below the highest seen (E_STORE_ROLLED_BACK, exit 1 as in the mint store); equal or above passes', async () => {
    const d = tempDir();
    try {
      const w = versionWitness(join(d.path, 'w'));
      await w.check('c1', 1, 'db'); // nothing seen yet
      await w.advance('c1', 5);
      await w.check('c1', 5, 'db');
      await w.check('c1', 6, 'db');
      await expect(w.check('c1', 4, 'postgres://u@h/db')).rejects.toMatchObject({ code: 'E_STORE_ROLLED_BACK', exitCode: 1 });
      await w.check('c2', 1, 'db'); // per coin
    } finally {
      d.cleanup();
    }
  });

  it('only rises: a lower advance, and racing advances, leave the highest', async () => {
    const d = tempDir();
    try {
      const w = versionWitness(join(d.path, 'w'));
      await w.advance('c', 7);
      await w.advance('c', 3);
      await expect(w.check('c', 6, 'db')).rejects.toMatchObject({ code: 'E_STORE_ROLLED_BACK' });
      const other = versionWitness(join(d.path, 'w'));
      await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? w : other).advance('c', 8 + ((i * 7) % 20))));
      await w.check('c', 27, 'db');
      await expect(w.check('c', 26, 'db')).rejects.toMatchObject({ code: 'E_STORE_ROLLED_BACK' });
    } finally {
      d.cleanup();
    }
  });
});
