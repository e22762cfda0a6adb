/**
 * BOLT 3 Appendix E: every key-derivation vector through src/lib/bolt3/keys.ts —
 * `derive_pubkey` (localpubkey, and with it every key of that formula), `derive_privkey`,
 * `derive_revocation_pubkey` and `derive_revocation_privkey` — plus the common inputs'
 * points (basepoint = base_secret·G, per_commitment_point = per_commitment_secret·G).
 * The private keys are also checked to be the secrets of the derived public keys.
 */
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/lib/bytes.ts';
import { derivePrivkey, derivePubkey, deriveRevocationPrivkey, deriveRevocationPubkey, pointOf } from '../../src/lib/bolt3/keys.ts';
import { loadVector } from '../helpers.ts';

type Vector = { name: string; operation: string; inputs: Record<string, string>; expected: string; expected_key_name: string };
const V = loadVector('bolts/bolt03/key-derivation-test-vectors.json');
const vectors = V.vectors as Vector[];
const h = (s: string) => fromHex(s);

function run(v: Vector): Uint8Array {
  const i = v.inputs;
  switch (v.operation) {
    case 'derive_pubkey':
      return derivePubkey(h(i.basepoint!), h(i.per_commitment_point!));
    case 'derive_privkey':
      return derivePrivkey(h(i.basepoint_secret!), h(i.per_commitment_point!));
    case 'derive_revocation_pubkey':
      return deriveRevocationPubkey(h(i.revocation_basepoint!), h(i.per_commitment_point!));
    case 'derive_revocation_privkey':
      return deriveRevocationPrivkey(h(i.revocation_basepoint_secret!), h(i.per_commitment_secret!));
    default:
      throw new Error(`unknown operation ${v.operation}`);
  }
}

describe('BOLT 3 Appendix E: key derivation', () => {
  it('example: localpubkey = basepoint + SHA256(per_commitment_point || basepoint)·G, and its secret', () => {
    const c = V.common_inputs;
    // The common inputs are secrets and their points.
    expect(toHex(pointOf(h(c.base_secret)))).toBe(c.base_point);
    expect(toHex(pointOf(h(c.per_commitment_secret)))).toBe(c.per_commitment_point);
    const pub = derivePubkey(h(c.base_point), h(c.per_commitment_point));
    expect(toHex(pub)).toBe('0235f2dbfaa89b57ec7b055afe29849ef7ddfeb1cefdb9ebdc43f5494984db29e5');
    // localprivkey is the secret of localpubkey: the same tweak added to the scalar.
    const priv = derivePrivkey(h(c.base_secret), h(c.per_commitment_point));
    expect(toHex(priv)).toBe('cbced912d3b21bf196a766651e436aff192362621ce317704ea2f75d87e7be0f');
    expect(pointOf(priv)).toEqual(pub);
  });

  it('reads all 4 vectors', () => {
    expect(vectors.map((v) => v.operation)).toEqual(['derive_pubkey', 'derive_privkey', 'derive_revocation_pubkey', 'derive_revocation_privkey']);
  });

  for (const v of vectors) {
    it(`${v.name} (${v.expected_key_name})`, () => {
      expect(toHex(run(v))).toBe(v.expected);
    });
  }

  it('revocationprivkey is the secret of revocationpubkey (both need both halves)', () => {
    const byOp = Object.fromEntries(vectors.map((v) => [v.operation, v.expected]));
    expect(toHex(pointOf(h(byOp.derive_revocation_privkey!)))).toBe(byOp.derive_revocation_pubkey);
  });
});
