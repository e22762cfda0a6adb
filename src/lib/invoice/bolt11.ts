/**
 * BOLT 11 payment requests: decode (human-readable part, timestamp, tagged fields,
 * recoverable signature) and re-encode.
 *
 * Invariants (what a payer may rely on after `decodeBolt11` returned):
 * - the signature is valid for the payee: with an `n` field it verifies against `n` and
 *   is low-S; without one the payee is the key recovered from it (high-S accepted, as
 *   BOLT 11 requires). A flipped bit anywhere in the signed data changes the payee or
 *   fails, and anyone can sign an invoice of their own — so a caller must compare
 *   `payee` with the node it means to pay (`--invoice` commands do, with `--payee`).
 * - exactly one payment hash, one payment secret, and exactly one of description /
 *   description hash are present (a repeat of a single-valued field is listed as
 *   ignored, the first is used); no unknown even feature bit; dependencies of the
 *   known features are set; `x`, `c` and `9` are minimally encoded.
 * - the text was at most BOLT11_MAX_LENGTH characters, all ASCII 33-126.
 * - the amount, when present, is a whole number of millisatoshis within 21 million BTC.
 * Deliberately not done here: the clock (`expired` is the message layer's, at a given
 * time) and the network choice between testnet and testnet4 (both are `lntb`).
 *
 * Pure and dependency-light (noble secp256k1 + hashes): a small device runs it. The payee's
 * recovery runs on the selected secp256k1 backend (../musig/engine/select.ts: noble unless a
 * faster one was chosen; the same key on every backend).
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { MalformedInputError, RefusedError } from '../errors.ts';
import { recoverEcdsa } from '../musig/engine/backend.ts';
import { activeSecp256k1 } from '../musig/engine/select.ts';
import type { Network } from '../network.ts';
import { BOLT11_DEPENDENCIES, BOLT11_KNOWN_FEATURES, checkFeatures, featureBits } from './features.ts';
import {
  bech32Checksum,
  bech32ChecksumValid,
  bytesToWords,
  charsToWords,
  intToWords,
  wordsToBytes,
  wordsToBytesPadded,
  wordsToChars,
  wordsToInt,
} from './words.ts';

/** BIP-173 currency prefixes BOLT 11 names, longest first (so `bcrt` wins over `bc`). */
export const BOLT11_CURRENCIES = ['bcrt', 'tbs', 'bc', 'tb'] as const;
export type Bolt11Currency = (typeof BOLT11_CURRENCIES)[number];
export const CURRENCY_NETWORKS: Record<Bolt11Currency, readonly Network[]> = {
  bc: ['mainnet'],
  tb: ['testnet', 'testnet4'],
  tbs: ['signet'],
  bcrt: ['regtest'],
};

export type RouteHintHop = {
  pubkey: Uint8Array;
  shortChannelId: string;
  feeBaseMsat: number;
  feeProportionalMillionths: number;
  cltvExpiryDelta: number;
};

/** One tagged field as it stood in the invoice, decoded; `ignored` = a fixed-length field of the wrong length, which a reader skips. */
export type Bolt11Field =
  | { tag: 1 | 16 | 19 | 23 | 27; name: 'payment_hash' | 'payment_secret' | 'payee' | 'description_hash' | 'payment_metadata'; bytes: Uint8Array }
  | { tag: 13; name: 'description'; text: string }
  | { tag: 6 | 24; name: 'expiry' | 'min_final_cltv_expiry_delta'; value: number }
  | { tag: 9; name: 'fallback'; version: number; program: Uint8Array }
  | { tag: 3; name: 'route_hint'; hops: RouteHintHop[] }
  | { tag: 5; name: 'features'; words: number[] }
  | { tag: number; name: 'unknown' | 'ignored'; words: number[] };

/** The field variant that carries `name` (distributes over the union). */
type FieldNamed<N> = Bolt11Field extends infer F ? (F extends { name: infer M } ? (N extends M ? F : never) : never) : never;

