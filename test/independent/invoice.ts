/**
 * The independent reading of invoice signatures (test code only: node:crypto hashes and
 * the bigint curve of ./secp256k1.ts; nothing from src/, @noble or @scure):
 * - BOLT 11: the bech32 checksum, the signed data (hrp bytes || data words padded to a
 *   byte), ECDSA public-key recovery as SEC 1 §4.1.6 writes it, and — when the invoice
 *   carries `n` — an ECDSA verification against it.
 * - BOLT 12: the string without checksum, the TLV stream, the Merkle root of BOLT 12's
 *   "Signature Calculation" and BIP-340 verification (./secp256k1.ts `bip340Verify`) by
 *   `invreq_payer_id` (type 88) for a request, `invoice_node_id` (176) for an invoice.
 */
import { createHash } from 'node:crypto';
import { G, N, P, bip340Verify, decodeCompressed, encodeCompressed, int, pointAdd, pointMul, pointNegate, type Point } from './secp256k1.ts';

const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const sha = (...parts: Uint8Array[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};
const modPow = (b: bigint, e: bigint, m: bigint): bigint => {
  let r = 1n;
  b %= m;
  for (; e > 0n; e >>= 1n, b = (b * b) % m) if (e & 1n) r = (r * b) % m;
  return r;
};
const modN = (a: bigint) => ((a % N) + N) % N;

function toWords(data: string): number[] {
  return [...data].map((c) => {
    const i = CHARSET.indexOf(c);
    if (i < 0) throw new Error(`not bech32: ${c}`);
    return i;
  });
}

function polymod(values: number[]): number {
  const GEN = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
  let chk = 1;
  for (const v of values) {
    const b = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((b >>> i) & 1) chk ^= GEN[i]!;
  }
  return chk;
}

/** 5-bit words → bytes, the last partial byte padded with zero bits (kept when `pad`). */
function regroup(words: number[], pad: boolean): Uint8Array {
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const w of words) {
    acc = (acc << 5) | w;
    bits += 5;
    while (bits >= 8) {
      bits -= 8;
      out.push((acc >>> bits) & 0xff);
    }
    acc &= (1 << bits) - 1;
  }
  if (pad && bits > 0) out.push((acc << (8 - bits)) & 0xff);
  return Uint8Array.from(out);
}

/** ECDSA public-key recovery (SEC 1 §4.1.6) of a 32-byte digest, or null. */
export function ecdsaRecover(digest: Uint8Array, r: bigint, s: bigint, recid: number): Point {
  if (r <= 0n || r >= N || s <= 0n || s >= N || recid > 3) return null;
  const x = recid >= 2 ? r + N : r;
  if (x >= P) return null;
  const R = decodeCompressed(Uint8Array.from([recid & 1 ? 3 : 2, ...Buffer.from(x.toString(16).padStart(64, '0'), 'hex')]));
  if (R === null) return null;
  const rInv = modPow(r, N - 2n, N);
  const e = int(digest);
  return pointMul(pointAdd(pointMul(R, s), pointNegate(pointMul(G, e))), rInv);
}

/** ECDSA verification (SEC 1 §4.1.4) of a 32-byte digest against a compressed key. */
export function ecdsaVerify(digest: Uint8Array, r: bigint, s: bigint, pubkey: Uint8Array): boolean {
  const Q = decodeCompressed(pubkey);
  if (Q === null || r <= 0n || r >= N || s <= 0n || s >= N) return false;
  const w = modPow(s, N - 2n, N);
  const X = pointAdd(pointMul(G, modN(int(digest) * w)), pointMul(Q, modN(r * w)));
  return X !== null && modN(X.x) === r;
}

/**
 * A BOLT 11 invoice's payee as the signature proves it: recovered, or — with an `n`
 * field — `n` after an ECDSA check (low-S, as BOLT 11 requires then). Throws when the
 * checksum or the signature fails.
 */
