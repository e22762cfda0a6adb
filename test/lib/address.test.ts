/**
 * decodeAddress on P2TR addresses, with btc-signer's OutScript check and with the selected
 * secp256k1 backend's lift_x the credit terms pass it (src/lib/credit/codec.ts
 * xOnlyPointOnBackend): on every backend the test code can
 * load, a bech32m address of any 32-byte x — encoded here with @scure/base, the key judged by
 * the independent curve code (test/independent/secp256k1.ts) — decodes to OP_1 <x> exactly
 * when x is a point, and is refused E_BAD_ADDRESS (malformed input) when it is not: x ≥ p
 * and x with no y included.
 */
import { describe, it, expect, afterAll } from 'vitest';
import fc from 'fast-check';
import { bech32m } from '@scure/base';
import { NETWORK, TEST_NETWORK } from '@scure/btc-signer';
import { decodeAddress, networkParams } from '../../src/lib/address.ts';
import { xOnlyPointOnBackend } from '../../src/lib/credit/codec.ts';
import { selectBackend } from '../../src/lib/musig/bip327.ts';
import { ALL_BACKENDS, installed } from '../setup/backends.ts';
import { P, liftX } from '../independent/secp256k1.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const addressOf = (x: Uint8Array) => bech32m.encode('bcrt', [1, ...bech32m.toWords(x)]);
const xArb = fc.oneof(
  fc.uint8Array({ minLength: 32, maxLength: 32 }),
  fc.bigInt(P, 2n ** 256n - 1n).map((v) => Uint8Array.from(Buffer.from(v.toString(16).padStart(64, '0'), 'hex'))),
);

describe('decodeAddress of P2TR addresses', () => {
  afterAll(() => selectBackend('noble'));
  for (const backend of ALL_BACKENDS) {
    it(`on ${backend}: OP_1 <x> exactly when x is a point, E_BAD_ADDRESS otherwise`, async (t) => {
      if (!(await installed(backend))) return t.skip();
      expect((await selectBackend(backend)).engine).toBe(backend);
      let points = 0;
      let refused = 0;
      fc.assert(
        fc.property(xArb, (x) => {
          const address = addressOf(x);
          const v = BigInt(`0x${hex(x)}`);
          if (liftX(v) !== null) {
            points++;
            expect(hex(decodeAddress(address, 'regtest', 'refund_address'))).toBe(`5120${hex(x)}`);
            expect(hex(decodeAddress(address, 'regtest', 'refund_address', xOnlyPointOnBackend))).toBe(`5120${hex(x)}`);
          } else {
            refused++;
            expect(() => decodeAddress(address, 'regtest', 'refund_address')).toThrow(expect.objectContaining({ code: 'E_BAD_ADDRESS' }));
            expect(() => decodeAddress(address, 'regtest', 'refund_address', xOnlyPointOnBackend)).toThrow(expect.objectContaining({ code: 'E_BAD_ADDRESS' }));
          }
        }),
        { numRuns: 200 },
      );
      expect(points).toBeGreaterThan(20);
      expect(refused).toBeGreaterThan(20);
    });
  }
});

describe('networkParams: each network\'s prefixes as btc-signer gives them', () => {
  it('mainnet NETWORK, the test networks TEST_NETWORK, regtest with bcrt', () => {
    expect(networkParams('mainnet')).toEqual(NETWORK);
    for (const n of ['testnet', 'testnet4', 'signet'] as const) expect(networkParams(n)).toEqual(TEST_NETWORK);
    expect(networkParams('regtest')).toEqual({ ...TEST_NETWORK, bech32: 'bcrt' });
  });
});
