/**
 * BIP-340 Schnorr signatures: every row of the official test-vectors.csv, through our
 * `schnorrSign` / `schnorrVerify` (src/lib/taproot/schnorr.ts).
 *
 * Rows with a secret key are signed with the row's aux_rand and compared byte for byte,
 * and their public key is derived through `keyPair` (src/lib/keys). Every row is then
 * verified and must give the listed TRUE/FALSE. Invalid public keys (rows 5 and 14) come
 * out of `schnorrVerify` as `false`, not as a thrown error: that is its contract.
 * `schnorrSign` multiplies on the selected secp256k1 backend, so the signing rows run again
 * on every installed backend.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { activeEngine, loadEngine, useEngine } from '../../src/lib/musig/engine/select.ts';
import type { Bip327Engine } from '../../src/lib/musig/engine/engine.ts';
import { ALL_BACKENDS, backendUnderTest } from '../setup/backends.ts';
import { readVectorText } from '../helpers.ts';
import { schnorrSign, schnorrVerify } from '../../src/lib/taproot/schnorr.ts';
import { keyPair } from '../../src/lib/keys/keys.ts';
import { fromHex, toHex } from '../../src/lib/bytes.ts';

type Row = {
  index: number;
  secretKey: string;
  publicKey: string;
  auxRand: string;
  message: string;
  signature: string;
  result: boolean;
  comment: string;
};

function parseCsv(text: string): Row[] {
  const lines = text.split(/\r?\n/).filter((l) => l.length > 0);
  expect(lines[0]).toBe('index,secret key,public key,aux_rand,message,signature,verification result,comment');
  return lines.slice(1).map((line) => {
    const f = line.split(',');
    expect(f.length).toBeGreaterThanOrEqual(8);
    return {
      index: Number(f[0]),
      secretKey: f[1]!,
      publicKey: f[2]!,
      auxRand: f[3]!,
      message: f[4]!,
      signature: f[5]!,
      result: f[6] === 'TRUE',
      comment: f.slice(7).join(','),
    };
  });
}

const rows = parseCsv(readVectorText('bips/bip-0340/test-vectors.csv'));
const h = (s: string) => fromHex(s.toLowerCase());
const name = (r: Row) => `#${r.index}${r.comment ? ` (${r.comment})` : ''}`;

describe('BIP-340 schnorr', () => {
  it('example: row 0 signs with aux_rand = 0 and verifies against the x-only key of sk = 3', () => {
    // Secret key 3: P = 3·G has odd y, so Sign negates d internally; the x-only key is
    // what keyPair gives without its prefix byte.
    const sk = h('0000000000000000000000000000000000000000000000000000000000000003');
    const { xOnly } = keyPair(sk);
    expect(toHex(xOnly)).toBe('f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9');
    const msg = new Uint8Array(32);
    const sig = schnorrSign(msg, sk, new Uint8Array(32));
    expect(toHex(sig)).toBe(
      'e907831f80848d1069a5371b402410364bdf1c5f8307b0084c55f1ce2dca821525f66a4a85ea8b71e482a74f382d2ce5ebeee8fdb2172f477df4900d310536c0',
    );
    expect(schnorrVerify(sig, msg, xOnly)).toBe(true);
    // One flipped message bit breaks it.
    msg[31] = 1;
    expect(schnorrVerify(sig, msg, xOnly)).toBe(false);
  });

  it('reads all 19 rows, 8 of them with a secret key', () => {
    expect(rows).toHaveLength(19);
    expect(rows.filter((r) => r.secretKey).length).toBe(8);
  });

  describe('sign (rows with a secret key)', () => {
    for (const r of rows.filter((r) => r.secretKey)) {
      it(`${name(r)}: byte-exact signature`, () => {
        const sk = h(r.secretKey);
        const { xOnly } = keyPair(sk);
        expect(toHex(xOnly)).toBe(r.publicKey.toLowerCase());
        const sig = schnorrSign(h(r.message), sk, h(r.auxRand));
        expect(toHex(sig)).toBe(r.signature.toLowerCase());
      });
    }
  });

  describe('verify (every row)', () => {
    for (const r of rows) {
      it(`${name(r)}: ${r.result ? 'TRUE' : 'FALSE'}`, () => {
        // Never throws for 32-byte keys and 64-byte signatures: invalid keys are `false`.
        expect(schnorrVerify(h(r.signature), h(r.message), h(r.publicKey))).toBe(r.result);
      });
    }
  });

  it('refuses inputs of the wrong length instead of answering false', () => {
    const r = rows[0]!;
    expect(() => schnorrVerify(h(r.signature).slice(1), h(r.message), h(r.publicKey))).toThrow(/64 bytes/);
    expect(() => schnorrVerify(h(r.signature), h(r.message), h('02' + r.publicKey))).toThrow(/32 bytes/);
    expect(() => schnorrSign(h(r.message), h(r.secretKey), new Uint8Array(31))).toThrow(/aux_rand/);
  });
});

for (const backend of ALL_BACKENDS) {
  const under = await backendUnderTest(backend, () => loadEngine(backend));
  if (under.skipped !== undefined) {
    describe.skip(`BIP-340 signing rows on ${backend}: SKIPPED, ${under.skipped}`, () => {
      it('every row with a secret key', () => {});
    });
    continue;
  }
  describe(`BIP-340 signing rows on ${backend} (schnorrSign's multiplications on the selected backend)`, () => {
    let before: Bip327Engine;
    beforeAll(() => {
      before = activeEngine();
      useEngine(under.loaded);
    });
    afterAll(() => useEngine(before));
    for (const r of rows.filter((r) => r.secretKey)) {
      it(`${name(r)}: byte-exact signature`, () => {
        expect(toHex(schnorrSign(h(r.message), h(r.secretKey), h(r.auxRand)))).toBe(r.signature.toLowerCase());
      });
    }
    it('given the signer\'s compressed public key (its key pair), the same bytes; given another key, or the right x with the wrong parity, nothing (E_BAD_SECRET_KEY)', () => {
      for (const r of rows.filter((r) => r.secretKey)) {
        const { publicKey } = keyPair(h(r.secretKey));
        expect(toHex(schnorrSign(h(r.message), h(r.secretKey), h(r.auxRand), publicKey))).toBe(r.signature.toLowerCase());
        const flipped = Uint8Array.from(publicKey);
        flipped[0] = flipped[0] === 2 ? 3 : 2;
        const other = keyPair(h(rows.find((o) => o.secretKey && o.secretKey !== r.secretKey)!.secretKey)).publicKey;
        for (const wrong of [flipped, other]) expect(() => schnorrSign(h(r.message), h(r.secretKey), h(r.auxRand), wrong)).toThrow(expect.objectContaining({ code: 'E_BAD_SECRET_KEY' }));
      }
    });

    it('a secret key of zero or n is refused, E_BAD_SECRET_KEY, as on noble', () => {
      const n = h('fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141');
      for (const sk of [new Uint8Array(32), n]) expect(() => schnorrSign(new Uint8Array(32), sk, new Uint8Array(32))).toThrow(expect.objectContaining({ code: 'E_BAD_SECRET_KEY' }));
    });
  });
}
