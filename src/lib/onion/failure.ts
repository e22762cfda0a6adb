/**
 * BOLT 4 failure messages (`failuremsg`): a u16 failure_code, the code's data fields,
 * then an optional TLV stream (kept raw). Codes by name with the BADONION / PERM /
 * NODE / UPDATE flag bits as BOLT 4 defines them.
 *
 * Invariant: what is encoded is what was asked — every integer field is a non-negative
 * decimal integer within its width (u16/u32/u64/bigsize), refused otherwise, never wrapped
 * or rounded; a field the failure does not have is refused, not dropped.
 */
import { MalformedInputError, RefusedError } from '../errors.ts';
import { fromHex, toHex } from '../bytes.ts';
import { decodeBigSize, encodeBigSize } from '../bigsize.ts';

export const BADONION = 0x8000;
export const PERM = 0x4000;
export const NODE = 0x2000;
export const UPDATE = 0x1000;

type Field = { name: string; kind: 'u16' | 'u32' | 'u64' | 'sha256' | 'bigsize' | 'update' };
const f = (name: string, kind: Field['kind']): Field => ({ name, kind });
const UPD = f('channel_update', 'update');

export const FAILURES: Record<string, { code: number; fields: Field[] }> = {
  invalid_realm: { code: PERM | 1, fields: [] },
  temporary_node_failure: { code: NODE | 2, fields: [] },
  permanent_node_failure: { code: PERM | NODE | 2, fields: [] },
  required_node_feature_missing: { code: PERM | NODE | 3, fields: [] },
  invalid_onion_version: { code: BADONION | PERM | 4, fields: [f('sha256_of_onion', 'sha256')] },
  invalid_onion_hmac: { code: BADONION | PERM | 5, fields: [f('sha256_of_onion', 'sha256')] },
  invalid_onion_key: { code: BADONION | PERM | 6, fields: [f('sha256_of_onion', 'sha256')] },
  temporary_channel_failure: { code: UPDATE | 7, fields: [UPD] },
  permanent_channel_failure: { code: PERM | 8, fields: [] },
  required_channel_feature_missing: { code: PERM | 9, fields: [] },
  unknown_next_peer: { code: PERM | 10, fields: [] },
  amount_below_minimum: { code: UPDATE | 11, fields: [f('htlc_msat', 'u64'), UPD] },
  fee_insufficient: { code: UPDATE | 12, fields: [f('htlc_msat', 'u64'), UPD] },
  incorrect_cltv_expiry: { code: UPDATE | 13, fields: [f('cltv_expiry', 'u32'), UPD] },
  expiry_too_soon: { code: UPDATE | 14, fields: [UPD] },
  incorrect_or_unknown_payment_details: { code: PERM | 15, fields: [f('htlc_msat', 'u64'), f('height', 'u32')] },
  final_incorrect_cltv_expiry: { code: 18, fields: [f('cltv_expiry', 'u32')] },
  final_incorrect_htlc_amount: { code: 19, fields: [f('incoming_htlc_amt', 'u64')] },
  channel_disabled: { code: UPDATE | 20, fields: [f('disabled_flags', 'u16'), UPD] },
  expiry_too_far: { code: 21, fields: [] },
  invalid_onion_payload: { code: PERM | 22, fields: [f('type', 'bigsize'), f('offset', 'u16')] },
  mpp_timeout: { code: 23, fields: [] },
  invalid_onion_blinding: { code: BADONION | PERM | 24, fields: [f('sha256_of_onion', 'sha256')] },
};

const BY_CODE = new Map(Object.entries(FAILURES).map(([name, d]) => [d.code, name]));

/** A failure as JSON: name, code, data fields (u64 as decimal strings, bytes as hex), trailing TLV hex. */
export type Failure = { name: string; code: number; fields: Record<string, string | number>; tlv?: string };

