/**
 * Every Open Assets vector file (test/vectors/openassets/, provenance in
 * test/vectors/README.md), under both marker rules where the implementations disagree:
 * `spec` (2015 text, 9-byte LEB128 limit) and `reference` (the Python reference).
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fromHex, toHex } from '../../../src/lib/bytes.ts';
import { encodeLeb128, MAX_QUANTITY, parseMarkerScript, parsePayload, readLeb128, assetDefinitionUrl } from '../../../src/lib/openassets/marker.ts';
import { assetIdOfScript, fromColoredAddress, toColoredAddress, hash160, decodeAssetId } from '../../../src/lib/openassets/ids.ts';
import { computeAssetIds, type InputColor } from '../../../src/lib/openassets/coloring.ts';
import type { Network } from '../../../src/lib/network.ts';

const load = (name: string) => JSON.parse(readFileSync(new URL(`../../vectors/openassets/${name}`, import.meta.url), 'utf8'));
/** JSON numbers above 2^53 lost precision in the files: compare as doubles there. */
const sameQuantities = (got: bigint[], want: number[]) => {
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => (g > BigInt(Number.MAX_SAFE_INTEGER) ? expect(Number(g)).toBe(want[i]) : expect(g).toBe(BigInt(want[i]!))));
};

describe('marker payloads (marker_payload_vectors.json)', () => {
  const file = load('marker_payload_vectors.json');
  it('holds the count it says', () => expect(file.vectors.length).toBe(file.count));
  for (const [i, v] of (file.vectors as any[]).entries()) {
    it(`#${i} ${v.source_claim.slice(0, 70)}`, () => {
      const payload = fromHex(v.payload);
      // reference rule: the Python reference's verdict, exactly
      const ref = parsePayload(payload, 'reference');
      expect(ref.ok).toBe(v.python_reference.valid);
      if (ref.ok) {
        sameQuantities(ref.quantities, v.python_reference.asset_quantities);
        expect(toHex(ref.metadata)).toBe(v.python_reference.metadata_hex);
      }
      // spec rule: the same, except where the file says the specification rejects
      const specValid = /^SPEC: invalid/.test(v.source_claim) ? false : v.python_reference.valid;
      expect(parsePayload(payload, 'spec').ok).toBe(specValid);
    });
  }
});

describe('marker scripts (marker_script_vectors.json)', () => {
  const file = load('marker_script_vectors.json');
  it('holds the count it says', () => expect(file.vectors.length).toBe(file.count));
  it('carries the reference\'s push in 36 rows (20 valid, with quantities and metadata) and the spec\'s payload in 24: each is checked below', () => {
    const r14 = (file.vectors as any[]).map((v) => v.python_reference_2014);
    expect([r14.filter((r) => r.payload !== undefined).length, r14.filter((r) => r.valid).length, r14.filter((r) => r.metadata_hex !== undefined).length]).toEqual([36, 20, 20]);
    expect(r14.filter((r) => r.valid).every((r) => r.payload !== undefined && r.metadata_hex !== undefined && r.asset_quantities !== undefined)).toBe(true);
    expect((file.vectors as any[]).filter((v) => v.spec_2015_first_parsable_push.payload !== undefined).length).toBe(24);
  });
  for (const [i, v] of (file.vectors as any[]).entries()) {
    it(`#${i} ${v.source_claim.slice(0, 70)}`, () => {
      const script = fromHex(v.script);
      const ref = parseMarkerScript(script, 'reference');
      const r14 = v.python_reference_2014;
      expect(ref.ok).toBe(r14.valid);
      if (ref.ok) {
        // The push the reference took, its quantities and its metadata: every value the row carries.
        expect(toHex(ref.payload)).toBe(r14.payload);
        sameQuantities(ref.quantities, r14.asset_quantities);
        expect(toHex(ref.metadata)).toBe(r14.metadata_hex);
      } else if (r14.payload !== undefined) {
        // The reference took this push and found no marker in it: our reading of that push refuses it with the
        // very reason the script was refused for (so it is the push our code took too).
        const pushed = parsePayload(fromHex(r14.payload), 'reference');
        expect(pushed.ok).toBe(false);
        if (!pushed.ok) expect(ref.reason).toBe(pushed.reason);
      }
      const spec = parseMarkerScript(script, 'spec');
      const want = v.spec_2015_first_parsable_push;
      expect(spec.ok).toBe(want.valid);
      if (spec.ok) {
        // A valid row carries all three (the count test above): none is skipped by an `if`.
        expect(toHex(spec.payload)).toBe(want.payload);
        sameQuantities(spec.quantities, want.asset_quantities);
        expect(toHex(spec.metadata)).toBe(want.metadata_hex);
      }
    });
  }
});

