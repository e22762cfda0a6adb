/**
 * Hop payloads (BOLT 4 `payload` TLV stream) to and from JSON, with BOLT 4's field
 * names. Amounts are msat as bigint inside (decimal strings at the JSON edge);
 * short_channel_id is written `block x tx x output` (BOLT 7's human form).
 *
 * Rules enforced on decode (each a MalformedInputError, exit 3): BigSize types and
 * lengths minimally encoded, types strictly increasing (so no duplicates), lengths
 * inside the stream, truncated integers (tu64/tu32) minimal (no leading zero byte)
 * and not too long, fixed-size fields of their exact size. Unknown records are kept
 * raw (`unknown`); whether an unknown EVEN type must make the hop fail is the node's
 * policy and is reported, not hidden (`unknownEvenTypes`).
 */
import { MalformedInputError, RefusedError } from '../errors.ts';
import { BigSizeError, decodeBigSize, encodeBigSize } from '../bigsize.ts';

export type PaymentData = { readonly payment_secret: Uint8Array; readonly total_msat: bigint };

export type HopPayload = {
  amt_to_forward?: bigint;
  outgoing_cltv_value?: number;
  short_channel_id?: string;
  payment_data?: PaymentData;
  encrypted_recipient_data?: Uint8Array;
  current_path_key?: Uint8Array;
  payment_metadata?: Uint8Array;
  total_amount_msat?: bigint;
  /** Any other record, by type: raw value bytes. */
  unknown?: ReadonlyArray<{ readonly type: bigint; readonly value: Uint8Array }>;
};

export const TLV = {
  amt_to_forward: 2n,
  outgoing_cltv_value: 4n,
  short_channel_id: 6n,
  payment_data: 8n,
  encrypted_recipient_data: 10n,
  current_path_key: 12n,
  payment_metadata: 16n,
  total_amount_msat: 18n,
} as const;

const KNOWN = new Set<bigint>(Object.values(TLV));

function bad(message: string): never {
  throw new MalformedInputError('E_ONION_TLV', message);
}

export function encodeTruncated(value: bigint, maxBytes: number): Uint8Array {
  if (value < 0n || value >= 1n << BigInt(8 * maxBytes)) throw new RefusedError('E_ONION_TLV_RANGE', `value ${value} does not fit in ${maxBytes} bytes`);
  const out: number[] = [];
  for (let v = value; v > 0n; v >>= 8n) out.unshift(Number(v & 0xffn));
  return Uint8Array.from(out);
}

export function decodeTruncated(bytes: Uint8Array, maxBytes: number, field: string): bigint {
  if (bytes.length > maxBytes) bad(`${field}: ${bytes.length} bytes, a tu${8 * maxBytes} has at most ${maxBytes}`);
  if (bytes.length > 0 && bytes[0] === 0) bad(`${field}: truncated integer not minimally encoded (leading zero byte)`);
  // Up to 6 bytes the value is exact in a Number: one BigInt at the end instead of one per byte.
  let v = 0;
  const head = Math.max(0, bytes.length - 6);
  for (let i = head; i < bytes.length; i++) v = v * 256 + bytes[i]!;
  if (head === 0) return BigInt(v);
  let high = 0n;
  for (let i = 0; i < head; i++) high = (high << 8n) | BigInt(bytes[i]!);
  return (high << 48n) | BigInt(v);
}

export function formatScid(bytes: Uint8Array): string {
  const block = (bytes[0]! << 16) | (bytes[1]! << 8) | bytes[2]!;
  const tx = (bytes[3]! << 16) | (bytes[4]! << 8) | bytes[5]!;
  const out = (bytes[6]! << 8) | bytes[7]!;
  return `${block}x${tx}x${out}`;
}

export function parseScid(text: string): Uint8Array {
  const m = /^(\d{1,8})x(\d{1,8})x(\d{1,5})$/.exec(text);
  if (!m) throw new MalformedInputError('E_ONION_SCID', `short_channel_id "${text}" is not BLOCKxTXxOUTPUT`);
  const [block, tx, out] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (block > 0xffffff || tx > 0xffffff || out > 0xffff) throw new MalformedInputError('E_ONION_SCID', `short_channel_id "${text}" out of range`);
  return Uint8Array.of(block >> 16, (block >> 8) & 0xff, block & 0xff, tx >> 16, (tx >> 8) & 0xff, tx & 0xff, out >> 8, out & 0xff);
}

