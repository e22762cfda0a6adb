/**
 * src/lib/ecash against two implementations it shares nothing with: cashu-ts (an
 * independent Cashu wallet library, devDependency) and the test-code Nutshell mint in
 * test/independent/cashu.ts. Random secrets and keys: every run checks fresh cases. The
 * curve work runs on every secp256k1 backend in turn (the one the CLI would select): cashu-ts
 * and the test-code mint check what each produces.
 */
import { randomBytes } from 'node:crypto';
import {
  blindMessage as ctsBlind, createBlindSignature as ctsSign, getDecodedToken, getEncodedToken, hashToCurve as ctsH2C,
  unblindSignature as ctsUnblind, verifyDLEQProof, hasValidDleq, deriveKeysetId, Amount, pointFromHex as ctsPointFromHex,
} from '@cashu/cashu-ts';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex, utf8 } from '../../../src/lib/bytes.ts';
import { add, bytesToScalar, compressed, mulBase, pointFromBytes, scalarToBytes, type Point } from '../../../src/lib/ecash/curve.ts';
import { blindMessage, hashToCurve, signBlindedMessage, unblindSignature } from '../../../src/lib/ecash/nut00.ts';
import { deriveMintKeyset, keysAnswer, type MintKeyset } from '../../../src/lib/ecash/nut01.ts';
import { createDleq, verifyDleq } from '../../../src/lib/ecash/nut12.ts';
import { decodeToken, encodeTokenV4, type Token } from '../../../src/lib/ecash/token.ts';
import { namesKeyset } from '../../../src/lib/ecash/nut02.ts';
import { hashToCurve as indepH2C, nutshellAccepts, nutshellKeyset } from '../../independent/cashu.ts';
import { encodeCompressed } from '../../independent/secp256k1.ts';
import { ROOT, readVectorText } from '../../helpers.ts';
import { describeOnEachBackend } from '../../setup/backends.ts';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const ks = deriveMintKeyset('TEST_PRIVATE_KEY');
const ksDefault = ks;
const nutshell = nutshellKeyset('TEST_PRIVATE_KEY');
const scalar = () => bytesToScalar(randomBytes(32)) % (2n ** 255n) + 1n;
/** Our point as cashu-ts's own (decoded by cashu-ts from our encoding). */
const cts = (P: Point) => ctsPointFromHex(toHex(compressed(P)));

describe("the keyset: ours, the test-code Nutshell's, and cashu-ts's id", () => {
  it('the same 64 keys, and the ids a fresh Nutshell 0.20.3 (01884a74…, fee 100) and one upgraded from 0.19 (009a1f293253e41e) announce', () => {
    const nut = nutshell;
    expect(nut.id).toBe('01884a74bb2fc5ee6e5f958f89f9e4e6cf79241fbc9fd1012d6811b054a78beffe');
    expect(ks.id).toBe(nut.id);
    for (const [a, K] of ks.keys) expect(toHex(K)).toBe(nut.publicKeys.get(a));
    const keys = keysAnswer(ks).keysets[0]!.keys;
    expect(deriveKeysetId(keys, { versionByte: 1, unit: 'sat', input_fee_ppk: 100 })).toBe(nut.id);
    const v00 = deriveMintKeyset('TEST_PRIVATE_KEY', { id_version: '00' });
    expect(v00.id).toBe(nutshellKeyset('TEST_PRIVATE_KEY', "m/0'/0'/0'", { idVersion: '00' }).id);
    expect(deriveKeysetId(keys, { versionByte: 0 })).toBe('009a1f293253e41e');
    expect(v00.id).toBe('009a1f293253e41e');
  });

  it('another seed, path and fee give another keyset, and it still agrees', () => {
    const seed = 'another seed with more than sixty-four bytes of text in it, as mnemonics are';
    const mine = deriveMintKeyset(seed, { path: "m/0'/0'/1'", input_fee_ppk: 0 });
    const nut = nutshellKeyset(seed, "m/0'/0'/1'", { inputFeePpk: 0 });
    expect(mine.id).toBe(nut.id);
    expect(mine.id).not.toBe(ks.id);
    expect(deriveKeysetId(keysAnswer(mine).keysets[0]!.keys, { versionByte: 1, unit: 'sat' })).toBe(nut.id);
  });
});

describe('independence', () => {
  it('src/ never imports cashu-ts (a devDependency, the independent wallet of these tests)', () => {
    const files: string[] = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(d, e.name));
        else if (e.name.endsWith('.ts')) files.push(join(d, e.name));
      }
    };
    walk(join(ROOT, 'src'));
    expect(files.length).toBeGreaterThan(100);
    for (const f of files) expect(readFileSync(f, 'utf8'), f).not.toMatch(/@cashu\/cashu-ts/);
  });
});

describe('the test-code Nutshell mint itself, against the official vectors', () => {
  it('its hash_to_curve gives the three NUT-00 points, and it accepts (x, k·Y) only for the right k', () => {
    const v = JSON.parse(readVectorText('cashu/nut00.json'));
    let n = 0;
    for (const c of v.hash_to_curve) {
      expect(toHex(encodeCompressed(indepH2C(fromHex(c.message))))).toBe(c.point);
      n++;
    }
    expect(n).toBe(3);
  });
});