export type Bolt11Invoice = {
  /** The human-readable part, lower case: `ln` + currency + amount. */
  hrp: string;
  currency: Bolt11Currency;
  amountMsat: bigint | undefined;
  timestamp: number;
  fields: Bolt11Field[];
  paymentHash: Uint8Array;
  paymentSecret: Uint8Array;
  description: string | undefined;
  descriptionHash: Uint8Array | undefined;
  /** Seconds after `timestamp`; 3600 when there is no `x`. */
  expiry: number;
  /** 18 when there is no `c`. */
  minFinalCltvExpiryDelta: number;
  payee: Uint8Array;
  /** `n`: the payee was given and the signature checked against it; `recovered`: recovered from the signature. */
  payeeFrom: 'n' | 'recovered';
  features: number[];
  fallbacks: { version: number; program: Uint8Array }[];
  routeHints: RouteHintHop[][];
  paymentMetadata: Uint8Array | undefined;
  /** r || s, 64 bytes, and the recovery id. */
  signature: Uint8Array;
  recoveryId: number;
  /** SHA-256 of the signed data (hrp bytes || data words padded to a byte). */
  signedHash: Uint8Array;
};

const MSAT_PER_BTC = 100_000_000_000n;
/** 21 million BTC in millisatoshis: no amount above it is payable. */
export const MAX_MSAT = 21_000_000n * MSAT_PER_BTC;
const MULTIPLIER_MSAT: Record<string, bigint> = { '': MSAT_PER_BTC, m: 100_000_000n, u: 100_000n, n: 100n };
const SIGNATURE_WORDS = 104;
const TIMESTAMP_WORDS = 7;

/**
 * The longest invoice text read (characters, after trimming): 7089 is the most a QR code
 * holds (version 40, alphanumeric mode), the medium invoices travel in, and the cap
 * rust-lightning's reader applies. Checked before anything is parsed: a 30 MB signed
 * invoice otherwise costs ~30 s and gigabytes to decode.
 */
export const BOLT11_MAX_LENGTH = 7089;

const malformed = (code: string, message: string) => new MalformedInputError(code, message);

/** Refuse any character outside ASCII 33-126 before case folding: toLowerCase maps KELVIN SIGN (U+212A) to "k". */
export function checkPrintableAscii(text: string, code: string): void {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 33 || c > 126) throw malformed(code, `character ${i} (U+${c.toString(16).toUpperCase().padStart(4, '0')}) is outside ASCII 33-126: not bech32`);
  }
}

/** Split and checksum-check a bech32 string without BIP-173's 90-character limit. */
function bech32Decode(text: string): { prefix: string; words: number[] } {
  checkPrintableAscii(text, 'E_INVOICE_BECH32');
  const lower = text.toLowerCase();
  if (text !== lower && text !== text.toUpperCase()) throw malformed('E_INVOICE_BECH32', 'mixed upper and lower case (bech32 allows one or the other)');
  const sep = lower.lastIndexOf('1');
  if (sep < 1) throw malformed('E_INVOICE_BECH32', 'no "1" separator between the human-readable part and the data');
  const prefix = lower.slice(0, sep);
  const data = charsToWords(lower.slice(sep + 1), 'E_INVOICE_BECH32', 'data part');
  if (data.length < 6) throw malformed('E_INVOICE_BECH32', 'the data part is shorter than a checksum');
  if (!bech32ChecksumValid(prefix, data)) throw malformed('E_INVOICE_CHECKSUM', 'bech32 checksum does not match: the invoice was mistyped or altered');
  return { prefix, words: data.slice(0, -6) };
}

