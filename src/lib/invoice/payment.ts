/**
 * What a verified invoice hands to a payment (BOLT 11 "Payer / Payee Requirements"):
 * the amount, the payee, the final CLTV and the route hints fill in a `route/request`
 * for `route plan`; the payment hash goes to `htlc create`.
 *
 * Invariants: the route must end at the invoice's payee (its hops, or its hops followed
 * by one of the invoice's route hints); the payee receives at least the invoice's amount
 * and at most twice it (BOLT 4's allowance); its HTLC expires no earlier than the tip +
 * min_final_cltv_expiry_delta. A request that says otherwise is refused, not corrected.
 * - The payer names whom it pays (`payee`): an invoice signed by anyone else is refused
 *   (E_INVOICE_PAYEE) before its route hints are trusted. Without `payee`, only a route
 *   that already ends at the invoice's payee (the payer's own request says so) is taken;
 *   a hint is never appended, since anyone behind the same LSP can sign an invoice whose
 *   hint starts where the request ends.
 * - The payer's funds are locked at most `maxCltv` blocks (2016 by default, as LND's and
 *   CLN's max-cltv): the final delta plus every forwarding delta, hints included, is
 *   refused above it (E_INVOICE_CLTV) — a payee cannot choose a 19-year lock.
 */
import { equalBytes, fromHex, toHex } from '../bytes.ts';
import { RefusedError, UsageError } from '../errors.ts';
import type { InvoiceTerms } from './messages.ts';

/** The most blocks a payment may lock the payer's first HTLC for (LND's and CLN's default max-cltv, two weeks). */
export const DEFAULT_MAX_CLTV = 2016;

export type PayOptions = {
  /** The node the payer means to pay (hex or bytes); the invoice's payee must be it. */
  payee?: string | Uint8Array;
  /** The cap on final delta + forwarding deltas, blocks (default DEFAULT_MAX_CLTV). */
  maxCltv?: number;
};

/** Refuse an invoice whose payee (BOLT 11 payee, BOLT 12 invoice_node_id) is not the node the payer named. */
export function checkPayee(terms: InvoiceTerms, payee: string | Uint8Array): void {
  const want = typeof payee === 'string' ? fromHex(payee, '--payee', 33) : payee;
  if (!equalBytes(want, terms.payee)) {
    throw new RefusedError('E_INVOICE_PAYEE', `the invoice is signed by ${toHex(terms.payee)}, not by the payee you named ${toHex(want)}: someone else's invoice`);
  }
}

type Hop = { node_id: string; short_channel_id?: string; policy: { fee_base_msat: number; fee_proportional_millionths: number; cltv_expiry_delta: number } };

/**
 * The route/request of `value` completed from the invoice: `final_amount_msat` and
 * `final_cltv_expiry` filled in where absent (checked where present), and the route hint
 * that starts at the request's last node appended when that node is not the payee.
 */
export function requestWithInvoice(value: unknown, terms: InvoiceTerms, tipHeight: number | undefined, opts: PayOptions = {}): Record<string, unknown> {
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

  // BOLT 4: the payee's payload carries the invoice's payment_secret and the payment's total (one part: all of it).
  if (terms.paymentSecret !== undefined) {
    const data = { payment_secret: toHex(terms.paymentSecret), total_msat: String(req.final_amount_msat) };
    const had = req.payment_data as { payment_secret?: unknown; total_msat?: unknown } | undefined;
    if (had !== undefined && (String(had.payment_secret).toLowerCase() !== data.payment_secret || had.total_msat !== data.total_msat)) {
      throw new RefusedError('E_INVOICE_MISMATCH', `the request's payment_data is not the invoice's (payment_secret ${data.payment_secret}, total_msat ${data.total_msat})`);
    }
    req.payment_data = data;
  }

  if (opts.payee !== undefined) checkPayee(terms, opts.payee);
  const hops = Array.isArray(req.hops) ? (req.hops as Hop[]) : [];
  const last = hops.at(-1)?.node_id;
  if (last === toHex(terms.payee)) return capCltv(req, delta, tipHeight, opts.maxCltv);
  if (opts.payee === undefined) {
    throw new RefusedError('E_INVOICE_PAYEE', `the route ends at ${last ?? 'nothing'}, not at the invoice's payee ${toHex(terms.payee)}: name the payee you mean to pay before its route hints are used`);
  }
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
  return capCltv(req, delta, tipHeight, opts.maxCltv);
}

/** Refuse a request whose first HTLC would be locked more than `maxCltv` blocks: final delta + the forwarding deltas (every hop's channel but the sender's own). */
function capCltv(req: Record<string, unknown>, delta: number, tipHeight: number | undefined, maxCltv = DEFAULT_MAX_CLTV): Record<string, unknown> {
  const final = tipHeight !== undefined && typeof req.final_cltv_expiry === 'number' ? req.final_cltv_expiry - tipHeight : delta;
  const hops = Array.isArray(req.hops) ? (req.hops as Hop[]) : [];
  const forwarding = hops.slice(1).reduce((sum, h) => sum + (Number(h?.policy?.cltv_expiry_delta) || 0), 0);
  if (final + forwarding > maxCltv) {
    throw new RefusedError(
      'E_INVOICE_CLTV',
      `the payment would lock the first HTLC ${final + forwarding} blocks (final ${final} + forwarding ${forwarding}), above the cap of ${maxCltv} (--max-cltv): the payee's min_final_cltv_expiry_delta ${delta} or the route's deltas are too long`,
    );
  }
  return req;
}
