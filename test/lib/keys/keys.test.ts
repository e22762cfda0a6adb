/**
 * src/lib/keys: secret keys as hex or WIF (with the network check), public keys as
 * compressed SEC1 or x-only, and the promise that no error message echoes key text.
 *
 * Known-answer WIFs come from the BIP-373 vector file's participants (each given as
 * pubkey + mainnet WIF + testnet WIF) and from secret key 1, whose WIFs are well known.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { loadVector } from '../../helpers.ts';
import {
  encodeWif, keyPair, parsePublicKey, parseSecretKey, parseXOnlyPublicKey, validatePublicKey,
} from '../../../src/lib/keys/keys.ts';
import { MalformedInputError, OffchainError, RefusedError } from '../../../src/lib/errors.ts';
import { NETWORKS, type Network } from '../../../src/lib/network.ts';
import { fromHex, toHex } from '../../../src/lib/bytes.ts';
import { refusal } from '../../setup/refusal.ts';
import { base58checkEncode } from '../../independent/base58check.ts';

const N = secp256k1.Point.Fn.ORDER;
const hex32 = (n: bigint) => n.toString(16).padStart(64, '0');
const ONE = hex32(1n);
const TEST_NETWORKS = NETWORKS.filter((n) => n !== 'mainnet');

/** A WIF payload built by hand, so tests can make the malformed ones encodeWif will not. */
function rawWif(version: number, secret: Uint8Array, suffix: number[] = [0x01]): string {
  return base58checkEncode(Uint8Array.from([version, ...secret, ...suffix]));
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

type Bip373 = { participants: { pubkey: string; wif_mainnet: string; wif_testnet: string }[] };
const participants = loadVector<Bip373>('bips/bip-0373/musig2-psbt-test-vectors.json').participants;

describe('keys', () => {
  it('example: secret key 1 as hex and as WIF on each network', () => {
    // The same 32 bytes, three spellings: hex, mainnet WIF (0x80), test-network WIF (0xef).
    // Both WIFs end in the 0x01 "compressed" flag, hence the K/c prefixes.
    const fromHexKey = parseSecretKey(ONE);
    expect(parseSecretKey('KwDiBf89QgGbjEhKnhXJuH7LrciVrZi3qYjgd9M7rFU73sVHnoWn', 'mainnet')).toEqual(fromHexKey);
    expect(parseSecretKey('cMahea7zqjxrtgAbB7LSGbcQUr1uX1ojuat9jZodMN87JcbXMTcA', 'regtest')).toEqual(fromHexKey);
    const kp = keyPair(fromHexKey);
    expect(toHex(kp.publicKey)).toBe('0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798');
    expect(kp.xOnly).toEqual(kp.publicKey.slice(1));
  });

  describe('hex secret keys', () => {
    it('accepts 64 hex digits in either case, surrounded by whitespace', () => {
      const k = 'B7E151628AED2A6ABF7158809CF4F3C762E7160F38B4DA56A784D9045190CFEF';
      expect(toHex(parseSecretKey(k))).toBe(k.toLowerCase());
      expect(toHex(parseSecretKey(`  ${k.toLowerCase()}\n`))).toBe(k.toLowerCase());
    });

    it('hex carries no network, so any network is fine', () => {
      for (const n of NETWORKS) expect(toHex(parseSecretKey(ONE, n))).toBe(ONE);
    });

    it('accepts the ends of the range [1, n-1]', () => {
      expect(toHex(parseSecretKey(hex32(1n)))).toBe(hex32(1n));
      expect(toHex(parseSecretKey(hex32(N - 1n)))).toBe(hex32(N - 1n));
    });

    for (const [label, value] of [['zero', 0n], ['n', N], ['n + 1', N + 1n], ['2^256 - 1', 2n ** 256n - 1n]] as const) {
      it(`refuses ${label} as out of range`, () => {
        const e = thrown(() => parseSecretKey(hex32(value)));
        expect(e).toBeInstanceOf(MalformedInputError);
        expect((e as OffchainError).code).toBe('E_BAD_SECRET_KEY');
        expect((e as Error).message).toMatch(/out of range/);
      });
    }

    it('refuses 63 or 65 digits, a 0x prefix and non-hex characters', () => {
      for (const bad of [ONE.slice(1), ONE + '0', '0x' + ONE, ONE.slice(0, 63) + 'g', '']) {
        const e = thrown(() => parseSecretKey(bad));
        expect(e, bad).toBeInstanceOf(MalformedInputError);
        expect((e as OffchainError).code).toBe('E_BAD_SECRET_KEY');
      }
    });

    it('names the source in its errors', () => {
      expect(refusal(() => parseSecretKey('nope', undefined, '--key-file alice.key'), 'E_BAD_SECRET_KEY', 3).message).toMatch(/^--key-file alice\.key is neither/);
    });
  });

  describe('WIF secret keys', () => {
    for (const [i, p] of participants.entries()) {
      it(`BIP-373 participant ${i}: both WIFs give the listed public key and round-trip`, () => {
        const main = parseSecretKey(p.wif_mainnet, 'mainnet');
        const test = parseSecretKey(p.wif_testnet, 'testnet');
        expect(main).toEqual(test);
        expect(toHex(keyPair(main).publicKey)).toBe(p.pubkey);
        expect(encodeWif(main, 'mainnet')).toBe(p.wif_mainnet);
        for (const n of TEST_NETWORKS) expect(encodeWif(main, n)).toBe(p.wif_testnet);
      });
    }

    it('accepts a WIF without a network given, whichever network it is for', () => {
      const p = participants[0]!;
      expect(parseSecretKey(p.wif_mainnet)).toEqual(parseSecretKey(p.wif_testnet));
    });

    it('accepts a test-network WIF on every test network (they share version 0xef)', () => {
      const p = participants[1]!;
      for (const n of TEST_NETWORKS) expect(toHex(keyPair(parseSecretKey(p.wif_testnet, n)).publicKey)).toBe(p.pubkey);
    });

    it('refuses a mainnet WIF on a test network, and a test-network WIF on mainnet', () => {
      const p = participants[2]!;
      for (const n of TEST_NETWORKS) {
        const e = thrown(() => parseSecretKey(p.wif_mainnet, n));
        expect(e).toBeInstanceOf(RefusedError);
        expect((e as OffchainError).code).toBe('E_NETWORK_MISMATCH');
        expect((e as Error).message).toMatch(new RegExp(`mainnet WIF key but the network is ${n}`));
      }
      const e = thrown(() => parseSecretKey(p.wif_testnet, 'mainnet'));
      expect(e).toBeInstanceOf(RefusedError);
      expect((e as OffchainError).code).toBe('E_NETWORK_MISMATCH');
    });

    it('refuses an unknown version byte, a bad compression flag and a bad length', () => {
      const sk = fromHex(ONE);
      for (const bad of [
        rawWif(0x00, sk), // P2PKH address version
        rawWif(0x80, sk, [0x02]),
        rawWif(0x80, sk, [0x01, 0x00]),
        rawWif(0x80, sk.slice(1), []), // 31-byte key, no flag
      ]) {
        const e = thrown(() => parseSecretKey(bad));
        expect(e, bad).toBeInstanceOf(MalformedInputError);
        expect((e as OffchainError).code).toBe('E_BAD_SECRET_KEY');
      }
    });

    it('refuses a WIF with a broken checksum', () => {
      const wif = participants[0]!.wif_mainnet;
      const flipped = wif.slice(0, -1) + (wif.endsWith('E') ? 'F' : 'E');
      expect(refusal(() => parseSecretKey(flipped, 'mainnet'), 'E_BAD_SECRET_KEY', 3).message).toBe('the key is neither 64 hex digits nor a valid WIF secret key');
    });

    it('refuses a well-formed WIF whose key is zero or ≥ n', () => {
      for (const value of [0n, N, 2n ** 256n - 1n]) {
        const e = refusal(() => parseSecretKey(rawWif(0x80, fromHex(hex32(value))), 'mainnet'), 'E_BAD_SECRET_KEY', 3);
        expect(e.message).toMatch(/out of range/);
      }
    });

    // A 31-byte key would be padded into a different key, a 33-byte one would overwrite
    // the compression flag, and zero / ≥ n is no key at all.
    it('encodeWif refuses a secret key that is not 32 bytes in [1, n-1]', () => {
      for (const bad of [new Uint8Array(31).fill(7), new Uint8Array(33).fill(7), new Uint8Array(32), fromHex(hex32(N))]) {
        expect(refusal(() => encodeWif(bad, 'mainnet'), 'E_BAD_SECRET_KEY', 3).message).toBe('secret key must be 32 bytes in [1, n-1]');
      }
    });
  });

  describe('error messages never contain the key text', () => {
    const secret32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
    const network = fc.constantFrom<Network>(...NETWORKS);
    const outOfRange = fc.oneof(fc.constant(0n), fc.bigInt({ min: N, max: 2n ** 256n - 1n })).map(hex32);

    /** Parse `text`; it must be refused with `code` (exit `exit`), and neither `text` nor `secretHex` may appear in the message. */
    function assertSilentFailure(text: string, net: Network | undefined, secretHex?: string, code = 'E_BAD_SECRET_KEY', exit = 3): void {
      const e = refusal(() => parseSecretKey(text, net), code, exit);
      const message = (e as Error).message.toLowerCase();
      expect(message).not.toContain(text.trim().toLowerCase());
      if (secretHex) expect(message).not.toContain(secretHex.toLowerCase());
      expect(JSON.stringify((e as OffchainError).detail ?? {}).toLowerCase()).not.toContain(text.trim().toLowerCase());
    }

    it('32-byte hex out of range', () => {
      fc.assert(fc.property(outOfRange, fc.option(network, { nil: undefined }), (text, net) => assertSilentFailure(text, net, text)), { numRuns: 1000 });
    });

    it('32-byte hex with one digit replaced by a non-hex character, or a digit too many/few', () => {
      const mangled = fc
        .tuple(secret32, fc.nat({ max: 63 }), fc.constantFrom('g', 'z', 'G', 'x', '-', ' '), fc.constantFrom('replace', 'drop', 'add'))
        .map(([bytes, at, ch, how]) => {
          const hex = toHex(bytes);
          const text = how === 'replace' ? hex.slice(0, at) + ch + hex.slice(at + 1) : how === 'drop' ? hex.slice(1) : hex + '0';
          return { text, hex };
        })
        // A space at either end is trimmed away and leaves a valid key: not a failure case.
        .filter(({ text }) => text.trim().length === text.length);
      fc.assert(fc.property(mangled, ({ text, hex }) => assertSilentFailure(text, undefined, hex)), { numRuns: 1000 });
    });

    it('WIF of the wrong network', () => {
      fc.assert(
        fc.property(secret32, network, (bytes, keyNet) => {
          fc.pre(bytes.some((b) => b !== 0));
          const sk = fromHex(hex32(BigInt('0x' + toHex(bytes)) % N || 1n));
          const wif = encodeWif(sk, keyNet);
          const other: Network = keyNet === 'mainnet' ? 'regtest' : 'mainnet';
          assertSilentFailure(wif, other, toHex(sk), 'E_NETWORK_MISMATCH', 4);
        }),
        { numRuns: 1000 },
      );
    });

    it('WIF with one character changed (checksum fails)', () => {
      const alphabet = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
      fc.assert(
        fc.property(secret32, network, fc.nat(), fc.nat({ max: alphabet.length - 1 }), (bytes, net, at, c) => {
          const sk = fromHex(hex32((BigInt('0x' + toHex(bytes)) % (N - 1n)) + 1n));
          const wif = encodeWif(sk, net);
          const i = at % wif.length;
          const mutated = wif.slice(0, i) + alphabet[c] + wif.slice(i + 1);
          fc.pre(mutated !== wif);
          // A changed character breaks the 4-byte checksum (a collision is a 2^-32 event
          // that this seed does not meet), so every case must fail, silently.
          assertSilentFailure(mutated, net, toHex(sk));
        }),
        { numRuns: 1000 },
      );
    });

    it('well-formed WIF with a key out of range or a bad version or flag', () => {
      const payload = fc.oneof(
        outOfRange.map((h) => rawWif(0x80, fromHex(h))),
        fc.tuple(secret32, fc.integer({ min: 0, max: 255 }).filter((v) => v !== 0x80 && v !== 0xef)).map(([b, v]) => rawWif(v, b)),
        fc.tuple(secret32, fc.integer({ min: 2, max: 255 })).map(([b, flag]) => rawWif(0xef, b, [flag])),
      );
      fc.assert(fc.property(payload, (text) => assertSilentFailure(text, undefined)), { numRuns: 1000 });
    });

    it('arbitrary strings of key-like length', () => {
      fc.assert(
        fc.property(fc.string({ minLength: 8, maxLength: 80 }), (text) => {
          fc.pre(text.trim().length >= 8);
          // Printable ASCII of 8–80 characters is never 64 hex digits with a valid key nor a
          // WIF with a valid checksum at this seed: every case is a failure to check.
          assertSilentFailure(text, undefined);
        }),
        { numRuns: 1000 },
      );
    });
  });

  describe('public keys', () => {
    const G = '0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798';

    it('parses a compressed key and reduces it to x-only', () => {
      expect(toHex(parsePublicKey(G.toUpperCase()))).toBe(G);
      expect(toHex(parseXOnlyPublicKey(G))).toBe(G.slice(2));
      expect(toHex(parseXOnlyPublicKey(G.slice(2)))).toBe(G.slice(2));
    });

    // The invalid individual public keys of BIP-327's key_agg_vectors.json.
    const keyAgg = loadVector<{ pubkeys: string[] }>('bips/bip-0327/key_agg_vectors.json');
    for (const [i, why] of [[3, 'not on the curve'], [4, 'x exceeds the field size'], [5, 'prefix 0x04']] as const) {
      it(`refuses BIP-327 key_agg pubkey ${i} (${why})`, () => {
        const e = thrown(() => parsePublicKey(keyAgg.pubkeys[i]!));
        expect(e).toBeInstanceOf(MalformedInputError);
        expect((e as OffchainError).code).toBe('E_BAD_PUBKEY');
        refusal(() => validatePublicKey(fromHex(keyAgg.pubkeys[i]!.toLowerCase())), 'E_BAD_PUBKEY', 3);
      });
    }

    // The invalid x-only public keys of BIP-340's test-vectors.csv (rows 5 and 14).
    for (const [row, x] of [
      [5, 'EEFDEA4CDB677750A420FEE807EACF21EB9898AE79B9768766E4FAA04A2D4A34'],
      [14, 'FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC30'],
    ] as const) {
      it(`refuses BIP-340 row ${row}'s x-only key`, () => {
        const e = thrown(() => parseXOnlyPublicKey(x));
        expect(e).toBeInstanceOf(MalformedInputError);
        expect((e as OffchainError).code).toBe('E_BAD_PUBKEY');
      });
    }

    it('a key parsed again (kept once found on the curve) is its own copy: changing one does not change the next; an invalid key is refused every time', () => {
      const first = parsePublicKey(G);
      first.fill(0);
      expect(toHex(parsePublicKey(G))).toBe(G);
      expect(toHex(parsePublicKey(` ${G}\n`))).toBe(G);
      for (let i = 0; i < 2; i++) expect((thrown(() => parsePublicKey(keyAgg.pubkeys[3]!)) as OffchainError).code).toBe('E_BAD_PUBKEY');
    });

    it('refuses wrong lengths and non-hex', () => {
      expect(refusal(() => parsePublicKey(G.slice(2)), 'E_BAD_PUBKEY', 3).message).toMatch(/33-byte compressed/);
      expect(refusal(() => parseXOnlyPublicKey(G.slice(4)), 'E_BAD_PUBKEY', 3).message).toMatch(/32 \(x-only\) or 33 bytes/);
      expect(refusal(() => parsePublicKey('zz' + G.slice(2)), 'E_BAD_HEX', 3).message).toBe('public key is not valid hex');
    });
  });
});