export function encodeHopPayload(p: HopPayload): Uint8Array {
  const records: Array<[bigint, Uint8Array]> = [];
  if (p.amt_to_forward !== undefined) records.push([TLV.amt_to_forward, encodeTruncated(p.amt_to_forward, 8)]);
  if (p.outgoing_cltv_value !== undefined) records.push([TLV.outgoing_cltv_value, encodeTruncated(BigInt(p.outgoing_cltv_value), 4)]);
  if (p.short_channel_id !== undefined) records.push([TLV.short_channel_id, parseScid(p.short_channel_id)]);
  if (p.payment_data !== undefined) {
    if (p.payment_data.payment_secret.length !== 32) throw new RefusedError('E_ONION_TLV_RANGE', 'payment_secret must be 32 bytes');
    const t = encodeTruncated(p.payment_data.total_msat, 8);
    const v = new Uint8Array(32 + t.length);
    v.set(p.payment_data.payment_secret);
    v.set(t, 32);
    records.push([TLV.payment_data, v]);
  }
  if (p.encrypted_recipient_data !== undefined) records.push([TLV.encrypted_recipient_data, p.encrypted_recipient_data]);
  if (p.current_path_key !== undefined) records.push([TLV.current_path_key, p.current_path_key]);
  if (p.payment_metadata !== undefined) records.push([TLV.payment_metadata, p.payment_metadata]);
  if (p.total_amount_msat !== undefined) records.push([TLV.total_amount_msat, encodeTruncated(p.total_amount_msat, 8)]);
  for (const u of p.unknown ?? []) {
    if (KNOWN.has(u.type)) throw new RefusedError('E_ONION_TLV_DUPLICATE', `raw record type ${u.type} is a named field; use its name`);
    records.push([u.type, u.value]);
  }
  records.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  for (let i = 1; i < records.length; i++)
    if (records[i]![0] === records[i - 1]![0]) throw new RefusedError('E_ONION_TLV_DUPLICATE', `TLV type ${records[i]![0]} given twice`);
  const parts: Uint8Array[] = [];
  for (const [t, v] of records) parts.push(encodeBigSize(t), encodeBigSize(BigInt(v.length)), v);
  const total = parts.reduce((a, b) => a + b.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const part of parts) {
    out.set(part, o);
    o += part.length;
  }
  return out;
}

export type DecodedHopPayload = HopPayload & { readonly unknownEvenTypes: readonly bigint[] };

/**
 * A BigSize of the TLV stream at `offset`: [value, bytes read], the value a number when it
 * is one byte (below 0xfd: every named type, every length of a payload that fits in an
 * onion), else a bigint; a malformed one is E_ONION_TLV naming the record's type or length.
 */
function tlvBigSize(bytes: Uint8Array, offset: number, lengthOf: number | bigint | undefined): [number | bigint, number] {
  const first = bytes[offset];
  if (first !== undefined && first < 0xfd) return [first, 1];
  try {
    return decodeBigSize(bytes, offset);
  } catch (e) {
    return bad(`TLV ${lengthOf === undefined ? 'type' : `length of type ${lengthOf}`}: ${(e as BigSizeError).message}`);
  }
}

// The named types as numbers, for the decoder's switch (a one-byte type is read as a number).
const AMT_TO_FORWARD = Number(TLV.amt_to_forward), OUTGOING_CLTV_VALUE = Number(TLV.outgoing_cltv_value), SHORT_CHANNEL_ID = Number(TLV.short_channel_id);
const PAYMENT_DATA = Number(TLV.payment_data), ENCRYPTED_RECIPIENT_DATA = Number(TLV.encrypted_recipient_data), CURRENT_PATH_KEY = Number(TLV.current_path_key);
const PAYMENT_METADATA = Number(TLV.payment_metadata), TOTAL_AMOUNT_MSAT = Number(TLV.total_amount_msat);

export function decodeHopPayload(bytes: Uint8Array): DecodedHopPayload {
  const p: HopPayload & { unknownEvenTypes?: bigint[] } = {};
  const unknown: Array<{ type: bigint; value: Uint8Array }> = [];
  const unknownEvenTypes: bigint[] = [];
  let o = 0;
  // Types and lengths are numbers or bigints (tlvBigSize): < and > compare the two exactly.
  let last: number | bigint = -1;
  while (o < bytes.length) {
    const [type, typeSize] = tlvBigSize(bytes, o, undefined);
    o += typeSize;
    if (type <= last) bad(`TLV types not strictly increasing (${type} after ${last})`);
    last = type;
    const [len, lenSize] = tlvBigSize(bytes, o, type);
    o += lenSize;
    if (len > bytes.length - o) bad(`TLV type ${type}: length ${len} overruns the payload`);
    const v = bytes.subarray(o, o + Number(len));
    o += Number(len);
    switch (type) {
      case AMT_TO_FORWARD: p.amt_to_forward = decodeTruncated(v, 8, 'amt_to_forward'); break;
      case OUTGOING_CLTV_VALUE: p.outgoing_cltv_value = Number(decodeTruncated(v, 4, 'outgoing_cltv_value')); break;
      case SHORT_CHANNEL_ID:
        if (v.length !== 8) bad(`short_channel_id: ${v.length} bytes, expected 8`);
        p.short_channel_id = formatScid(v);
        break;
      case PAYMENT_DATA:
        if (v.length < 32) bad(`payment_data: ${v.length} bytes, expected 32 + tu64`);
        p.payment_data = { payment_secret: v.slice(0, 32), total_msat: decodeTruncated(v.subarray(32), 8, 'payment_data.total_msat') };
        break;
      case ENCRYPTED_RECIPIENT_DATA: p.encrypted_recipient_data = v.slice(); break;
      case CURRENT_PATH_KEY:
        if (v.length !== 33) bad(`current_path_key: ${v.length} bytes, expected 33`);
        p.current_path_key = v.slice();
        break;
      case PAYMENT_METADATA: p.payment_metadata = v.slice(); break;
      case TOTAL_AMOUNT_MSAT: p.total_amount_msat = decodeTruncated(v, 8, 'total_amount_msat'); break;
      default: {
        const t = BigInt(type);
        unknown.push({ type: t, value: v.slice() });
        if (t % 2n === 0n) unknownEvenTypes.push(t);
      }
    }
  }
  if (unknown.length > 0) p.unknown = unknown;
  p.unknownEvenTypes = unknownEvenTypes;
  return p as DecodedHopPayload;
}
