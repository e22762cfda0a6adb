/**
 * BOLT 12 offers (`lno`), invoice requests (`lnr`) and invoices (`lni`): the string
 * encoding (bech32 characters without a checksum, `+` continuations), the TLV fields
 * under the spec's names, and each reader's requirements.
 *
 * Invariants (what a payer may rely on after `decodeBolt12` returned):
 * - every field is one the spec names for this kind, or an unknown odd one inside the
 *   kind's ranges (offers: 1–79 and 1000000000–1999999999; invoice requests: 0–159,
 *   1000000000–2999999999 and the signature range 240–1000); no unknown even field or
 *   feature bit; every point is on the curve; every text is UTF-8.
 * - an invoice request is signed by `invreq_payer_id`, an invoice by `invoice_node_id`
 *   (BIP-340 over the Merkle root of its non-signature fields, merkle.ts); an invoice
 *   for an offer with `offer_issuer_id` is signed by that issuer, for an offer with
 *   only `offer_paths` by the final blinded_node_id of one of them.
 * - the amount rules hold: an offer's amount is non-zero and comes with a description;
 *   an invoice request (and the request fields an invoice copies) states an amount when
 *   its offer does not, at least the offer's (times the quantity) when both are in
 *   msat; an invoice's amount equals the request's when the request gave one, else
 *   offer_amount x quantity when the offer is in msat.
 * - the string was at most BOLT12_MAX_LENGTH characters, ASCII only.
 * Not done here: the clock (expiry is the message layer's), whether a request came
 * through the offer's paths, and currency conversion (an amount in `offer_currency` is
 * reported, never compared with msat).
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { MalformedInputError, RefusedError } from '../errors.ts';
import { checkInvoice, checkInvoiceRequest, checkOfferFields } from './bolt12-readers.ts';
import type { BlindedPath, BlindedPayinfo, Bolt12, Bolt12Fallback, Bolt12Fields, Bolt12Kind } from './bolt12-fields.ts';
import { type TlvRecord, encodeTlvStream, parseTlvStream } from './tlv.ts';
import { bytesToWords, charsToWords, wordsToBytes, wordsToChars } from './words.ts';

export const BOLT12_PREFIX: Record<string, Bolt12Kind> = { lno: 'offer', lnr: 'invoice_request', lni: 'invoice' };

type Kind = 'chains' | 'bytes' | 'utf8' | 'tu64' | 'tu32' | 'point' | 'paths' | 'sha256' | 'bip353' | 'payinfo' | 'fallbacks' | 'sig' | 'features';
/** The spec's TLV tables (offer, invoice_request, invoice), by type. */
export const BOLT12_FIELDS: ReadonlyMap<number, { name: string; kind: Kind }> = new Map([
  [0, { name: 'invreq_metadata', kind: 'bytes' }],
  [2, { name: 'offer_chains', kind: 'chains' }],
  [4, { name: 'offer_metadata', kind: 'bytes' }],
  [6, { name: 'offer_currency', kind: 'utf8' }],
  [8, { name: 'offer_amount', kind: 'tu64' }],
  [10, { name: 'offer_description', kind: 'utf8' }],
  [12, { name: 'offer_features', kind: 'features' }],
  [14, { name: 'offer_absolute_expiry', kind: 'tu64' }],
  [16, { name: 'offer_paths', kind: 'paths' }],
  [18, { name: 'offer_issuer', kind: 'utf8' }],
  [20, { name: 'offer_quantity_max', kind: 'tu64' }],
  [22, { name: 'offer_issuer_id', kind: 'point' }],
  [80, { name: 'invreq_chain', kind: 'sha256' }],
  [82, { name: 'invreq_amount', kind: 'tu64' }],
  [84, { name: 'invreq_features', kind: 'features' }],
  [86, { name: 'invreq_quantity', kind: 'tu64' }],
  [88, { name: 'invreq_payer_id', kind: 'point' }],
  [89, { name: 'invreq_payer_note', kind: 'utf8' }],
  [90, { name: 'invreq_paths', kind: 'paths' }],
  [91, { name: 'invreq_bip_353_name', kind: 'bip353' }],
  [160, { name: 'invoice_paths', kind: 'paths' }],
  [162, { name: 'invoice_blindedpay', kind: 'payinfo' }],
  [164, { name: 'invoice_created_at', kind: 'tu64' }],
  [166, { name: 'invoice_relative_expiry', kind: 'tu32' }],
  [168, { name: 'invoice_payment_hash', kind: 'sha256' }],
  [170, { name: 'invoice_amount', kind: 'tu64' }],
  [172, { name: 'invoice_fallbacks', kind: 'fallbacks' }],
  [174, { name: 'invoice_features', kind: 'features' }],
  [176, { name: 'invoice_node_id', kind: 'point' }],
  [240, { name: 'signature', kind: 'sig' }],
]);

