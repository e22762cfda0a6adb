/**
 * BOLT 12's reader requirements ("Requirements For Offers", "… for Invoice Requests",
 * "… for Invoices") on decoded fields: what `decodeBolt12` enforces after parsing. The
 * invariants they uphold are listed at the top of bolt12.ts. Pure.
 */
import { toHex } from '../bytes.ts';
import { RefusedError } from '../errors.ts';
import type { BlindedPath, Bolt12, Bolt12Fields, Bolt12Kind } from './bolt12-fields.ts';
import { BOLT12_INVOICE_FEATURES, NO_FEATURES, checkFeatures, featureBits } from './features.ts';
import { verifyBolt12Signature } from './merkle.ts';

const refused = (code: string, message: string) => new RefusedError(code, message);

function checkPaths(paths: BlindedPath[] | undefined, name: string): void {
  paths?.forEach((p, i) => {
    if (p.hops.length === 0) throw refused('E_BOLT12_EMPTY_PATH', `${name}[${i}] has no hops (num_hops 0)`);
  });
}

/** The offer's rules, which also bind the offer fields an invoice request or invoice copies. */
export function checkOfferFields(f: Bolt12Fields, kind: Bolt12Kind): void {
  if (f.offer_chains && f.offer_chains.length === 0) throw refused('E_BOLT12_CHAIN', 'offer_chains is present but names no chain');
  if (f.offer_features) checkFeatures(featureBits(f.offer_features, 8), NO_FEATURES, 'E_BOLT12_UNKNOWN_FEATURE', 'offer_features');
  checkPaths(f.offer_paths, 'offer_paths');
  const fromOffer = f.offer_issuer_id !== undefined || f.offer_paths !== undefined;
  if (kind === 'offer' || fromOffer) {
    if (f.offer_amount !== undefined && f.offer_description === undefined) throw refused('E_BOLT12_AMOUNT', 'offer_amount without offer_description: a payer must know what it pays for');
    if (f.offer_amount === 0n) throw refused('E_BOLT12_AMOUNT', 'offer_amount is zero');
    if (f.offer_currency !== undefined && f.offer_amount === undefined) throw refused('E_BOLT12_AMOUNT', 'offer_currency without offer_amount');
  }
  if (kind === 'offer' && !fromOffer) throw refused('E_BOLT12_NO_ROUTE', 'neither offer_issuer_id nor offer_paths: there is nowhere to send an invoice request');
}

export function checkInvoiceRequest(b: Bolt12): void {
  const f = b.fields;
  if (!f.invreq_metadata) throw refused('E_BOLT12_MISSING_FIELD', 'an invoice request without invreq_metadata');
  if (!f.invreq_payer_id) throw refused('E_BOLT12_MISSING_FIELD', 'an invoice request without invreq_payer_id');
  if (!f.signature) throw refused('E_BOLT12_MISSING_FIELD', 'an invoice request without a signature');
  if (f.invreq_features) checkFeatures(featureBits(f.invreq_features, 8), NO_FEATURES, 'E_BOLT12_UNKNOWN_FEATURE', 'invreq_features');
  checkPaths(f.invreq_paths, 'invreq_paths');
  checkRequestTerms(f);
  if (!verifyBolt12Signature(b.records, 'invoice_request', f.signature, f.invreq_payer_id)) {
    throw refused('E_BOLT12_SIGNATURE', 'the signature is not invreq_payer_id\'s BIP-340 signature of this invoice request');
  }
}

/** The quantity and amount rules between the offer fields and the request fields. */
function checkRequestTerms(f: Bolt12Fields): void {
  const fromOffer = f.offer_issuer_id !== undefined || f.offer_paths !== undefined;
  if (fromOffer) {
    if (f.offer_quantity_max !== undefined) {
      if (f.invreq_quantity === undefined) throw refused('E_BOLT12_QUANTITY', 'the offer has offer_quantity_max but the request states no invreq_quantity');
      if (f.offer_quantity_max !== 0n && (f.invreq_quantity === 0n || f.invreq_quantity > f.offer_quantity_max)) {
        throw refused('E_BOLT12_QUANTITY', `invreq_quantity ${f.invreq_quantity} is not within 1..${f.offer_quantity_max}`);
      }
    } else if (f.invreq_quantity !== undefined) throw refused('E_BOLT12_QUANTITY', 'invreq_quantity for an offer without offer_quantity_max');
    if (f.offer_amount === undefined) {
      if (f.invreq_amount === undefined) throw refused('E_BOLT12_AMOUNT', 'the offer has no amount and the request states no invreq_amount');
    } else if (f.invreq_amount !== undefined && f.offer_currency === undefined) {
      const expected = f.offer_amount * (f.invreq_quantity ?? 1n);
      if (f.invreq_amount < expected) throw refused('E_BOLT12_AMOUNT', `invreq_amount ${f.invreq_amount} msat is below the offer's ${expected} msat`);
    }
  } else {
    for (const name of ['offer_chains', 'offer_features', 'offer_quantity_max'] as const) {
      if (f[name] !== undefined) throw refused('E_BOLT12_FORBIDDEN_FIELD', `${name} in a request that answers no offer (no offer_issuer_id or offer_paths)`);
    }
    if (f.invreq_amount === undefined) throw refused('E_BOLT12_AMOUNT', 'a request that answers no offer must state invreq_amount');
  }
}

