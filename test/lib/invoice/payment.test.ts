/**
 * What an invoice hands to a payment (src/lib/invoice/payment.ts), on Core Lightning's
 * regtest invoice with a route hint (fixtures/invoice/regtest.bolt11; CLN's own decode of
 * it in cln/regtest.bolt11.json gives the expected values): the route ends at the payee
 * or at a hint's start, the amount and final expiry come from the invoice, and every
 * contradiction is refused. Also: every message invoice decode prints validates against
 * its schema.
 */
import { Value } from '@sinclair/typebox/value';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeInvoiceText, invoiceTerms, invoiceText } from '../../../src/lib/invoice/messages.ts';
import { checkPayee, DEFAULT_MAX_CLTV, requestWithInvoice } from '../../../src/lib/invoice/payment.ts';
import { INVOICE_SCHEMAS } from '../../../src/lib/invoice/schemas.ts';
import { checkPlan, planFromRequest } from '../../../src/lib/route/messages.ts';
import { ROOT, loadVector } from '../../helpers.ts';
import { refusal } from '../../setup/refusal.ts';

const fixture = (f: string) => readFileSync(join(ROOT, 'fixtures/invoice', f), 'utf8').trim();
const INVOICE = fixture('regtest.bolt11');
const CLN = JSON.parse(fixture('cln/regtest.bolt11.json'));
const NOW = CLN.created_at + 60;
const HINT = CLN.routes[0][0];
const terms = () => invoiceTerms(INVOICE, { now: NOW });
const toHint = { node_id: HINT.pubkey, short_channel_id: '101x1x0', policy: { fee_base_msat: 1000, fee_proportional_millionths: 100, cltv_expiry_delta: 40 } };
const request = (extra: Record<string, unknown> = {}) => ({ type: 'route/request', version: 1, network: 'regtest', hops: [toHint], ...extra });