/** Which of those types each kind carries, and the ranges outside which a reader refuses a type. */
const KNOWN: Record<Bolt12Kind, (t: number) => boolean> = {
  offer: (t) => t >= 2 && t <= 22,
  invoice_request: (t) => t <= 22 || (t >= 80 && t <= 91) || t === 240,
  invoice: () => true,
};
const E9 = 1_000_000_000n;
const IN_RANGE: Record<Bolt12Kind, (t: bigint) => boolean> = {
  offer: (t) => (t >= 1n && t <= 79n) || (t >= E9 && t <= 2n * E9 - 1n),
  invoice_request: (t) => t <= 159n || (t >= 240n && t <= 1000n) || (t >= E9 && t <= 3n * E9 - 1n),
  // BOLT 12 sets no range rule for invoices: the odd rule alone applies.
  invoice: () => true,
};

/**
 * The longest BOLT 12 string read (characters, after trimming, `+` and whitespace
 * included), checked before anything is parsed or hashed. Offers, requests and invoices
 * travel in onion messages, whose `onion_message_packet` length is a u16: at most 65535
 * bytes, so no TLV stream that fits one is longer than 65535 bytes = 104856 bech32
 * characters (8/5 per byte) plus its prefix. 110000 leaves room for `+` continuations;
 * a request of 100,000 empty TLVs (0.96 MB) took seconds of Merkle hashing before.
 */
export const BOLT12_MAX_LENGTH = 110_000;

const malformed = (code: string, message: string) => new MalformedInputError(code, message);
const refused = (code: string, message: string) => new RefusedError(code, message);

/**
 * The string encoding: one case throughout; `+` (then optional whitespace) only between
 * two bech32 characters, removed; no checksum. Returns the prefix and the TLV bytes.
 */
export function decodeBolt12String(text: string): { hrp: string; bytes: Uint8Array } {
  const s = text.trim();
  if (s.length > BOLT12_MAX_LENGTH) throw malformed('E_BOLT12_TOO_LONG', `${s.length} characters: a BOLT 12 string is at most ${BOLT12_MAX_LENGTH} (what fits an onion message)`);
  // Only ASCII 33-126 and ASCII whitespace (after a "+"), before any case folding: toUpperCase/toLowerCase map homoglyphs such as KELVIN SIGN to ASCII.
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 33 || c > 126) && c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) {
      throw malformed('E_BOLT12_STRING', `character ${i} (U+${c.toString(16).toUpperCase().padStart(4, '0')}) is outside ASCII: not bech32`);
    }
  }
  if (!/^[^\s+]+(\+\s*[^\s+]+)*$/.test(s)) {
    throw malformed('E_BOLT12_STRING', 'a "+" must join two bech32 characters (optionally followed by whitespace), and nothing else may break the string');
  }
  const joined = s.replace(/\+\s*/g, '');
  const lower = joined.toLowerCase();
  if (joined !== lower && joined !== joined.toUpperCase()) throw malformed('E_BOLT12_STRING', 'mixed upper and lower case (all one or the other)');
  const sep = lower.lastIndexOf('1');
  if (sep < 1) throw malformed('E_BOLT12_STRING', 'no "1" separator after the prefix');
  const hrp = lower.slice(0, sep);
  if (!(hrp in BOLT12_PREFIX)) throw malformed('E_BOLT12_STRING', `unknown prefix "${hrp}" (lno, lnr, lni)`);
  const words = charsToWords(lower.slice(sep + 1), 'E_BOLT12_STRING', 'data');
  return { hrp, bytes: wordsToBytes(words, 'E_BOLT12_STRING', 'bech32 data') };
}

