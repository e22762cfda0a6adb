/**
 * The one source of randomness. Normally the OS CSPRNG; in test mode a deterministic
 * stream derived from a seed, so CI snapshots are byte-identical run after run.
 *
 * Test mode is a loaded gun for real funds (every "random" nonce and key becomes
 * predictable); the CLI layer warns loudly and refuses it on mainnet. Each draw is
 * labelled so two different purposes never receive the same bytes even in test mode,
 * and callers that must never repeat across processes (secret nonces) mix a
 * persistent counter into the label.
 */
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { sha256 } from '@noble/hashes/sha2.js';
import { hmac } from '@noble/hashes/hmac.js';
import { utf8, concatBytes } from './bytes.ts';

export interface RandomSource {
  /** `length` fresh bytes; `label` says what for (mixed in only in test mode). */
  bytes(length: number, label: string): Uint8Array;
  readonly deterministic: boolean;
}

export const systemRandom: RandomSource = {
  bytes: (length) => new Uint8Array(nodeRandomBytes(length)),
  deterministic: false,
};

/**
 * HMAC-SHA256 in counter mode over (label, draw number): deterministic for a given
 * seed and call sequence, distinct across labels and draws.
 */
export function deterministicRandom(seed: string): RandomSource {
  const key = sha256(utf8(`offchain/test-seed/${seed}`));
  let draw = 0;
  return {
    deterministic: true,
    bytes(length: number, label: string): Uint8Array {
      const out = new Uint8Array(length);
      const header = utf8(`${label}\u0000${draw++}\u0000`);
      for (let block = 0, at = 0; at < length; block++, at += 32) {
        const chunk = hmac(sha256, key, concatBytes(header, new Uint8Array([block >>> 24, block >>> 16, block >>> 8, block])));
        out.set(chunk.subarray(0, Math.min(32, length - at)), at);
      }
      return out;
    },
  };
}
