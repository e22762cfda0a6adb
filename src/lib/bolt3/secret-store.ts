/**
 * BOLT 3 "Efficient Per-commitment Secret Storage": the receiver of per-commitment
 * secrets keeps at most 49 of them (one per count of trailing zero bits of the index)
 * and derives every older one on demand, because a secret whose index ends in B zero
 * bits derives all secrets sharing its upper 48 - B bits.
 *
 *     where_to_put_secret(I): the number of trailing 0 bits of I (48 for I = 0)
 *     insert_secret(secret, I):
 *         B = where_to_put_secret(I)
 *         for b in 0 to B - 1:
 *             if derive_secret(secret, B, known[b].index) != known[b].secret:
 *                 error The secret for I is incorrect
 *         known[B] = (I, secret)
 *
 * Invariant: every stored secret derives every earlier secret it covers. A secret that
 * does not is refused (`E_BAD_PER_COMMITMENT_SECRET`) and leaves the store unchanged: a
 * peer revealing a wrong secret has not revoked its commitment. Secrets arrive one index
 * down from the previous one (BOLT 2's revoke_and_ack order); anything else is refused
 * (`E_PER_COMMITMENT_SECRET_ORDER`) instead of leaving a gap no later check would notice.
 */
import { equalBytes } from '../bytes.ts';
import { MalformedInputError, RefusedError } from '../errors.ts';
import { checkIndex, deriveFrom, testBit } from './per-commitment.ts';

export type StoredSecret = { index: number; secret: Uint8Array };

/** `where_to_put_secret(I)`: the count of trailing zero bits, 48 for the seed's own index 0. */
export function whereToPutSecret(index: number): number {
  for (let b = 0; b < 48; b++) if (testBit(index, b)) return b;
  return 48;
}

/** I with its lowest `bits` bits cleared: the prefix a bucket-`bits` secret derives from. */
function prefix(index: number, bits: number): number {
  return Math.floor(index / 2 ** bits) * 2 ** bits;
}

export class PerCommitmentSecretStore {
  /** known[b]: the latest secret whose index has b trailing zero bits. */
  private readonly known: (StoredSecret | undefined)[] = new Array(49).fill(undefined);
  private last: number | undefined;

  /** The index of the latest secret received (undefined while empty). */
  get lastIndex(): number | undefined {
    return this.last;
  }

  /**
   * `insert_secret(secret, I)`. Throws, leaving the store unchanged, when the secret
   * does not derive the stored secrets it covers or does not come right after the last.
   */
  insertSecret(index: number, secret: Uint8Array): void {
    checkIndex(index);
    if (secret.length !== 32) throw new MalformedInputError('E_BAD_LENGTH', 'a per-commitment secret must be 32 bytes');
    if (this.last !== undefined && index !== this.last - 1) {
      throw new RefusedError(
        'E_PER_COMMITMENT_SECRET_ORDER',
        `per-commitment secret ${index} does not follow ${this.last} (expected ${this.last - 1})`,
        { index, expected: this.last - 1 },
      );
    }
    const B = whereToPutSecret(index);
    for (let b = 0; b < B; b++) {
      const k = this.known[b];
      if (k && !equalBytes(deriveFrom(secret, B, k.index), k.secret)) {
        throw new RefusedError(
          'E_BAD_PER_COMMITMENT_SECRET',
          `the per-commitment secret for index ${index} does not derive the stored secret for index ${k.index}`,
          { index, inconsistentWith: k.index },
        );
      }
    }
    this.known[B] = { index, secret: Uint8Array.from(secret) };
    this.last = index;
  }

  /** `derive_old_secret(I)`: the secret of any index at or after the first one received. */
  deriveSecret(index: number): Uint8Array {
    checkIndex(index);
    for (let b = 0; b < this.known.length; b++) {
      const k = this.known[b];
      if (k && prefix(index, b) === k.index) return deriveFrom(k.secret, b, index);
    }
    throw new RefusedError('E_UNKNOWN_PER_COMMITMENT_SECRET', `no per-commitment secret received yet for index ${index}`, { index });
  }

  /** The stored secrets, bucket by bucket (at most 49), for persisting. */
  entries(): StoredSecret[] {
    return this.known.filter((k): k is StoredSecret => k !== undefined).map((k) => ({ index: k.index, secret: Uint8Array.from(k.secret) }));
  }

  /**
   * A store from persisted entries, checked as insert_secret checked them: each in its
   * bucket, each deriving the later-bucket secrets it covers. `lastIndex` is the
   * lowest index among them.
   */
  static fromEntries(entries: readonly StoredSecret[]): PerCommitmentSecretStore {
    const store = new PerCommitmentSecretStore();
    for (const e of entries) {
      checkIndex(e.index);
      const B = whereToPutSecret(e.index);
      if (store.known[B]) throw new MalformedInputError('E_BAD_SECRET_STORE', `two stored secrets for bucket ${B}`);
      if (e.secret.length !== 32) throw new MalformedInputError('E_BAD_SECRET_STORE', `stored secret ${e.index} is not 32 bytes`);
      store.known[B] = { index: e.index, secret: Uint8Array.from(e.secret) };
    }
    for (let B = 0; B < 49; B++) {
      const high = store.known[B];
      if (!high) continue;
      for (let b = 0; b < B; b++) {
        const low = store.known[b];
        if (low && prefix(low.index, B) === high.index && !equalBytes(deriveFrom(high.secret, B, low.index), low.secret)) {
          throw new RefusedError('E_BAD_PER_COMMITMENT_SECRET', `the stored secret for index ${high.index} does not derive the one for index ${low.index}`);
        }
      }
    }
    const indices = entries.map((e) => e.index);
    store.last = indices.length ? Math.min(...indices) : undefined;
    return store;
  }
}