describe('LEB128 (leb128_vectors.json)', () => {
  for (const v of load('leb128_vectors.json').vectors as any[]) {
    it(`${v.value} = ${v.leb128}`, () => {
      const bytes = fromHex(v.leb128);
      const r = readLeb128(bytes, 0)!;
      expect(r.value).toBe(BigInt(v.value));
      expect(r.next).toBe(bytes.length);
      expect(r.value <= MAX_QUANTITY && bytes.length <= 9).toBe(v.within_oa_limit);
      expect(toHex(encodeLeb128(BigInt(v.value))) === v.leb128).toBe(v.reference_encode_matches);
    });
  }
});

describe('asset IDs and colored addresses (asset_id_address_vectors.json)', () => {
  const file = load('asset_id_address_vectors.json');
  for (const v of file.asset_id_from_script as any[]) {
    it(`asset ID of ${v.script.slice(0, 20)}… on ${v.network}`, () => {
      expect(toHex(hash160(fromHex(v.script)))).toBe(v.hash160);
      expect(assetIdOfScript(fromHex(v.script), v.network as Network)).toBe(v.expected);
      expect(toHex(decodeAssetId(v.expected).hash)).toBe(v.hash160);
    });
  }
  for (const v of file.oa_address as any[]) {
    const network: Network = /^[13]/.test(v.address) ? 'mainnet' : 'testnet';
    it(`${v.address} ↔ ${v.expected_oa_address}`, () => {
      expect(toColoredAddress(v.address, network)).toBe(v.expected_oa_address);
      expect(fromColoredAddress(v.expected_oa_address, network)).toBe(v.address);
    });
  }
});

describe('coloring (coloring_vectors.json)', () => {
  const file = load('coloring_vectors.json');
  it('holds the count it says', () => expect(file.vectors.length).toBe(file.count));
  for (const v of file.vectors as any[]) {
    it(v.name, () => {
      const inputs: InputColor[] = v.inputs.map((x: any) => ({ assetId: x.asset_id ?? null, quantity: BigInt(x.asset_quantity ?? 0) }));
      const first = v.inputs[0]?.script === undefined ? undefined : fromHex(v.inputs[0].script);
      const r = computeAssetIds(inputs, first, v.marker_index, v.output_count, v.asset_quantities.map(BigInt));
      if (v.python_reference === null) {
        expect(r.ok).toBe(false);
        return;
      }
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      expect(r.outputs.map((o, index) => ({ index, output_type: o.type === 'marker' ? 'marker_output' : o.type, asset_id: o.assetId, asset_quantity: Number(o.quantity) }))).toEqual(v.python_reference);
    });
  }
});

describe('the seed\'s MasterBTC example (seed_example.json)', () => {
  const seed = load('seed_example.json');
  it('the marker decodes to 20 units with u=https://cpr.sm/FoykwrH6UY, under both rules', () => {
    for (const rule of ['spec', 'reference'] as const) {
      const m = parseMarkerScript(fromHex(seed.marker_script_if_single_push), rule);
      expect(m.ok).toBe(true);
      if (!m.ok) return;
      expect(toHex(m.payload)).toBe(seed.marker_payload_hex);
      expect(m.quantities).toEqual([20n]);
      expect(toHex(m.metadata)).toBe(seed.marker_payload_decoded_by_python_reference.metadata_hex);
      expect(assetDefinitionUrl(m.metadata)).toBe('https://cpr.sm/FoykwrH6UY');
    }
  });
  it('the colored address is valid and names the (corrected) Bitcoin address', () => {
    expect(fromColoredAddress(seed.colored_address.given, 'mainnet')).toBe(seed.colored_address.bitcoin_address);
    expect(toColoredAddress(seed.colored_address.bitcoin_address, 'mainnet')).toBe(seed.colored_address.given);
  });
  it('the asset ID from the assumed issuing script is the checksum-valid form; the printed one fails', () => {
    expect(assetIdOfScript(fromHex(seed.colored_address.p2pkh_script), 'mainnet')).toBe(seed.asset_id.computed_if_issuer_script_is_p2pkh_of_colored_address);
    expect(() => decodeAssetId(seed.asset_id.given_in_seed)).toThrow(/base58check/);
  });
});

describe('the written-out base58check encoder agrees with @scure/base', () => {
  it('on random payloads, leading zeros included', async () => {
    const fc = (await import('fast-check')).default;
    const { createBase58check } = await import('@scure/base');
    const { sha256 } = await import('@noble/hashes/sha2.js');
    const { base58checkEncode } = await import('../../../src/lib/openassets/ids.ts');
    const ref = createBase58check(sha256);
    fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), fc.nat(4), (b, z) => {
      const p = Uint8Array.from([...new Uint8Array(z), ...b]);
      expect(base58checkEncode(p)).toBe(ref.encode(p));
    }), { numRuns: 2000 });
  });
});
