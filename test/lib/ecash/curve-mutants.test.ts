/**
 * Cashu's secp256k1 helpers (src/lib/ecash/curve.ts) pinned where `npm run mutate` found a
 * planted change passing every test (issue 42, deliverable 2): a point is 33 bytes with an
 * 02/03 prefix and on the curve (E_BAD_POINT naming the field), a private scalar is 32 bytes
 * in [1, n − 1] (E_BAD_SCALAR), scalars are 32 bytes big-endian, and a secret k·P or k·G
 * refuses k outside [1, n − 1]. Expected points come from the test code's own curve
 * (test/independent/secp256k1.ts). The same on every backend: ./backends.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { G as IG, N as IN, encodeCompressed, liftX, pointMul } from '../../independent/secp256k1.ts';
import { refusal } from '../../setup/refusal.ts';
import {
  N, bytesToScalar, compressed, mulBase, mulSecret, pointFromBytes, pointFromHex, scalarFromBytes, scalarToBytes, uncompressed,
} from '../../../src/lib/ecash/curve.ts';

const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const THREE_G = toHex(encodeCompressed(pointMul(IG, 3n)));
const be32 = (k: bigint) => hex(k.toString(16).padStart(64, '0'));

describe('points', () => {
  it('33 bytes, 02 or 03, on the curve: both parities read', () => {
    expect(N).toBe(IN);
    expect(toHex(compressed(pointFromHex(THREE_G, 'K')))).toBe(THREE_G);
    const odd = (THREE_G.startsWith('02') ? '03' : '02') + THREE_G.slice(2); // −3G
    expect(toHex(compressed(pointFromBytes(hex(odd), 'K')))).toBe(toHex(encodeCompressed(pointMul(IG, IN - 3n))));
    expect(toHex(compressed(mulBase(1n)))).toBe(toHex(encodeCompressed(IG)));
  });

  it('anything else: E_BAD_POINT (exit 3) naming the field', () => {
    const form = (b: Uint8Array) => expect(refusal(() => pointFromBytes(b, 'the C of proof 2'), 'E_BAD_POINT', 3).message).toBe('the C of proof 2 is not a compressed secp256k1 point (33 bytes, 02/03 prefix)');
    form(hex(THREE_G).subarray(0, 32));
    form(hex(THREE_G + '00'));
    form(new Uint8Array(0));
    for (const prefix of ['00', '01', '04', '05', '06', '07', 'ff']) form(hex(prefix + THREE_G.slice(2)));
    form(uncompressed(pointFromHex(THREE_G, 'K')));
    let x = 1n;
    while (liftX(x) !== null) x++;
    expect(refusal(() => pointFromHex('03' + x.toString(16).padStart(64, '0'), 'B_'), 'E_BAD_POINT', 3).message).toBe('B_ is not a point on secp256k1');
    expect(refusal(() => pointFromBytes(hex('02' + 'ff'.repeat(32)), 'B_'), 'E_BAD_POINT', 3).message).toBe('B_ is not a point on secp256k1'); // x ≥ p
  });

  it('uncompressed: 04 ‖ x ‖ y', () => {
    const P = pointMul(IG, 3n)!;
    expect(toHex(uncompressed(pointFromHex(THREE_G, 'K')))).toBe('04' + P.x.toString(16).padStart(64, '0') + P.y.toString(16).padStart(64, '0'));
  });
});

describe('scalars', () => {
  it('32 bytes big-endian both ways, leading zeros kept', () => {
    expect(toHex(scalarToBytes(1n))).toBe('00'.repeat(31) + '01');
    expect(toHex(scalarToBytes(IN - 1n))).toBe((IN - 1n).toString(16));
    expect(bytesToScalar(hex('0102'))).toBe(0x0102n);
  });

  it('a private scalar in [1, n − 1] from exactly 32 bytes, else E_BAD_SCALAR (exit 3) naming the field', () => {
    expect(scalarFromBytes(be32(1n), 'k')).toBe(1n);
    expect(scalarFromBytes(be32(IN - 1n), 'k')).toBe(IN - 1n);
    for (const b of [be32(0n), be32(IN), be32(IN + 1n), hex('ff'.repeat(32)), hex('01'), hex('00' + toHex(be32(5n))), new Uint8Array(0), be32(5n).subarray(1)]) {
      expect(refusal(() => scalarFromBytes(b, 'the nonce'), 'E_BAD_SCALAR', 3).message).toBe('the nonce is not a secp256k1 scalar in [1, n-1] (32 bytes)');
    }
  });
});

describe('mulSecret and mulBase', () => {
  it('k·P and k·G', () => {
    expect(toHex(compressed(mulSecret(mulBase(1n), 3n)))).toBe(THREE_G);
    expect(toHex(compressed(mulBase(3n)))).toBe(THREE_G);
  });

  it('a secret scalar outside [1, n − 1] is refused, never a point (nor infinity)', () => {
    for (const k of [0n, -1n, IN, IN + 1n]) {
      expect(() => mulSecret(mulBase(1n), k), `k ${k}`).toThrow('a secret scalar must be in [1, n)');
      expect(() => mulBase(k), `k ${k}`).toThrow('a secret scalar must be in [1, n)');
    }
  });
});
