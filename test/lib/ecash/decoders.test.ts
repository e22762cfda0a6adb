/**
 * Property tests of the ecash decoders (token V3/V4, CBOR, NUT-01 keys): on any input
 * they give a coded refusal or exactly the right answer — never a crash, a hang or an
 * uncoded error.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../../src/lib/bytes.ts';
import { isOffchainError } from '../../../src/lib/errors.ts';
import { decodeCbor, encodeCbor, type CborValue } from '../../../src/lib/ecash/cbor.ts';
import { parseKeys } from '../../../src/lib/ecash/nut01.ts';
import { decodeToken, decodeTokenRaw, encodeTokenRaw, encodeTokenV3, encodeTokenV4, type Token } from '../../../src/lib/ecash/token.ts';
import { applyMutations, byteMutation } from '../../fuzz.ts';
import { readVectorText } from '../../helpers.ts';

const coded = (code: string) => (e: unknown) => isOffchainError(e) && e.code === code;

const cborValue: fc.Arbitrary<CborValue> = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.nat(),
    fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map((b) => (b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b)),
    fc.string(),
    fc.uint8Array({ maxLength: 40 }),
    fc.constantFrom(true, false, null),
    fc.array(tie('v'), { maxLength: 4 }),
    // keys that are not array indices keep their order in a JS object
    fc.dictionary(fc.string().map((s) => `k${s}`), tie('v'), { maxKeys: 4 }),
  ),
})).v as fc.Arbitrary<CborValue>;

describe('CBOR subset', () => {
  it('encode → decode is the identity, and the bytes are the only encoding (decode → encode gives them back)', () => {
    fc.assert(fc.property(cborValue, (v) => {
      const bytes = encodeCbor(v);
      const back = decodeCbor(bytes);
      expect(back).toEqual(v);
      expect(toHex(encodeCbor(back))).toBe(toHex(bytes));
    }), { numRuns: 500 });
  });

  it('any bytes: E_BAD_TOKEN, or a value that re-encodes to a value equal to it', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
      try {
        const v = decodeCbor(b);
        expect(decodeCbor(encodeCbor(v))).toEqual(v);
      } catch (e) {
        expect(coded('E_BAD_TOKEN')(e)).toBe(true);
      }
    }), { numRuns: 3000 });
  });

  it('refuses what the subset leaves out: indefinite lengths, tags, floats, negatives, long heads, duplicates, trailing bytes, deep nesting', () => {
    const cases = ['9f01ff', 'c001', 'f93c00', '20', '1801', 'a2616101616102', '0000', '81'.repeat(20) + '00', '5a000000ff00'];
    for (const hex of cases) expect(() => decodeCbor(Uint8Array.from(Buffer.from(hex, 'hex'))), hex).toThrow(expect.objectContaining({ code: 'E_BAD_TOKEN' }));
  });
});

const vectors = JSON.parse(readVectorText('cashu/nut00.json'));

describe('tokens', () => {
  const seed = vectors.token_v4[1].encoded as string;
  const t = decodeToken(seed);
  const raw = encodeTokenRaw(t);

  it('a mutated raw V4 token: E_BAD_TOKEN, or a token whose own encoding decodes to it', () => {
    fc.assert(fc.property(fc.array(byteMutation({ setValues: [0, 0x18, 0x1b, 0x5f, 0x9f, 0xbf, 0xff, 0x41, 0x58] , append: true }), { minLength: 1, maxLength: 4 }), (ms) => {
      const m = applyMutations(raw, ms);
      let got: Token;
      try {
        got = decodeTokenRaw(m);
      } catch (e) {
        expect(coded('E_BAD_TOKEN')(e)).toBe(true);
        return;
      }
      expect(decodeTokenRaw(encodeTokenRaw(got))).toEqual(got);
      expect(decodeToken(encodeTokenV4(got))).toEqual(got);
    }), { numRuns: 3000 });
  });

  it('any text: E_BAD_TOKEN or a token', () => {
    fc.assert(fc.property(fc.oneof(fc.string(), fc.string().map((s) => `cashuB${s}`), fc.string().map((s) => `cashuA${s}`), fc.base64String().map((s) => `cashuA${s}`)), (s) => {
      try {
        decodeToken(s);
      } catch (e) {
        expect(coded('E_BAD_TOKEN')(e)).toBe(true);
      }
    }), { numRuns: 3000 });
  });

  it('a V3 token round-trips through our writer, and V3 JSON with wrong types is refused', () => {
    expect(decodeToken(encodeTokenV3(t))).toEqual({ ...t });
    const bad = [{}, { token: [] }, { token: [{ mint: 'm', proofs: [{ amount: 3, id: '009a1f293253e41e', secret: 's', C: '0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798' }] }] }, { token: [{ mint: 'm', proofs: [] }, { mint: 'n', proofs: [] }] }];
    // each field on its own: an amount not a power of two, a C not a point, an unknown keyset id form
    const good = t.proofs[0]!;
    for (const p of [{ ...good, amount: 3n }, { ...good, C: Uint8Array.from([2, ...new Uint8Array(32).fill(0xff)]) }, { ...good, id: '02' + good.id.slice(2) }]) {
      expect(() => decodeToken(encodeTokenV4({ ...t, proofs: [p] }))).toThrow(expect.objectContaining({ code: 'E_BAD_TOKEN' }));
    }
    for (const j of bad) expect(() => decodeToken('cashuA' + Buffer.from(JSON.stringify(j)).toString('base64url'))).toThrow(expect.objectContaining({ code: 'E_BAD_TOKEN' }));
  });
});

describe('NUT-01 keys', () => {
  it('any JSON: E_BAD_KEYSET or keys that are all points at power-of-two amounts', () => {
    fc.assert(fc.property(fc.oneof(fc.jsonValue(), fc.dictionary(fc.constantFrom('1', '2', '3', '01', '9223372036854775808', '18446744073709551616'), fc.constantFrom('02'.padEnd(66, '0'), '0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798', 'zz'))), (j) => {
      try {
        const k = parseKeys(j);
        for (const a of k.keys.keys()) expect(a & (a - 1n)).toBe(0n);
      } catch (e) {
        expect(coded('E_BAD_KEYSET')(e)).toBe(true);
      }
    }), { numRuns: 2000 });
  });
});
