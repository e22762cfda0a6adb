/**
 * encrypted_data_tlv as JSON (src/lib/onion/recipient-data.ts) against
 * route-blinding-test.json: every hop's `tlvs`, translated here from the vector's own
 * JSON conventions (a feature list, unknown_tag_N, an omitted fee_base_msat), encodes to
 * the vector's `encoded_tlvs` byte for byte and decodes back; and a fuzz: the decoder
 * takes any bytes without crashing (a record stream, or E_ONION_TLV).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { fromHex, toHex } from '../../../src/lib/bytes.ts';
import { MalformedInputError } from '../../../src/lib/errors.ts';
import { decodeRecipientData, encodeRecipientData, type RecipientDataJson } from '../../../src/lib/onion/recipient-data.ts';

const v = JSON.parse(readFileSync(new URL('../../vectors/bolts/bolt04/route-blinding-test.json', import.meta.url), 'utf8'));

type VectorTlvs = Record<string, unknown> & {
  payment_relay?: { cltv_expiry_delta: number; fee_proportional_millionths: number; fee_base_msat?: number };
  payment_constraints?: { max_cltv_expiry: number; htlc_minimum_msat: number };
  allowed_features?: { features: number[] };
};

/** A feature list as a BOLT 9 bitfield: big-endian, bit n in byte (len - 1 - n/8). */
function bitfield(features: number[]): string {
  if (features.length === 0) return '';
  const bytes = new Uint8Array((Math.max(...features) >> 3) + 1);
  for (const f of features) bytes[bytes.length - 1 - (f >> 3)]! |= 1 << (f & 7);
  return toHex(bytes);
}

function translate(t: VectorTlvs): RecipientDataJson {
  const j: RecipientDataJson = {};
  const tlv: { type: string; value: string }[] = [];
  for (const [k, value] of Object.entries(t)) {
    if (k === 'payment_relay') {
      const r = t.payment_relay!;
      j.payment_relay = { cltv_expiry_delta: r.cltv_expiry_delta, fee_proportional_millionths: r.fee_proportional_millionths, fee_base_msat: String(r.fee_base_msat ?? 0) };
    } else if (k === 'payment_constraints') {
      j.payment_constraints = { max_cltv_expiry: t.payment_constraints!.max_cltv_expiry, htlc_minimum_msat: String(t.payment_constraints!.htlc_minimum_msat) };
    } else if (k === 'allowed_features') j.allowed_features = bitfield(t.allowed_features!.features);
    else if (k.startsWith('unknown_tag_')) tlv.push({ type: k.slice('unknown_tag_'.length), value: value as string });
    else (j as Record<string, unknown>)[k] = value;
  }
  if (tlv.length) j.tlv = tlv;
  return j;
}

describe('encrypted_data_tlv', () => {
  const hops = v.generate.hops as { alias: string; tlvs: VectorTlvs; encoded_tlvs: string }[];
  it.each(hops.map((h) => [h.alias, h] as const))('%s: the vector\'s tlvs encode to its encoded_tlvs and decode back', (_, h) => {
    const json = translate(h.tlvs);
    expect(toHex(encodeRecipientData(json))).toBe(h.encoded_tlvs);
    expect(decodeRecipientData(fromHex(h.encoded_tlvs))).toEqual(json);
  });

  it('fuzz: any bytes decode to records or E_ONION_TLV, and what decodes re-encodes to the same bytes', () => {
    const seeds = hops.map((h) => fromHex(h.encoded_tlvs));
    const mutated = fc.tuple(fc.constantFrom(...seeds), fc.nat(), fc.integer({ min: 0, max: 255 })).map(([s, at, b]) => {
      const out = s.slice();
      out[at % out.length] = b;
      return out;
    });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 120 }), mutated), (bytes) => {
        let decoded: RecipientDataJson;
        try {
          decoded = decodeRecipientData(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(MalformedInputError);
          expect((e as MalformedInputError).code).toBe('E_ONION_TLV');
          return;
        }
        expect(toHex(encodeRecipientData(decoded))).toBe(toHex(bytes));
      }),
      { numRuns: 2000 },
    );
  });
});
