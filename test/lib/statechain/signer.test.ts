/**
 * The statechain's additive signer: for 2 and 3 parties with random shares and messages,
 * the aggregate is a BIP-340 signature for the P2TR output key of P = ΣXᵢ (output key and
 * signature checked by test code: BIP-341 tweak in test/independent/keys.ts, the
 * independent BIP-340 verifier); a tampered partial signature is refused naming its
 * party; after the operator's share is rotated as a transfer does (s₂ = s₁ + o₁ − o₂,
 * through t₁ = o₁ + x₁, t₂ = t₁ − o₂, s₂ = s₁ + t₂ − x₁) P is unchanged and the new pair
 * signs for the same coin; proofs of possession bind a share to a coin, and a rogue key
 * (X' = Y − X_victim) cannot be proven. On each optional backend (native, libsecp256k1)
 * the same bytes as noble: a backend whose package imports in test code but which the
 * product cannot load fails the test; one not installed is a visible skip.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { toHex } from '../../../src/lib/bytes.ts';
import { additiveKey, aggregate, keyPathOnlyScript, nonceGen, partialSign, partialVerify, provePossession, verifyPossession } from '../../../src/lib/statechain/signer.ts';
import { VERIFIER } from '../../independent/verify.ts';
import { TEST_CODE_VERIFIER } from '../../independent/schnorr.ts';
import { taprootOutput } from '../../independent/keys.ts';
import { refusal, thrown } from '../../setup/refusal.ts';
import { OPTIONAL_BACKENDS, backendUnderTest } from '../../setup/backends.ts';

const N = secp256k1.Point.Fn.ORDER;
const G = secp256k1.Point.BASE;
const scalar = fc.bigInt({ min: 1n, max: N - 1n });
const b32 = (n: bigint) => Uint8Array.from(Buffer.from(n.toString(16).padStart(64, '0'), 'hex'));
const pub = (x: bigint) => G.multiply(x).toBytes(true);
const mod = (a: bigint) => ((a % N) + N) % N;

function sign(secrets: bigint[], msg: Uint8Array, seed: number) {
  const shares = secrets.map(pub);
  const nonces = secrets.map((_, i) => nonceGen(Uint8Array.from({ length: 64 }, (_, j) => (seed * 7 + i * 31 + j) & 0xff)));
  const input = { shares, pubnonces: nonces.map((n) => n.pubnonce), msg };
  const psigs = secrets.map((x, i) => partialSign(input, i, nonces[i]!.secnonce, b32(x)));
  return { input, psigs, sig: aggregate(input, psigs) };
}

describe('additive Schnorr signing for P = ΣXᵢ', () => {
  it('2 or 3 parties: a BIP-340 signature for the key-path-only P2TR output of P, checked independently', () => {
    fc.assert(
      fc.property(fc.array(scalar, { minLength: 2, maxLength: 3 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.nat(1000), (secrets, msg, seed) => {
        fc.pre(mod(secrets.reduce((a, b) => a + b, 0n)) !== 0n);
        const { sig } = sign(secrets, msg, seed);
        const key = additiveKey(secrets.map(pub));
        const P = G.multiply(mod(secrets.reduce((a, b) => a + b, 0n)));
        expect(toHex(key.script)).toBe(toHex(taprootOutput(P.toBytes(true).subarray(1)).script));
        expect(VERIFIER.verify(sig, msg, key.outputKey)).toBe(true);
      }),
      { numRuns: 40 },
    );
  });

  it('a share that is not a point is malformed (E_BAD_PUBKEY, exit 3, naming its party); shares that sum to infinity and a nonce that is not a point are refused (exit 4)', () => {
    const offCurve = Uint8Array.of(2, ...new Uint8Array(32).fill(0xff)); // x ≥ p
    const e = refusal(() => additiveKey([pub(5n), offCurve]), 'E_BAD_PUBKEY', 3);
    expect(e.detail).toEqual({ participant: '1' });
    // A rogue share −X cancelling the other: each a valid key, their sum no key at all.
    refusal(() => additiveKey([pub(5n), pub(N - 5n)]), 'E_BAD_DERIVED_KEY', 4);
    const nonces = [1, 2].map((i) => nonceGen(new Uint8Array(64).fill(i)));
    const input = { shares: [pub(11n), pub(13n)], pubnonces: [nonces[0]!.pubnonce, Uint8Array.from([...offCurve, ...nonces[1]!.pubnonce.subarray(33)])], msg: new Uint8Array(32) };
    expect(refusal(() => partialVerify(input, 0, new Uint8Array(32)), 'E_BAD_PUBNONCE', 4).detail).toEqual({ participant: '1' });
  });

  it('a tampered partial signature is refused, naming its party', () => {
    const { input, psigs } = sign([5n, 7n, 11n], new Uint8Array(32).fill(3), 1);
    const bad = psigs.map((p) => p.slice());
    bad[1]![31]! ^= 1;
    expect(partialVerify(input, 1, bad[1]!)).toBe(false);
    const e = thrown(() => aggregate(input, bad));
    expect({ code: e.code, detail: e.detail }).toEqual({ code: 'E_BAD_PARTIAL_SIG', detail: { participant: '1' } });
  });

  it('a transfer\'s rotation keeps P: the new owner and the rotated operator share sign for the same coin', () => {
    fc.assert(
      fc.property(scalar, scalar, scalar, scalar, (o1, s1, o2, x1) => {
        fc.pre(mod(o1 + s1) !== 0n);
        const t1 = mod(o1 + x1); // sender → receiver
        const t2 = mod(t1 - o2); // receiver → operator
        const s2 = mod(s1 + t2 - x1); // operator
        expect(G.multiply(t1).equals(G.multiply(o1).add(G.multiply(x1)))).toBe(true); // the receiver's check t1·G = O1 + X1
        const before = additiveKey([pub(o1), pub(s1)]);
        const after = additiveKey([pub(o2), pub(s2)]);
        expect(toHex(after.aggregate)).toBe(toHex(before.aggregate));
        const msg = new Uint8Array(32).fill(9);
        expect(VERIFIER.verify(sign([o2, s2], msg, 2).sig, msg, before.outputKey)).toBe(true);
      }),
      { numRuns: 20 },
    );
  });

  it('proofs of possession bind a share to a coin; a rogue key Y − X cannot be proven', () => {
    const coin = new Uint8Array(32).fill(1);
    const x = 1234567n;
    const proof = provePossession(b32(x), coin, new Uint8Array(32));
    expect(verifyPossession(pub(x), coin, proof)).toBe(true);
    expect(verifyPossession(pub(x), new Uint8Array(32).fill(2), proof)).toBe(false);
    // The attacker knows y, not the log of Y − X_victim: its best try (a proof with y) fails.
    const y = 99n;
    const rogue = G.multiply(y).add(G.multiply(x).negate()).toBytes(true);
    expect(verifyPossession(rogue, coin, provePossession(b32(y), coin, new Uint8Array(32)))).toBe(false);
  });
});

describe('the additive signer on every secp256k1 backend gives the same bytes', async () => {
  // Every engine runs in this one process: each aggregate is checked with BIP-340 written in
  // test code (docs/testing.md).
  const verifier = TEST_CODE_VERIFIER;
  const select = await import('../../../src/lib/musig/engine/select.ts');
  for (const name of OPTIONAL_BACKENDS) {
    // Installed is decided by test code importing the package; installed but not loading fails here.
    const under = await backendUnderTest(name, () => select.loadEngine(name));
    if (under.skipped !== undefined) {
      describe.skip(`${name}: SKIPPED, ${under.skipped}`, () => {
        it('the additive signer on this backend', () => {});
      });
      continue;
    }
    it(`${name}: key, nonces, partial signatures and aggregate equal noble's; the aggregate verifies independently; infinity is refused`, async () => {
      const engine = under.loaded;
      const noble = await select.loadEngine('noble');
      const cases = fc.sample(fc.tuple(fc.array(scalar, { minLength: 2, maxLength: 3 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.nat(1000)), { numRuns: 25, seed: 7 });
      let checked = 0;
      try {
        for (const [secrets, msg, seed] of cases) {
          if (mod(secrets.reduce((a, b) => a + b, 0n)) === 0n) continue;
          select.useEngine(noble);
          const expected = sign(secrets, msg, seed);
          const key = additiveKey(expected.input.shares);
          select.useEngine(engine);
          expect(select.activeSecp256k1().name).toBe(name);
          const got = sign(secrets, msg, seed);
          expect(got.input.pubnonces.map(toHex)).toEqual(expected.input.pubnonces.map(toHex));
          expect(got.psigs.map(toHex)).toEqual(expected.psigs.map(toHex));
          expect(toHex(got.sig)).toBe(toHex(expected.sig));
          expect(additiveKey(got.input.shares)).toEqual(key);
          expect(toHex(keyPathOnlyScript(got.input.shares[0]!.subarray(1)))).toBe(toHex(taprootOutput(got.input.shares[0]!.subarray(1)).script));
          // The output key from test code (BIP-341 tweak of P = ΣXᵢ), the signature by test-code BIP-340; one bit flipped must fail.
          const P = G.multiply(mod(secrets.reduce((a, b) => a + b, 0n)));
          const outputKey = taprootOutput(P.toBytes(true).subarray(1)).outputKey;
          expect(verifier.verify(got.sig, msg, outputKey)).toBe(true);
          const flipped = got.sig.slice();
          flipped[40]! ^= 1;
          expect(verifier.verify(flipped, msg, outputKey)).toBe(false);
          checked++;
        }
        expect(checked).toBeGreaterThan(20);
        // A party whose first nonce cancels the others' (chosen after seeing them) is refused, not a crash.
        const nonces = [1n, 2n].map((i) => nonceGen(new Uint8Array(64).fill(Number(i))));
        const cancel = Uint8Array.from([...G.multiply(N - 5n).toBytes(true), ...G.multiply(3n).toBytes(true)]);
        const first = secp256k1.Point.fromBytes(nonces[0]!.pubnonce.subarray(0, 33));
        const cancelling = Uint8Array.from([...first.negate().toBytes(true), ...cancel.subarray(33)]);
        const input = { shares: [pub(11n), pub(13n)], pubnonces: [nonces[0]!.pubnonce, cancelling], msg: new Uint8Array(32) };
        expect(thrown(() => partialVerify(input, 0, new Uint8Array(32))).code).toBe('E_BAD_PUBNONCE');
      } finally {
        select.useEngine(noble);
      }
    });
  }
});
