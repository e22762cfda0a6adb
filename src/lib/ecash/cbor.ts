/**
 * The CBOR (RFC 8949) subset a NUT-00 V4 token uses, hand-written rather than a library:
 * unsigned integers, byte strings, text strings, arrays, maps with text keys, and
 * false/true/null — nothing else. Tokens are bearer money read from strangers, so the
 * reader is strict and small enough to read whole: definite lengths only, shortest
 * integer heads only (one encoding per token), no tags, floats or negative integers, no
 * duplicate keys, nesting at most 16 deep, every length checked against what is left.
 * Anything else is E_BAD_TOKEN. Integers above 2^53 − 1 come back as bigint.
 */
import { MalformedInputError } from '../errors.ts';

export type CborValue = number | bigint | string | boolean | null | Uint8Array | CborValue[] | { [key: string]: CborValue };

const bad = (why: string): never => {
  throw new MalformedInputError('E_BAD_TOKEN', `the token's CBOR is malformed: ${why}`);
};

const MAX_DEPTH = 16;

export function decodeCbor(bytes: Uint8Array): CborValue {
  let pos = 0;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const need = (n: number | bigint) => {
    if (BigInt(pos) + BigInt(n) > BigInt(bytes.length)) bad('it ends too early');
  };
  const head = (): { major: number; arg: bigint; info: number } => {
    need(1);
    const b = bytes[pos++]!;
    const major = b >> 5;
    const info = b & 31;
    if (info < 24) return { major, arg: BigInt(info), info };
    if (info > 27) return major === 7 ? { major, arg: 0n, info } : bad(info === 31 ? 'indefinite lengths are not allowed' : `reserved additional info ${info}`);
    const size = 1 << (info - 24);
    need(size);
    let arg: bigint;
    if (size === 1) arg = BigInt(bytes[pos]!);
    else if (size === 2) arg = BigInt(view.getUint16(pos));
    else if (size === 4) arg = BigInt(view.getUint32(pos));
    else arg = view.getBigUint64(pos);
    pos += size;
    const min = size === 1 ? 24n : size === 2 ? 0x100n : size === 4 ? 0x10000n : 0x1_0000_0000n;
    if (major !== 7 && arg < min) bad('an integer is not in its shortest form');
    return { major, arg, info };
  };
  const length = (arg: bigint): number => {
    if (arg > BigInt(bytes.length - pos)) bad('a length runs past the end');
    return Number(arg);
  };
  const text = (n: number): string => {
    need(n);
    try {
      const s = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(pos, pos + n));
      pos += n;
      return s;
    } catch {
      return bad('a text string is not UTF-8');
    }
  };
  const item = (depth: number): CborValue => {
    if (depth > MAX_DEPTH) bad('nested too deeply');
    const { major, arg, info } = head();
    switch (major) {
      case 0:
        return arg <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(arg) : arg;
      case 2: {
        const n = length(arg);
        const out = bytes.slice(pos, pos + n);
        pos += n;
        return out;
      }
      case 3:
        return text(length(arg));
      case 4: {
        const n = length(arg); // each item is at least one byte
        const out: CborValue[] = [];
        for (let i = 0; i < n; i++) out.push(item(depth + 1));
        return out;
      }
      case 5: {
        const n = length(arg);
        const out: { [key: string]: CborValue } = Object.create(null);
        for (let i = 0; i < n; i++) {
          const k = head();
          if (k.major !== 3) bad('a map key is not a text string');
          const key = text(length(k.arg));
          if (Object.hasOwn(out, key)) bad(`duplicate map key ${JSON.stringify(key)}`);
          out[key] = item(depth + 1);
        }
        return out;
      }
      case 7:
        if (info === 20) return false;
        if (info === 21) return true;
        if (info === 22) return null;
        return bad('floats and simple values other than false/true/null are not allowed');
      default:
        return bad(major === 1 ? 'negative integers are not allowed' : 'tags are not allowed');
    }
  };
  const value = item(0);
  if (pos !== bytes.length) bad(`${bytes.length - pos} trailing bytes`);
  return value;
}

function encodeHead(major: number, n: bigint, out: number[]): void {
  const m = major << 5;
  if (n < 24n) out.push(m | Number(n));
  else if (n < 0x100n) out.push(m | 24, Number(n));
  else if (n < 0x10000n) out.push(m | 25, Number(n >> 8n), Number(n & 0xffn));
  else if (n < 0x1_0000_0000n) out.push(m | 26, ...[24n, 16n, 8n, 0n].map((s) => Number((n >> s) & 0xffn)));
  else out.push(m | 27, ...[56n, 48n, 40n, 32n, 24n, 16n, 8n, 0n].map((s) => Number((n >> s) & 0xffn)));
}

/** Encode (keys in insertion order, shortest heads); `undefined` map values are left out. */
export function encodeCbor(value: CborValue | undefined): Uint8Array {
  const out: number[] = [];
  const enc = (v: CborValue): void => {
    if (typeof v === 'number' || typeof v === 'bigint') {
      if (typeof v === 'number' && !Number.isSafeInteger(v)) throw new Error(`cannot encode ${v}`);
      if (v < 0) throw new Error('negative integers are outside the subset');
      encodeHead(0, BigInt(v), out);
    } else if (typeof v === 'string') {
      const b = new TextEncoder().encode(v);
      encodeHead(3, BigInt(b.length), out);
      for (const x of b) out.push(x);
    } else if (v instanceof Uint8Array) {
      encodeHead(2, BigInt(v.length), out);
      for (const x of v) out.push(x);
    } else if (v === null) out.push(0xf6);
    else if (v === true) out.push(0xf5);
    else if (v === false) out.push(0xf4);
    else if (Array.isArray(v)) {
      encodeHead(4, BigInt(v.length), out);
      v.forEach(enc);
    } else {
      const entries = Object.entries(v).filter(([, x]) => x !== undefined);
      encodeHead(5, BigInt(entries.length), out);
      for (const [k, x] of entries) {
        enc(k);
        enc(x);
      }
    }
  };
  if (value === undefined) throw new Error('nothing to encode');
  enc(value);
  return Uint8Array.from(out);
}
