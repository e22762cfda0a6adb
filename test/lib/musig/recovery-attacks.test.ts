/**
 * Adversarial inputs for a·P + b·G by ECDSA recovery (mulAddBase in ./uncompressed.ts:
 * the native and libsecp256k1 backends), on every backend, each answer
 * compared with @noble/curves (points, schnorr.verify) or @scure/btc-signer's BIP-327
 * (the `reference` engine, on noble):
 *
 * - mulAddBase / baseMinusMul on the edges recovery has: a or b zero, n − 1, (n ± 1)/2;
 *   P = ±G; points with x in [n, p) of both parities (one whose x − n is a point's x too,
 *   one whose x − n is not); the sum at infinity (b = −a·p); scalars out of [0, n).
 * - BIP-340 Verify as anyone who picks keys and signatures: keys 0, n, x ≥ n (a point),
 *   x ≥ n (no point), p − 1, p, 2^256 − 1, no y; R.x 0, p, ≥ p; s 0, n, ≥ n; R at
 *   infinity (s = e·d); R with odd y; messages of 0 … 1000 bytes; d = 1 and n − 1 (P = G).
 * - PartialSigVerify as the user, who chooses its partial signature knowing its own key
 *   and nonces: s·G − e·a·g·P landing on infinity, on −Re, on R1 alone; s ≥ n; zero; the
 *   other signer's index; its nonce negated — with x-only and plain tweaks.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import { loadBackend, loadEngine } from '../../../src/lib/musig/engine/select.ts';
import { ALL_BACKENDS, backendUnderTest, nobleVerify, remembered } from '../../setup/backends.ts';
import { baseMinusMul, verifySchnorrWith, type BackendName, type Secp256k1Backend } from '../../../src/lib/musig/engine/backend.ts';
import { N, P as FIELD_P, bytes32, int, taggedScalar } from '../../../src/lib/musig/engine/scalar.ts';
import type { Bip327Engine } from '../../../src/lib/musig/engine/engine.ts';
import { concatBytes, fromHex, toHex } from '../../../src/lib/bytes.ts';

const Point = secp256k1.Point;
const G = Point.BASE;
const mod = (x: bigint) => ((x % N) + N) % N;
const xHex = (x: bigint) => x.toString(16).padStart(64, '0');
const isX = (x: bigint) => {
  try {
    Point.fromHex('02' + xHex(x));
    return true;
  } catch {
    return false;
  }
};
/** The smallest x ≥ from that is (or is not) a point's x and whose x − n is (or is not) one too. */
function bigX(from: bigint, alsoLow: boolean): bigint {
  let x = from;
  while (!(isX(x) && isX(x - N) === alsoLow)) x++;
  return x;
}
const xLowToo = bigX(N + 1n, true); // x − n is a point's x: a dropped overflow bit lands on that point
const xLowNot = bigX(N + 1n, false); // x − n is not: a dropped overflow bit fails
const xNoPoint = (() => {
  let x = N + 1n;
  while (isX(x)) x++;
  return x;
})();
const BIG: Array<typeof G> = [xLowToo, xLowNot].flatMap((x) => [Point.fromHex('02' + xHex(x)), Point.fromHex('03' + xHex(x))]);
const nobleEnc = (p: typeof G) => (p.equals(Point.ZERO) ? 'infinity' : toHex(p.toBytes(true)));
// noble's answers, asked once per question (every backend is asked the same ones): ../../setup/backends.ts remembered.
const nobleMulAdd = remembered(
  (P: typeof G, a: bigint, b: bigint) => `${P.toHex(true)} ${a} ${b}`,
  (P: typeof G, a: bigint, b: bigint) => nobleEnc((a === 0n ? Point.ZERO : P.multiply(a)).add(b === 0n ? Point.ZERO : G.multiply(b))),
);
const EDGE = [0n, 1n, 2n, N - 1n, N - 2n, (N - 1n) / 2n, (N + 1n) / 2n];
const scalarArb = fc.oneof(fc.constantFrom(...EDGE), fc.bigInt({ min: 1n, max: N - 1n }));

const reference = await loadEngine('reference');
const nobleEngine = await loadEngine('noble');

