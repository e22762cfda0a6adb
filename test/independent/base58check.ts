/**
 * Base58Check and HASH160 in test code, for expected addresses and asset IDs (Open
 * Assets, Colu, Counterparty): the product encodes with @scure/base's
 * createBase58check and @noble/hashes, so an expected ID made with those would share the
 * very code under test. Here: the Bitcoin base58 alphabet with bigint arithmetic, and
 * node:crypto's SHA-256 and RIPEMD-160 (OpenSSL). Checked against known strings in
 * ./independent.test.ts.
 */
import { createHash } from 'node:crypto';

const ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

export function sha256(b: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(b).digest());
}

/** RIPEMD-160(SHA-256(b)). */
export function hash160(b: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('ripemd160').update(sha256(b)).digest());
}

export function base58Encode(b: Uint8Array): string {
  let n = 0n;
  for (const x of b) n = n * 256n + BigInt(x);
  let s = '';
  while (n > 0n) {
    s = ALPHABET[Number(n % 58n)]! + s;
    n /= 58n;
  }
  for (const x of b) {
    if (x !== 0) break;
    s = '1' + s;
  }
  return s;
}

export function base58Decode(s: string): Uint8Array {
  let n = 0n;
  for (const c of s) {
    const d = ALPHABET.indexOf(c);
    if (d < 0) throw new Error(`not base58: ${JSON.stringify(c)}`);
    n = n * 58n + BigInt(d);
  }
  const bytes: number[] = [];
  while (n > 0n) {
    bytes.unshift(Number(n % 256n));
    n /= 256n;
  }
  for (const c of s) {
    if (c !== '1') break;
    bytes.unshift(0);
  }
  return Uint8Array.from(bytes);
}

/** base58(payload || first 4 bytes of SHA-256(SHA-256(payload))). */
export function base58checkEncode(payload: Uint8Array): string {
  return base58Encode(Uint8Array.from([...payload, ...sha256(sha256(payload)).subarray(0, 4)]));
}

/** The payload of a Base58Check string; throws on a wrong checksum. */
export function base58checkDecode(s: string): Uint8Array {
  const all = base58Decode(s);
  if (all.length < 4) throw new Error('base58check: shorter than its checksum');
  const payload = all.subarray(0, all.length - 4);
  const sum = sha256(sha256(payload)).subarray(0, 4);
  if (!sum.every((x, i) => x === all[all.length - 4 + i])) throw new Error('base58check: bad checksum');
  return payload;
}