export function checkInvoice(b: Bolt12): void {
  const f = b.fields;
  for (const name of ['invoice_amount', 'invoice_created_at', 'invoice_payment_hash', 'invoice_node_id', 'signature'] as const) {
    if (f[name] === undefined) throw refused('E_BOLT12_MISSING_FIELD', `an invoice without ${name}`);
  }
  if (f.invoice_features) checkFeatures(featureBits(f.invoice_features, 8), BOLT12_INVOICE_FEATURES, 'E_BOLT12_UNKNOWN_FEATURE', 'invoice_features');
  if (!f.invoice_paths || f.invoice_paths.length === 0) throw refused('E_BOLT12_NO_ROUTE', 'an invoice without invoice_paths');
  checkPaths(f.invoice_paths, 'invoice_paths');
  checkPaths(f.invreq_paths, 'invreq_paths');
  if (!f.invoice_blindedpay || f.invoice_blindedpay.length !== f.invoice_paths.length) {
    throw refused('E_BOLT12_NO_ROUTE', `invoice_blindedpay has ${f.invoice_blindedpay?.length ?? 0} entries for ${f.invoice_paths.length} invoice_paths (one each)`);
  }
  const usable = f.invoice_blindedpay.filter((p) => featureBits(p.features, 8).every((bit) => bit % 2 === 1));
  if (usable.length === 0) throw refused('E_BOLT12_NO_ROUTE', 'every invoice path requires an unknown feature: none is usable');
  // The request fields an invoice copies obey the request's rules (quantity, amounts) too.
  checkRequestTerms(f);
  if (f.invreq_amount !== undefined && f.invoice_amount !== f.invreq_amount) {
    throw refused('E_BOLT12_AMOUNT', `invoice_amount ${f.invoice_amount} msat is not the request's invreq_amount ${f.invreq_amount} msat`);
  }
  if (f.invreq_amount === undefined && f.offer_amount !== undefined && f.offer_currency === undefined) {
    // BOLT 12 writer: without invreq_amount, invoice_amount is the expected amount, offer_amount x quantity (both msat here).
    const expected = f.offer_amount * (f.invreq_quantity ?? 1n);
    if (f.invoice_amount !== expected) {
      throw refused('E_BOLT12_AMOUNT', `invoice_amount ${f.invoice_amount} msat is not offer_amount ${f.offer_amount} msat x quantity ${f.invreq_quantity ?? 1n} = ${expected} msat`);
    }
  }
  if (f.offer_issuer_id !== undefined) {
    if (toHex(f.offer_issuer_id) !== toHex(f.invoice_node_id!)) throw refused('E_BOLT12_NODE_ID', 'invoice_node_id is not the offer\'s offer_issuer_id: someone else signed this invoice');
  } else if (f.offer_paths !== undefined) {
    // BOLT 12: the writer signs with the final blinded_node_id of the path the request came through, which is one of offer_paths.
    const ends = new Set(f.offer_paths.map((p) => toHex(p.hops.at(-1)!.blindedNodeId)));
    if (!ends.has(toHex(f.invoice_node_id!))) throw refused('E_BOLT12_NODE_ID', 'invoice_node_id is not the final blinded_node_id of any of offer_paths: someone else signed this invoice');
  }
  if (!verifyBolt12Signature(b.records, 'invoice', f.signature!, f.invoice_node_id!)) {
    throw refused('E_BOLT12_SIGNATURE', 'the signature is not invoice_node_id\'s BIP-340 signature of this invoice');
  }
}
