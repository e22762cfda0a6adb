/**
 * BIP-32 private derivation (src/lib/ecash/bip32.ts) pinned where `npm run mutate` found a
 * planted change passing every test (issue 42, deliverable 2). Expected keys are BIP-32's own
 * test vectors 1–3, quoted as the BIP prints them (extended private keys, read here with the
 * test code's base58check: chain code and key), which mix hardened and unhardened steps and
 * (vector 3) a child key with a leading zero byte; a seed longer than 64 bytes (Nutshell's
 * seed string) is checked against HMAC-SHA512 from node:crypto. Path syntax is the module's
 * stated form ("m/0'/0'/0'", h or ', indices below 2^31).
 */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { base58checkDecode } from '../../independent/base58check.ts';
import { refusal } from '../../setup/refusal.ts';
import { childKey, derivePath, hardened, masterKey, parsePath } from '../../../src/lib/ecash/bip32.ts';

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** An xprv's chain code and key (BIP-32 "Serialization format": 4 version, 1 depth, 4 fingerprint, 4 child, 32 chain code, 0x00 ‖ 32 key). */
const xprv = (s: string) => {
  const b = base58checkDecode(s);
  expect(b.length).toBe(78);
  expect(b[45]).toBe(0);
  return { chainCode: toHex(b.subarray(13, 45)), key: toHex(b.subarray(46, 78)) };
};

// BIP-32 "Test Vectors": seed, then (path, ext prv) per chain.
const VECTORS: [string, [string, string][]][] = [
  ['000102030405060708090a0b0c0d0e0f', [
    ['m', 'xprv9s21ZrQH143K3QTDL4LXw2F7HEK3wJUD2nW2nRk4stbPy6cq3jPPqjiChkVvvNKmPGJxWUtg6LnF5kejMRNNU3TGtRBeJgk33yuGBxrMPHi'],
    ["m/0H", 'xprv9uHRZZhk6KAJC1avXpDAp4MDc3sQKNxDiPvvkX8Br5ngLNv1TxvUxt4cV1rGL5hj6KCesnDYUhd7oWgT11eZG7XnxHrnYeSvkzY7d2bhkJ7'],
    ["m/0H/1", 'xprv9wTYmMFdV23N2TdNG573QoEsfRrWKQgWeibmLntzniatZvR9BmLnvSxqu53Kw1UmYPxLgboyZQaXwTCg8MSY3H2EU4pWcQDnRnrVA1xe8fs'],
    ["m/0H/1/2H", 'xprv9z4pot5VBttmtdRTWfWQmoH1taj2axGVzFqSb8C9xaxKymcFzXBDptWmT7FwuEzG3ryjH4ktypQSAewRiNMjANTtpgP4mLTj34bhnZX7UiM'],
    ["m/0H/1/2H/2", 'xprvA2JDeKCSNNZky6uBCviVfJSKyQ1mDYahRjijr5idH2WwLsEd4Hsb2Tyh8RfQMuPh7f7RtyzTtdrbdqqsunu5Mm3wDvUAKRHSC34sJ7in334'],
    ["m/0H/1/2H/2/1000000000", 'xprvA41z7zogVVwxVSgdKUHDy1SKmdb533PjDz7J6N6mV6uS3ze1ai8FHa8kmHScGpWmj4WggLyQjgPie1rFSruoUihUZREPSL39UNdE3BBDu76'],
  ]],
  ['fffcf9f6f3f0edeae7e4e1dedbd8d5d2cfccc9c6c3c0bdbab7b4b1aeaba8a5a29f9c999693908d8a8784817e7b7875726f6c696663605d5a5754514e4b484542', [
    ['m', 'xprv9s21ZrQH143K31xYSDQpPDxsXRTUcvj2iNHm5NUtrGiGG5e2DtALGdso3pGz6ssrdK4PFmM8NSpSBHNqPqm55Qn3LqFtT2emdEXVYsCzC2U'],
    ['m/0', 'xprv9vHkqa6EV4sPZHYqZznhT2NPtPCjKuDKGY38FBWLvgaDx45zo9WQRUT3dKYnjwih2yJD9mkrocEZXo1ex8G81dwSM1fwqWpWkeS3v86pgKt'],
    ["m/0/2147483647H", 'xprv9wSp6B7kry3Vj9m1zSnLvN3xH8RdsPP1Mh7fAaR7aRLcQMKTR2vidYEeEg2mUCTAwCd6vnxVrcjfy2kRgVsFawNzmjuHc2YmYRmagcEPdU9'],
    ["m/0/2147483647H/1", 'xprv9zFnWC6h2cLgpmSA46vutJzBcfJ8yaJGg8cX1e5StJh45BBciYTRXSd25UEPVuesF9yog62tGAQtHjXajPPdbRCHuWS6T8XA2ECKADdw4Ef'],
    ["m/0/2147483647H/1/2147483646H", 'xprvA1RpRA33e1JQ7ifknakTFpgNXPmW2YvmhqLQYMmrj4xJXXWYpDPS3xz7iAxn8L39njGVyuoseXzU6rcxFLJ8HFsTjSyQbLYnMpCqE2VbFWc'],
    ["m/0/2147483647H/1/2147483646H/2", 'xprvA2nrNbFZABcdryreWet9Ea4LvTJcGsqrMzxHx98MMrotbir7yrKCEXw7nadnHM8Dq38EGfSh6dqA9QWTyefMLEcBYJUuekgW4BYPJcr9E7j'],
  ]],
  // vector 3: retention of leading zeros (m's key starts with 00)
  ['4b381541583be4423346c643850da4b320e46a87ae3d2a4e6da11eba819cd4acba45d239319ac14f863b8d5ab5a0d0c64d2e8a1e7d1457df2e5a3c51c73235be', [
    ['m', 'xprv9s21ZrQH143K25QhxbucbDDuQ4naNntJRi4KUfWT7xo4EKsHt2QJDu7KXp1A3u7Bi1j8ph3EGsZ9Xvz9dGuVrtHHs7pXeTzjuxBrCmmhgC6'],
    ["m/0H", 'xprv9uPDJpEQgRQfDcW7BkF7eTya6RPxXeJCqCJGHuCJ4GiRVLzkTXBAJMu2qaMWPrS7AANYqdq6vcBcBUdJCVVFceUvJFjaPdGZ2y9WACViL4L'],
  ]],
];

