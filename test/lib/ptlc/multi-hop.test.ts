/**
 * Decorrelated multi-hop locks as properties, for routes of 0–26 hops: every lock point
 * differs (from each other and from Z), every record satisfies R = L + y·G, settling
 * right to left from the payee's z + Σy gives back z at the sender, and a record with any
 * point or tweak changed is refused before anything is locked. Expected values come from
 * point arithmetic done here with @noble's Point directly, not from the code under test.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { toHex } from '../../../src/lib/bytes.ts';
import { deterministicRandom } from '../../../src/lib/random.ts';
import { checkLock, lockSecret, planLocks } from '../../../src/lib/ptlc/multi-hop.ts';
import { refusal } from '../../setup/refusal.ts';

const G = secp256k1.Point.BASE;
const scalar = (b: Uint8Array) => BigInt('0x' + toHex(b));

describe('decorrelated multi-hop locks', () => {
  it('distinct points, R = L + y·G everywhere, and right-to-left settlement returns z to the sender', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 26 }), fc.string(), fc.uint8Array({ minLength: 32, maxLength: 32 }), (hops, seed, zBytes) => {
        const z = (scalar(zBytes) % (secp256k1.Point.Fn.ORDER - 1n)) + 1n;
        const Z = G.multiply(z).toBytes(true);
        const records = planLocks(Z, hops, deterministicRandom(seed));
        expect(records.length).toBe(hops + 2);
        const points = records.slice(0, -1).map((r) => toHex(r.R));
        expect(new Set([toHex(Z), ...points]).size).toBe(hops + 2);
        for (const r of records) expect(secp256k1.Point.fromBytes(r.L).add(G.multiply(scalar(r.y))).toBytes(true)).toEqual(r.R);
        // The payee: r = z + Σy opens the last lock.
        const zSecret = Uint8Array.from(Buffer.from(z.toString(16).padStart(64, '0'), 'hex'));
        let secret = lockSecret(records.at(-1)!, 'l', zSecret);
        for (let i = hops; i >= 0; i--) secret = lockSecret(records[i]!, 'r', secret);
        expect(toHex(secret)).toBe(toHex(zSecret));
      }),
      { numRuns: 40 },
    );
  });

  it('a record with a point or the tweak changed is refused (E_BAD_HOP_LOCK), and a secret that opens neither point (E_WRONG_SECRET)', () => {
    const Z = G.multiply(7n).toBytes(true);
    const [, hop] = planLocks(Z, 2, deterministicRandom('t'));
    const other = G.multiply(11n).toBytes(true);
    refusal(() => checkLock({ ...hop!, R: other }), 'E_BAD_HOP_LOCK', 4);
    refusal(() => checkLock({ ...hop!, L: other }), 'E_BAD_HOP_LOCK', 4);
    const y = hop!.y.slice();
    y[31]! ^= 1;
    refusal(() => checkLock({ ...hop!, y }), 'E_BAD_HOP_LOCK', 4);
    refusal(() => lockSecret(hop!, 'r', new Uint8Array(32).fill(1)), 'E_WRONG_SECRET', 4);
  });
});
