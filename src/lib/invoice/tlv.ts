/**
 * BOLT 1 TLV streams as BOLT 12 uses them: BigSize type and length, types strictly
 * increasing, nothing truncated. Each record keeps its raw bytes (the Merkle leaves of
 * the signature are computed over them). Pure.
 */
import { concatBytes } from '../bytes.ts';
import { MalformedInputError } from '../errors.ts';
import { BigSizeError, decodeBigSize, encodeBigSize } from '../bigsize.ts';

export type TlvRecord = { type: bigint; value: Uint8Array; typeBytes: Uint8Array; raw: Uint8Array };

export function parseTlvStream(bytes: Uint8Array, code = 'E_BOLT12_TLV'): TlvRecord[] {
  const records: TlvRecord[] = [];
  let at = 0;
  let last = -1n;
  try {
    while (at < bytes.length) {
      const start = at;
      const [type, tn] = decodeBigSize(bytes, at);
      at += tn;
      const [length, ln] = decodeBigSize(bytes, at);
      at += ln;
      if (BigInt(bytes.length - at) < length) throw new MalformedInputError(code, `TLV type ${type} says ${length} bytes but ${bytes.length - at} remain`);
      if (type <= last) throw new MalformedInputError(code, `TLV type ${type} after type ${last}: types must be strictly increasing`);
      last = type;
      const end = at + Number(length);
      records.push({ type, value: bytes.subarray(at, end), typeBytes: bytes.subarray(start, start + tn), raw: bytes.subarray(start, end) });
      at = end;
    }
  } catch (e) {
    if (e instanceof BigSizeError) throw new MalformedInputError(code, `TLV stream: ${e.message} at byte ${at}`);
    throw e;
  }
  return records;
}

export function encodeTlvStream(records: readonly { type: bigint; value: Uint8Array }[]): Uint8Array {
  return concatBytes(...records.flatMap((r) => [encodeBigSize(r.type), encodeBigSize(BigInt(r.value.length)), r.value]));
}