/**
 * Two-signer sessions (the user at index 0, the mint at 1) and the user's chosen partial
 * signatures, each with the reference engine's answers (index 0, index 1, its nonce
 * negated) — made once, the reference being slow. The user knows its secret nonces, so
 * it can aim s·G − e·a·g·P at infinity, −Re or R1 alone (b is BIP-327's nonce coefficient).
 */
const MINT_SK = bytes32(0x4242n);
const SESSIONS = (() => {
  const mintPk = secp256k1.getPublicKey(MINT_SK, true);
  const tweakSets: Array<[Uint8Array[], boolean[]]> = [[[], []], [[bytes32(0x77n)], [true]], [[bytes32(0x99n), bytes32(N - 1n)], [false, true]]];
  const out = [];
  for (const [u, userSk] of [0x1111n, N - 3n].map(bytes32).entries()) {
    const userPk = secp256k1.getPublicKey(userSk, true);
    const pubkeys = [userPk, mintPk];
    for (const [tweaks, isXonly] of tweakSets) {
      const { xOnly } = reference.keyAgg(pubkeys, tweaks, isXonly);
      for (const msg of [new Uint8Array(32).fill(u + 1), new Uint8Array(0), new Uint8Array(45).fill(9)]) {
        const un = nobleEngine.nonceGen(userPk, userSk, xOnly, msg, undefined, new Uint8Array(32).fill(0x10 + u + msg.length));
        const mn = nobleEngine.nonceGen(mintPk, MINT_SK, xOnly, msg, undefined, new Uint8Array(32).fill(0x20 + u + msg.length));
        const pubnonces = [un.pubnonce, mn.pubnonce];
        const aggnonce = reference.nonceAgg(pubnonces);
        const ctx = { aggnonce, pubkeys, tweaks, isXonly, msg };
        const psig = reference.session(ctx).sign(Uint8Array.from(un.secnonce), userSk);
        const s = int(psig);
        const k1 = int(un.secnonce.subarray(0, 32));
        const k2 = int(un.secnonce.subarray(32, 64));
        const b = taggedScalar('MuSig/noncecoef', aggnonce, xOnly, msg);
        const kb = mod(k1 + b * k2);
        const negated = [concatBytes(Point.fromBytes(un.pubnonce.subarray(0, 33)).negate().toBytes(true), Point.fromBytes(un.pubnonce.subarray(33)).negate().toBytes(true)), mn.pubnonce];
        const chosen = ([
          ['valid', psig],
          ['+1', bytes32(mod(s + 1n))],
          ['n − s', bytes32(mod(-s))],
          ['s − (k1 + b·k2): infinity or 2·Re', bytes32(mod(s - kb))],
          ['s + (k1 + b·k2): the other', bytes32(mod(s + kb))],
          ['s − 2(k1 + b·k2): −Re or 3·Re', bytes32(mod(s - 2n * kb))],
          ['s + 2(k1 + b·k2): the other', bytes32(mod(s + 2n * kb))],
          ['s − b·k2: R1 alone', bytes32(mod(s - b * k2))],
          ['s + n', s + N < 1n << 256n ? bytes32(s + N) : bytes32(N)],
          ['n', bytes32(N)],
          ['0', bytes32(0n)],
          ['2^256 − 1', fromHex('ff'.repeat(32))],
        ] as Array<[string, Uint8Array]>).map(([what, p]) => [what, p, [reference.session(ctx).partialSigVerify(p, pubnonces, 0), reference.session(ctx).partialSigVerify(p, pubnonces, 1), reference.session(ctx).partialSigVerify(p, negated, 0)]] as const);
        expect(chosen[0]![2]).toEqual([true, false, false]); // the fixture's sanity: the valid one passes, at its index only
        out.push({ label: `user ${u}, ${tweaks.length} tweaks, ${msg.length}-byte message`, ctx, xOnly, pubnonces, negated, chosen, mintSecnonce: mn.secnonce });
      }
    }
  }
  return out;
})();

