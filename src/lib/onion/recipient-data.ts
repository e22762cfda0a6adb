/**
 * The TLV stream a blinded hop finds in its `encrypted_recipient_data` (BOLT 4
 * `encrypted_data_tlv`), in BOLT 4's field names:
 *
 *   1 padding · 2 short_channel_id · 4 next_node_id · 6 path_id · 8 next_path_key_override
 *   10 payment_relay (u16 cltv_expiry_delta, u32 fee_proportional_millionths, tu32 fee_base_msat)
 *   12 payment_constraints (u32 max_cltv_expiry, tu64 htlc_minimum_msat) · 14 allowed_features
 *
 * As JSON: bytes as hex, msat as decimal strings, other records raw under `tlv`. Strict
 * decoding (minimal BigSize, strictly increasing types, fixed sizes), every failure
 * E_ONION_TLV. Pure: no I/O.
 */
import { fromHex, toHex } from '../bytes.ts';
import { MalformedInputError, RefusedError } from '../errors.ts';
import { BigSizeError, decodeBigSize, encodeBigSize } from '../bigsize.ts';
import { decodeTruncated, encodeTruncated, formatScid, parseScid } from './payload.ts';

export type RecipientDataJson = {
  padding?: string;
  short_channel_id?: string;
  next_node_id?: string;
  path_id?: string;
  next_path_key_override?: string;
  payment_relay?: { cltv_expiry_delta: number; fee_proportional_millionths: number; fee_base_msat: string };
  payment_constraints?: { max_cltv_expiry: number; htlc_minimum_msat: string };
  allowed_features?: string;
  tlv?: { type: string; value: string }[];
};

const T = { padding: 1n, short_channel_id: 2n, next_node_id: 4n, path_id: 6n, next_path_key_override: 8n, payment_relay: 10n, payment_constraints: 12n, allowed_features: 14n } as const;
const KNOWN = new Set<bigint>(Object.values(T));

function bad(message: string): never {
  throw new MalformedInputError('E_ONION_TLV', `recipient data: ${message}`);
}

const u16 = (v: number) => Uint8Array.of(v >> 8, v & 0xff);
const u32 = (v: number) => Uint8Array.of(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
const readU = (b: Uint8Array, at: number, n: number) => b.subarray(at, at + n).reduce((a, x) => a * 256 + x, 0);

function uint(v: number, bits: 16 | 32, field: string): number {
  if (!Number.isInteger(v) || v < 0 || v >= 2 ** bits) throw new RefusedError('E_ONION_TLV_RANGE', `${field} must be a u${bits}`);
  return v;
}

function msat(text: string, maxBytes: number, field: string): Uint8Array {
  if (!/^(0|[1-9][0-9]{0,19})$/.test(text)) throw new RefusedError('E_ONION_TLV_RANGE', `${field} must be a decimal msat amount`);
  return encodeTruncated(BigInt(text), maxBytes);
}

export function encodeRecipientData(j: RecipientDataJson): Uint8Array {
  const records: [bigint, Uint8Array][] = [];
  if (j.padding !== undefined) records.push([T.padding, fromHex(j.padding, 'padding')]);
  if (j.short_channel_id !== undefined) records.push([T.short_channel_id, parseScid(j.short_channel_id)]);
  if (j.next_node_id !== undefined) records.push([T.next_node_id, fromHex(j.next_node_id, 'next_node_id', 33)]);
  if (j.path_id !== undefined) records.push([T.path_id, fromHex(j.path_id, 'path_id')]);
  if (j.next_path_key_override !== undefined) records.push([T.next_path_key_override, fromHex(j.next_path_key_override, 'next_path_key_override', 33)]);
  if (j.payment_relay !== undefined) {
    const r = j.payment_relay;
    records.push([T.payment_relay, Uint8Array.from([...u16(uint(r.cltv_expiry_delta, 16, 'cltv_expiry_delta')), ...u32(uint(r.fee_proportional_millionths, 32, 'fee_proportional_millionths')), ...msat(r.fee_base_msat, 4, 'fee_base_msat')])]);
  }
  if (j.payment_constraints !== undefined) {
    const c = j.payment_constraints;
    records.push([T.payment_constraints, Uint8Array.from([...u32(uint(c.max_cltv_expiry, 32, 'max_cltv_expiry')), ...msat(c.htlc_minimum_msat, 8, 'htlc_minimum_msat')])]);
  }
  if (j.allowed_features !== undefined) records.push([T.allowed_features, fromHex(j.allowed_features, 'allowed_features')]);
  for (const r of j.tlv ?? []) {
    const type = BigInt(r.type);
    if (KNOWN.has(type)) throw new RefusedError('E_ONION_TLV_DUPLICATE', `raw record type ${type} is a named field; use its name`);
    records.push([type, fromHex(r.value, `tlv type ${r.type}`)]);
  }
  records.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  for (let i = 1; i < records.length; i++) if (records[i]![0] === records[i - 1]![0]) throw new RefusedError('E_ONION_TLV_DUPLICATE', `TLV type ${records[i]![0]} given twice`);
  const parts = records.flatMap(([t, v]) => [encodeBigSize(t), encodeBigSize(BigInt(v.length)), v]);
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
  return out;
}

export function decodeRecipientData(bytes: Uint8Array): RecipientDataJson {
  const j: RecipientDataJson = {};
  const raw: { type: string; value: string }[] = [];
  let o = 0;
  let last = -1n;
  const big = (what: string): bigint => {
    try {
      const [v, n] = decodeBigSize(bytes, o);
      o += n;
      return v;
    } catch (e) {
      return bad(`TLV ${what}: ${(e as BigSizeError).message}`);
    }
  };
  const size = (v: Uint8Array, n: number, field: string) => v.length === n || bad(`${field}: ${v.length} bytes, expected ${n}`);
  while (o < bytes.length) {
    const type = big('type');
    if (type <= last) bad(`TLV types not strictly increasing (${type} after ${last})`);
    last = type;
    const len = big(`length of type ${type}`);
    if (BigInt(o) + len > BigInt(bytes.length)) bad(`TLV type ${type}: length ${len} overruns the data`);
    const v = bytes.subarray(o, o + Number(len));
    o += Number(len);
    switch (type) {
      case T.padding: j.padding = toHex(v); break;
      case T.short_channel_id: size(v, 8, 'short_channel_id'); j.short_channel_id = formatScid(v); break;
      case T.next_node_id: size(v, 33, 'next_node_id'); j.next_node_id = toHex(v); break;
      case T.path_id: j.path_id = toHex(v); break;
      case T.next_path_key_override: size(v, 33, 'next_path_key_override'); j.next_path_key_override = toHex(v); break;
      case T.payment_relay:
        if (v.length < 6) bad(`payment_relay: ${v.length} bytes, expected 6 + tu32`);
        j.payment_relay = { cltv_expiry_delta: readU(v, 0, 2), fee_proportional_millionths: readU(v, 2, 4), fee_base_msat: String(decodeTruncated(v.subarray(6), 4, 'fee_base_msat')) };
        break;
      case T.payment_constraints:
        if (v.length < 4) bad(`payment_constraints: ${v.length} bytes, expected 4 + tu64`);
        j.payment_constraints = { max_cltv_expiry: readU(v, 0, 4), htlc_minimum_msat: String(decodeTruncated(v.subarray(4), 8, 'htlc_minimum_msat')) };
        break;
      case T.allowed_features: j.allowed_features = toHex(v); break;
      default: raw.push({ type: String(type), value: toHex(v) });
    }
  }
  if (raw.length) j.tlv = raw;
  return j;
}
