/**
 * MuSig2 adaptor signatures against the secp256k1-zkp vectors (test/vectors/ptlc/), on
 * every engine that has them (our BIP-327 on noble, native and libsecp256k1; the
 * reference engine has none and says so). Each case: NonceGen, NonceAgg, the partial
 * signatures of the adaptor session and their verification, the pre-signature and its
 * parity, its verification against T (and not against another point), adapt to the
 * vector's BIP-340 signature (checked by the test-code BIP-340 verifier), extract t. Without
 * T the same nonces give a different, plain BIP-327 session that rejects these partial
 * signatures.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromHex, toHex } from '../../src/lib/bytes.ts';
import { Session, adapt, extractAdaptor, keyAgg, nonceAgg, nonceGen, verifyPreSignature } from '../../src/lib/musig/bip327.ts';
import { activeEngine, loadEngine, useEngine } from '../../src/lib/musig/engine/select.ts';
import { ALL_BACKENDS, backendUnderTest } from '../setup/backends.ts';
import type { Bip327Engine, EngineName } from '../../src/lib/musig/engine/engine.ts';
// The independent verifier: BIP-340 written in test code (docs/testing.md).
import { TEST_CODE_VERIFIER as VERIFIER } from '../independent/schnorr.ts';
import { Bip327Error } from '../../src/lib/musig/engine/errors.ts';

type Case = {
  comment: string; secret_keys: string[]; pubkeys: string[]; nonce_rand: string[]; secnonces: string[]; pubnonces: string[];
  aggregate_key: string; tweak: string | null; tweak_is_xonly: boolean; output_key: string; msg: string; adaptor_secret: string;
  adaptor_point: string; aggnonce: string; nonce_parity: 0 | 1; partial_sigs: string[]; pre_signature: string; signature: string;
};
const file = JSON.parse(readFileSync(join(import.meta.dirname, 'ptlc', 'musig2-adaptor-vectors.json'), 'utf8')) as { valid_test_cases: Case[] };
const h = (s: string) => fromHex(s);
const OTHER_POINT = '02' + '79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798'; // G: not T

function runCases() {
  for (const c of file.valid_test_cases) {
    it(c.comment, () => {
      const pubkeys = c.pubkeys.map(h);
      const tweaks = c.tweak === null ? [] : [h(c.tweak)];
      const isXonly = c.tweak === null ? [] : [c.tweak_is_xonly];
      expect(toHex(keyAgg(pubkeys).aggregatePubkey.subarray(1))).toBe(c.aggregate_key);
      expect(toHex(keyAgg(pubkeys, tweaks, isXonly).xOnly)).toBe(c.output_key);
      // NonceGen(rand', sk, pk, aggpk = output key, msg), no extra_in.
      const nonces = c.secret_keys.map((sk, i) => nonceGen(pubkeys[i]!, h(sk), h(c.output_key), h(c.msg), undefined, h(c.nonce_rand[i]!)));
      expect(nonces.map((n) => toHex(n.secnonce))).toEqual(c.secnonces);
      expect(nonces.map((n) => toHex(n.pubnonce))).toEqual(c.pubnonces);
      expect(toHex(nonceAgg(nonces.map((n) => n.pubnonce)))).toBe(c.aggnonce);

      const ctx = { aggnonce: h(c.aggnonce), pubkeys, tweaks, isXonly, msg: h(c.msg) };
      const session = new Session({ ...ctx, adaptor: h(c.adaptor_point) });
      const psigs = c.secret_keys.map((sk, i) => session.sign(h(c.secnonces[i]!), h(sk)));
      expect(psigs.map(toHex)).toEqual(c.partial_sigs);
      psigs.forEach((p, i) => expect(session.partialSigVerify(p, c.pubnonces.map(h), i)).toBe(true));
      // The plain session (no T) and a session with another point reject them.
      const plain = new Session(ctx);
      const other = new Session({ ...ctx, adaptor: h(OTHER_POINT) });
      psigs.forEach((p, i) => {
        expect(plain.partialSigVerify(p, c.pubnonces.map(h), i)).toBe(false);
        expect(other.partialSigVerify(p, c.pubnonces.map(h), i)).toBe(false);
      });

      const pre = session.partialSigAgg(psigs);
      expect(toHex(pre)).toBe(c.pre_signature);
      expect(session.nonceParity()).toBe(c.nonce_parity);
      expect(VERIFIER.verify(pre, h(c.msg), h(c.output_key))).toBe(false); // not a signature yet
      expect(verifyPreSignature(pre, c.nonce_parity, h(c.adaptor_point), h(c.output_key), h(c.msg))).toBe(true);
      expect(verifyPreSignature(pre, 1 - c.nonce_parity, h(c.adaptor_point), h(c.output_key), h(c.msg))).toBe(false);
      expect(verifyPreSignature(pre, c.nonce_parity, h(OTHER_POINT), h(c.output_key), h(c.msg))).toBe(false);

      const sig = adapt(pre, h(c.adaptor_secret), c.nonce_parity);
      expect(toHex(sig)).toBe(c.signature);
      expect(VERIFIER.verify(sig, h(c.msg), h(c.output_key))).toBe(true);
      expect(toHex(extractAdaptor(sig, pre, c.nonce_parity))).toBe(c.adaptor_secret);
      // Adapting with another secret gives a signature that does not verify.
      const wrong = adapt(pre, h(c.secret_keys[0]!), c.nonce_parity);
      expect(VERIFIER.verify(wrong, h(c.msg), h(c.output_key))).toBe(false);
    });
  }
}

for (const name of ALL_BACKENDS satisfies readonly EngineName[]) {
  // Installed or not is decided by test code (../setup/backends.ts); an installed backend the product cannot load fails the file.
  const under = await backendUnderTest(name, () => loadEngine(name));
  if (under.skipped !== undefined) {
    describe.skip(`MuSig2 adaptor vectors on ${name}: SKIPPED, ${under.skipped}`, () => {
      it('all cases', () => {});
    });
    continue;
  }
  const engine = under.loaded;
  describe(`MuSig2 adaptor vectors on ${name}`, () => {
    let before: Bip327Engine;
    beforeAll(() => {
      before = activeEngine();
      useEngine(engine);
    });
    afterAll(() => useEngine(before));
    runCases();
  });
}

describe('adaptor refusals', () => {
  it('an adaptor point that is not a point, a bad parity, mismatched pre-signature and signature', () => {
    const c = file.valid_test_cases[0]!;
    const ctx = { aggnonce: h(c.aggnonce), pubkeys: c.pubkeys.map(h), tweaks: [], isXonly: [], msg: h(c.msg) };
    expect(() => new Session({ ...ctx, adaptor: h('02' + 'ff'.repeat(32)) })).toThrow(Bip327Error);
    expect(() => adapt(h(c.pre_signature), h(c.adaptor_secret), 2)).toThrow(/parity/);
    const other = h(c.signature).slice();
    other[0]! ^= 1;
    expect(() => extractAdaptor(other, h(c.pre_signature), 0)).toThrow(/different nonces/);
  });
});

describe('the reference engine', async () => {
  const reference = await loadEngine('reference');
  it('says it has no adaptor signatures rather than signing something else', () => {
    const c = file.valid_test_cases[0]!;
    expect(() => reference.session({ aggnonce: h(c.aggnonce), pubkeys: c.pubkeys.map(h), tweaks: [], isXonly: [], msg: h(c.msg), adaptor: h(c.adaptor_point) })).toThrow(/no MuSig2 adaptor/);
  });
});
