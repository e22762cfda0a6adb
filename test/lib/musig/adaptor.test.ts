/**
 * MuSig2 adaptor signatures as properties, beyond the eight vectors: random keys,
 * messages, adaptor secrets, 2 or 3 signers, with and without the BIP-341 tweak — both
 * nonce parities occur. The adapted signature verifies with the independent BIP-340
 * verifier, extract returns t, the pre-signature verifies against T and not against
 * another point or the other parity, and partial signatures of the adaptor session fail
 * in the plain session.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { toHex } from '../../../src/lib/bytes.ts';
import { keyPair } from '../../../src/lib/keys/keys.ts';
import { Session, adapt, extractAdaptor, keyAgg, nonceAgg, nonceGen, verifyPreSignature } from '../../../src/lib/musig/bip327.ts';
import { tapTweak } from '../../../src/lib/taproot/taproot.ts';
import { VERIFIER } from '../../independent/verify.ts';

const scalarArb = fc.uint8Array({ minLength: 32, maxLength: 32 }).filter((b) => b.some((x) => x !== 0) && b[0]! < 0xff);

describe('MuSig2 adaptor signatures, random sessions', () => {
  it('adapt verifies (independently), extract returns t, the pre-signature is bound to T and to its parity', () => {
    const parities = new Set<number>();
    fc.assert(
      fc.property(fc.array(scalarArb, { minLength: 2, maxLength: 3 }), scalarArb, fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.boolean(), scalarArb, (sks, t, msg, tweaked, other) => {
        const signers = sks.map((sk) => keyPair(sk));
        fc.pre(new Set(signers.map((s) => toHex(s.publicKey))).size === signers.length);
        const pubkeys = signers.map((s) => s.publicKey);
        const tweaks = tweaked ? [tapTweak(keyAgg(pubkeys).xOnly)] : [];
        const isXonly = tweaked ? [true] : [];
        const Q = keyAgg(pubkeys, tweaks, isXonly).xOnly;
        const T = keyPair(t).publicKey;
        const nonces = signers.map((s, i) => nonceGen(s.publicKey, s.secretKey, Q, msg, undefined, Uint8Array.of(i, ...msg.subarray(1))));
        const pubnonces = nonces.map((n) => n.pubnonce);
        const ctx = { aggnonce: nonceAgg(pubnonces), pubkeys, tweaks, isXonly, msg };
        const session = new Session({ ...ctx, adaptor: T });
        const psigs = signers.map((s, i) => session.sign(nonces[i]!.secnonce, s.secretKey));
        const plain = new Session(ctx);
        psigs.forEach((p, i) => {
          expect(session.partialSigVerify(p, pubnonces, i)).toBe(true);
          expect(plain.partialSigVerify(p, pubnonces, i)).toBe(false);
        });
        const pre = session.partialSigAgg(psigs);
        const parity = session.nonceParity();
        parities.add(parity);
        expect(VERIFIER.verify(pre, msg, Q)).toBe(false);
        expect(verifyPreSignature(pre, parity, T, Q, msg)).toBe(true);
        expect(verifyPreSignature(pre, 1 - parity, T, Q, msg)).toBe(false);
        expect(verifyPreSignature(pre, parity, keyPair(other).publicKey, Q, msg)).toBe(toHex(other) === toHex(t));
        const sig = adapt(pre, t, parity);
        expect(VERIFIER.verify(sig, msg, Q)).toBe(true);
        expect(toHex(extractAdaptor(sig, pre, parity))).toBe(toHex(t));
        expect(VERIFIER.verify(adapt(pre, other, parity), msg, Q)).toBe(toHex(other) === toHex(t));
      }),
      { numRuns: 60 },
    );
    expect([...parities].sort()).toEqual([0, 1]); // both parities were exercised
  });
});