await describeOnEachBackend('cashu-ts and the test-code Nutshell check our ecash', () => {
  describe('BDHKE against cashu-ts and the test-code hash_to_curve', () => {
    it('hash_to_curve, blinding, signing, unblinding agree on 20 random cases', () => {
      for (let i = 0; i < 20; i++) {
        const secret = toHex(randomBytes(32));
        const r = scalar();
        const Y = hashToCurve(utf8(secret));
        expect(toHex(compressed(Y))).toBe(toHex(ctsH2C(utf8(secret)).toBytes(true)));
        expect(toHex(compressed(Y))).toBe(toHex(encodeCompressed(indepH2C(utf8(secret)))));
        const B_ = blindMessage(Y, r);
        const theirs = ctsBlind(utf8(secret), r);
        expect(toHex(compressed(B_))).toBe(toHex(theirs.B_.toBytes(true)));
        const amount = 1n << BigInt(i);
        const k = ks.privateKeys.get(amount)!;
        const C_ = signBlindedMessage(k, B_);
        expect(toHex(compressed(C_))).toBe(toHex(ctsSign(theirs.B_, scalarToBytes(k), ks.id).C_.toBytes(true)));
        const C = unblindSignature(C_, r, ks.points.get(amount)!);
        expect(toHex(compressed(C))).toBe(toHex(ctsUnblind(theirs.B_.multiply(k), r, cts(ks.points.get(amount)!)).toBytes(true)));
        expect(nutshellAccepts(nutshell, { id: ks.id, amount, secret, C: toHex(compressed(C)) })).toBe(true);
        // and a wrong key is refused by the test-code mint
        expect(nutshellAccepts(nutshell, { id: ks.id, amount: amount * 2n, secret, C: toHex(compressed(C)) })).toBe(false);
      }
    });

    it('our DLEQ verifies in cashu-ts, and a DLEQ for another key fails both', () => {
      for (let i = 0; i < 10; i++) {
        const amount = 1n << BigInt(i * 6);
        const a = ks.privateKeys.get(amount)!;
        const A = ks.points.get(amount)!;
        const B_ = mulBase(scalar());
        const C_ = signBlindedMessage(a, B_);
        const d = createDleq(a, B_, C_);
        expect(verifyDleq(d, A, B_, C_)).toBe(true);
        expect(verifyDLEQProof({ e: d.e, s: d.s }, cts(B_), cts(C_), cts(A))).toBe(true);
        // signed with the key of another amount: the proof against the advertised key fails
        const other = ks.privateKeys.get(amount === 1n ? 2n : 1n)!;
        const C2 = signBlindedMessage(other, B_);
        const d2 = createDleq(other, B_, C2);
        expect(verifyDleq(d2, A, B_, C2)).toBe(false);
        expect(verifyDLEQProof({ e: d2.e, s: d2.s }, cts(B_), cts(C2), cts(A))).toBe(false);
      }
    });
  });

  describe('tokens across implementations', () => {
    function ourToken(n: number, ks: MintKeyset = ksDefault): Token {
      const proofs = Array.from({ length: n }, (_, i) => {
        const amount = 1n << BigInt(i);
        const secret = toHex(randomBytes(32));
        const r = scalar();
        const B_ = blindMessage(hashToCurve(utf8(secret)), r);
        const C_ = signBlindedMessage(ks.privateKeys.get(amount)!, B_);
        const d = createDleq(ks.privateKeys.get(amount)!, B_, C_);
        const C = unblindSignature(C_, r, ks.points.get(amount)!);
        return { id: ks.id, amount, secret, C: compressed(C), dleq: { ...d, r: scalarToBytes(r) } };
      });
      return { mint: 'http://localhost:3338', unit: 'sat', memo: 'credit', proofs };
    }

    it('cashu-ts decodes our cashuB tokens and verifies every proof\'s DLEQ against the keyset', () => {
      const t = ourToken(7);
      const decoded = getDecodedToken(encodeTokenV4(t), [ks.id]);
      expect(decoded.mint).toBe(t.mint);
      expect(decoded.unit).toBe('sat');
      expect(decoded.proofs.length).toBe(7);
      const keyset = { id: ks.id, keys: keysAnswer(ks).keysets[0]!.keys };
      for (const [i, p] of decoded.proofs.entries()) {
        expect(p.secret).toBe(t.proofs[i]!.secret);
        expect(p.C).toBe(toHex(t.proofs[i]!.C));
        expect(hasValidDleq(p, keyset as never)).toBe(true);
      }
      // a proof whose C was tampered with fails cashu-ts's DLEQ check
      const bad = { ...decoded.proofs[0]!, C: toHex(compressed(add(pointFromBytes(fromHex(decoded.proofs[0]!.C), 'C'), mulBase(1n))!)) };
      expect(hasValidDleq(bad, keyset as never)).toBe(false);
    });

    it("we decode cashu-ts's own encoding of the same token to the same proofs: v00 ids as they are, v01 ids short (NUT-00), naming the same keyset", () => {
      const v00 = deriveMintKeyset('TEST_PRIVATE_KEY', { id_version: '00' });
      for (const keyset of [v00, ks]) {
        const t = ourToken(5, keyset);
        const cts = getDecodedToken(encodeTokenV4(t), [keyset.id]);
        const again = decodeToken(getEncodedToken(cts));
        // cashu-ts writes a v01 id's first 8 bytes; the v00 id is 8 bytes already.
        const written = keyset.id.slice(0, 16);
        expect(written === keyset.id).toBe(keyset === v00);
        expect(again.proofs.map((p) => [p.id, p.amount, p.secret, toHex(p.C), toHex(p.dleq!.e), toHex(p.dleq!.s), toHex(p.dleq!.r!)]))
          .toEqual(t.proofs.map((p) => [written, p.amount, p.secret, toHex(p.C), toHex(p.dleq!.e), toHex(p.dleq!.s), toHex(p.dleq!.r!)]));
        for (const p of again.proofs) expect(namesKeyset(p.id, keyset.id)).toBe(true);
        expect(namesKeyset(again.proofs[0]!.id, keyset === v00 ? ks.id : v00.id)).toBe(false);
      }
      expect(Amount.from(7).toString()).toBe('7');
    });
  });
});
