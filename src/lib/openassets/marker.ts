/**
 * Open Assets marker output: the payload (tag 0x4f41, version 0x0100, a var-int count of
 * LEB128 asset quantities, a var-int length of metadata) and how a marker is found in
 * an output script. Pure functions; a payload or script that is not a marker is an
 * answer (`{ ok: false, reason }`), never an exception.
 *
 * Rules (docs/openassets.md):
 * - `spec` (default, the 2015 specification): the first push after OP_RETURN whose data
 *   parses as a payload; a LEB128 quantity is at most 9 bytes and at most 2^63-1.
 * - `reference` (the original Python reference): OP_RETURN followed by exactly one push;
 *   a LEB128 quantity of any length is accepted when its value is at most 2^63-1.
 */

export type MarkerRule = 'spec' | 'reference';
export const MARKER_RULES: readonly MarkerRule[] = ['spec', 'reference'];

export const OA_TAG = 0x4f41;
export const OA_VERSION = 0x0100;
export const MAX_QUANTITY = (1n << 63n) - 1n;
/** The specification's limit: a quantity's LEB128 encoding is at most 9 bytes. */
export const MAX_LEB128_BYTES = 9;

export interface MarkerPayload {
  quantities: bigint[];
  metadata: Uint8Array;
}

export type PayloadResult = ({ ok: true } & MarkerPayload) | { ok: false; reason: string };

/** Unsigned LEB128 at `pos`; `undefined` when truncated. Encoding without limits. */
export function readLeb128(bytes: Uint8Array, pos: number): { value: bigint; next: number } | undefined {
  let value = 0n;
  let shift = 0n;
  let small = 0;
  let i = pos;
  // Fast path: the first 7 bytes fit a double exactly (49 bits).
  for (; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (i - pos < 7) {
      small += (b & 0x7f) * 2 ** (7 * (i - pos));
      if ((b & 0x80) === 0) return { value: BigInt(small), next: i + 1 };
      continue;
    }
    if (i - pos === 7) {
      value = BigInt(small);
      shift = 49n;
    }
    value |= BigInt(b & 0x7f) << shift;
    shift += 7n;
    if ((b & 0x80) === 0) return { value, next: i + 1 };
  }
  return undefined;
}

/** Encode an unsigned LEB128 (minimal form). */
export function encodeLeb128(value: bigint): Uint8Array {
  if (value < 0n) throw new RangeError('LEB128 of a negative number');
  const out: number[] = [];
  do {
    let b = Number(value & 0x7fn);
    value >>= 7n;
    if (value !== 0n) b |= 0x80;
    out.push(b);
  } while (value !== 0n);
  return Uint8Array.from(out);
}

/** Bitcoin var-int (little-endian, non-canonical forms accepted as the reference does). */
export function readVarInt(bytes: Uint8Array, pos: number): { value: number; next: number } | undefined {
  if (pos >= bytes.length) return undefined;
  const first = bytes[pos]!;
  if (first < 0xfd) return { value: first, next: pos + 1 };
  const size = first === 0xfd ? 2 : first === 0xfe ? 4 : 8;
  if (pos + 1 + size > bytes.length) return undefined;
  let value = 0;
  for (let k = size - 1; k >= 0; k--) value = value * 256 + bytes[pos + 1 + k]!;
  return { value, next: pos + 1 + size };
}

/** Decode a marker payload (the pushed bytes). */
export function parsePayload(p: Uint8Array, rule: MarkerRule = 'spec'): PayloadResult {
  if (p.length < 4) return { ok: false, reason: 'payload shorter than the tag and version' };
  if (p[0] !== 0x4f || p[1] !== 0x41) return { ok: false, reason: 'no OAP tag 0x4f41' };
  if (p[2] !== 0x01 || p[3] !== 0x00) return { ok: false, reason: `unknown OAP version 0x${hex2(p[2]!)}${hex2(p[3]!)}` };
  const count = readVarInt(p, 4);
  if (!count) return { ok: false, reason: 'asset quantity count truncated' };
  if (count.value > p.length - count.next) return { ok: false, reason: `asset quantity count ${count.value} exceeds the payload` };
  const quantities: bigint[] = new Array(count.value);
  let pos = count.next;
  for (let k = 0; k < count.value; k++) {
    const q = readLeb128(p, pos);
    if (!q) return { ok: false, reason: `asset quantity ${k} truncated` };
    if (rule === 'spec' && q.next - pos > MAX_LEB128_BYTES) return { ok: false, reason: `asset quantity ${k} is ${q.next - pos} bytes of LEB128 (at most ${MAX_LEB128_BYTES})` };
    if (q.value > MAX_QUANTITY) return { ok: false, reason: `asset quantity ${k} exceeds 2^63-1` };
    quantities[k] = q.value;
    pos = q.next;
  }
  const len = readVarInt(p, pos);
  if (!len) return { ok: false, reason: 'metadata length missing' };
  if (len.next + len.value > p.length) return { ok: false, reason: `metadata length ${len.value} exceeds the payload` };
  if (len.next + len.value < p.length) return { ok: false, reason: `${p.length - len.next - len.value} bytes after the metadata` };
  return { ok: true, quantities, metadata: p.subarray(len.next, len.next + len.value) };
}

