/**
 * `invoice decode --cln`: the decoded invoice under Core Lightning's `lightning-cli decode`
 * names and types, for scripts written against CLN (docs/invoice.md has the table of every
 * difference). From our message (the spec's names):
 *
 *   BOLT 11   amount_msat string → number; min_final_cltv_expiry_delta → min_final_cltv_expiry;
 *             route_hints → routes; fallbacks {version, hex, address} → {type, addr, hex: the
 *             scriptPubKey}; signature r‖s → DER; type "bolt11 invoice"; no payee_from,
 *             feature_bits, recovery_id, unknown_fields
 *   BOLT 12   offer_amount → offer_amount_msat (offer_amount, a number, with offer_currency),
 *             invreq_amount → invreq_amount_msat, invoice_amount → invoice_amount_msat, the
 *             quantities as numbers; path_key → first_path_key; invoice_blindedpay nested in
 *             its path as payinfo (msat as numbers); invoice_relative_expiry printed as its 7200
 *             s default when absent; offer_id added: SHA-256 of the offer's TLV records as
 *             carried (CLN's definition; BOLT 12 names no offer_id — it is not the Merkle root),
 *             for a request or invoice only when it answers an offer (issuer id or paths)
 *   both      no version, network, the string itself, now, expires_at, expired, payer_checks;
 *             valid: true (a string that does not verify is refused, never printed)
 *
 * Integers beyond 2^53 (htlc_maximum_msat) are written exactly, as CLN writes them.
 * Pure: message (and the string, for offer_id) in, JSON text out.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, toHex } from '../bytes.ts';
import { decodeBolt12String } from './bolt12.ts';
import { parseTlvStream } from './tlv.ts';

type Json = Record<string, unknown>;

const CLN_TYPE: Record<string, string> = {
  'invoice/bolt11': 'bolt11 invoice',
  'invoice/offer': 'bolt12 offer',
  'invoice/request': 'bolt12 invoice_request',
  'invoice/bolt12': 'bolt12 invoice',
};
const OURS_ONLY = new Set(['type', 'version', 'network', 'invoice', 'offer', 'invoice_request', 'now', 'expires_at', 'expired', 'payer_checks', 'unknown_fields', 'valid']);
const E9 = 1_000_000_000n;
const isOfferType = (t: bigint) => (t >= 1n && t <= 79n) || (t >= E9 && t < 2n * E9);

/** CLN's offer_id of a BOLT 12 string: SHA-256 of its records in the offer ranges (1–79, 1e9–2e9-1), as carried. */
export function clnOfferId(text: string): string | undefined {
  const records = parseTlvStream(decodeBolt12String(text).bytes).filter((r) => isOfferType(r.type));
  return records.length === 0 ? undefined : toHex(sha256(concatBytes(...records.map((r) => r.raw))));
}

/** Our invoice/* message under CLN's decode names and types, as JSON text. */
export function clnDecodeText(m: Json): string {
  const view = m.type === 'invoice/bolt11' ? clnBolt11(m) : clnBolt12(m);
  return exactJson(view);
}

function clnBolt11(m: Json): Json {
  const out: Json = { type: CLN_TYPE[String(m.type)] };
  for (const [k, v] of Object.entries(m)) {
    if (OURS_ONLY.has(k) || k === 'payee_from' || k === 'feature_bits' || k === 'recovery_id') continue;
    if (k === 'amount_msat') out.amount_msat = BigInt(v as string);
    else if (k === 'min_final_cltv_expiry_delta') out.min_final_cltv_expiry = v;
    else if (k === 'route_hints') {
      if ((v as unknown[]).length > 0) out.routes = v;
    } else if (k === 'fallbacks') {
      if ((v as unknown[]).length > 0) out.fallbacks = (v as { version: number; hex: string; address?: string }[]).map((f) => ({ ...fallbackType(f.version, f.hex), ...(f.address ? { addr: f.address } : {}), hex: fallbackScript(f.version, f.hex) }));
    } else if (k === 'signature') out.signature = der(v as string);
    else out[k] = v;
  }
  out.valid = true;
  return out;
}