for (const name of ALL_BACKENDS) {
  const backend = await backendUnderTest(name, () => loadBackend(name as BackendName));
  if (backend.skipped !== undefined) {
    describe.skip(`recovery attacks on ${name}: SKIPPED, ${backend.skipped}`, () => {
      it('a·P + b·G, BIP-340 Verify, PartialSigVerify against noble', () => {});
    });
    continue;
  }
  const ec = backend.loaded as Secp256k1Backend<unknown>;
  const engine = await loadEngine(name);
  const enc = (p: unknown) => (p === null ? 'infinity' : toHex(ec.pointToBytes(p)));
  const mine = (P: typeof G) => ec.pointFromBytes(P.toBytes(true))!;

  describe(`recovery attacks on ${name}`, () => {
    it('a·P + b·G (and s·G − c·P) on edge scalars, P = ±G, x ≥ n both parities, and sums at infinity: noble’s point', () => {
      const points: Array<typeof G> = [G, G.negate(), G.multiply(7n), G.multiply(N - 7n), ...BIG];
      for (const P of points) {
        for (const a of EDGE) {
          for (const b of EDGE) {
            if (ec.mulAddBase) expect([P.toHex(true), a, b, enc(ec.mulAddBase(mine(P), a, b))]).toEqual([P.toHex(true), a, b, nobleMulAdd(P, a, b)]);
            // baseMinusMul(s, c, P) = s·G − c·P = (n − c)·P + s·G on every backend
            expect([P.toHex(true), a, b, enc(baseMinusMul(ec, b, a, mine(P)))]).toEqual([P.toHex(true), a, b, nobleMulAdd(P, mod(-a), b)]);
          }
        }
      }
      // The sum at infinity, P of known logarithm p: a·P = −b·G with b = −a·p.
      fc.assert(
        fc.property(fc.bigInt({ min: 1n, max: N - 1n }), scalarArb, (p, a) => {
          const P = G.multiply(p);
          const b = mod(-a * p);
          if (ec.mulAddBase) expect(enc(ec.mulAddBase(mine(P), a, b))).toBe(nobleMulAdd(P, a, b));
          expect(enc(baseMinusMul(ec, b, mod(-a), mine(P)))).toBe(nobleMulAdd(P, a, b));
          expect(enc(baseMinusMul(ec, mod(b + 1n), mod(-a), mine(P)))).toBe(nobleEnc(G)); // one off infinity: G
        }),
        { numRuns: 40 },
      );
      fc.assert(
        fc.property(fc.constantFrom(...BIG), scalarArb, scalarArb, (P, a, b) => {
          if (ec.mulAddBase) expect(enc(ec.mulAddBase(mine(P), a, b))).toBe(nobleMulAdd(P, a, b));
          expect(enc(baseMinusMul(ec, b, a, mine(P)))).toBe(nobleMulAdd(P, mod(-a), b));
        }),
        { numRuns: 60 },
      );
    });

    it.runIf(ec.mulAddBase !== undefined)('a·P + b·G refuses scalars outside [0, n) (negative, n, 2^256) rather than reducing them', () => {
      for (const [a, b] of [[N, 1n], [1n, N], [-1n, 1n], [1n, -1n], [1n << 256n, 1n], [1n, (1n << 256n) + 1n], [N + 1n, N + 1n]] as const) {
        expect(() => ec.mulAddBase!(mine(G), a, b)).toThrow(RangeError);
      }
    });

    it('BIP-340 Verify on chosen keys, R.x, s and message lengths: noble’s schnorr.verify', () => {
      const msgs = [0, 1, 31, 32, 33, 64, 100, 1000].map((n) => Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 255));
      const keys = [1n, N - 1n, 2n, 0x5ea1edn, N - 0x5ea1edn];
      const badKeys = [0n, N, xLowToo, xLowNot, xNoPoint, FIELD_P - 1n, FIELD_P, FIELD_P + 1n, (1n << 256n) - 1n, 5n].map(bytes32);
      let trues = 0;
      const check = (sig: Uint8Array, msg: Uint8Array, pk: Uint8Array) => {
        const want = nobleVerify(sig, msg, pk);
        trues += want ? 1 : 0;
        const got = [ec.verifySchnorr(sig, msg, pk), engine.verifySchnorr(sig, msg, pk), verifySchnorrWith(ec, sig, msg, pk)];
        expect([toHex(sig), msg.length, toHex(pk), ...got]).toEqual([toHex(sig), msg.length, toHex(pk), want, want, want]);
      };
      for (const d of keys) {
        const pk = schnorr.getPublicKey(bytes32(d));
        const dEven = Point.fromHex('02' + toHex(pk)).equals(G.multiply(d)) ? d : N - d;
        for (const msg of msgs) {
          const sig = schnorr.sign(msg, bytes32(d), new Uint8Array(32).fill(msg.length & 255));
          const rx = sig.subarray(0, 32);
          const s = int(sig.subarray(32));
          const e = taggedScalar('BIP0340/challenge', rx, pk, msg);
          const k = mod(s - e * dEven); // R = k·G, even y
          const variants: Uint8Array[] = [
            sig,
            concatBytes(rx, bytes32(mod(s + 1n))),
            concatBytes(rx, bytes32(s + N < 1n << 256n ? s + N : N)), // s ≥ n: s + n where it fits in 32 bytes (s < 2^256 − n ≈ 2^129, never for a real s), else n
            concatBytes(rx, bytes32(N)),
            concatBytes(rx, bytes32(0n)),
            concatBytes(rx, bytes32(mod(N - k + e * dEven))), // R negated: same x, odd y
            concatBytes(bytes32(int(rx) + FIELD_P < 1n << 256n ? int(rx) + FIELD_P : FIELD_P), sig.subarray(32)),
            concatBytes(bytes32(FIELD_P), sig.subarray(32)),
            concatBytes(bytes32(0n), sig.subarray(32)),
          ];
          // R at infinity: any R.x, s = e·d.
          for (const r of [0n, 1n, int(rx), FIELD_P - 1n, xLowToo].map(bytes32)) {
            const e2 = taggedScalar('BIP0340/challenge', r, pk, msg);
            variants.push(concatBytes(r, bytes32(mod(e2 * dEven))));
          }
          for (const v of variants) check(v, msg, pk);
          for (const bad of badKeys) check(sig, msg, bad);
          check(sig, msg.subarray(0, Math.max(0, msg.length - 1)), pk);
        }
      }
      expect(trues).toBeGreaterThanOrEqual(keys.length * msgs.length); // every valid signature, and no more than noble
      // Random signatures under special keys and R.x values (x ≥ n of both kinds, G's x, 0, p − 1).
      const field = fc.oneof(
        fc.constantFrom(0n, 1n, N - 1n, N, xLowToo, xLowNot, xNoPoint, FIELD_P - 1n, FIELD_P, G.x, (1n << 256n) - 1n),
        fc.bigInt({ min: 0n, max: (1n << 256n) - 1n }),
      );
      fc.assert(
        fc.property(field, field, field, fc.uint8Array({ maxLength: 80 }), (pk, r, s, msg) => check(concatBytes(bytes32(r), bytes32(s)), msg, bytes32(pk))),
        { numRuns: 200 },
      );
    });

    it('PartialSigVerify of the user’s chosen partial signatures (infinity, −Re, R1 alone, s ≥ n, zero, wrong index, negated nonce): the reference’s answer', () => {
      for (const c of SESSIONS) {
        const { ctx, pubnonces, negated } = c;
        for (const [what, p, want] of c.chosen) {
          const got = [engine.session(ctx).partialSigVerify(p, pubnonces, 0), engine.session(ctx).partialSigVerify(p, pubnonces, 1), engine.session(ctx).partialSigVerify(p, negated, 0)];
          expect([c.label, what, ...got]).toEqual([c.label, what, ...want]);
        }
        // The mint's last check: the aggregate of the user's partial and its own verifies, and only that one.
        const mintPsig = engine.session(ctx).sign(Uint8Array.from(c.mintSecnonce), MINT_SK);
        for (const [what, p] of c.chosen) {
          const sig = engine.session(ctx).partialSigAgg([int(p) < N ? p : c.chosen[0]![1], mintPsig]);
          expect([c.label, what, engine.verifySchnorr(sig, ctx.msg, c.xOnly)]).toEqual([c.label, what, nobleVerify(sig, ctx.msg, c.xOnly)]);
        }
      }
    });
  });
}
