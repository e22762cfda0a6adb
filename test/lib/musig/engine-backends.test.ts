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
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import { readVectorText } from '../../helpers.ts';
import { loadBackend } from '../../../src/lib/musig/engine/select.ts';
import { ALL_BACKENDS, backendUnderTest, nobleVerify, remembered } from '../../setup/backends.ts';
import { baseMinusMul, mulPlusMul, verifySchnorrWith, type BackendName, type Secp256k1Backend } from '../../../src/lib/musig/engine/backend.ts';
import { N, P as FIELD_P, bytes32, int, taggedScalar } from '../../../src/lib/musig/engine/scalar.ts';
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
// noble's answers, asked once per question (every backend is asked the same ones): ../../setup/backends.ts remembered.
const nobleEnc = remembered(
  (k: bigint) => String(k % N),
  (k: bigint) => (k % N === 0n ? 'infinity' : toHex(G.multiply(k % N).toBytes(true))),
);

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

    it.runIf(ec.mulAddBase !== undefined)('a·P + b·G in one call (mulAddBase) agrees with noble and with k·P then P + k·G: zeros, infinity, both parities, x ≥ n', () => {
      const general = (P: unknown, a: bigint, b: bigint) => {
        const aP = ec.mul(P, a);
        return aP === null ? ec.mulBase(b) : ec.addMulBase ? ec.addMulBase(aP, b) : ec.add(aP, ec.mulBase(b));
      };
      const zeroOr = fc.oneof(fc.constant(0n), fc.constant(1n), fc.constant(N - 1n), scalar);
      fc.assert(
        fc.property(zeroOr, zeroOr, scalar, (a, b, p) => {
          expect(enc(ec, ec.mulAddBase!(point(p), a, b))).toBe(nobleEnc(a * p + b));
          expect(enc(ec, ec.mulAddBase!(point(p), a, b))).toBe(enc(ec, general(point(p), a, b)));
        }),
        { numRuns: 100 },
      );
      expect(ec.mulAddBase!(point(7n), 3n, N - 21n)).toBeNull(); // 3·(7·G) − 21·G
      expect(ec.mulAddBase!(point(7n), 0n, 0n)).toBeNull();
      expect(() => ec.mulAddBase!(point(7n), N, 1n)).toThrow(RangeError);
      expect(() => ec.mulAddBase!(point(7n), 1n, N)).toThrow(RangeError);
      // A point whose x is in [n, p): recovery reads it as r = x − n with recid's overflow bit.
      // Chosen so that x − n is a point's x too: a recovery without the overflow bit would
      // land on that other point instead of failing over to the general path.
      let x = N + 1n;
      while (!ec.liftX(bytes32(x)) || !ec.liftX(bytes32(x - N))) x++;
      const big = secp256k1.Point.fromHex('02' + toHex(bytes32(x)));
      for (const Q of [big, big.negate()]) {
        const q = ec.pointFromBytes(Q.toBytes(true))!;
        fc.assert(
          fc.property(zeroOr, zeroOr, (a, b) => {
            const want = a === 0n && b === 0n ? 'infinity' : (() => {
              const sum = (a === 0n ? secp256k1.Point.ZERO : Q.multiply(a)).add(b === 0n ? secp256k1.Point.ZERO : G.multiply(b));
              return sum.equals(secp256k1.Point.ZERO) ? 'infinity' : toHex(sum.toBytes(true));
            })();
            expect(enc(ec, ec.mulAddBase!(q, a, b))).toBe(want);
          }),
          { numRuns: 30 },
        );
      }
    });

    it(`a·P + b·Q (mulPlusMul${ec.mulAdd ? ': its one-chain mulAdd' : ': two k·P and a sum'}) agrees with noble: zeros, infinity, P = Q, P = −Q`, () => {
      const zeroOr = fc.oneof(fc.constant(0n), fc.constant(1n), fc.constant(N - 1n), scalar);
      fc.assert(
        fc.property(zeroOr, scalar, zeroOr, scalar, (a, p, b, q) => {
          expect(enc(ec, mulPlusMul(ec, point(p), a, point(q), b))).toBe(nobleEnc(a * p + b * q));
          expect(enc(ec, mulPlusMul(ec, point(p), a, point(p), b))).toBe(nobleEnc((a + b) * p));
          expect(enc(ec, mulPlusMul(ec, point(p), a, point(N - p), b))).toBe(nobleEnc((a + N - b) * p));
        }),
        { numRuns: 100 },
      );
      expect(mulPlusMul(ec, point(7n), 3n, point(N - 7n), 3n)).toBeNull(); // 3·P + 3·(−P)
      expect(mulPlusMul(ec, point(7n), 0n, point(9n), 0n)).toBeNull();
      expect(mulPlusMul(ec, point(7n), 3n, point(21n), N - 1n)).toBeNull(); // 3·(7·G) − 21·G
    });

    it('BIP-340 Verify agrees with the generic verifier on mutated signatures, messages and keys', () => {
      const keyAndMsg = fc.tuple(scalar, fc.uint8Array({ minLength: 0, maxLength: 40 }), fc.uint8Array({ minLength: 32, maxLength: 32 }));
      const mutation = fc.tuple(fc.integer({ min: 0, max: 3 }), fc.nat(), fc.integer({ min: 1, max: 255 }));
      fc.assert(
        fc.property(keyAndMsg, mutation, ([d, msg, aux], [what, at, flip]) => {
          const sig = schnorr.sign(msg, bytes32(d), aux);
          const pk = schnorr.getPublicKey(bytes32(d));
          const m = Uint8Array.from(msg);
          if (what === 0) sig[at % 64]! ^= flip;
          if (what === 1) pk[at % 32]! ^= flip;
          if (what === 2 && m.length > 0) m[at % m.length]! ^= flip;
          const want = nobleVerify(sig, m, pk);
          expect(ec.verifySchnorr(sig, m, pk)).toBe(want);
          expect(verifySchnorrWith(ec, sig, m, pk)).toBe(want);
        }),
        { numRuns: 150 },
      );
      // Every byte of a valid signature, one bit flipped: false, and false from both.
      const d = 0x1234n;
      const msg = Uint8Array.of(1, 2, 3);
      const pk = schnorr.getPublicKey(bytes32(d));
      const good = schnorr.sign(msg, bytes32(d), new Uint8Array(32));
      expect(ec.verifySchnorr(good, msg, pk)).toBe(true);
      for (let i = 0; i < 64; i++) {
        const bad = Uint8Array.from(good);
        bad[i]! ^= 1;
        expect([i, ec.verifySchnorr(bad, msg, pk), verifySchnorrWith(ec, bad, msg, pk)]).toEqual([i, false, false]);
      }
      // s·G − e·P lands on the right x but an odd y: false (its negation, even, is true).
      const dEven = G.multiply(d).toBytes(true)[0] === 2 ? d : N - d;
      let k = 7n;
      while (G.multiply(k).toBytes(true)[0] !== 3) k++;
      const r = G.multiply(k).toBytes(true).subarray(1);
      const e = taggedScalar('BIP0340/challenge', r, pk, msg);
      const odd = Uint8Array.of(...r, ...bytes32((k + e * dEven) % N));
      const even = Uint8Array.of(...r, ...bytes32((N - k + e * dEven) % N));
      expect([ec.verifySchnorr(odd, msg, pk), verifySchnorrWith(ec, odd, msg, pk), schnorr.verify(odd, msg, pk)]).toEqual([false, false, false]);
      expect([ec.verifySchnorr(even, msg, pk), verifySchnorrWith(ec, even, msg, pk), schnorr.verify(even, msg, pk)]).toEqual([true, true, true]);
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