export function encodeFailure(name: string, fields: Record<string, string | number> = {}, tlvHex = ''): Uint8Array {
  const def = FAILURES[name];
  if (!def) throw new RefusedError('E_ONION_FAILURE_NAME', `unknown failure "${name}" (known: ${Object.keys(FAILURES).join(', ')})`);
  for (const given of Object.keys(fields)) {
    if (!def.fields.some((fl) => fl.name === given)) {
      throw new RefusedError('E_ONION_FAILURE_FIELD', `${name} has no field ${given} (its fields: ${def.fields.map((fl) => fl.name).join(', ') || 'none'})`);
    }
  }
  const out: number[] = [def.code >> 8, def.code & 0xff];
  const be = (v: bigint, n: number) => { for (let i = n - 1; i >= 0; i--) out.push(Number((v >> BigInt(8 * i)) & 0xffn)); };
  for (const fl of def.fields) {
    const v = fields[fl.name];
    if (v === undefined) throw new RefusedError('E_ONION_FAILURE_FIELD', `${name} needs ${fl.name}`);
    if (fl.kind === 'u16') be(unsigned(v, 16, `${name}.${fl.name}`), 2);
    else if (fl.kind === 'u32') be(unsigned(v, 32, `${name}.${fl.name}`), 4);
    else if (fl.kind === 'u64') be(unsigned(v, 64, `${name}.${fl.name}`), 8);
    else if (fl.kind === 'bigsize') out.push(...encodeBigSize(unsigned(v, 64, `${name}.${fl.name}`)));
    else if (fl.kind === 'sha256') out.push(...fromHex(String(v), fl.name, 32));
    else { const u = fromHex(String(v), fl.name); be(BigInt(u.length), 2); out.push(...u); }
  }
  out.push(...fromHex(tlvHex, 'tlv'));
  return Uint8Array.from(out);
}

/**
 * An unsigned integer field of `bits` bits, from a decimal string (or a safe integer):
 * never wrapped, never rounded — `htlc_msat=-1` must not become 2^64 − 1, nor 1.5 become 1.
 */
function unsigned(v: string | number, bits: number, what: string): bigint {
  const text = typeof v === 'number' ? (Number.isSafeInteger(v) ? String(v) : '') : v.trim();
  if (!/^(0|[1-9][0-9]*)$/.test(text)) throw new MalformedInputError('E_ONION_FAILURE_VALUE', `${what} must be a non-negative decimal integer, got ${JSON.stringify(v)}`);
  const n = BigInt(text);
  if (n >> BigInt(bits) !== 0n) throw new MalformedInputError('E_ONION_FAILURE_VALUE', `${what} must be below 2^${bits}, got ${text}`);
  return n;
}

export function decodeFailure(msg: Uint8Array): Failure {
  const bad = (m: string): never => { throw new MalformedInputError('E_ONION_FAILURE', m); };
  if (msg.length < 2) bad('failure message shorter than its 2-byte code');
  const code = (msg[0]! << 8) | msg[1]!;
  const name = BY_CODE.get(code);
  if (name === undefined) return { name: 'unknown', code, fields: { data: toHex(msg.subarray(2)) } };
  let o = 2;
  const take = (n: number) => { if (o + n > msg.length) bad(`${name}: truncated`); const s = msg.subarray(o, o + n); o += n; return s; };
  const int = (b: Uint8Array) => b.reduce((a, x) => (a << 8n) | BigInt(x), 0n);
  const fields: Record<string, string | number> = {};
  for (const fl of FAILURES[name]!.fields) {
    if (fl.kind === 'u16') fields[fl.name] = Number(int(take(2)));
    else if (fl.kind === 'u32') fields[fl.name] = Number(int(take(4)));
    else if (fl.kind === 'u64') fields[fl.name] = int(take(8)).toString();
    else if (fl.kind === 'bigsize') {
      let v: bigint, n: number;
      try { [v, n] = decodeBigSize(msg, o); } catch (e) { return bad(`${name}: ${(e as Error).message}`); }
      o += n;
      fields[fl.name] = v.toString();
    }
    else if (fl.kind === 'sha256') fields[fl.name] = toHex(take(32));
    else fields[fl.name] = toHex(take(Number(int(take(2)))));
  }
  const rest = msg.subarray(o);
  return rest.length ? { name, code, fields, tlv: toHex(rest) } : { name, code, fields };
}
