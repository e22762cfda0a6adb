/**
 * NUT-12 DLEQ checks (src/lib/ecash/nut12.ts) pinned where `npm run mutate` found a planted
 * change passing every test (issue 42, deliverable 2): a DLEQ part is its 32 bytes exactly
 * (the same scalar written in 33 bytes is refused, so a proof has one encoding), and a
 * blinding factor r outside [1, n−1] is a failed check (false), never an exception.
 * Inputs are NUT-12's own test vectors (test/vectors/cashu/nut12.json); the expected
 * answers are the spec's: a valid vector verifies, anything else does not. The deterministic
 * nonce against node:crypto's HMAC (the one the mint signs with is on OpenSSL too, through
 * src/lib/hash.ts; the vectors' (e, s) pin it as well: test/vectors/cashu.test.ts).
 */
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concatBytes, fromHex } from '../../../src/lib/bytes.ts';
import { mulBase, mulSecret, pointFromHex, uncompressed } from '../../../src/lib/ecash/curve.ts';
import { dleqNonce, verifyDleq, verifyProofDleq } from '../../../src/lib/ecash/nut12.ts';
import { loadVector } from '../../helpers.ts';

const v12 = loadVector('cashu/nut12.json');
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n; // secp256k1's order (SEC 2)
const be32 = (n: bigint) => fromHex(n.toString(16).padStart(64, '0'));
const zeroPrefixed = (b: Uint8Array) => concatBytes(Uint8Array.of(0), b);

const bs = v12.blind_signature;
const A = pointFromHex(bs.A, 'A');
const B_ = pointFromHex(bs.B_, 'B_');
const C_ = pointFromHex(bs.blind_signature.C_, 'C_');
const D = { e: fromHex(bs.blind_signature.dleq.e), s: fromHex(bs.blind_signature.dleq.s) };

const p = v12.proof;
const PA = pointFromHex(p.A, 'A');
const PC = pointFromHex(p.proof.C, 'C');
const PD = { e: fromHex(p.proof.dleq.e), s: fromHex(p.proof.dleq.s), r: fromHex(p.proof.dleq.r) };

describe('NUT-12: each part of a DLEQ is 32 bytes, and r a scalar in [1, n−1]', () => {
  it('the vectors verify as given (the baseline)', () => {
    expect(verifyDleq(D, A, B_, C_)).toBe(true);
    expect(verifyProofDleq(PD, PA, p.proof.secret, PC)).toBe(true);
  });

  it('e or s written in 33 bytes (a zero byte before the same scalar) → false', () => {
    expect(verifyDleq({ e: D.e, s: zeroPrefixed(D.s) }, A, B_, C_)).toBe(false);
    expect(verifyDleq({ e: zeroPrefixed(D.e), s: D.s }, A, B_, C_)).toBe(false);
    expect(verifyProofDleq({ ...PD, s: zeroPrefixed(PD.s) }, PA, p.proof.secret, PC)).toBe(false);
  });

  it('r written in 33 bytes (a zero byte before the same scalar) → false', () => {
    expect(verifyProofDleq({ ...PD, r: zeroPrefixed(PD.r) }, PA, p.proof.secret, PC)).toBe(false);
  });

  it('r = 0 or r ≥ n → false, not an exception', () => {
    for (const r of [0n, N, N + 1n]) expect(verifyProofDleq({ ...PD, r: be32(r) }, PA, p.proof.secret, PC), `r ${r}`).toBe(false);
  });

  it('R1 and R2 the identity (s = a·e, with the vector\'s a = 2 and C_ = 2·B_) → false', () => {
    // the deterministic-nonce vector's key is a = 2: with s = 2e mod n, s·G − e·A and s·B_ − e·C_ are both the identity
    const c = v12.deterministic_nonce;
    const [KA, KB, KC] = [pointFromHex(c.A, 'A'), pointFromHex(c.B_, 'B_'), pointFromHex(c.C_, 'C_')];
    const e = BigInt('0x' + c.e);
    expect(verifyDleq({ e: be32(e), s: be32((2n * e) % N) }, KA, KB, KC)).toBe(false);
    expect(verifyDleq({ e: fromHex(c.e), s: fromHex(c.s) }, KA, KB, KC)).toBe(true);
  });

  it('s = 0 or s ≥ n, e = 0 or e ≥ n → false, not an exception', () => {
    for (const s of [0n, N, N + 1n]) expect(verifyDleq({ e: D.e, s: be32(s) }, A, B_, C_), `s ${s}`).toBe(false);
    for (const e of [0n, N, N + 1n]) expect(verifyDleq({ e: be32(e), s: D.s }, A, B_, C_), `e ${e}`).toBe(false);
  });
});

describe("NUT-12's deterministic nonce (on OpenSSL through src/lib/hash.ts since 2026-11-29)", () => {
  it('is HMAC-SHA256(a, "Cashu_DLEQ_R_v1" ‖ A ‖ B_ ‖ C_ ‖ 0) as node:crypto computes it, for random keys and points', () => {
    fc.assert(fc.property(fc.bigInt({ min: 1n, max: N - 1n }), fc.bigInt({ min: 1n, max: N - 1n }), (a, b) => {
      const A = mulBase(a);
      const B = mulBase(b);
      const C = mulSecret(B, a);
      const want = BigInt('0x' + createHmac('sha256', be32(a)).update(Buffer.concat([Buffer.from('Cashu_DLEQ_R_v1'), uncompressed(A), uncompressed(B), uncompressed(C), Buffer.of(0)])).digest('hex'));
      // a digest ≥ n (probability ~2^-128) would take the next counter: not drawn here
      expect(dleqNonce(a, A, B, C)).toBe(want);
    }), { numRuns: 40 });
  });
});
