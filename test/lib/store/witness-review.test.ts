/**
 * The rollback witness's fingerprint (review R10, src/lib/store/pg/witness.ts): the same
 * version with another fingerprint is a forked store, refused; a witness written before
 * fingerprints (version only) learns one and then holds it; a fingerprint is never replaced.
 * The witness lives in the host's state.sqlite (test/state.ts `versionWitness`).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../helpers.ts';
import { versionWitness } from '../../state.ts';

describe('review: the witness fingerprint', () => {
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
