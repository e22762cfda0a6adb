/**
 * Cashu NUT-00/01/02/12/13 vectors (test/vectors/cashu/*.json, transcribed from
 * cashubtc/nuts' tests/*.md) through src/lib/ecash, every case counted, on every secp256k1
 * backend (the ecash path's curve work runs on the selected one: identical bytes on each).
 */
import { pbkdf2Sync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { readVectorText } from '../helpers.ts';
import { fromHex, toHex, utf8 } from '../../src/lib/bytes.ts';
import { bytesToScalar, compressed, equals, mulBase, mulSecret, pointFromHex } from '../../src/lib/ecash/curve.ts';
import { blindMessage, hashToCurve, signBlindedMessage, unblindSignature, verifyProofSignature } from '../../src/lib/ecash/nut00.ts';
import { deriveMintKeyset, keysAnswer, parseKeys } from '../../src/lib/ecash/nut01.ts';
import { keysetIdV00, keysetIdV01 } from '../../src/lib/ecash/nut02.ts';
import { createDleq, dleqNonce, hashE, verifyDleq, verifyProofDleq } from '../../src/lib/ecash/nut12.ts';
import { deriveSecret, keysetIdInt } from '../../src/lib/ecash/nut13.ts';
import { decodeToken, decodeTokenRaw, encodeTokenRaw, encodeTokenV3, encodeTokenV4, type Token } from '../../src/lib/ecash/token.ts';
import { describeOnEachBackend } from '../setup/backends.ts';

const load = (f: string) => JSON.parse(readVectorText(`cashu/${f}`));
const v00 = load('nut00.json');
const v01 = load('nut01.json');
const v02 = load('nut02.json');
const v12 = load('nut12.json');
const v13 = load('nut13.json');

/** BIP-39 seed from a mnemonic (test-only: PBKDF2-HMAC-SHA512, 2048 rounds, salt "mnemonic"). */
const bip39Seed = (m: string) => new Uint8Array(pbkdf2Sync(m.normalize('NFKD'), 'mnemonic', 2048, 64, 'sha512'));

/** The vectors' JSON token (bytes as "h:hex") as our Token. */
function tokenFromVector(j: { t: { i: string; p: { a: number; s: string; c: string }[] }[]; d?: string; m: string; u: string }): Token {
  const h = (s: string) => fromHex(s.slice(2));
  return { mint: j.m, unit: j.u, ...(j.d ? { memo: j.d } : {}), proofs: j.t.flatMap((g) => g.p.map((p) => ({ id: toHex(h(g.i)), amount: BigInt(p.a), secret: p.s, C: h(p.c) }))) };
}

await describeOnEachBackend('Cashu vectors', () => {
  describe('NUT-00', () => {
    it('hash_to_curve: every vector', () => {
      let n = 0;
      for (const c of v00.hash_to_curve) {
        expect(toHex(compressed(hashToCurve(fromHex(c.message))))).toBe(c.point);
        n++;
      }
      expect(n).toBe(3);
    });

    it('blinded messages B_ = Y + r·G, Y = hash_to_curve(x bytes): every vector', () => {
      let n = 0;
      for (const c of v00.blinded_messages) {
        const B_ = blindMessage(hashToCurve(fromHex(c.x)), bytesToScalar(fromHex(c.r)));
        expect(toHex(compressed(B_))).toBe(c.B_);
        n++;
      }
      expect(n).toBe(2);
    });

    it('blind signatures C_ = k·B_: every vector, and unblinding gives k·Y', () => {
      let n = 0;
      for (const c of v00.blind_signatures) {
        const k = bytesToScalar(fromHex(c.k));
        const C_ = signBlindedMessage(k, pointFromHex(c.B_, 'B_'));
        expect(toHex(compressed(C_))).toBe(c.C_);
        n++;
      }
      expect(n).toBe(2);
      // The round trip on the blinded-message vectors: C = C_ − r·K equals k·Y and verifies.
      const k = 0x7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7fn;
      for (const c of v00.blinded_messages) {
        const r = bytesToScalar(fromHex(c.r));
        const C = unblindSignature(signBlindedMessage(k, pointFromHex(c.B_, 'B_')), r, mulBase(k));
        expect(equals(C, mulSecret(hashToCurve(fromHex(c.x)), k))).toBe(true);
      }
      expect(verifyProofSignature(k, 'x', mulSecret(hashToCurve(utf8('x')), k))).toBe(true);
      expect(verifyProofSignature(k, 'x', mulSecret(hashToCurve(utf8('y')), k))).toBe(false);
    });

    it('token V3: the JSON serialises to the vector, the vector decodes to the JSON; invalid ones are refused; padding or not', () => {
      const j = v00.token_v3.json;
      const t: Token = { mint: j.token[0].mint, unit: j.unit, memo: j.memo, proofs: j.token[0].proofs.map((p: { id: string; amount: number; secret: string; C: string }) => ({ id: p.id, amount: BigInt(p.amount), secret: p.secret, C: fromHex(p.C) })) };
      // Our V3 writer orders proof keys as the vector does (amount, id, secret, C) and drops padding.
      expect(encodeTokenV3(t)).toBe(v00.token_v3.serialized);
      expect(decodeToken(v00.token_v3.serialized)).toEqual(t);
      let n = 0;
      for (const bad of v00.token_v3.invalid) {
        expect(() => decodeToken(bad.token)).toThrow(expect.objectContaining({ code: 'E_BAD_TOKEN' }));
        n++;
      }
      for (const good of v00.token_v3.valid_with_and_without_padding) {
        expect(decodeToken(good).proofs.length).toBe(2);
        n++;
      }
      expect(n).toBe(5);
    });

    it('token V4: both vectors encode to their bytes and decode back; the raw binary form too', () => {
      let n = 0;
      for (const c of v00.token_v4) {
        const t = tokenFromVector(c.token);
        expect(encodeTokenV4(t)).toBe(c.encoded.replace(/=+$/, ''));
        expect(decodeToken(c.encoded)).toEqual(t);
        n++;
      }
      expect(n).toBe(2);
      const t = tokenFromVector(v00.token_v4_raw.token);
      expect(toHex(encodeTokenRaw(t))).toBe(v00.token_v4_raw.raw_hex);
      expect(decodeTokenRaw(fromHex(v00.token_v4_raw.raw_hex))).toEqual(t);
    });
  });

  describe('NUT-01', () => {
    it('the invalid keysets are refused, the valid ones read', () => {
      let n = 0;
      for (const c of v01.invalid) {
        expect(() => parseKeys(c.keys), c.why).toThrow(expect.objectContaining({ code: 'E_BAD_KEYSET' }));
        n++;
      }
      for (const keys of v01.valid) {
        const k = parseKeys(keys);
        expect(k.keys.size).toBe(Object.keys(keys).length);
        n++;
      }
      expect(n).toBe(4);
      // The biggest amount is 2^63: one over a signed 64-bit integer.
      expect(parseKeys(v01.valid[1]).keys.has(2n ** 63n)).toBe(true);
    });

    it("Nutshell's derive_keys: the seed TEST_PRIVATE_KEY at m/0'/0'/0' is keyset 009a1f293253e41e (v00), 01884a74… as a fresh 0.20.3 with fee 100 (v01)", () => {
      // 01884a74… is what a real Nutshell 0.20.3 announced for this seed (test/vectors/nutshell/default)
      expect(deriveMintKeyset('TEST_PRIVATE_KEY').id).toBe('01884a74bb2fc5ee6e5f958f89f9e4e6cf79241fbc9fd1012d6811b054a78beffe');
      const ks = deriveMintKeyset('TEST_PRIVATE_KEY', { id_version: '00' });
      expect(ks.id).toBe('009a1f293253e41e');
      expect(ks.keys.size).toBe(64);
      const answer = keysAnswer(ks);
      expect(Object.keys(answer.keysets[0]!.keys)[63]).toBe('9223372036854775808');
      expect(parseKeys(answer.keysets[0]!.keys).keys.size).toBe(64);
    });
  });

  describe('NUT-02', () => {
    it('keyset ids v00 and v01: every vector', () => {
      let n = 0;
      for (const c of v02.v00) {
        expect(keysetIdV00(parseKeys(c.keys).keys)).toBe(c.id);
        n++;
      }
      for (const c of v02.v01) {
        expect(keysetIdV01(parseKeys(c.keys).keys, c.unit, c.input_fee_ppk, c.final_expiry ?? undefined)).toBe(c.id);
        n++;
      }
      expect(n).toBe(5);
    });
  });

  describe('NUT-12', () => {
    it('hash_e', () => {
      const h = v12.hash_e;
      expect(toHex(hashE(...[h.R1, h.R2, h.K, h.C_].map((x: string) => pointFromHex(x, 'p'))))).toBe(h.hash);
    });

    it('the deterministic nonce: (e, s) reproduced exactly, and it verifies', () => {
      const c = v12.deterministic_nonce;
      const a = bytesToScalar(fromHex(c.a));
      const A = pointFromHex(c.A, 'A');
      const B_ = pointFromHex(c.B_, 'B_');
      const C_ = pointFromHex(c.C_, 'C_');
      expect(equals(A, mulBase(a))).toBe(true);
      expect(equals(C_, mulSecret(B_, a))).toBe(true);
      const d = createDleq(a, B_, C_);
      expect(toHex(d.e)).toBe(c.e);
      expect(toHex(d.s)).toBe(c.s);
      expect(verifyDleq(d, A, B_, C_)).toBe(true);
      expect(dleqNonce(a, A, B_, C_)).toBeGreaterThan(0n);
    });

    it('DLEQ on a BlindSignature and on a Proof: the valid vectors verify, and fail once anything changes', () => {
      const bs = v12.blind_signature;
      const A = pointFromHex(bs.A, 'A');
      const B_ = pointFromHex(bs.B_, 'B_');
      const C_ = pointFromHex(bs.blind_signature.C_, 'C_');
      const d = { e: fromHex(bs.blind_signature.dleq.e), s: fromHex(bs.blind_signature.dleq.s) };
      expect(verifyDleq(d, A, B_, C_)).toBe(true);
      expect(verifyDleq(d, mulBase(2n), B_, C_)).toBe(false);
      const s2 = d.s.slice();
      s2[31]! ^= 1;
      expect(verifyDleq({ e: d.e, s: s2 }, A, B_, C_)).toBe(false);

      const p = v12.proof.proof;
      const pd = { e: fromHex(p.dleq.e), s: fromHex(p.dleq.s), r: fromHex(p.dleq.r) };
      expect(verifyProofDleq(pd, pointFromHex(v12.proof.A, 'A'), p.secret, pointFromHex(p.C, 'C'))).toBe(true);
      expect(verifyProofDleq(pd, pointFromHex(v12.proof.A, 'A'), p.secret + '0', pointFromHex(p.C, 'C'))).toBe(false);
    });
  });

  describe('NUT-13', () => {
    it('keyset id integer', () => {
      expect(keysetIdInt(v13.keyset_id_int.keyset_id)).toBe(BigInt(v13.keyset_id_int.keyest_id_int));
      expect(v13.v00.paths[0]).toBe(`m/129372'/0'/${v13.keyset_id_int.keyest_id_int}'/0'`);
    });

    it('v00 (BIP-32) and v01 (HMAC) secrets and blinding factors for counters 0–4', () => {
      let n = 0;
      for (const v of [v13.v00, v13.v01]) {
        const seed = bip39Seed(v.mnemonic);
        for (let i = 0; i < 5; i++) {
          const d = deriveSecret(seed, v.keyset_id, i);
          expect(d.secret).toBe(v.secrets[i]);
          expect(d.r.toString(16).padStart(64, '0')).toBe(v.r[i]);
          n++;
        }
      }
      expect(n).toBe(10);
    });
  });
});
