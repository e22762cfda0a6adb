/**
 * BOLT 3 Appendix D: per-commitment secrets. Every `generate_from_seed` vector through
 * `generateFromSeed`, and every storage sequence through PerCommitmentSecretStore's
 * `insertSecret`: an insert the spec marks OK is accepted, one it marks ERROR is refused
 * with E_BAD_PER_COMMITMENT_SECRET (exit class 4) and leaves the store as it was, and
 * after each OK insert every earlier secret of the sequence derives from the store.
 */
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/lib/bytes.ts';
import { ExitCode, RefusedError } from '../../src/lib/errors.ts';
import { generateFromSeed } from '../../src/lib/bolt3/per-commitment.ts';
import { PerCommitmentSecretStore } from '../../src/lib/bolt3/secret-store.ts';
import { loadVector } from '../helpers.ts';

type Gen = { name: string; seed: string; index: number; index_as_written: string; output: string };
type Step = { index: number; secret: string; expected: 'OK' | 'ERROR' };
type StorageTest = { name: string; steps: Step[] };

const V = loadVector('bolts/bolt03/per-commitment-secret-test-vectors.json');
const generation = V.generation_tests.vectors as Gen[];
const storage = V.storage_tests.tests as StorageTest[];

function refusal(fn: () => void): RefusedError {
  try {
    fn();
  } catch (e) {
    if (e instanceof RefusedError) return e;
    throw e;
  }
  throw new Error('expected a refusal, the call succeeded');
}

describe('BOLT 3 Appendix D: per-commitment secrets', () => {
  it('example: the first secret of the all-0xff seed, then a store that derives it from the next', () => {
    const seed = fromHex('ff'.repeat(32));
    // Index 2^48 - 1 (commitment 0) has all 48 bits set: 48 flips and hashes.
    expect(toHex(generateFromSeed(seed, 2 ** 48 - 1))).toBe('7cc854b54e3e0dcdb010d7a3fee464a9687be6e8db3be6854c475621e007a5dc');
    const store = new PerCommitmentSecretStore();
    store.insertSecret(2 ** 48 - 1, generateFromSeed(seed, 2 ** 48 - 1));
    // Index 2^48 - 2 ends in a 0 bit: its secret derives the previous one, which the
    // store can then forget.
    store.insertSecret(2 ** 48 - 2, generateFromSeed(seed, 2 ** 48 - 2));
    expect(store.entries().map((e) => e.index)).toEqual([2 ** 48 - 1, 2 ** 48 - 2]);
    expect(toHex(store.deriveSecret(2 ** 48 - 1))).toBe('7cc854b54e3e0dcdb010d7a3fee464a9687be6e8db3be6854c475621e007a5dc');
  });

  it(`reads ${generation.length} generation vectors and ${storage.length} storage sequences`, () => {
    expect(generation).toHaveLength(5);
    expect(storage).toHaveLength(9);
    expect(storage.flatMap((t) => t.steps).filter((s) => s.expected === 'ERROR')).toHaveLength(8);
  });

  describe('generate_from_seed', () => {
    for (const g of generation) {
      it(`${g.name} (I = ${g.index_as_written})`, () => {
        expect(toHex(generateFromSeed(fromHex(g.seed), g.index))).toBe(g.output);
      });
    }
  });

  describe('insert_secret', () => {
    for (const t of storage) {
      it(t.name, () => {
        const store = new PerCommitmentSecretStore();
        const accepted: Step[] = [];
        for (const step of t.steps) {
          if (step.expected === 'OK') {
            store.insertSecret(step.index, fromHex(step.secret));
            accepted.push(step);
            for (const earlier of accepted) expect(toHex(store.deriveSecret(earlier.index))).toBe(earlier.secret);
          } else {
            const before = store.entries();
            const e = refusal(() => store.insertSecret(step.index, fromHex(step.secret)));
            expect(e.code).toBe('E_BAD_PER_COMMITMENT_SECRET');
            expect(e.exitCode).toBe(ExitCode.refused);
            expect(store.entries()).toEqual(before);
            expect(store.lastIndex).toBe(accepted.at(-1)?.index);
          }
        }
        expect(accepted.length).toBeGreaterThan(0);
      });
    }
  });
});
