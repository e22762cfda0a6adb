/**
 * NUT-13 deterministic secrets (src/lib/ecash/nut13.ts) pinned where `npm run mutate` found a
 * planted change passing every test (issue 42, deliverable 2). The official vectors (counters
 * 0–4) are in test/vectors/cashu.test.ts; here the edges NUT-13 implies: the counter is a
 * hardened BIP-32 index for v00 (0 … 2^31 − 1, refused outside), keyset_id_int is the id's
 * integer mod 2^31 − 1, and v01 is HMAC-SHA256(seed, "Cashu_KDF_HMAC_SHA256" ‖ id ‖
 * counter_be64 ‖ 00|01), recomputed here with node:crypto.
 */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { readVectorText } from '../../helpers.ts';
import { refusal } from '../../setup/refusal.ts';
import { childKey, derivePath } from '../../../src/lib/ecash/bip32.ts';
import { deriveSecret, keysetIdInt } from '../../../src/lib/ecash/nut13.ts';

const v13 = JSON.parse(readVectorText('cashu/nut13.json'));
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const SEED = new Uint8Array(64).map((_, i) => 7 * i + 1);
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** NUT-13 v01, from its text: HMAC-SHA256(seed, "Cashu_KDF_HMAC_SHA256" ‖ id bytes ‖ counter as 8 bytes big-endian ‖ 00 (secret) | 01 (r)). */
const v01 = (seed: Uint8Array, id: string, counter: number) => {
  const msg = (tail: number) => Buffer.concat([Buffer.from('Cashu_KDF_HMAC_SHA256'), Buffer.from(id, 'hex'), Buffer.from(counter.toString(16).padStart(16, '0'), 'hex'), Buffer.of(tail)]);
  const mac = (tail: number) => createHmac('sha256', seed).update(msg(tail)).digest();
  return { secret: mac(0).toString('hex'), r: BigInt('0x' + mac(1).toString('hex')) % N };
};

describe('keyset_id_int', () => {
  it('the id as a big-endian integer mod 2^31 − 1', () => {
    expect(keysetIdInt('000000007fffffff')).toBe(0n);
    expect(keysetIdInt('0000000080000000')).toBe(1n);
    expect(keysetIdInt('000000007ffffffe')).toBe(2n ** 31n - 2n);
    expect(keysetIdInt('00ffffffffffffff')).toBe((2n ** 56n - 1n) % (2n ** 31n - 1n));
  });
});

describe('the counter', () => {
  const id00 = v13.v00.keyset_id as string;
  const id01 = v13.v01.keyset_id as string;

  it('2^31 − 1 is the last counter: v01 as NUT-13 computes it, v00 at the hardened index 2^31 − 1', () => {
    const last = 2 ** 31 - 1;
    expect(deriveSecret(SEED, id01, last)).toEqual(v01(SEED, id01, last));
    expect(deriveSecret(SEED, id01, 3)).toEqual(v01(SEED, id01, 3));
    expect(deriveSecret(SEED, id01, 0)).toEqual(v01(SEED, id01, 0));
    // v00: m/129372'/0'/{keyset_id_int}'/{counter}'/0 (secret) and /1 (r), with bip32.ts (its own vectors: bip32-mutants)
    const base = derivePath(SEED, `m/129372'/0'/${v13.keyset_id_int.keyest_id_int}'/${last}'`);
    const d = deriveSecret(SEED, id00, last);
    expect(d.secret).toBe(toHex(childKey(base, 0).key));
    expect(d.r).toBe(BigInt('0x' + toHex(childKey(base, 1).key)));
  });

  it('outside 0 … 2^31 − 1, or not a whole number: E_BAD_COUNTER (exit 3), for either version', () => {
    for (const id of [id00, id01]) {
      for (const c of [-1, 2 ** 31, 2 ** 32, 0.5, Number.NaN, 2 ** 53]) {
        expect(refusal(() => deriveSecret(SEED, id, c), 'E_BAD_COUNTER', 3).message).toBe(`counter ${c} is out of range`);
      }
    }
  });

  it('an id of another version: E_BAD_KEYSET (exit 3) naming it', () => {
    for (const id of ['02' + '00'.repeat(32), '10' + '00'.repeat(7), 'ab00']) {
      expect(refusal(() => deriveSecret(SEED, id, 0), 'E_BAD_KEYSET', 3).message).toBe(`keyset id ${id} has an unknown version`);
    }
  });

  it('a version-01 id that is not hex: E_BAD_HEX (exit 3) naming the keyset id', () => {
    expect(refusal(() => deriveSecret(SEED, '01zz', 0), 'E_BAD_HEX', 3).message).toBe('keyset id is not valid hex');
  });

  it('the version is the id\'s first byte: an id ending in 00 or 01 is not that version', () => {
    const id = '01' + '00'.repeat(31) + '00';
    expect(deriveSecret(SEED, id, 1)).toEqual(v01(SEED, id, 1));
  });
});