/** The canonical string of a TLV stream: lower case, no `+`. */
export function encodeBolt12String(hrp: string, bytes: Uint8Array): string {
  return `${hrp}1${wordsToChars(bytesToWords(bytes))}`;
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

class Reader {
  at = 0;
  constructor(
    readonly b: Uint8Array,
    readonly what: string,
  ) {}
  take(n: number): Uint8Array {
    if (this.at + n > this.b.length) throw malformed('E_BOLT12_FIELD', `${this.what} is truncated`);
    const out = this.b.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }
  u8(): number {
    return this.take(1)[0]!;
  }
  u16(): number {
    const b = this.take(2);
    return (b[0]! << 8) | b[1]!;
  }
  u32(): number {
    const b = this.take(4);
    return ((b[0]! << 24) >>> 0) + (b[1]! << 16) + (b[2]! << 8) + b[3]!;
  }
  u64(): bigint {
    const b = this.take(8);
    return b.reduce((v, x) => (v << 8n) | BigInt(x), 0n);
  }
  point(name: string): Uint8Array {
    return validPoint(this.take(33), `${this.what}: ${name}`);
  }
  done(): boolean {
    return this.at === this.b.length;
  }
}

function validPoint(bytes: Uint8Array, what: string): Uint8Array {
  try {
    secp256k1.Point.fromBytes(bytes);
  } catch {
    throw malformed('E_BOLT12_FIELD', `${what} is not a point on secp256k1`);
  }
  return bytes;
}

function scidText(b: Uint8Array): string {
  return `${(b[0]! << 16) | (b[1]! << 8) | b[2]!}x${(b[3]! << 16) | (b[4]! << 8) | b[5]!}x${(b[6]! << 8) | b[7]!}`;
}

function blindedPaths(value: Uint8Array, name: string): BlindedPath[] {
  const r = new Reader(value, name);
  const paths: BlindedPath[] = [];
  while (!r.done()) {
    const first = r.u8();
    let firstNodeId: BlindedPath['firstNodeId'];
    if (first === 0 || first === 1) firstNodeId = { direction: first, shortChannelId: scidText(r.take(8)) };
    else if (first === 2 || first === 3) {
      r.at -= 1;
      firstNodeId = { nodeId: r.point('first_node_id') };
    } else throw malformed('E_BOLT12_FIELD', `${name}: first_node_id begins with 0x${first.toString(16).padStart(2, '0')}, neither a direction (0/1) nor a point (02/03)`);
    const pathKey = r.point('path_key');
    const numHops = r.u8();
    const hops: BlindedPath['hops'] = [];
    for (let i = 0; i < numHops; i++) {
      const blindedNodeId = r.point(`blinded_node_id ${i}`);
      hops.push({ blindedNodeId, encryptedRecipientData: r.take(r.u16()) });
    }
    paths.push({ firstNodeId, pathKey, hops });
  }
  return paths;
}

function tu(value: Uint8Array, name: string, maxBytes: number): bigint {
  if (value.length > maxBytes) throw malformed('E_BOLT12_FIELD', `${name} is ${value.length} bytes (a tu${maxBytes * 8} has at most ${maxBytes})`);
  if (value.length > 0 && value[0] === 0) throw malformed('E_BOLT12_FIELD', `${name} is not minimally encoded (a leading 0 byte)`);
  return value.reduce((v, x) => (v << 8n) | BigInt(x), 0n);
}

function decodeValue(kind: Kind, value: Uint8Array, name: string): unknown {
  switch (kind) {
    case 'bytes':
    case 'features':
      return value;
    case 'chains':
      if (value.length % 32 !== 0) throw malformed('E_BOLT12_FIELD', `${name} is ${value.length} bytes, not a whole number of 32-byte chain hashes`);
      return Array.from({ length: value.length / 32 }, (_, i) => value.subarray(32 * i, 32 * i + 32));
    case 'utf8':
      try {
        return utf8Decoder.decode(value);
      } catch {
        throw malformed('E_BOLT12_FIELD', `${name} is not valid UTF-8`);
      }
    case 'tu64':
      return tu(value, name, 8);
    case 'tu32':
      return tu(value, name, 4);
    case 'point':
      if (value.length !== 33) throw malformed('E_BOLT12_FIELD', `${name} is ${value.length} bytes, not a 33-byte point`);
      return validPoint(value, name);
    case 'sha256':
      if (value.length !== 32) throw malformed('E_BOLT12_FIELD', `${name} is ${value.length} bytes, not 32`);
      return value;
    case 'sig':
      if (value.length !== 64) throw malformed('E_BOLT12_FIELD', `${name} is ${value.length} bytes, not a 64-byte BIP-340 signature`);
      return value;
    case 'paths':
      return blindedPaths(value, name);
    case 'bip353': {
      const r = new Reader(value, name);
      const text = (b: Uint8Array, part: string) => {
        if (!/^[0-9A-Za-z._-]*$/.test(String.fromCharCode(...b))) throw refused('E_BOLT12_FIELD_VALUE', `${name}: ${part} has a byte outside 0-9 a-z A-Z - _ .`);
        return String.fromCharCode(...b);
      };
      const n = text(r.take(r.u8()), 'name');
      const d = text(r.take(r.u8()), 'domain');
      if (!r.done()) throw malformed('E_BOLT12_FIELD', `${name} has bytes after the domain`);
      return { name: n, domain: d };
    }
    case 'payinfo': {
      const r = new Reader(value, name);
      const out: BlindedPayinfo[] = [];
      while (!r.done()) {
        out.push({ feeBaseMsat: r.u32(), feeProportionalMillionths: r.u32(), cltvExpiryDelta: r.u16(), htlcMinimumMsat: r.u64(), htlcMaximumMsat: r.u64(), features: r.take(r.u16()) });
      }
      return out;
    }
    case 'fallbacks': {
      const r = new Reader(value, name);
      const out: Bolt12Fallback[] = [];
      while (!r.done()) out.push({ version: r.u8(), address: r.take(r.u16()) });
      return out;
    }
  }
}

/** Decode a BOLT 12 string and apply its kind's reader requirements. */
export function decodeBolt12(text: string): Bolt12 {
  const { hrp, bytes } = decodeBolt12String(text);
  const kind = BOLT12_PREFIX[hrp]!;
  if (bytes.length === 0) throw malformed('E_BOLT12_TLV', `an empty ${kind}`);
  const records = parseTlvStream(bytes);
  const fields: Record<string, unknown> = {};
  const unknown: TlvRecord[] = [];
  for (const r of records) {
    if (!IN_RANGE[kind](r.type)) throw refused('E_BOLT12_FORBIDDEN_FIELD', `TLV type ${r.type} is outside the ranges a${kind === 'offer' ? 'n' : 'n'} ${kind.replace('_', ' ')} may carry`);
    const spec = r.type < 1000n ? BOLT12_FIELDS.get(Number(r.type)) : undefined;
    if (spec && KNOWN[kind](Number(r.type))) fields[spec.name] = decodeValue(spec.kind, r.value, spec.name);
    else if (r.type % 2n === 0n) throw refused('E_BOLT12_UNKNOWN_FIELD', `unknown even TLV type ${r.type} in an ${kind.replace('_', ' ')}: a reader must not use what it does not understand`);
    else unknown.push(r);
  }
  const decoded: Bolt12 = { kind, hrp, bytes, records, fields: fields as Bolt12Fields, unknown };
  checkOfferFields(decoded.fields, kind);
  if (kind === 'invoice_request') checkInvoiceRequest(decoded);
  if (kind === 'invoice') checkInvoice(decoded);
  return decoded;
}

/** The lowercase string with no `+`: what `decodeBolt12` accepted, re-encoded from its TLV records. */
export function encodeBolt12(b: Pick<Bolt12, 'hrp' | 'records'>): string {
  return encodeBolt12String(b.hrp, encodeTlvStream(b.records));
}
