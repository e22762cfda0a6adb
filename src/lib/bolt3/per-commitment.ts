/**
 * BOLT 3 "Per-commitment Secret Requirements": the secret of each commitment is derived
 * from one 32-byte seed and a 48-bit index, so a node stores one seed for all its
 * commitments and its peer can store all revealed secrets in 49 slots (./secret-store.ts).
 *
 *     generate_from_seed(seed, I):
 *         P = seed
 *         for B in 47 down to 0:
 *             if B set in I:
 *                 flip(B) in P
 *                 P = SHA256(P)
 *         return P
 *
 * The first commitment uses index 2^48 - 1 and each next one the index below it, so
 * commitment number n has index 2^48 - 1 - n. A per-commitment secret is single-use in
 * the sense that matters: once revealed (to revoke its commitment), anyone holding it
 * and the revocation basepoint secret can take every output of that commitment.
 */
import { sha256 } from '../hash.ts';
import { MalformedInputError } from '../errors.ts';
import { pointOf } from './keys.ts';

/** 2^48 - 1: the index of commitment number 0 and the largest index there is. */
export const MAX_INDEX = 2 ** 48 - 1;

export function checkIndex(index: number, field = 'per-commitment index'): number {
  if (!Number.isSafeInteger(index) || index < 0 || index > MAX_INDEX) {
    throw new MalformedInputError('E_BAD_COMMITMENT_INDEX', `${field} must be an integer in [0, 2^48 - 1], got ${index}`);
  }
  return index;
}

/** Whether bit `b` (0..47) of a 48-bit index is set; JS bit operators stop at 32 bits. */
export function testBit(index: number, b: number): boolean {
  return Math.floor(index / 2 ** b) % 2 === 1;
}

/** `generate_from_seed(seed, I)` for the bits of I below `bits` (48 for a seed, fewer in the store). */
export function deriveFrom(base: Uint8Array, bits: number, index: number): Uint8Array {
  let p = Uint8Array.from(base);
  for (let b = bits - 1; b >= 0; b--) {
    if (testBit(index, b)) {
      p[b >> 3]! ^= 1 << (b & 7);
      p = sha256(p);
    }
  }
  return p;
}

/** The per-commitment secret for `index`: `generate_from_seed(seed, index)`. */
export function generateFromSeed(seed: Uint8Array, index: number): Uint8Array {
  if (seed.length !== 32) throw new MalformedInputError('E_BAD_LENGTH', 'the per-commitment seed must be 32 bytes');
  return deriveFrom(seed, 48, checkIndex(index));
}

/** The index of commitment number `n` (counted from 0): 2^48 - 1 - n. */
export function indexOfCommitment(commitmentNumber: number): number {
  return MAX_INDEX - checkIndex(commitmentNumber, 'commitment number');
}

/** The commitment number of an index: the inverse of indexOfCommitment. */
export function commitmentOfIndex(index: number): number {
  return MAX_INDEX - checkIndex(index);
}

/** `per_commitment_point = per_commitment_secret * G`. */
export function perCommitmentPoint(perCommitmentSecret: Uint8Array): Uint8Array {
  return pointOf(perCommitmentSecret, 'per_commitment_secret');
}
