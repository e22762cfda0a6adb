/**
 * The cashuB token's CBOR subset (src/lib/ecash/cbor.ts) pinned where `npm run mutate` found
 * a planted change passing every test (issue 42, deliverable 2). Expected bytes are RFC 8949
 * Appendix A's examples (those inside the subset: unsigned integers, byte and text strings,
 * arrays, maps with text keys, false/true/null); the refusals are the subset's stated rules
 * (the module's head comment: definite lengths, shortest heads, no tags, floats, negatives
 * or other simple values, no duplicate keys, nesting at most 16 deep, every length checked
 * against what is left), each at its exact edge, with its reason.
 */
import { describe, expect, it } from 'vitest';
import { refusal } from '../../setup/refusal.ts';
import { decodeCbor, encodeCbor, type CborValue } from '../../../src/lib/ecash/cbor.ts';

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
/** A short text string's CBOR (RFC 8949 3.1: major type 3, length < 24 in the head). */
const text = (s: string) => (0x60 + Buffer.byteLength(s)).toString(16) + Buffer.from(s).toString('hex');
const map = (entries: [string, CborValue][]): { [k: string]: CborValue } => Object.assign(Object.create(null), Object.fromEntries(entries));

// RFC 8949 Appendix A, the examples inside the subset (value, its only encoding).
const APPENDIX_A: [CborValue, string][] = [
  [0, '00'], [1, '01'], [10, '0a'], [23, '17'], [24, '1818'], [25, '1819'], [100, '1864'], [1000, '1903e8'],
  [1000000, '1a000f4240'], [1000000000000, '1b000000e8d4a51000'], [18446744073709551615n, '1bffffffffffffffff'],
  [false, 'f4'], [true, 'f5'], [null, 'f6'],
  [new Uint8Array(0), '40'], [hex('01020304'), '4401020304'],
  ['', '60'], ['a', '6161'], ['IETF', '6449455446'], ['"\\', '62225c'], ['\u00fc', '62c3bc'], ['\u6c34', '63e6b0b4'], ['\ud800\udd51', '64f0908591'],
  [[], '80'], [[1, 2, 3], '83010203'], [[1, [2, 3], [4, 5]], '8301820203820405'],
  [Array.from({ length: 25 }, (_, i) => i + 1), '98190102030405060708090a0b0c0d0e0f101112131415161718181819'],
  [map([]), 'a0'], [map([['a', 1], ['b', [2, 3]]]), 'a26161016162820203'], [['a', map([['b', 'c']])], '826161a161626163'],
  [map([['a', 'A'], ['b', 'B'], ['c', 'C'], ['d', 'D'], ['e', 'E']]), 'a56161614161626142616361436164614461656145'],
];

/** decodeCbor refuses with E_BAD_TOKEN (exit 3) and exactly this reason. */
const refused = (h: string, why: string) => {
  const e = refusal(() => decodeCbor(hex(h)), 'E_BAD_TOKEN', 3);
  expect(e.message, h).toBe(`the token's CBOR is malformed: ${why}`);
};

describe('RFC 8949 Appendix A', () => {
  it('each example inside the subset encodes to its bytes and decodes to its value', () => {
    for (const [v, h] of APPENDIX_A) {
      expect(toHex(encodeCbor(v)), h).toBe(h);
      expect(decodeCbor(hex(h)), h).toEqual(v);
    }
  });

  it('each example outside it is refused with its reason', () => {
    refused('20', 'negative integers are not allowed'); // -1
    refused('3863', 'negative integers are not allowed'); // -100
    refused('c11a514b67b0', 'tags are not allowed'); // 1(1363896240)
    refused('d74401020304', 'tags are not allowed'); // 23(h'01020304')
    refused('f90000', 'floats and simple values other than false/true/null are not allowed'); // 0.0
    refused('fa47c35000', 'floats and simple values other than false/true/null are not allowed'); // 100000.0
    refused('fb3ff199999999999a', 'floats and simple values other than false/true/null are not allowed'); // 1.1
    refused('f7', 'floats and simple values other than false/true/null are not allowed'); // undefined
    refused('f0', 'floats and simple values other than false/true/null are not allowed'); // simple(16)
    refused('f8ff', 'floats and simple values other than false/true/null are not allowed'); // simple(255)
    refused('f814', 'floats and simple values other than false/true/null are not allowed'); // false in two bytes: not well-formed
    refused('5f42010243030405ff', 'indefinite lengths are not allowed');
    refused('9fff', 'indefinite lengths are not allowed');
    refused('bf61610161629f0203ffff', 'indefinite lengths are not allowed');
    refused('7f657374726561646d696e67ff', 'indefinite lengths are not allowed');
    // major type 7 ("floating-point numbers and simple values", RFC 8949 3.3) with info 28-31,
    // a lone break among them: refused as what the major type is, not as a tag or a length
    for (const h of ['fc', 'fd', 'fe', 'ff']) refused(h, 'floats and simple values other than false/true/null are not allowed');
    refused('1c', 'reserved additional info 28');
    refused('5d', 'reserved additional info 29');
    refused('9e', 'reserved additional info 30');
  });
});

