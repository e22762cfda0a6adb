/**
 * CDK's key derivation (cdk-signatory), proven from CDK's own published vectors
 * (test/vectors/cdk/cdk.json, transcribed from its unit tests): a BIP-32 master from the seed
 * bytes, m/129372'/{hashed unit index}'/{keyset index}', then i' for amount 2^i — the same
 * steps as Nutshell's after the path, so src/lib/ecash/nut01.ts derives CDK keysets given
 * cdkKeysetPath and the number of amounts. Every key of both vectors, the v00 id, and every
 * unit index are checked.
 */
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../../src/lib/bytes.ts';
import { cdkKeysetPath, deriveMintKeyset } from '../../../src/lib/ecash/nut01.ts';
import { keysetIdV00 } from '../../../src/lib/ecash/nut02.ts';
import { loadVector } from '../../helpers.ts';

const cdk = loadVector('cdk/cdk.json');

describe("CDK's keyset derivation, from its published vectors", () => {
  it('the unit index of each unit (sha256 of the unit in capitals, 4 bytes, top bit cleared): all 5', () => {
    expect(cdk.unit_index.length).toBe(5);
    for (const u of cdk.unit_index) expect(cdkKeysetPath(u.unit, 7)).toBe(`m/129372'/${u.index}'/7'`);
  });

  it('both keysets: every key at its index, and the 64-key one\'s v00 id', () => {
    expect(cdk.keysets.map((k: { keys: object }) => Object.keys(k.keys).length)).toEqual([2, 64]);
    for (const v of cdk.keysets) {
      const ks = deriveMintKeyset(fromHex(v.seed_hex), { path: cdkKeysetPath(v.unit, v.derivation_index), amounts: Object.keys(v.keys).length, input_fee_ppk: 0, id_version: v.version });
      expect(Object.fromEntries([...ks.keys].map(([a, K]) => [a.toString(), toHex(K)]))).toEqual(v.keys);
      if (v.id !== undefined) {
        expect(ks.id).toBe(v.id);
        expect(keysetIdV00(ks.keys)).toBe(v.id);
      }
    }
    expect(cdk.keysets.filter((k: { id?: string }) => k.id).length).toBe(1);
  });
});