export type MarkerResult = ({ ok: true; payload: Uint8Array } & MarkerPayload) | { ok: false; reason: string };

/** One script operation: a push (with data) or another opcode; `undefined` data = truncated. */
function readOp(s: Uint8Array, pos: number): { op: number; data?: Uint8Array; next: number } | 'truncated' {
  const op = s[pos]!;
  let len: number;
  let start = pos + 1;
  if (op > 0x4e) return { op, next: pos + 1 };
  if (op < 0x4c) len = op;
  else {
    const size = op === 0x4c ? 1 : op === 0x4d ? 2 : 4;
    if (start + size > s.length) return 'truncated';
    len = 0;
    for (let k = size - 1; k >= 0; k--) len = len * 256 + s[start + k]!;
    start += size;
  }
  if (start + len > s.length) return 'truncated';
  return { op, data: s.subarray(start, start + len), next: start + len };
}

/** Is this output script a marker output under `rule`? */
export function parseMarkerScript(script: Uint8Array, rule: MarkerRule = 'spec'): MarkerResult {
  if (script.length === 0 || script[0] !== 0x6a) return { ok: false, reason: 'not an OP_RETURN output' };
  if (rule === 'reference') {
    if (script.length === 1) return { ok: false, reason: 'OP_RETURN without a push' };
    const op = readOp(script, 1);
    if (op === 'truncated') return { ok: false, reason: 'truncated push after OP_RETURN' };
    if (op.data === undefined) return { ok: false, reason: 'OP_RETURN not followed by a push' };
    if (op.next !== script.length) return { ok: false, reason: 'more than one operation after OP_RETURN (reference rule: exactly one push)' };
    const r = parsePayload(op.data, rule);
    return r.ok ? { ...r, payload: op.data } : r;
  }
  let pos = 1;
  let firstReason: string | undefined;
  while (pos < script.length) {
    const op = readOp(script, pos);
    if (op === 'truncated') return { ok: false, reason: firstReason ?? 'script parse error (truncated push) before a marker payload' };
    if (op.data !== undefined) {
      const r = parsePayload(op.data, rule);
      if (r.ok) return { ...r, payload: op.data };
      firstReason ??= r.reason;
    }
    pos = op.next;
  }
  return { ok: false, reason: firstReason ?? 'OP_RETURN without a push' };
}

/** Cheap pre-check: could this script be a marker at all (OP_RETURN holding "OA")? */
export function looksLikeMarker(script: Uint8Array): boolean {
  if (script.length < 6 || script[0] !== 0x6a) return false;
  for (let i = 1; i + 1 < script.length; i++) if (script[i] === 0x4f && script[i + 1] === 0x41) return true;
  return false;
}

/** One strict decoder for every call (constructing one per call showed in the stream's profile). */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** The asset definition pointer of a `u=<url>` metadata, if the metadata is one. */
export function assetDefinitionUrl(metadata: Uint8Array): string | undefined {
  if (metadata.length < 3 || metadata[0] !== 0x75 || metadata[1] !== 0x3d) return undefined;
  try {
    return UTF8.decode(metadata.subarray(2));
  } catch {
    return undefined;
  }
}

/** Metadata as UTF-8 text, when it is valid UTF-8. */
export function metadataText(metadata: Uint8Array): string | undefined {
  try {
    return UTF8.decode(metadata);
  } catch {
    return undefined;
  }
}

function hex2(b: number): string {
  return b.toString(16).padStart(2, '0');
}
