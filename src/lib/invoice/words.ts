/**
 * 5-bit words (bech32's alphabet) and the fixed-width fields BOLT 11 and BOLT 12 build
 * from them. BOLT 11 signs its data part "with 0 bits appended to pad to a byte
 * boundary", and pads each field's data with 0 bits to a multiple of 5: both paddings
 * are written here once. Pure, no I/O.
 */
import { MalformedInputError } from '../errors.ts';

/**
 * Words → bytes, dropping the final partial byte, whose bits must be zero and fewer than
 * five (BOLT 11: "pad field data to a multiple of 5 bits, using 0s"): so one byte string
 * has one encoding, and a decoded field re-encodes to the words it came from.
 */
export function wordsToBytes(words: ArrayLike<number>, code: string, what: string): Uint8Array {
  const out = new Uint8Array(Math.floor((words.length * 5) / 8));
  if ((words.length * 5) % 8 >= 5) throw new MalformedInputError(code, `${what}: ${(words.length * 5) % 8} bits of padding (at most 4)`);
  let acc = 0;
  let bits = 0;
  let j = 0;
  for (let i = 0; i < words.length; i++) {
    acc = ((acc << 5) | words[i]!) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      if (j < out.length) out[j++] = (acc >> bits) & 0xff;
    }
  }
  if (bits > 0 && (acc & ((1 << bits) - 1)) !== 0) throw new MalformedInputError(code, `${what}: non-zero padding bits`);
  return out;
}

/** Words → bytes with 0 bits appended to the last byte (the data BOLT 11 signs). */
export function wordsToBytesPadded(words: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(Math.ceil((words.length * 5) / 8));
  let acc = 0;
  let bits = 0;
  let j = 0;
  for (let i = 0; i < words.length; i++) {
    acc = ((acc << 5) | words[i]!) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[j++] = (acc >> bits) & 0xff;
    }
  }
  if (bits > 0) out[j] = (acc << (8 - bits)) & 0xff;
  return out;
}

/** Bytes → words, the last word padded with 0 bits. */
export function bytesToWords(bytes: Uint8Array): number[] {
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = ((acc << 8) | b) & 0xfff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push((acc >> bits) & 31);
    }
  }
  if (bits > 0) out.push((acc << (5 - bits)) & 31);
  return out;
}

/** A big-endian integer of 5-bit words (BOLT 11's timestamp, x, c), at most 2^53 - 1. */
export function wordsToInt(words: ArrayLike<number>, code: string, what: string): number {
  let v = 0;
  for (let i = 0; i < words.length; i++) {
    v = v * 32 + words[i]!;
    if (v > Number.MAX_SAFE_INTEGER) throw new MalformedInputError(code, `${what} is too large`);
  }
  return v;
}

/** The shortest words for `v` (none for 0), or exactly `width` words. */
export function intToWords(v: number, width?: number): number[] {
  const out: number[] = [];
  for (let x = v; x > 0; x = Math.floor(x / 32)) out.unshift(x % 32);
  if (width !== undefined) while (out.length < width) out.unshift(0);
  return out;
}

export const BECH32_ALPHABET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const WORD_OF: Record<string, number> = Object.fromEntries([...BECH32_ALPHABET].map((c, i) => [c, i]));

/** Lower-case bech32 characters → words; anything else is `code`. */
export function charsToWords(data: string, code: string, what: string): number[] {
  const out = new Array<number>(data.length);
  for (let i = 0; i < data.length; i++) {
    const w = WORD_OF[data[i]!];
    if (w === undefined) throw new MalformedInputError(code, `${what}: "${data[i]}" at ${i} is not a bech32 character`);
    out[i] = w;
  }
  return out;
}

export function wordsToChars(words: readonly number[]): string {
  let s = '';
  for (const w of words) s += BECH32_ALPHABET[w];
  return s;
}

const GENERATOR = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];

/** BIP-173's checksum polymod over the expanded prefix and `words`. */
function polymod(prefix: string, words: readonly number[]): number {
  let chk = 1;
  const step = (v: number) => {
    const top = chk >> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((top >> i) & 1) chk ^= GENERATOR[i]!;
  };
  for (let i = 0; i < prefix.length; i++) step(prefix.charCodeAt(i) >> 5);
  step(0);
  for (let i = 0; i < prefix.length; i++) step(prefix.charCodeAt(i) & 31);
  for (const w of words) step(w);
  return chk;
}

/** Whether `words` (checksum included) carry a valid bech32 (constant 1) checksum for `prefix`. */
export function bech32ChecksumValid(prefix: string, words: readonly number[]): boolean {
  return polymod(prefix, words) === 1;
}

/** The six checksum words bech32 appends to `words` under `prefix`. */
export function bech32Checksum(prefix: string, words: readonly number[]): number[] {
  const mod = polymod(prefix, [...words, 0, 0, 0, 0, 0, 0]) ^ 1;
  return [0, 1, 2, 3, 4, 5].map((i) => (mod >> (5 * (5 - i))) & 31);
}
