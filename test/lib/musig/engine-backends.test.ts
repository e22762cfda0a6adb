/**
 * Each secp256k1 backend against noble, operation by operation, on the cases BIP-327
 * leans on: invalid encodings, infinity (P + (−P), 0·P, 0·G), doubling, n − 1, parity;
 * then BIP-340 Verify on every row of the official test-vectors.csv, both through the
 * backend's own verifier and through the generic one built from its point operations.
 * Which backends run is decided by test code (../../setup/backends.ts): an installed
 * backend the product fails to load fails this file; one not installed is a visibly
 * skipped block, and test/setup/backends.test.ts fails if the lockfile installs it.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { readVectorText } from '../../helpers.ts';
import { loadBackend } from '../../../src/lib/musig/engine/select.ts';
import { ALL_BACKENDS, backendUnderTest } from '../../setup/backends.ts';
import { baseMinusMul, verifySchnorrWith, type BackendName, type Secp256k1Backend } from '../../../src/lib/musig/engine/backend.ts';
import { N, P as FIELD_P, bytes32, int } from '../../../src/lib/musig/engine/scalar.ts';
import { fromHex, toHex } from '../../../src/lib/bytes.ts';

const G = secp256k1.Point.BASE;
const rows = readVectorText('bips/bip-0340/test-vectors.csv')
  .split(/\r?\n/)
  .slice(1)
  .filter((l) => l.length > 0)
  .map((l) => l.split(','))
  .map((f) => ({ index: f[0]!, pk: f[2]!, msg: f[4]!, sig: f[5]!, result: f[6] === 'TRUE' }));

const scalar = fc.bigInt({ min: 1n, max: N - 1n });
const enc = <P>(ec: Secp256k1Backend<P>, p: P | null) => (p === null ? 'infinity' : toHex(ec.pointToBytes(p)));
const nobleEnc = (k: bigint) => (k % N === 0n ? 'infinity' : toHex(G.multiply(k % N).toBytes(true)));

for (const name of ALL_BACKENDS) {
  const backend = await backendUnderTest(name, () => loadBackend(name as BackendName));
  if (backend.skipped !== undefined) {
    describe.skip(`secp256k1 backend ${name}: SKIPPED, ${backend.skipped}`, () => {
      it('point operations and BIP-340 Verify', () => {});
    });
    continue;
  }
  const ec = backend.loaded;
  const point = (k: bigint) => ec.mulBase(k)!;

  describe(`secp256k1 backend ${name}`, () => {
    it('k·G, k·P, P + Q, negation and parity agree with noble', () => {
      fc.assert(
        fc.property(scalar, scalar, (a, b) => {
          expect(enc(ec, ec.mulBase(a))).toBe(nobleEnc(a));
          expect(enc(ec, ec.mul(point(a), b))).toBe(nobleEnc(a * b));
          expect(enc(ec, ec.add(point(a), point(b)))).toBe(nobleEnc(a + b));
          expect(enc(ec, ec.negate(point(a)))).toBe(nobleEnc(N - a));
          expect(ec.hasEvenY(point(a))).toBe(nobleEnc(a).startsWith('02'));
          const decoded = ec.pointFromBytes(fromHex(nobleEnc(a)))!;
          expect(ec.equals(decoded, point(a))).toBe(true);
          expect(ec.equals(decoded, point(b))).toBe(a === b);
        }),
        { numRuns: 100 },
      );
    });

    it('P + k·G for a public k agrees with noble, infinity included', () => {
      fc.assert(
        fc.property(scalar, scalar, (a, b) => {
          expect(enc(ec, ec.addMulBase!(point(a), b))).toBe(nobleEnc(a + b));
        }),
        { numRuns: 100 },
      );
      expect(ec.addMulBase!(point(7n), N - 7n)).toBeNull();
      expect(enc(ec, ec.addMulBase!(point(7n), 0n))).toBe(nobleEnc(7n));
    });

    it('s·G − c·P (the verifiers\' one-call form) agrees with noble, zeros and infinity included', () => {
      const zeroOr = fc.oneof(fc.constant(0n), scalar);
      fc.assert(
        fc.property(zeroOr, zeroOr, scalar, (s, c, p) => {
          expect(enc(ec, baseMinusMul(ec, s, c, point(p)))).toBe(nobleEnc(s + (N - c) * p));
        }),
        { numRuns: 100 },
      );
      expect(baseMinusMul(ec, 21n, 3n, point(7n))).toBeNull(); // 21·G − 3·(7·G)
      expect(baseMinusMul(ec, 0n, 0n, point(7n))).toBeNull();
      expect(enc(ec, baseMinusMul(ec, 0n, 1n, point(7n)))).toBe(nobleEnc(N - 7n));
    });

    it('infinity: 0·G, 0·P, P + (−P); doubling; (n − 1)·P', () => {
      const P = point(7n);
      expect(ec.mulBase(0n)).toBeNull();
      expect(ec.mul(P, 0n)).toBeNull();
      expect(ec.add(P, ec.negate(P))).toBeNull();
      expect(ec.add(null, null)).toBeNull();
      expect(enc(ec, ec.add(null, P))).toBe(nobleEnc(7n));
      expect(enc(ec, ec.add(P, null))).toBe(nobleEnc(7n));
      expect(enc(ec, ec.add(P, P))).toBe(nobleEnc(14n));
      expect(enc(ec, ec.mul(P, N - 1n))).toBe(nobleEnc(N - 7n));
      expect(enc(ec, ec.mulBase(N - 1n))).toBe(nobleEnc(N - 1n));
      expect(ec.equals(null, null)).toBe(true);
      expect(ec.equals(P, null)).toBe(false);
    });

    it('cpoint refuses what is not a compressed point on the curve', () => {
      const good = fromHex(nobleEnc(5n));
      const x = good.subarray(1);
      expect(enc(ec, ec.pointFromBytes(good)!)).toBe(nobleEnc(5n));
      for (const prefix of [0, 1, 4, 5, 6, 7]) expect(ec.pointFromBytes(Uint8Array.of(prefix, ...x))).toBeUndefined();
      expect(ec.pointFromBytes(new Uint8Array(33))).toBeUndefined();
      expect(ec.pointFromBytes(x)).toBeUndefined();
      expect(ec.pointFromBytes(G.multiply(5n).toBytes(false))).toBeUndefined();
      expect(ec.pointFromBytes(Uint8Array.of(2, ...bytes32(FIELD_P)))).toBeUndefined(); // x = p
      expect(ec.pointFromBytes(Uint8Array.of(2, ...bytes32(5n)))).toBeUndefined(); // x³ + 7 is no square
      expect(ec.liftX(bytes32(5n))).toBeUndefined();
      expect(enc(ec, ec.liftX(x)!)).toBe('02' + toHex(x));
    });

    for (const r of rows) {
      it(`BIP-340 vector ${r.index}: Verify gives ${r.result}`, () => {
        const [sig, msg, pk] = [fromHex(r.sig.toLowerCase()), fromHex(r.msg.toLowerCase()), fromHex(r.pk.toLowerCase())];
        expect(ec.verifySchnorr(sig, msg, pk)).toBe(r.result);
        expect(verifySchnorrWith(ec, sig, msg, pk)).toBe(r.result);
      });
    }

    it('BIP-340: r in [n, p) and s ≥ n are false, not errors', () => {
      const pk = fromHex(rows[1]!.pk.toLowerCase());
      const msg = fromHex(rows[1]!.msg.toLowerCase());
      const s = fromHex(rows[1]!.sig.toLowerCase()).subarray(32);
      expect(ec.verifySchnorr(Uint8Array.of(...bytes32(N + 1n), ...s), msg, pk)).toBe(false);
      expect(ec.verifySchnorr(Uint8Array.of(...fromHex(rows[1]!.sig.toLowerCase()).subarray(0, 32), ...bytes32(N)), msg, pk)).toBe(false);
      expect(int(bytes32(N + 1n))).toBe(N + 1n);
    });
  });
}
