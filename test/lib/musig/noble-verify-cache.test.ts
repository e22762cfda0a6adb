/**
 * noble's BIP-340 Verify remembers the x-only keys it lifted (src/lib/musig/engine/
 * backend-noble.ts): a key verified before is not lifted again. A remembered key must never
 * answer for another one: keys that differ in one byte, an invalid x remembered as such beside
 * valid keys with the same first bytes, and keys pushed out of the cache by thousands of
 * others, each checked against noble's own schnorr.verify (test/setup/backends.ts).
 * Inputs that are not byte arrays are false, as schnorr.verify's were, never a throw.
 */
import { describe, it, expect } from 'vitest';
import { schnorr } from '@noble/curves/secp256k1.js';
import { nobleBackend } from '../../../src/lib/musig/engine/backend-noble.ts';
import { nobleVerify } from '../../setup/backends.ts';
import { P as FIELD_P, bytes32 } from '../../../src/lib/musig/engine/scalar.ts';

const sk = (i: number) => bytes32(BigInt(i) * 0x9e3779b97f4a7c15n + 1n);
const msg = Uint8Array.from({ length: 32 }, (_, i) => i);

describe("noble's BIP-340 Verify with remembered keys", () => {
  it('a key one byte away from a remembered one, and an invalid x beside valid keys of the same prefix', () => {
    for (let i = 1; i <= 20; i++) {
      const pk = schnorr.getPublicKey(sk(i));
      const sig = schnorr.sign(msg, sk(i), new Uint8Array(32));
      expect(nobleBackend.verifySchnorr(sig, msg, pk)).toBe(true); // now remembered
      for (const at of [0, 15, 31]) {
        const other = Uint8Array.from(pk);
        other[at]! ^= 1;
        expect(nobleBackend.verifySchnorr(sig, msg, other)).toBe(nobleVerify(sig, msg, other));
        expect(nobleBackend.verifySchnorr(sig, msg, other)).toBe(false);
      }
      expect(nobleBackend.verifySchnorr(sig, msg, pk)).toBe(true);
    }
    // x ≥ p and an x with no point: remembered as invalid; valid keys sharing their first bytes still verify.
    const tooBig = bytes32(FIELD_P + 5n);
    let x = 5n;
    while (nobleBackend.liftX(bytes32(x))) x++;
    const noPoint = bytes32(x);
    for (const bad of [tooBig, noPoint]) {
      const sig = schnorr.sign(msg, sk(1), new Uint8Array(32));
      expect(nobleBackend.verifySchnorr(sig, msg, bad)).toBe(false);
      expect(nobleBackend.verifySchnorr(sig, msg, bad)).toBe(false);
    }
    let found = 0;
    for (let i = 100; found < 3; i++) {
      const pk = schnorr.getPublicKey(sk(i));
      if (pk[0] !== noPoint[0]) continue;
      found++;
      expect(nobleBackend.verifySchnorr(schnorr.sign(msg, sk(i), new Uint8Array(32)), msg, pk)).toBe(true);
    }
  });

  it('two keys whose x share their first two bytes: each signature verifies under its own key, not the other', () => {
    // A cache keyed on less than the whole x would hand the second key the first one's point.
    const seen = new Map<number, number>();
    const pairs: [number, number][] = [];
    for (let i = 1; pairs.length < 3; i++) {
      const pk = schnorr.getPublicKey(sk(i));
      const prefix = pk[0]! * 256 + pk[1]!;
      const j = seen.get(prefix);
      if (j === undefined) seen.set(prefix, i);
      else pairs.push([j, i]);
    }
    for (const [i, j] of pairs) {
      const [a, b] = [i, j].map((k) => ({ pk: schnorr.getPublicKey(sk(k)), sig: schnorr.sign(msg, sk(k), new Uint8Array(32)) }));
      expect(nobleBackend.verifySchnorr(a!.sig, msg, a!.pk)).toBe(true);
      expect(nobleBackend.verifySchnorr(b!.sig, msg, b!.pk)).toBe(true);
      expect(nobleBackend.verifySchnorr(a!.sig, msg, b!.pk)).toBe(false);
      expect(nobleBackend.verifySchnorr(b!.sig, msg, a!.pk)).toBe(false);
    }
  });

  it('keys pushed out by 2,500 others are lifted again and answer as before', () => {
    const first = Array.from({ length: 5 }, (_, i) => ({ pk: schnorr.getPublicKey(sk(i + 1)), sig: schnorr.sign(msg, sk(i + 1), new Uint8Array(32)) }));
    for (const { pk, sig } of first) expect(nobleBackend.verifySchnorr(sig, msg, pk)).toBe(true);
    // Distinct x values, valid or not: each is lifted and remembered (a wrong signature is enough).
    const junk = new Uint8Array(64).fill(1);
    for (let i = 0; i < 2500; i++) nobleBackend.verifySchnorr(junk, msg, bytes32(BigInt(i) * 7919n + 3n));
    for (const { pk, sig } of first) {
      expect(nobleBackend.verifySchnorr(sig, msg, pk)).toBe(true);
      expect(nobleBackend.verifySchnorr(sig, Uint8Array.of(...msg, 0), pk)).toBe(false);
    }
  });

  it('inputs that are not byte arrays are false, not a throw', () => {
    const pk = schnorr.getPublicKey(sk(3));
    const sig = schnorr.sign(Uint8Array.of(1, 2, 3, 4, 5), sk(3), new Uint8Array(32));
    expect(nobleBackend.verifySchnorr(sig, Uint8Array.of(1, 2, 3, 4, 5), pk)).toBe(true);
    const verify = nobleBackend.verifySchnorr as (s: unknown, m: unknown, p: unknown) => boolean;
    expect(verify(sig, '12345', pk)).toBe(false);
    expect(verify(sig, [1, 2, 3, 4, 5], pk)).toBe(false);
    expect(verify(undefined, Uint8Array.of(1), pk)).toBe(false);
    expect(verify(sig, Uint8Array.of(1), Array.from(pk))).toBe(false);
  });
});