/** `ln` + currency + optional amount and multiplier → currency and msat. */
export function parseHrp(hrp: string): { currency: Bolt11Currency; amountMsat: bigint | undefined } {
  if (!hrp.startsWith('ln')) throw malformed('E_INVOICE_PREFIX', `"${hrp}" is not a Lightning invoice prefix (ln…)`);
  const rest = hrp.slice(2);
  const currency = BOLT11_CURRENCIES.find((c) => rest.startsWith(c) && !/^[a-z]/.test(rest.slice(c.length)));
  if (!currency) throw malformed('E_INVOICE_PREFIX', `unknown currency in "${hrp}" (lnbc, lntb, lntbs, lnbcrt)`);
  const amount = rest.slice(currency.length);
  if (amount === '') return { currency, amountMsat: undefined };
  const m = /^([1-9][0-9]*)([munp]?)$/.exec(amount);
  if (!m) throw malformed('E_INVOICE_AMOUNT', `amount "${amount}" is not a positive decimal with no leading 0 and an optional multiplier m, u, n or p`);
  if (m[1]!.length > 30) throw new RefusedError('E_INVOICE_AMOUNT_RANGE', `amount "${amount}" is above 21 million BTC`);
  const digits = BigInt(m[1]!);
  let msat: bigint;
  if (m[2] === 'p') {
    if (digits % 10n !== 0n) throw new RefusedError('E_INVOICE_AMOUNT_RANGE', `amount "${amount}" is not a whole number of millisatoshis (a pico-BTC amount must end in 0)`);
    msat = digits / 10n;
  } else {
    msat = digits * MULTIPLIER_MSAT[m[2]!]!;
  }
  if (msat > MAX_MSAT) throw new RefusedError('E_INVOICE_AMOUNT_RANGE', `amount "${amount}" is above 21 million BTC`);
  return { currency, amountMsat: msat };
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

function scid(bytes: Uint8Array, at: number): string {
  const block = (bytes[at]! << 16) | (bytes[at + 1]! << 8) | bytes[at + 2]!;
  const tx = (bytes[at + 3]! << 16) | (bytes[at + 4]! << 8) | bytes[at + 5]!;
  const out = (bytes[at + 6]! << 8) | bytes[at + 7]!;
  return `${block}x${tx}x${out}`;
}

function scidBytes(text: string): Uint8Array {
  const [block, tx, out] = text.split('x').map(Number) as [number, number, number];
  return Uint8Array.of(block >> 16, (block >> 8) & 0xff, block & 0xff, tx >> 16, (tx >> 8) & 0xff, tx & 0xff, out >> 8, out & 0xff);
}

const FIXED: Record<number, { name: 'payment_hash' | 'payment_secret' | 'payee' | 'description_hash'; words: number }> = {
  1: { name: 'payment_hash', words: 52 },
  16: { name: 'payment_secret', words: 52 },
  19: { name: 'payee', words: 53 },
  23: { name: 'description_hash', words: 52 },
};

/** Fields of which BOLT 11 uses one: the first. (`f` and `r` may repeat: every one counts.) */
const SINGLE: ReadonlySet<Bolt11Field['name']> = new Set(['payment_hash', 'payment_secret', 'payee', 'description_hash', 'description', 'payment_metadata', 'expiry', 'min_final_cltv_expiry_delta', 'features']);

function decodeField(tag: number, data: number[]): Bolt11Field {
  const fixed = FIXED[tag];
  if (fixed) {
    // BOLT 11's examples: a p, h, s or n field of another length is skipped, not fatal.
    if (data.length !== fixed.words) return { tag, name: 'ignored', words: data };
    return { tag: tag as 1, name: fixed.name, bytes: wordsToBytes(data, 'E_INVOICE_FIELD', fixed.name) };
  }
  switch (tag) {
    case 13: {
      const bytes = wordsToBytes(data, 'E_INVOICE_FIELD', 'description (d)');
      try {
        return { tag, name: 'description', text: utf8Decoder.decode(bytes) };
      } catch {
        throw malformed('E_INVOICE_FIELD', 'description (d) is not valid UTF-8');
      }
    }
    case 27:
      return { tag, name: 'payment_metadata', bytes: wordsToBytes(data, 'E_INVOICE_FIELD', 'payment metadata (m)') };
    case 6:
    case 24: {
      const name = tag === 6 ? 'expiry' : 'min_final_cltv_expiry_delta';
      if (data[0] === 0) throw new RefusedError('E_INVOICE_NON_MINIMAL', `${name} (${tag === 6 ? 'x' : 'c'}) begins with a 0 word: not minimally encoded`);
      return { tag, name, value: wordsToInt(data, 'E_INVOICE_FIELD', name) };
    }
    case 9: {
      if (data.length === 0) throw malformed('E_INVOICE_FIELD', 'fallback (f) has no version');
      // BOLT 11: a reader skips a fallback of an unknown version (19-31).
      if (data[0]! > 18) return { tag, name: 'ignored', words: data };
      return { tag, name: 'fallback', version: data[0]!, program: wordsToBytes(data.slice(1), 'E_INVOICE_FIELD', 'fallback (f)') };
    }
    case 3: {
      const bytes = wordsToBytes(data, 'E_INVOICE_FIELD', 'route hint (r)');
      if (bytes.length === 0 || bytes.length % 51 !== 0) throw malformed('E_INVOICE_FIELD', `route hint (r) is ${bytes.length} bytes, not a whole number of 51-byte hops`);
      const hops: RouteHintHop[] = [];
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let at = 0; at < bytes.length; at += 51) {
        hops.push({
          pubkey: bytes.slice(at, at + 33),
          shortChannelId: scid(bytes, at + 33),
          feeBaseMsat: view.getUint32(at + 41),
          feeProportionalMillionths: view.getUint32(at + 45),
          cltvExpiryDelta: view.getUint16(at + 49),
        });
      }
      return { tag, name: 'route_hint', hops };
    }
    case 5:
      if (data[0] === 0) throw new RefusedError('E_INVOICE_NON_MINIMAL', 'features (9) begin with a 0 word: not minimally encoded');
      return { tag, name: 'features', words: data };
    default:
      return { tag, name: 'unknown', words: data };
  }
}