describe('route plan from an invoice', () => {
  it('the route to the hint\'s first node gets the hint\'s channel to the payee appended; amount and final expiry from the invoice', () => {
    const req = requestWithInvoice(request(), terms(), 1000, { payee: CLN.payee });
    expect(req).toEqual({
      ...request(),
      final_amount_msat: String(CLN.amount_msat),
      final_cltv_expiry: 1000 + CLN.min_final_cltv_expiry,
      payment_data: { payment_secret: CLN.payment_secret, total_msat: String(CLN.amount_msat) },
      hops: [
        toHint,
        { node_id: CLN.payee, short_channel_id: HINT.short_channel_id, policy: { fee_base_msat: HINT.fee_base_msat, fee_proportional_millionths: HINT.fee_proportional_millionths, cltv_expiry_delta: HINT.cltv_expiry_delta } },
      ],
    });
    const plan = planFromRequest(req).message as { total_fee_msat: string; first_htlc: { amount_msat: string; cltv_expiry: number } };
    // BOLT 7's fee of the hint's channel: base + amount * proportional / 1e6 (floor), the hint's delta on top of the payee's expiry.
    const fee = BigInt(HINT.fee_base_msat) + (BigInt(CLN.amount_msat) * BigInt(HINT.fee_proportional_millionths)) / 1_000_000n;
    expect(plan.total_fee_msat).toBe(fee.toString());
    expect(plan.first_htlc).toMatchObject({ amount_msat: (BigInt(CLN.amount_msat) + fee).toString(), cltv_expiry: 1000 + CLN.min_final_cltv_expiry + HINT.cltv_expiry_delta });
  });

  it('the payee\'s payload carries the invoice\'s payment_secret with total_msat = what it receives (BOLT 4 payment_data, TLV 8); no other hop\'s does', () => {
    for (const final of [CLN.amount_msat, 2 * CLN.amount_msat]) {
      const plan = planFromRequest(requestWithInvoice(request({ final_amount_msat: String(final) }), terms(), 1000, { payee: CLN.payee })).message as { hops: { payload: Record<string, unknown> }[] };
      expect(plan.hops).toHaveLength(2);
      expect(plan.hops[1]!.payload).toEqual({ amt_to_forward: String(final), outgoing_cltv_value: 1000 + CLN.min_final_cltv_expiry, payment_data: { payment_secret: CLN.payment_secret, total_msat: String(final) } });
      expect(plan.hops[0]!.payload.payment_data).toBeUndefined();
      // route check takes it as it is, and refuses it on a forwarding hop (a forwarder must never learn the secret).
      expect(checkPlan(plan).hops).toBe(2);
      const moved = structuredClone(plan);
      moved.hops[0]!.payload.payment_data = moved.hops[1]!.payload.payment_data;
      refusal(() => checkPlan(moved), 'E_ROUTE_MISMATCH', 4);
      const short = structuredClone(plan);
      (short.hops[1]!.payload.payment_data as { total_msat: string }).total_msat = String(final - 1);
      refusal(() => checkPlan(short), 'E_ROUTE_MISMATCH', 4);
    }
  });

  it('a route that already ends at the payee is kept as it is', () => {
    const direct = request({ hops: [{ ...toHint, node_id: CLN.payee }] });
    expect(requestWithInvoice(direct, terms(), 1000).hops).toEqual(direct.hops);
  });

  it('refuses a route that ends elsewhere (E_INVOICE_PAYEE), an amount under the invoice\'s or over twice it, an expiry under tip + delta (E_INVOICE_MISMATCH)', () => {
    refusal(() => requestWithInvoice(request({ hops: [{ ...toHint, node_id: '02' + '11'.repeat(32) }] }), terms(), 1000, { payee: CLN.payee }), 'E_INVOICE_PAYEE', 4);
    refusal(() => requestWithInvoice(request({ final_amount_msat: String(CLN.amount_msat - 1) }), terms(), 1000, { payee: CLN.payee }), 'E_INVOICE_MISMATCH', 4);
    refusal(() => requestWithInvoice(request({ final_amount_msat: String(2 * CLN.amount_msat + 1) }), terms(), 1000, { payee: CLN.payee }), 'E_INVOICE_MISMATCH', 4);
    expect(requestWithInvoice(request({ final_amount_msat: String(2 * CLN.amount_msat) }), terms(), 1000, { payee: CLN.payee }).final_amount_msat).toBe(String(2 * CLN.amount_msat));
    refusal(() => requestWithInvoice(request({ final_cltv_expiry: 1000 + CLN.min_final_cltv_expiry - 1 }), terms(), 1000, { payee: CLN.payee }), 'E_INVOICE_MISMATCH', 4);
    refusal(() => requestWithInvoice(request({ network: 'testnet' }), terms(), 1000, { payee: CLN.payee }), 'E_NETWORK_MISMATCH', 4);
    refusal(() => requestWithInvoice(request(), terms(), undefined, { payee: CLN.payee }), 'E_USAGE', 2);
  });

  it('the payer names the payee: another node\'s invoice is refused (E_INVOICE_PAYEE); without a payee no route hint is ever appended', () => {
    const OTHER = '02' + '11'.repeat(32);
    // Named payee not the invoice's signer: refused even when the route ends at the invoice's payee (whoever signed it).
    refusal(() => requestWithInvoice(request({ hops: [{ ...toHint, node_id: CLN.payee }] }), terms(), 1000, { payee: OTHER }), 'E_INVOICE_PAYEE', 4);
    refusal(() => requestWithInvoice(request(), terms(), 1000, { payee: OTHER }), 'E_INVOICE_PAYEE', 4);
    // No payee named: the request ending where the hint starts is not enough (anyone behind that LSP can sign such an invoice).
    refusal(() => requestWithInvoice(request(), terms(), 1000), 'E_INVOICE_PAYEE', 4);
    // BOLT 12: the payee is invoice_node_id.
    const lni = fixture('regtest.bolt12');
    const b12 = JSON.parse(fixture('cln/regtest.bolt12.json'));
    const t12 = invoiceTerms(lni, { now: b12.invoice_created_at });
    expect(() => checkPayee(t12, b12.invoice_node_id)).not.toThrow();
    refusal(() => checkPayee(t12, OTHER), 'E_INVOICE_PAYEE', 4);
  });

  it('the first HTLC is locked at most max-cltv blocks: final delta + forwarding deltas, the hint\'s included (E_INVOICE_CLTV)', () => {
    expect(DEFAULT_MAX_CLTV).toBe(2016);
    const total = CLN.min_final_cltv_expiry + HINT.cltv_expiry_delta; // the sender's own channel (toHint, delta 40) adds nothing
    expect(requestWithInvoice(request(), terms(), 1000, { payee: CLN.payee, maxCltv: total }).final_cltv_expiry).toBe(1000 + CLN.min_final_cltv_expiry);
    refusal(() => requestWithInvoice(request(), terms(), 1000, { payee: CLN.payee, maxCltv: total - 1 }), 'E_INVOICE_CLTV', 4);
    // The payer's own final_cltv_expiry counts from the tip: 2016 blocks out is the cap, 2017 is over it.
    const direct = (final: number) => request({ hops: [{ ...toHint, node_id: CLN.payee }], final_cltv_expiry: final });
    expect(requestWithInvoice(direct(1000 + 2016), terms(), 1000, { payee: CLN.payee }).final_cltv_expiry).toBe(3016);
    refusal(() => requestWithInvoice(direct(1000 + 2017), terms(), 1000, { payee: CLN.payee }), 'E_INVOICE_CLTV', 4);
  });

  it('a BOLT 12 invoice or an offer is not a route plan\'s: E_INVOICE_KIND; an expired invoice E_INVOICE_EXPIRED', () => {
    const lni = fixture('regtest.bolt12');
    const created = JSON.parse(fixture('cln/regtest.bolt12.json')).invoice_created_at;
    refusal(() => requestWithInvoice(request(), invoiceTerms(lni, { now: created }), 1000), 'E_INVOICE_KIND', 4);
    refusal(() => invoiceTerms(fixture('regtest.offer'), { now: created }), 'E_INVOICE_KIND', 4);
    refusal(() => invoiceTerms(lni, { now: created + 7201 }), 'E_INVOICE_EXPIRED', 4);
    refusal(() => invoiceTerms(INVOICE, { now: CLN.created_at + CLN.expiry + 1 }), 'E_INVOICE_EXPIRED', 4);
  });

  it('an invoice decode message is read by its invoice string, which is verified again (an edited field changes nothing)', () => {
    const { message } = decodeInvoiceText(INVOICE, { now: NOW });
    const edited = { ...message, amount_msat: '1', payee: '02' + '11'.repeat(32) };
    expect(invoiceText(edited, '--invoice')).toBe(INVOICE);
    refusal(() => invoiceText({ type: 'route/plan' }, '--invoice'), 'E_WRONG_MESSAGE', 3);
  });
});

describe('invoice decode messages validate against their schemas', () => {
  it('Core Lightning\'s BOLT 11 invoice, offer, request and BOLT 12 invoice, and the 19 valid mainnet offers of offers-test.json', () => {
    const texts = ['regtest.bolt11', 'regtest.offer', 'regtest.invreq', 'regtest.bolt12'].map(fixture);
    const offers = loadVector<{ valid: boolean; bolt12: string; description: string }[]>('bolts/bolt12/offers-test.json').filter((c) => c.valid && !c.description.includes('testnet'));
    let checked = 0;
    for (const t of [...texts, ...offers.map((o) => o.bolt12)]) {
      const { message } = decodeInvoiceText(t, { now: NOW });
      const schema = INVOICE_SCHEMAS.find((s) => s.properties.type.const === message.type)!;
      expect(Value.Check(schema, message), `${t}: ${[...Value.Errors(schema, message)].map((e) => e.path + ' ' + e.message).join('; ')}`).toBe(true);
      checked++;
    }
    expect(checked).toBe(4 + 19);
  });
});
