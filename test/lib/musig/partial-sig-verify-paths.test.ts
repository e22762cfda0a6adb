/**
 * PartialSigVerifyInternal on a backend with a·P + b·Q in one chain (noble's mulAdd) checks
 * the equation moved across — s·G − c·P ∓ b·R2 = ±R1 — where the others check
 * s·G − c·P = ±(R1 + b·R2) (src/lib/musig/engine/signing.ts verifyInternal). Both forms
 * must give the same answer on every input: the same noble backend with and without
 * `mulAdd`, over random two-party sessions whose final nonce has either parity, on valid
 * partial signatures, on ones changed by one (s ± 1, the other signer's index, the other
 * signer's nonce) and on arbitrary 32-byte strings. The BIP-327 vectors and
 * ./engine-equivalence.test.ts check the answers themselves against the other engines.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { createEngine } from '../../../src/lib/musig/engine/engine.ts';
import { nobleBackend } from '../../../src/lib/musig/engine/backend-noble.ts';
import { N, bytes32, int } from '../../../src/lib/musig/engine/scalar.ts';
import { keyPair } from '../../../src/lib/keys/keys.ts';

const oneChain = createEngine(nobleBackend);
const { mulAdd: _dropped, ...withoutMulAdd } = nobleBackend;
const twoProducts = createEngine(withoutMulAdd);

const secretKey = fc.uint8Array({ minLength: 32, maxLength: 32 }).filter((b) => int(b) > 0n && int(b) < N);
const rand = fc.uint8Array({ minLength: 32, maxLength: 32 });

describe('PartialSigVerify: one chain (mulAdd) and two products agree', () => {
  it('valid, off-by-one, misattributed and arbitrary partial signatures, both parities of R', () => {
    expect(nobleBackend.mulAdd).toBeDefined();
    expect('mulAdd' in withoutMulAdd).toBe(false);
    const parities = new Set<number>();
    fc.assert(
      fc.property(fc.uniqueArray(secretKey, { minLength: 2, maxLength: 2, selector: (b) => b.join() }), rand, rand, fc.uint8Array({ maxLength: 40 }), rand, (sks, r0, r1, msg, junk) => {
        const parties = sks.map((sk) => keyPair(sk));
        const pubkeys = parties.map((p) => p.publicKey);
        const nonces = parties.map((p, i) => oneChain.nonceGen(p.publicKey, p.secretKey, undefined, msg, undefined, i ? r1 : r0));
        const pubnonces = nonces.map((n) => n.pubnonce);
        const ctx = { aggnonce: oneChain.nonceAgg(pubnonces), pubkeys, tweaks: [], isXonly: [], msg };
        const a = oneChain.session(ctx);
        const b = twoProducts.session(ctx);
        parities.add(a.nonceParity());
        const psigs = parties.map((p, i) => a.sign(Uint8Array.from(nonces[i]!.secnonce), p.secretKey));
        const swapped = [pubnonces[1]!, pubnonces[0]!];
        const cases: [Uint8Array, Uint8Array[], number][] = [];
        psigs.forEach((psig, i) => {
          const s = int(psig);
          cases.push([psig, pubnonces, i], [bytes32((s + 1n) % N), pubnonces, i], [bytes32((s + N - 1n) % N), pubnonces, i], [psig, pubnonces, 1 - i], [psig, swapped, i], [junk, pubnonces, i]);
        });
        for (const [psig, nonceList, i] of cases) expect(a.partialSigVerify(psig, nonceList, i)).toBe(b.partialSigVerify(psig, nonceList, i));
        expect(psigs.every((psig, i) => a.partialSigVerify(psig, pubnonces, i))).toBe(true);
      }),
      { numRuns: 40 },
    );
    expect([...parities].sort()).toEqual([0, 1]);
  });
});

describe('PartialSigVerify: when the one-chain products sum to infinity', () => {
  // Honest inputs cannot reach it (it needs b·R2 = −c·P), so a backend whose mulAdd answers
  // infinity stands in: the check is then s·G = ±R1 (R1 = k1·G), no more and no less.
  const infinite = createEngine({ ...nobleBackend, mulAdd: () => null });
  it('s·G is compared with ±R1: k1 (or n − k1 for an odd R) passes, its neighbours do not', () => {
    const parities = new Set<number>();
    for (let round = 0; (parities.size < 2 || round < 4) && round < 64; round++) {
      const parties = [keyPair(bytes32(BigInt(round) * 7n + 11n)), keyPair(bytes32(BigInt(round) * 13n + 5n))];
      const pubkeys = parties.map((p) => p.publicKey);
      const nonces = parties.map((p, i) => infinite.nonceGen(p.publicKey, p.secretKey, undefined, undefined, undefined, bytes32(BigInt(round * 2 + i + 1))));
      const pubnonces = nonces.map((n) => n.pubnonce);
      const session = infinite.session({ aggnonce: infinite.nonceAgg(pubnonces), pubkeys, tweaks: [], isXonly: [], msg: Uint8Array.of(round) });
      const parity = session.nonceParity();
      parities.add(parity);
      nonces.forEach((n, i) => {
        const k1 = int(n.secnonce.subarray(0, 32));
        const s = parity === 0 ? k1 : N - k1;
        expect(session.partialSigVerify(bytes32(s), pubnonces, i)).toBe(true);
        expect(session.partialSigVerify(bytes32((s + 1n) % N), pubnonces, i)).toBe(false);
        expect(session.partialSigVerify(bytes32(N - s), pubnonces, i)).toBe(false);
      });
    }
    expect([...parities].sort()).toEqual([0, 1]);
  });
});