function fieldWords(f: Bolt11Field): number[] {
  switch (f.name) {
    case 'description':
      return bytesToWords(new TextEncoder().encode(f.text));
    case 'expiry':
    case 'min_final_cltv_expiry_delta':
      return intToWords(f.value);
    case 'fallback':
      return [f.version, ...bytesToWords(f.program)];
    case 'route_hint': {
      const bytes = new Uint8Array(51 * f.hops.length);
      const view = new DataView(bytes.buffer);
      f.hops.forEach((h, i) => {
        bytes.set(h.pubkey, 51 * i);
        bytes.set(scidBytes(h.shortChannelId), 51 * i + 33);
        view.setUint32(51 * i + 41, h.feeBaseMsat);
        view.setUint32(51 * i + 45, h.feeProportionalMillionths);
        view.setUint16(51 * i + 49, h.cltvExpiryDelta);
      });
      return bytesToWords(bytes);
    }
    case 'features':
    case 'unknown':
    case 'ignored':
      return f.words;
    default:
      return bytesToWords(f.bytes);
  }
}

/** The words of the data part before the signature: timestamp, then every field. */
function dataWords(timestamp: number, fields: readonly Bolt11Field[]): number[] {
  const words = intToWords(timestamp, TIMESTAMP_WORDS);
  for (const f of fields) {
    const data = fieldWords(f);
    if (data.length > 1023) throw new RangeError(`field ${f.tag} is ${data.length} words (at most 1023)`);
    words.push(f.tag, data.length >> 5, data.length & 31, ...data);
  }
  return words;
}

/**
 * Decode and verify a BOLT 11 invoice. Malformed text is E_INVOICE_* exit 3; an invoice
 * that breaks a reader's MUST (bad signature, missing field, unknown even feature, amount
 * out of range) is E_INVOICE_* exit 4.
 */
