/**
 * BIP-174's framing: the magic bytes, then maps of `<key-value pair>* 0x00`, each record a
 * CompactSize key length, the key (CompactSize key type, key data), a CompactSize value
 * length and the value. Split only, nothing interpreted: the reader (./read.ts) and the
 * diagnosis (./parse.ts) decide what the records mean, and decode.ts prints them in wire form.
 */
import { PSBT_MAGIC } from '../constants.ts';

export type PsbtRecord = {
  keyType: number;
  /** Key data after the key type. */
  keyData: Uint8Array;
  /** The whole key (type and data), as Core prints unknown keys. */
  key: Uint8Array;
  value: Uint8Array;
  /** Byte offset of the record in the PSBT. */
  offset: number;
  /** Byte offset just past the record's value. */
  end: number;
};

export class FramingError extends Error {
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(message);
    this.offset = offset;
  }
}

/** Cheap content sniffing: does this start with the PSBT magic bytes? */
export function looksLikePsbt(bytes: Uint8Array): boolean {
  if (bytes.length < PSBT_MAGIC.length) return false;
  for (let i = 0; i < PSBT_MAGIC.length; i++) if (bytes[i] !== PSBT_MAGIC[i]) return false;
  return true;
}

/** Read a canonical CompactSize at `pos`; returns the value and the next position. */
export function readCompactSize(buf: Uint8Array, pos: number, what: string): [number, number] {
  const first = buf[pos];
  if (first === undefined) throw new FramingError(`truncated: ${what} is missing at byte ${pos}`, pos);
  if (first < 0xfd) return [first, pos + 1];
  const size = first === 0xfd ? 2 : first === 0xfe ? 4 : 8;
  if (pos + 1 + size > buf.length) throw new FramingError(`truncated: ${what} at byte ${pos} is cut off`, pos);
  let value = 0n;
  for (let i = size; i >= 1; i--) value = (value << 8n) | BigInt(buf[pos + i]!);
  const min = first === 0xfd ? 0xfdn : first === 0xfe ? 0x10000n : 0x100000000n;
  if (value < min) throw new FramingError(`${what} at byte ${pos} is not minimally encoded`, pos);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new FramingError(`${what} at byte ${pos} is impossibly large`, pos);
  return [Number(value), pos + 1 + size];
}

/** Split a PSBT (magic already checked) into its maps, without interpreting any record. */
export function splitPsbtMaps(bytes: Uint8Array): PsbtRecord[][] {
  const maps: PsbtRecord[][] = [];
  let pos = PSBT_MAGIC.length;
  while (pos < bytes.length) {
    const records: PsbtRecord[] = [];
    const mapNo = maps.length;
    for (;;) {
      if (pos >= bytes.length) throw new FramingError(`truncated: map ${mapNo} ends without its 0x00 separator`, pos);
      const offset = pos;
      // One-byte CompactSizes (lengths under 253: nearly every record) are read inline; the
      // tuple readCompactSize returns was ~30 allocations per credit update's PSBT.
      let keyLen: number;
      let afterKeyLen: number;
      if (bytes[pos]! < 0xfd) (keyLen = bytes[pos]!), (afterKeyLen = pos + 1);
      else [keyLen, afterKeyLen] = readCompactSize(bytes, pos, 'key length');
      if (keyLen === 0) {
        pos = afterKeyLen;
        break;
      }
      if (afterKeyLen + keyLen > bytes.length) throw new FramingError(`truncated: a ${keyLen}-byte key at byte ${offset} runs past the end`, offset);
      const key = bytes.subarray(afterKeyLen, afterKeyLen + keyLen);
      let keyType: number;
      let keyDataAt: number;
      if (key[0]! < 0xfd) (keyType = key[0]!), (keyDataAt = 1);
      else {
        try {
          [keyType, keyDataAt] = readCompactSize(key, 0, 'key type');
        } catch {
          throw new FramingError(`the key at byte ${offset} does not start with a valid key type`, offset);
        }
      }
      const lengthAt = afterKeyLen + keyLen;
      let valueLen: number;
      let valueAt: number;
      if (bytes[lengthAt]! < 0xfd) (valueLen = bytes[lengthAt]!), (valueAt = lengthAt + 1);
      else [valueLen, valueAt] = readCompactSize(bytes, lengthAt, 'value length');
      if (valueAt + valueLen > bytes.length) throw new FramingError(`truncated: a ${valueLen}-byte value at byte ${valueAt} runs past the end`, offset);
      records.push({ keyType, keyData: key.subarray(keyDataAt), key, value: bytes.subarray(valueAt, valueAt + valueLen), offset, end: valueAt + valueLen });
      pos = valueAt + valueLen;
    }
    maps.push(records);
  }
  return maps;
}
