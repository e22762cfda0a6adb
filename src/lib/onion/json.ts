/** Hop payloads between their JSON form (./schemas.ts) and ./payload.ts's HopPayload. */
import { fromHex, toHex } from '../bytes.ts';
import type { DecodedHopPayload, HopPayload } from './payload.ts';
import type { HopPayloadJson } from './schemas.ts';

export function payloadFromJson(j: HopPayloadJson, where: string): HopPayload {
  const p: HopPayload = {};
  if (j.amt_to_forward !== undefined) p.amt_to_forward = BigInt(j.amt_to_forward);
  if (j.outgoing_cltv_value !== undefined) p.outgoing_cltv_value = j.outgoing_cltv_value;
  if (j.short_channel_id !== undefined) p.short_channel_id = j.short_channel_id;
  if (j.payment_data !== undefined) p.payment_data = { payment_secret: fromHex(j.payment_data.payment_secret, `${where}.payment_data.payment_secret`, 32), total_msat: BigInt(j.payment_data.total_msat) };
  if (j.encrypted_recipient_data !== undefined) p.encrypted_recipient_data = fromHex(j.encrypted_recipient_data, `${where}.encrypted_recipient_data`);
  if (j.current_path_key !== undefined) p.current_path_key = fromHex(j.current_path_key, `${where}.current_path_key`, 33);
  if (j.payment_metadata !== undefined) p.payment_metadata = fromHex(j.payment_metadata, `${where}.payment_metadata`);
  if (j.total_amount_msat !== undefined) p.total_amount_msat = BigInt(j.total_amount_msat);
  if (j.tlv !== undefined) p.unknown = j.tlv.map((r, i) => ({ type: BigInt(r.type), value: fromHex(r.value, `${where}.tlv[${i}].value`) }));
  return p;
}

export function payloadToJson(p: DecodedHopPayload): HopPayloadJson {
  const j: HopPayloadJson = {};
  if (p.amt_to_forward !== undefined) j.amt_to_forward = p.amt_to_forward.toString();
  if (p.outgoing_cltv_value !== undefined) j.outgoing_cltv_value = p.outgoing_cltv_value;
  if (p.short_channel_id !== undefined) j.short_channel_id = p.short_channel_id;
  if (p.payment_data !== undefined) j.payment_data = { payment_secret: toHex(p.payment_data.payment_secret), total_msat: p.payment_data.total_msat.toString() };
  if (p.encrypted_recipient_data !== undefined) j.encrypted_recipient_data = toHex(p.encrypted_recipient_data);
  if (p.current_path_key !== undefined) j.current_path_key = toHex(p.current_path_key);
  if (p.payment_metadata !== undefined) j.payment_metadata = toHex(p.payment_metadata);
  if (p.total_amount_msat !== undefined) j.total_amount_msat = p.total_amount_msat.toString();
  if (p.unknown !== undefined) j.tlv = p.unknown.map((u) => ({ type: u.type.toString(), value: toHex(u.value) }));
  return j;
}
