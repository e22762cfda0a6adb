/**
 * What a verified invoice hands to a payment (BOLT 11 "Payer / Payee Requirements"):
 * the amount, the payee, the final CLTV and the route hints fill in a `route/request`
 * for `route plan`; the payment hash goes to `htlc create`.
 *
 * Invariants: the route must end at the invoice's payee (its hops, or its hops followed
 * by one of the invoice's route hints); the payee receives at least the invoice's amount
 * and at most twice it (BOLT 4's allowance); its HTLC expires no earlier than the tip +
 * min_final_cltv_expiry_delta. A request that says otherwise is refused, not corrected.
 */
import { equalBytes, fromHex, toHex } from '../bytes.ts';
import { RefusedError, UsageError } from '../errors.ts';
import type { InvoiceTerms } from './messages.ts';

type Hop = { node_id: string; short_channel_id?: string; policy: { fee_base_msat: number; fee_proportional_millionths: number; cltv_expiry_delta: number } };

/**
 * The route/request of `value` completed from the invoice: `final_amount_msat` and
 * `final_cltv_expiry` filled in where absent (checked where present), and the route hint
 * that starts at the request's last node appended when that node is not the payee.
 */
export function requestWithInvoice(value: unknown, terms: InvoiceTerms, tipHeight: number | undefined): Record<string, unknown> {
  if (terms.kind !== 'bolt11') throw new RefusedError('E_INVOICE_KIND', 'route plan pays BOLT 11 invoices; a BOLT 12 invoice is paid over its blinded paths');
  const req = { ...(value as Record<string, unknown>) };
  if (req.network !== undefined && req.network !== terms.network) {
    throw new RefusedError('E_NETWORK_MISMATCH', `the route request is for ${String(req.network)} but the invoice is for ${terms.network}`);
  }

  const given = typeof req.final_amount_msat === 'string' && /^[0-9]+$/.test(req.final_amount_msat) ? BigInt(req.final_amount_msat) : undefined;
  if (terms.amountMsat === undefined) {
    if (given === undefined) throw new UsageError('E_USAGE', 'the invoice names no amount: give final_amount_msat in the route request');
  } else if (given === undefined) {
    req.final_amount_msat = terms.amountMsat.toString();
  } else if (given < terms.amountMsat || given > 2n * terms.amountMsat) {
    throw new RefusedError('E_INVOICE_MISMATCH', `final_amount_msat ${given} is not within the invoice's ${terms.amountMsat} and twice it`);
  }

  const delta = terms.minFinalCltvExpiryDelta ?? 18;
  if (req.final_cltv_expiry === undefined) {
    if (tipHeight === undefined) throw new UsageError('E_USAGE', `give --tip-height (the payee's HTLC expires at the tip + its min_final_cltv_expiry_delta ${delta}), or final_cltv_expiry in the request`);
    req.final_cltv_expiry = tipHeight + delta;
  } else if (tipHeight !== undefined && typeof req.final_cltv_expiry === 'number' && req.final_cltv_expiry < tipHeight + delta) {
    throw new RefusedError('E_INVOICE_MISMATCH', `final_cltv_expiry ${req.final_cltv_expiry} is below the tip ${tipHeight} + the invoice's min_final_cltv_expiry_delta ${delta}`);
  }

  const hops = Array.isArray(req.hops) ? (req.hops as Hop[]) : [];
  const last = hops.at(-1)?.node_id;
  if (last === toHex(terms.payee)) return req;
  const hint = terms.routeHints.find((h) => last !== undefined && h.length > 0 && equalBytes(h[0]!.pubkey, fromHex(last, 'hops[-1].node_id')));
  if (!hint) {
    throw new RefusedError('E_INVOICE_PAYEE', `the route ends at ${last ?? 'nothing'}, which is neither the invoice's payee ${toHex(terms.payee)} nor where one of its ${terms.routeHints.length} route hints starts`);
  }
  // A hint entry is the channel from its pubkey to the next entry's (the payee after the last), with that channel's policy.
  req.hops = [
    ...hops,
    ...hint.map((e, i) => ({
      node_id: toHex(hint[i + 1]?.pubkey ?? terms.payee),
      short_channel_id: e.shortChannelId,
      policy: { fee_base_msat: e.feeBaseMsat, fee_proportional_millionths: e.feeProportionalMillionths, cltv_expiry_delta: e.cltvExpiryDelta },
    })),
  ];
  return req;
}