function clnBolt12(m: Json): Json {
  const text = String(m.offer ?? m.invoice_request ?? m.invoice);
  const out: Json = { type: CLN_TYPE[String(m.type)] };
  // CLN names the offer of a request or invoice only when there is one to name: an offer carries an
  // issuer id or paths; a bare invoice request (invoicerequest, a refund) and its invoice have neither.
  const offerId = m.type === 'invoice/offer' || m.offer_issuer_id !== undefined || m.offer_paths !== undefined ? clnOfferId(text) : undefined;
  if (offerId !== undefined) out.offer_id = offerId;
  for (const [k, v] of Object.entries(m)) {
    if (OURS_ONLY.has(k) || k === 'invoice_blindedpay') continue;
    if (k === 'offer_amount') out[m.offer_currency === undefined ? 'offer_amount_msat' : 'offer_amount'] = BigInt(v as string);
    else if (k === 'invreq_amount' || k === 'invoice_amount') out[`${k}_msat`] = BigInt(v as string);
    else if (k === 'offer_quantity_max' || k === 'invreq_quantity') out[k] = BigInt(v as string);
    else if (k === 'offer_paths' || k === 'invreq_paths' || k === 'invoice_paths') {
      const payinfo = k === 'invoice_paths' ? ((m.invoice_blindedpay as Json[] | undefined) ?? []) : [];
      out[k] = (v as Json[]).map((p, i) => {
        const { path_key, path, ...first } = p;
        const pay = payinfo[i];
        return { ...first, first_path_key: path_key, ...(pay ? { payinfo: { ...pay, htlc_minimum_msat: BigInt(pay.htlc_minimum_msat as string), htlc_maximum_msat: BigInt(pay.htlc_maximum_msat as string) } } : {}), path };
      });
    } else out[k] = v;
  }
  if (m.type === 'invoice/bolt12' && out.invoice_relative_expiry === undefined) out.invoice_relative_expiry = 7200;
  out.valid = true;
  return out;
}

/** CLN's fallback type names (BOLT 11 f: 17 P2PKH, 18 P2SH, witness v0 by length, v1 P2TR). */
function fallbackType(version: number, hex: string): { type?: string } {
  const len = hex.length / 2;
  if (version === 17) return { type: 'P2PKH' };
  if (version === 18) return { type: 'P2SH' };
  if (version === 0) return { type: len === 20 ? 'P2WPKH' : 'P2WSH' };
  if (version === 1 && len === 32) return { type: 'P2TR' };
  return {};
}

/** The scriptPubKey CLN prints for a fallback. */
function fallbackScript(version: number, program: string): string {
  const push = (program.length / 2).toString(16).padStart(2, '0');
  if (version === 17) return `76a9${push}${program}88ac`;
  if (version === 18) return `a9${push}${program}87`;
  return `${version === 0 ? '00' : (0x50 + version).toString(16)}${push}${program}`;
}

/** r‖s (64 bytes hex) as a DER signature, as CLN prints BOLT 11 signatures. */
function der(rs: string): string {
  const int = (h: string) => {
    let b = h.replace(/^(00)+/, '') || '00';
    if (parseInt(b.slice(0, 2), 16) >= 0x80) b = '00' + b;
    return `02${(b.length / 2).toString(16).padStart(2, '0')}${b}`;
  };
  const body = int(rs.slice(0, 64)) + int(rs.slice(64, 128));
  return `30${(body.length / 2).toString(16).padStart(2, '0')}${body}`;
}

/** Pretty JSON in insertion order, bigints as exact integers. */
function exactJson(v: Json): string {
  const marked = JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `\u0000big:${x}` : x), 2);
  return marked.replace(/"\\u0000big:(\d+)"/g, '$1') + '\n';
}
