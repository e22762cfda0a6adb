/**
 * Every fast-check property in the suite runs from one known seed, so a run is
 * repeatable and a failure can be replayed. fast-check's failure message carries the
 * seed and the path of the counterexample (`{ seed: …, path: "…" }`); replay with
 *
 *   FC_SEED=<seed> npx vitest run path/to/file.test.ts
 *
 * (or pass `{ seed, path }` to that one `fc.assert` while debugging). FC_SEED=random
 * explores: a fresh seed per test file, printed before the file runs. A property that
 * passes its own `seed` is pinned to it and ignores FC_SEED — none should.
 */
import fc from 'fast-check';

/** The suite's seed when FC_SEED is not set: issue 14, nothing more to it. */
export const DEFAULT_SEED = 14;

function seedFromEnvironment(value: string | undefined): number {
  if (value === undefined || value === '') return DEFAULT_SEED;
  if (value === 'random') {
    const seed = (Date.now() ^ (Math.random() * 0x100000000)) | 0;
    console.error(`fast-check: FC_SEED=random chose seed ${seed} (replay with FC_SEED=${seed})`);
    return seed;
  }
  if (!/^-?\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new Error(`FC_SEED must be an integer or "random", not ${JSON.stringify(value)}`);
  }
  return Number(value) | 0;
}

fc.configureGlobal({ ...fc.readConfigureGlobal(), seed: seedFromEnvironment(process.env.FC_SEED) });