export function bolt11Payee(invoice: string): string {
  const text = invoice.toLowerCase();
  const sep = text.lastIndexOf('1');
  const hrp = text.slice(0, sep);
  const words = toWords(text.slice(sep + 1));
  const expanded = [...[...hrp].map((c) => c.charCodeAt(0) >> 5), 0, ...[...hrp].map((c) => c.charCodeAt(0) & 31)];
  if (polymod([...expanded, ...words]) !== 1) throw new Error('bech32 checksum fails');
  const data = words.slice(0, -6);
  const body = data.slice(0, -104);
  const sig = regroup(data.slice(-104), false);
  const digest = sha(new TextEncoder().encode(hrp), regroup(body, true));
  const r = int(sig.subarray(0, 32));
  const s = int(sig.subarray(32, 64));
  let n: Uint8Array | undefined;
  for (let at = 7; at < body.length; ) {
    const len = body[at + 1]! * 32 + body[at + 2]!;
    if (body[at] === 19 && len === 53 && n === undefined) n = regroup(body.slice(at + 3, at + 3 + len), false);
    at += 3 + len;
  }
  if (n) {
    if (s > N / 2n || !ecdsaVerify(digest, r, s, n)) throw new Error('the signature does not verify against n');
    return Buffer.from(n).toString('hex');
  }
  const Q = ecdsaRecover(digest, r, s, sig[64]!);
  if (Q === null) throw new Error('no key recovers from the signature');
  return Buffer.from(encodeCompressed(Q)).toString('hex');
}

function bigSize(b: Uint8Array, at: number): [bigint, number] {
  const f = b[at]!;
  if (f < 0xfd) return [BigInt(f), 1];
  const n = f === 0xfd ? 2 : f === 0xfe ? 4 : 8;
  return [int(b.subarray(at + 1, at + 1 + n)), 1 + n];
}

const tagged = (tag: Uint8Array, msg: Uint8Array) => {
  const t = sha(tag);
  return sha(t, t, msg);
};
const enc = (s: string) => new TextEncoder().encode(s);
const less = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b) <= 0;

/** The BOLT 12 Merkle root of a TLV stream (signature elements 240..1000 left out). */
export function bolt12MerkleRoot(tlv: Uint8Array): Uint8Array {
  const records: { type: bigint; typeBytes: Uint8Array; raw: Uint8Array }[] = [];
  for (let at = 0; at < tlv.length; ) {
    const [type, tn] = bigSize(tlv, at);
    const [len, ln] = bigSize(tlv, at + tn);
    const end = at + tn + ln + Number(len);
    records.push({ type, typeBytes: tlv.subarray(at, at + tn), raw: tlv.subarray(at, end) });
    at = end;
  }
  const signed = records.filter((r) => r.type < 240n || r.type > 1000n);
  const branch = (a: Uint8Array, b: Uint8Array) => tagged(enc('LnBranch'), less(a, b) ? Buffer.concat([a, b]) : Buffer.concat([b, a]));
  let level: Uint8Array[] = signed.map((r) => branch(tagged(enc('LnLeaf'), r.raw), tagged(Buffer.concat([enc('LnNonce'), signed[0]!.raw]), r.typeBytes)));
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) next.push(i + 1 < level.length ? branch(level[i]!, level[i + 1]!) : level[i]!);
    level = next;
  }
  return level[0]!;
}

/** Whether a BOLT 12 invoice request / invoice carries its signer's valid BIP-340 signature. */
export function bolt12SignatureValid(text: string): boolean {
  const joined = text.replace(/\+\s*/g, '').toLowerCase();
  const sep = joined.lastIndexOf('1');
  const hrp = joined.slice(0, sep);
  const tlv = regroup(toWords(joined.slice(sep + 1)), false);
  const field = (type: bigint): Uint8Array | undefined => {
    for (let at = 0; at < tlv.length; ) {
      const [t, tn] = bigSize(tlv, at);
      const [len, ln] = bigSize(tlv, at + tn);
      if (t === type) return tlv.subarray(at + tn + ln, at + tn + ln + Number(len));
      at += tn + ln + Number(len);
    }
    return undefined;
  };
  const message = hrp === 'lnr' ? 'invoice_request' : hrp === 'lni' ? 'invoice' : undefined;
  if (!message) throw new Error(`${hrp} carries no signature`);
  const key = field(hrp === 'lnr' ? 88n : 176n);
  const sig = field(240n);
  if (!key || !sig) return false;
  const msg = tagged(enc(`lightning${message}signature`), bolt12MerkleRoot(tlv));
  return bip340Verify(sig, msg, key.subarray(1));
}
