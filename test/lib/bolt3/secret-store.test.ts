/**
 * The compact per-commitment secret store beyond the spec's sequences: it keeps at most
 * 49 secrets however many it has received and derives every one of them; it refuses,
 * by code and without changing, a secret out of order, a secret that is not the next
 * one of the same seed, and an index it has not received yet; and a persisted store
 * comes back identical, or refused if tampered with.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ExitCode } from '../../../src/lib/errors.ts';
import { MAX_INDEX, commitmentOfIndex, generateFromSeed, indexOfCommitment } from '../../../src/lib/bolt3/per-commitment.ts';
import { PerCommitmentSecretStore, whereToPutSecret } from '../../../src/lib/bolt3/secret-store.ts';
import { thrown } from '../../setup/refusal.ts';

const seed = new Uint8Array(32).fill(0x42);

describe('per-commitment secret store', () => {
  it('example: commitment n has index 2^48 - 1 - n; the store received 0..2 and derives them all', () => {
    expect(indexOfCommitment(0)).toBe(MAX_INDEX);
    expect(commitmentOfIndex(MAX_INDEX - 5)).toBe(5);
    const store = new PerCommitmentSecretStore();
    for (const n of [0, 1, 2]) store.insertSecret(indexOfCommitment(n), generateFromSeed(seed, indexOfCommitment(n)));
    for (const n of [0, 1, 2]) expect(store.deriveSecret(indexOfCommitment(n))).toEqual(generateFromSeed(seed, indexOfCommitment(n)));
    expect(store.lastIndex).toBe(indexOfCommitment(2));
  });

  it('where_to_put_secret is the count of trailing zero bits, 48 for index 0', () => {
    expect(whereToPutSecret(MAX_INDEX)).toBe(0);
    expect(whereToPutSecret(MAX_INDEX - 1)).toBe(1);
    expect(whereToPutSecret(2 ** 47)).toBe(47);
    expect(whereToPutSecret(0)).toBe(48);
  });

  it('keeps at most 49 secrets and derives every one received (random seeds and start points)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.integer({ min: 0, max: 2 ** 40 }), fc.integer({ min: 1, max: 300 }), (s, start, count) => {
        const store = new PerCommitmentSecretStore();
        const first = MAX_INDEX - start;
        for (let i = 0; i < count; i++) store.insertSecret(first - i, generateFromSeed(s, first - i));
        expect(store.entries().length).toBeLessThanOrEqual(49);
        for (let i = 0; i < count; i++) expect(store.deriveSecret(first - i)).toEqual(generateFromSeed(s, first - i));
      }),
      { numRuns: 25 },
    );
  });

  it('refuses a secret that is not the next one (E_PER_COMMITMENT_SECRET_ORDER), unchanged', () => {
    const store = new PerCommitmentSecretStore();
    store.insertSecret(MAX_INDEX, generateFromSeed(seed, MAX_INDEX));
    const before = store.entries();
    for (const index of [MAX_INDEX - 2, MAX_INDEX]) {
      const e = thrown(() => store.insertSecret(index, generateFromSeed(seed, index)));
      expect(e.code).toBe('E_PER_COMMITMENT_SECRET_ORDER');
      expect(e.exitCode).toBe(ExitCode.refused);
    }
    expect(store.entries()).toEqual(before);
  });

  it('refuses the next secret of another seed (E_BAD_PER_COMMITMENT_SECRET) when it must derive a stored one', () => {
    const store = new PerCommitmentSecretStore();
    store.insertSecret(MAX_INDEX, generateFromSeed(seed, MAX_INDEX));
    const other = generateFromSeed(new Uint8Array(32).fill(1), MAX_INDEX - 1);
    const e = thrown(() => store.insertSecret(MAX_INDEX - 1, other));
    expect(e.code).toBe('E_BAD_PER_COMMITMENT_SECRET');
    expect(e.detail).toEqual({ index: MAX_INDEX - 1, inconsistentWith: MAX_INDEX });
    expect(store.lastIndex).toBe(MAX_INDEX);
  });

  it('refuses an index not received yet (E_UNKNOWN_PER_COMMITMENT_SECRET) and a malformed index or secret (exit 3)', () => {
    const store = new PerCommitmentSecretStore();
    store.insertSecret(MAX_INDEX, generateFromSeed(seed, MAX_INDEX));
    expect(thrown(() => store.deriveSecret(MAX_INDEX - 1)).code).toBe('E_UNKNOWN_PER_COMMITMENT_SECRET');
    for (const fn of [() => store.insertSecret(MAX_INDEX - 1, new Uint8Array(31)), () => store.deriveSecret(2 ** 48), () => generateFromSeed(seed, -1)]) {
      expect(thrown(fn).exitCode).toBe(ExitCode.malformed);
    }
  });

  it('persists: entries() → fromEntries() derives the same and takes the next secret; a tampered entry is refused', () => {
    const store = new PerCommitmentSecretStore();
    for (let i = 0; i < 37; i++) store.insertSecret(MAX_INDEX - i, generateFromSeed(seed, MAX_INDEX - i));
    const again = PerCommitmentSecretStore.fromEntries(store.entries());
    expect(again.lastIndex).toBe(MAX_INDEX - 36);
    expect(again.deriveSecret(MAX_INDEX - 3)).toEqual(generateFromSeed(seed, MAX_INDEX - 3));
    again.insertSecret(MAX_INDEX - 37, generateFromSeed(seed, MAX_INDEX - 37));
    const entries = store.entries();
    const tampered = entries.map((e, i) => (i === entries.length - 1 ? { ...e, secret: e.secret.map((b) => b ^ 1) } : e));
    expect(thrown(() => PerCommitmentSecretStore.fromEntries(tampered)).code).toBe('E_BAD_PER_COMMITMENT_SECRET');
  });
});
