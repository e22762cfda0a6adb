/**
 * A deliberately naive BIP-174 map reader for tests, written independently of
 * src/lib/psbt/parse.ts, so expected values are read straight from the vector bytes rather
 * than from the code under test. Valid input only; no error handling worth the name.
 */
import { hex } from '@scure/base';

export type RawRecord = { type: number; keyData: string; value: string };

function compact(buf: Uint8Array, pos: number): [number, number] {
  const b = buf[pos]!;
  if (b < 0xfd) return [b, pos + 1];
  const n = b === 0xfd ? 2 : b === 0xfe ? 4 : 8;
  let v = 0;
  for (let i = n; i >= 1; i--) v = v * 256 + buf[pos + i]!;
  return [v, pos + 1 + n];
}

/** All maps of a PSBT (global first), each a list of records in wire order. */
export function rawMaps(psbtHex: string): RawRecord[][] {
  const buf = hex.decode(psbtHex);
  const maps: RawRecord[][] = [];
  let pos = 5;
  while (pos < buf.length) {
    const map: RawRecord[] = [];
    for (;;) {
      const [keyLen, k] = compact(buf, pos);
      if (keyLen === 0) {
        pos = k;
        break;
      }
      const key = buf.subarray(k, k + keyLen);
      const [type, dataAt] = compact(key, 0);
      const [valueLen, v] = compact(buf, k + keyLen);
      map.push({ type, keyData: hex.encode(key.subarray(dataAt)), value: hex.encode(buf.subarray(v, v + valueLen)) });
      pos = v + valueLen;
    }
    maps.push(map);
  }
  return maps;
}

/** Records as a sorted multiset of "type:key=value" strings, for order-insensitive comparison. */
export function recordSet(map: RawRecord[]): string[] {
  return map.map((r) => `${r.type.toString(16)}:${r.keyData}=${r.value}`).sort();
}

function compactBytes(n: number): number[] {
  if (n < 0xfd) return [n];
  if (n <= 0xffff) return [0xfd, n & 0xff, n >> 8];
  return [0xfe, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff];
}

/** Serialize maps back into a PSBT (records in the order given). */
export function encodeMaps(maps: RawRecord[][]): string {
  const out: number[] = [0x70, 0x73, 0x62, 0x74, 0xff];
  for (const map of maps) {
    for (const r of map) {
      const key = [...compactBytes(r.type), ...hex.decode(r.keyData)];
      const value = hex.decode(r.value);
      out.push(...compactBytes(key.length), ...key, ...compactBytes(value.length), ...value);
    }
    out.push(0);
  }
  return hex.encode(new Uint8Array(out));
}