describe('integers', () => {
  it('the shortest head only: each width from its first value, the value below it refused', () => {
    refused('1817', 'an integer is not in its shortest form');
    refused('1800', 'an integer is not in its shortest form');
    refused('1900ff', 'an integer is not in its shortest form');
    refused('1a0000ffff', 'an integer is not in its shortest form');
    refused('1b00000000ffffffff', 'an integer is not in its shortest form');
    refused('5817' + '00'.repeat(23), 'an integer is not in its shortest form'); // a length too
    expect(decodeCbor(hex('1818'))).toBe(24);
    expect(decodeCbor(hex('18ff'))).toBe(255);
    expect(decodeCbor(hex('190100'))).toBe(256);
    expect(decodeCbor(hex('19ffff'))).toBe(65535);
    expect(decodeCbor(hex('1a00010000'))).toBe(65536);
    expect(decodeCbor(hex('1affffffff'))).toBe(4294967295);
    expect(decodeCbor(hex('1b0000000100000000'))).toBe(4294967296);
    for (const [n, h] of [[255, '18ff'], [256, '190100'], [65535, '19ffff'], [65536, '1a00010000'], [4294967295, '1affffffff'], [4294967296, '1b0000000100000000']] as const) {
      expect(toHex(encodeCbor(n)), String(n)).toBe(h);
    }
    expect(toHex(encodeCbor(2n ** 64n - 1n))).toBe('1bffffffffffffffff');
    expect(toHex(encodeCbor(0x0102030405060708n))).toBe('1b0102030405060708');
    expect(toHex(encodeCbor(0x01020304))).toBe('1a01020304');
    expect(toHex(encodeCbor(0x0102))).toBe('190102');
  });

  it('a number up to 2^53 − 1, a bigint above', () => {
    expect(decodeCbor(hex('1b001fffffffffffff'))).toBe(Number.MAX_SAFE_INTEGER);
    expect(decodeCbor(hex('1b0020000000000000'))).toBe(2n ** 53n);
  });

  it('the encoder refuses what the subset cannot hold', () => {
    expect(() => encodeCbor(-1)).toThrow('negative integers are outside the subset');
    expect(() => encodeCbor(-1n)).toThrow('negative integers are outside the subset');
    expect(() => encodeCbor(1.5)).toThrow('cannot encode 1.5');
    expect(() => encodeCbor(2 ** 53)).toThrow(`cannot encode ${2 ** 53}`);
    expect(() => encodeCbor(undefined)).toThrow('nothing to encode');
  });
});

describe('lengths and the end', () => {
  it('every length against what is left, exactly', () => {
    refused('', 'it ends too early');
    refused('18', 'it ends too early');
    refused('19ff', 'it ends too early');
    refused('1a01020304'.slice(0, 8), 'it ends too early');
    refused('1b01020304050607', 'it ends too early');
    refused('4201', 'a length runs past the end');
    refused('6261', 'a length runs past the end');
    refused('5bffffffffffffffff00', 'a length runs past the end');
    refused('8201', 'a length runs past the end'); // each item is at least one byte
    refused('821901', 'it ends too early'); // the first item's head
    expect(decodeCbor(hex('820101'))).toEqual([1, 1]);
    refused('a16161', 'it ends too early'); // a map's value
    expect(decodeCbor(hex('420102'))).toEqual(hex('0102'));
    expect(decodeCbor(hex('626162'))).toBe('ab');
    refused('0000', '1 trailing bytes');
    refused('40010203', '3 trailing bytes');
  });

  it('a byte string is a copy, not a view of the input', () => {
    const input = hex('8242010243030405');
    const [a, b] = decodeCbor(input) as Uint8Array[];
    input.fill(0);
    expect([toHex(a!), toHex(b!)]).toEqual(['0102', '030405']);
    expect(a!.byteLength).toBe(2);
    expect(a!.buffer.byteLength).toBe(2);
  });

  it('reads inside a larger buffer (a subarray with an offset)', () => {
    const whole = hex('ffff1903e8ffff');
    expect(decodeCbor(whole.subarray(2, 5))).toBe(1000);
    const b = hex('ff83190100411162c3bc');
    expect(decodeCbor(b.subarray(1))).toEqual([256, hex('11'), '\u00fc']);
  });

  it('text must be UTF-8', () => {
    refused('61ff', 'a text string is not UTF-8');
    refused('62c328', 'a text string is not UTF-8');
    refused('a161ff00', 'a text string is not UTF-8'); // a key
  });
});

describe('maps and nesting', () => {
  it('text keys only, no duplicates, read in order', () => {
    refused('a10101', 'a map key is not a text string');
    refused('a1410101', 'a map key is not a text string');
    refused('a2616101616102', 'duplicate map key "a"');
    const m = decodeCbor(hex('a2616201616102')) as Record<string, CborValue>;
    expect(Object.keys(m)).toEqual(['b', 'a']);
    expect(m).toEqual({ b: 1, a: 2 });
    // keys that name Object.prototype's properties are ordinary keys
    const m2 = decodeCbor(hex('a2' + text('__proto__') + '01' + text('toString') + '02')) as Record<string, CborValue>;
    expect(Object.keys(m2)).toEqual(['__proto__', 'toString']);
    expect([m2['__proto__'], m2['toString']]).toEqual([1, 2]);
  });

  it('16 levels of nesting read, 17 refused', () => {
    expect(decodeCbor(hex('81'.repeat(16) + '00'))).toEqual(JSON.parse('['.repeat(16) + '0' + ']'.repeat(16)));
    refused('81'.repeat(17) + '00', 'nested too deeply');
    const maps = 'a16161'.repeat(16) + 'f6';
    expect(JSON.stringify(decodeCbor(hex(maps)))).toBe('{"a":'.repeat(16) + 'null' + '}'.repeat(16));
    refused('a16161'.repeat(17) + 'f6', 'nested too deeply');
  });

  it('the encoder leaves undefined map values out, keeps insertion order and null', () => {
    const v = { z: 1, a: undefined, m: null } as unknown as CborValue;
    expect(toHex(encodeCbor(v))).toBe('a2617a01616df6');
  });
});