export function decodeBolt11(text: string): Bolt11Invoice {
  const trimmed = text.trim();
  if (trimmed.length > BOLT11_MAX_LENGTH) throw malformed('E_INVOICE_TOO_LONG', `${trimmed.length} characters: an invoice is at most ${BOLT11_MAX_LENGTH} (what a QR code holds)`);
  const { prefix: hrp, words } = bech32Decode(trimmed);
  const { currency, amountMsat } = parseHrp(hrp);
  if (words.length < TIMESTAMP_WORDS + SIGNATURE_WORDS) throw malformed('E_INVOICE_TRUNCATED', 'too short to hold a timestamp and a signature');
  const sigWords = words.slice(-SIGNATURE_WORDS);
  const body = words.slice(0, -SIGNATURE_WORDS);
  const timestamp = wordsToInt(body.slice(0, TIMESTAMP_WORDS), 'E_INVOICE_FIELD', 'timestamp');
  const fields: Bolt11Field[] = [];
  for (let at = TIMESTAMP_WORDS; at < body.length; ) {
    if (at + 3 > body.length) throw malformed('E_INVOICE_TRUNCATED', `tagged field at word ${at} is cut short`);
    const tag = body[at]!;
    const length = body[at + 1]! * 32 + body[at + 2]!;
    if (at + 3 + length > body.length) throw malformed('E_INVOICE_TRUNCATED', `tagged field ${tag} says ${length} words but the data part ends first`);
    const data = body.slice(at + 3, at + 3 + length);
    const field = decodeField(tag, data);
    // A reader uses the first of each single-valued field; a later one is listed as ignored (unknown_fields), never used.
    const repeated = SINGLE.has(field.name) && fields.some((f) => f.name === field.name);
    fields.push(repeated ? { tag, name: 'ignored', words: data } : field);
    at += 3 + length;
  }

  const first = <N extends Bolt11Field['name']>(name: N) => fields.find((f) => f.name === name) as FieldNamed<N> | undefined;
  const paymentHash = first('payment_hash');
  if (!paymentHash) throw new RefusedError('E_INVOICE_MISSING_FIELD', 'no payment hash (p): there is nothing to pay for');
  const paymentSecret = first('payment_secret');
  if (!paymentSecret) throw new RefusedError('E_INVOICE_MISSING_FIELD', 'no payment secret (s): BOLT 11 requires one');
  const description = first('description');
  const descriptionHash = first('description_hash');
  if ((description === undefined) === (descriptionHash === undefined)) {
    throw new RefusedError('E_INVOICE_MISSING_FIELD', description ? 'both a description (d) and a description hash (h): exactly one is allowed' : 'neither a description (d) nor a description hash (h)');
  }
  const featureField = first('features');
  const features = featureField ? featureBits(featureField.words, 5) : [];
  checkFeatures(features, BOLT11_KNOWN_FEATURES, 'E_INVOICE_UNKNOWN_FEATURE', 'the invoice\'s features (9)');
  for (const [feature, needs] of BOLT11_DEPENDENCIES) {
    const has = (f: number) => features.includes(f) || features.includes(f + 1);
    if (has(feature) && !has(needs)) {
      throw new RefusedError('E_INVOICE_FEATURE_DEPENDENCY', `feature ${BOLT11_KNOWN_FEATURES.get(feature)} is set without ${BOLT11_KNOWN_FEATURES.get(needs)}, which it depends on`);
    }
  }

  const sigBytes = wordsToBytes(sigWords, 'E_INVOICE_SIGNATURE', 'signature');
  const signature = sigBytes.slice(0, 64);
  const recoveryId = sigBytes[64]!;
  const signedHash = sha256(new Uint8Array([...new TextEncoder().encode(hrp), ...wordsToBytesPadded(body)]));
  const given = first('payee');
  let payee: Uint8Array;
  if (given) {
    // BOLT 11: with `n`, verify against it (low-S only) instead of recovering.
    let ok = false;
    try {
      ok = secp256k1.verify(signature, signedHash, given.bytes, { prehash: false, lowS: true, format: 'compact' });
    } catch {
      ok = false;
    }
    if (!ok) throw new RefusedError('E_INVOICE_SIGNATURE', 'the signature does not verify against the payee (n) as a low-S signature');
    payee = given.bytes;
  } else {
    if (recoveryId > 3) throw new RefusedError('E_INVOICE_SIGNATURE', `recovery id ${recoveryId} is not 0-3: the payee cannot be recovered`);
    const ec = activeSecp256k1();
    const recovered = recoverEcdsa(ec, signature, recoveryId, signedHash);
    if (recovered === undefined) throw new RefusedError('E_INVOICE_SIGNATURE', 'no public key recovers from this signature: it was not made over this invoice');
    payee = ec.pointToBytes(recovered);
  }

  return {
    hrp,
    currency,
    amountMsat,
    timestamp,
    fields,
    paymentHash: paymentHash.bytes,
    paymentSecret: paymentSecret.bytes,
    description: description?.text,
    descriptionHash: descriptionHash?.bytes,
    expiry: first('expiry')?.value ?? 3600,
    minFinalCltvExpiryDelta: first('min_final_cltv_expiry_delta')?.value ?? 18,
    payee,
    payeeFrom: given ? 'n' : 'recovered',
    features,
    fallbacks: fields.flatMap((f) => (f.name === 'fallback' ? [{ version: f.version, program: f.program }] : [])),
    routeHints: fields.flatMap((f) => (f.name === 'route_hint' ? [f.hops] : [])),
    paymentMetadata: first('payment_metadata')?.bytes,
    signature,
    recoveryId,
    signedHash,
  };
}

/** The invoice text of decoded parts (lower case): the inverse of `decodeBolt11` on what it accepts. */
export function encodeBolt11(inv: Pick<Bolt11Invoice, 'hrp' | 'timestamp' | 'fields' | 'signature' | 'recoveryId'>): string {
  const words = [...dataWords(inv.timestamp, inv.fields), ...bytesToWords(new Uint8Array([...inv.signature, inv.recoveryId]))];
  return `${inv.hrp}1${wordsToChars(words)}${wordsToChars(bech32Checksum(inv.hrp, words))}`;
}

/** What a writer signs: SHA-256 of the hrp and the data words (timestamp and fields), padded to a byte. For tests and writers. */
export function bolt11SigningHash(hrp: string, timestamp: number, fields: readonly Bolt11Field[]): Uint8Array {
  return sha256(new Uint8Array([...new TextEncoder().encode(hrp), ...wordsToBytesPadded(dataWords(timestamp, fields))]));
}