describe('BIP-32 test vectors 1–3', () => {
  it('every chain: derivePath from the seed gives the vector\'s key and chain code, one childKey at a time too', () => {
    let n = 0;
    for (const [seed, chain] of VECTORS) {
      let k = masterKey(hex(seed));
      for (const [path, ext] of chain) {
        const steps = parsePath(path.replaceAll('H', "'"));
        if (steps.length) k = childKey(k, steps.at(-1)!);
        const want = xprv(ext);
        expect({ chainCode: toHex(k.chainCode), key: toHex(k.key) }, path).toEqual(want);
        const whole = derivePath(hex(seed), path.replaceAll('H', 'h'));
        expect({ chainCode: toHex(whole.chainCode), key: toHex(whole.key) }, path).toEqual(want);
        expect(whole.key.length).toBe(32);
        n++;
      }
    }
    expect(n).toBe(14);
  });

  it('a path given as indices is the same path', () => {
    const seed = hex(VECTORS[0]![0]);
    const want = xprv(VECTORS[0]![1][5]![1]);
    const k = derivePath(seed, [hardened(0), 1, hardened(2), 2, 1000000000]);
    expect({ chainCode: toHex(k.chainCode), key: toHex(k.key) }).toEqual(want);
    expect(hardened(0)).toBe(2 ** 31);
    expect(hardened(2147483647)).toBe(2 ** 32 - 1);
  });

  it('a seed longer than 64 bytes (Nutshell\'s seed string) is HMAC-SHA512("Bitcoin seed", seed)', () => {
    const seed = new Uint8Array(100).map((_, i) => i);
    const I = createHmac('sha512', 'Bitcoin seed').update(seed).digest();
    const m = masterKey(seed);
    expect(toHex(m.key)).toBe(I.subarray(0, 32).toString('hex'));
    expect(toHex(m.chainCode)).toBe(I.subarray(32).toString('hex'));
  });
});

describe('paths', () => {
  it("m, ' and h, indices up to 2^31 − 1", () => {
    expect(parsePath('m')).toEqual([]);
    expect(parsePath("m/0'/1h/2")).toEqual([2 ** 31, 2 ** 31 + 1, 2]);
    expect(parsePath("m/2147483647/2147483647'")).toEqual([2 ** 31 - 1, 2 ** 32 - 1]);
    expect(parsePath('m/0000000001')).toEqual([1]);
  });

  it('anything else is E_USAGE naming the path and the step', () => {
    for (const p of ["0'/1", "M/0'", " m/0", "/0'"]) {
      expect(refusal(() => parsePath(p), 'E_USAGE', 2).message).toBe(`derivation path ${p} must start with m/`);
    }
    for (const [p, step] of [['m/2147483648', '2147483648'], ["m/2147483648'", "2147483648'"], ['m/01234567890', '01234567890'], ['m/-1', '-1'], ["m/1''", "1''"], ['m/1x', '1x'], ['m/', ''], ['m/1/', ''], ['m//1', ''], ["m/1H", '1H'], ['m/ 1', ' 1'], ['m/1 ', '1 '], ['m/1.5', '1.5'], ['m/0x1', '0x1']]) {
      expect(refusal(() => parsePath(p!), 'E_USAGE', 2).message, p).toBe(`derivation path ${p}: bad step ${step}`);
    }
    expect(() => derivePath(new Uint8Array(16), 'm/x')).toThrow(expect.objectContaining({ code: 'E_USAGE' }));
  });
});
