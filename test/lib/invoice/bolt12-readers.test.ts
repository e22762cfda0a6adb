/**
 * BOLT 12's reader requirements (bolt12-readers.ts), one rule at a time, each with the
 * message that passes it and the one that breaks it: "Requirements For Offers" (through
 * the spec's own offers-test.json), "Requirements for Invoice Requests" and the invoice
 * reader's list. Requests and invoices are written here (fields chosen from the spec's
 * tables, signed by a test key as a writer would); expected outcomes are the spec's
 * MUST-reject lines, quoted beside each case. Written against the mutants
 * `npm run mutate` left alive in the readers (docs/testing.md).
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { describe, expect, it } from 'vitest';
import { decodeBolt12, encodeBolt12String } from '../../../src/lib/invoice/bolt12.ts';
import { loadVector } from '../../helpers.ts';
import { refusal } from '../../setup/refusal.ts';
import { KEY, PATH, PAYINFO, PUB, T0, rec, signed12, tu64, u } from './writer.ts';

/** TLV fields by type; `undefined` leaves a field out. Written in ascending type order. */
type Fields = Record<number, number[] | undefined>;
const body = (f: Fields) =>
  Object.entries(f)
    .filter(([, v]) => v !== undefined)
    .map(([t, v]) => [Number(t), v!] as const)
    .sort((a, b) => a[0] - b[0])
    .flatMap(([t, v]) => rec(t, v));
const text = (s: string) => [...Buffer.from(s)];
const pub = (key: Uint8Array) => [...secp256k1.getPublicKey(key, true)];
const MALLORY = Uint8Array.from(Buffer.alloc(32, 0x4d));
const BITCOIN = [...Buffer.from('6fe28c0ab6f1b372c1a6a246ae63f74f931e8365e15a089c68d6190000000000', 'hex')];
/** A blinded path whose num_hops is 0. */
const NO_HOPS = [...PUB, ...PUB, 0];
/** A blinded_payinfo (no fees) whose features are `features`. */
const payinfo = (features: number[]) => [...u(0, 4), ...u(0, 4), ...u(40, 2), ...u(1, 8), ...u(1_000_000_000n, 8), ...u(features.length, 2), ...features];

/** An offer by PUB for coffee (no amount). */
const OFFER: Fields = { 10: text('coffee'), 22: [...PUB] };
/** The request fields: metadata, 5000 msat, payer PUB. */
const REQUEST: Fields = { 0: [1, 2, 3, 4], 82: tu64(5000n), 88: [...PUB] };
/** An invoice request of OFFER + REQUEST changed by `f`, signed by `key`. */
const request = (f: Fields, key = KEY) => signed12('lnr', 'invoice_request', body({ ...OFFER, ...REQUEST, ...f }), key);
/** The invoice fields: one path and its payinfo, created at T0, 5000 msat, node PUB. */
const INVOICE: Fields = { 160: PATH, 162: PAYINFO, 164: tu64(BigInt(T0)), 168: new Array(32).fill(7), 170: tu64(5000n), 176: [...PUB] };
/** An invoice of OFFER + REQUEST + INVOICE changed by `f`, signed by `key`. */
const invoice = (f: Fields, key = KEY) => signed12('lni', 'invoice', body({ ...OFFER, ...REQUEST, ...INVOICE, ...f }), key);

describe('BOLT 12 reader: offers (offers-test.json), the refusal names the field to fix', () => {
  const OFFERS = loadVector<{ description: string; valid: boolean; bolt12: string }[]>('bolts/bolt12/offers-test.json');
  const invalid = (d: string) => OFFERS.find((c) => c.description === d && !c.valid)!.bolt12;
  const cases: [string, string, string][] = [
    // [vector, code, what the message must name]
    ['Second offer_path is empty', 'E_BOLT12_EMPTY_PATH', 'offer_paths[1]'],
    ['offer_chains with zero entries', 'E_BOLT12_CHAIN', 'offer_chains'],
    ['Contains unknown feature 122', 'E_BOLT12_UNKNOWN_FEATURE', 'offer_features'],
    ['Missing offer_description, but has offer_amount', 'E_BOLT12_AMOUNT', 'offer_description'],
    ['Invalid: zero offer_amount', 'E_BOLT12_AMOUNT', 'offer_amount'],
    ['Missing offer_amount with offer_currency', 'E_BOLT12_AMOUNT', 'offer_currency'],
    ['Missing offer_issuer_id and no offer_path', 'E_BOLT12_NO_ROUTE', 'offer_issuer_id'],
  ];
  for (const [d, code, field] of cases) {
    it(`${d}: ${code} naming ${field}`, () => {
      expect(refusal(() => decodeBolt12(invalid(d)), code, 4).message).toContain(field);
    });
  }
});

describe('BOLT 12 reader: invoice requests', () => {
  it('control: a request for an offer by PUB, with metadata, amount, payer id and its signature, is valid', () => {
    expect(decodeBolt12(request({})).kind).toBe('invoice_request');
  });

  it('"MUST reject the invoice request if invreq_payer_id or invreq_metadata are not present", or the signature: E_BOLT12_MISSING_FIELD naming it', () => {
    expect(refusal(() => decodeBolt12(request({ 0: undefined })), 'E_BOLT12_MISSING_FIELD', 4).message).toContain('invreq_metadata');
    expect(refusal(() => decodeBolt12(request({ 88: undefined })), 'E_BOLT12_MISSING_FIELD', 4).message).toContain('invreq_payer_id');
    const unsigned = encodeBolt12String('lnr', Uint8Array.from(body({ ...OFFER, ...REQUEST })));
    expect(refusal(() => decodeBolt12(unsigned), 'E_BOLT12_MISSING_FIELD', 4).message).toContain('signature');
  });

  it('"if invreq_features contains unknown even bits: MUST reject"; an odd one is ignored', () => {
    expect(decodeBolt12(request({ 84: [0b10] })).kind).toBe('invoice_request');
    expect(refusal(() => decodeBolt12(request({ 84: [0b01] })), 'E_BOLT12_UNKNOWN_FEATURE', 4).message).toContain('invreq_features');
  });

  it('"if num_hops is 0 in any blinded_path in invreq_paths: MUST reject": E_BOLT12_EMPTY_PATH naming the path', () => {
    expect(decodeBolt12(request({ 90: PATH })).kind).toBe('invoice_request');
    expect(refusal(() => decodeBolt12(request({ 90: NO_HOPS })), 'E_BOLT12_EMPTY_PATH', 4).message).toContain('invreq_paths[0]');
  });

  it('a signature by another key than invreq_payer_id: E_BOLT12_SIGNATURE naming invreq_payer_id', () => {
    expect(refusal(() => decodeBolt12(request({}, MALLORY)), 'E_BOLT12_SIGNATURE', 4).message).toContain('invreq_payer_id');
  });

  it('the offer fields a request copies must be a valid offer ("exactly match a valid, unexpired offer"): an amount without description is E_BOLT12_AMOUNT', () => {
    refusal(() => decodeBolt12(request({ 8: tu64(1000n), 10: undefined })), 'E_BOLT12_AMOUNT', 4);
  });

  it('offer_quantity_max present: no invreq_quantity, or 0, or more than the max is E_BOLT12_QUANTITY; 1..max valid; max 0 means any quantity', () => {
    expect(refusal(() => decodeBolt12(request({ 20: tu64(5n) })), 'E_BOLT12_QUANTITY', 4).message).toContain('invreq_quantity');
    expect(refusal(() => decodeBolt12(request({ 20: tu64(5n), 86: tu64(0n) })), 'E_BOLT12_QUANTITY', 4).message).toContain('invreq_quantity 0');
    refusal(() => decodeBolt12(request({ 20: tu64(5n), 86: tu64(6n) })), 'E_BOLT12_QUANTITY', 4);
    expect(decodeBolt12(request({ 20: tu64(5n), 86: tu64(1n) })).fields.invreq_quantity).toBe(1n);
    expect(decodeBolt12(request({ 20: tu64(5n), 86: tu64(5n) })).fields.invreq_quantity).toBe(5n);
    // "if offer_quantity_max is non-zero: MUST reject ... if invreq_quantity is zero, OR greater": 0 sets no upper bound.
    expect(decodeBolt12(request({ 20: tu64(0n), 86: tu64(7n) })).fields.invreq_quantity).toBe(7n);
  });

  it('no offer_quantity_max: "MUST reject the invoice request if there is an invreq_quantity field" (E_BOLT12_QUANTITY naming offer_quantity_max)', () => {
    expect(refusal(() => decodeBolt12(request({ 86: tu64(1n) })), 'E_BOLT12_QUANTITY', 4).message).toContain('offer_quantity_max');
  });

  it('no offer_amount: "MUST reject the invoice request if it does not contain invreq_amount" (E_BOLT12_AMOUNT naming invreq_amount)', () => {
    expect(refusal(() => decodeBolt12(request({ 82: undefined })), 'E_BOLT12_AMOUNT', 4).message).toContain('invreq_amount');
  });

  it('offer_amount in msat: invreq_amount below offer_amount x quantity is E_BOLT12_AMOUNT; exactly it, or more, valid; an offer in a currency is not compared with msat', () => {
    const offer = { 8: tu64(1000n), 20: tu64(5n), 86: tu64(3n) };
    expect(refusal(() => decodeBolt12(request({ ...offer, 82: tu64(2999n) })), 'E_BOLT12_AMOUNT', 4).message).toContain('invreq_amount 2999');
    expect(decodeBolt12(request({ ...offer, 82: tu64(3000n) })).kind).toBe('invoice_request');
    expect(decodeBolt12(request({ ...offer, 82: tu64(3500n) })).kind).toBe('invoice_request');
    // "MAY omit invreq_amount" when the offer has one.
    expect(decodeBolt12(request({ ...offer, 82: undefined })).kind).toBe('invoice_request');
    // 100.00 USD against 5000 msat: the conversion is left to the caller (bolt12.ts: "never compared with msat").
    expect(decodeBolt12(request({ 6: text('USD'), 8: tu64(10_000n), 82: tu64(5000n) })).kind).toBe('invoice_request');
  });

  it('an offer with offer_paths and no offer_issuer_id is an offer too: its amount stands in for invreq_amount, offer_quantity_max is allowed', () => {
    const paths = { 16: PATH, 22: undefined, 8: tu64(1000n) };
    expect(decodeBolt12(request({ ...paths, 82: undefined })).kind).toBe('invoice_request');
    expect(decodeBolt12(request({ ...paths, 20: tu64(2n), 86: tu64(2n), 82: undefined })).fields.invreq_quantity).toBe(2n);
  });

  describe('a request that answers no offer (no offer_issuer_id or offer_paths)', () => {
    const NO_OFFER: Fields = { 10: text('refund'), 22: undefined };
    it('with invreq_amount is valid, and the offer rules do not bind it: "MAY use offer_amount (or offer_currency) for informational display"', () => {
      expect(decodeBolt12(request(NO_OFFER)).kind).toBe('invoice_request');
      expect(decodeBolt12(request({ ...NO_OFFER, 6: text('USD') })).fields.offer_currency).toBe('USD');
    });
    it('"MUST reject the invoice request if any of the following are present: offer_chains, offer_features or offer_quantity_max" (E_BOLT12_FORBIDDEN_FIELD naming it)', () => {
      for (const [type, value, name] of [[2, BITCOIN, 'offer_chains'], [12, [0b10], 'offer_features'], [20, tu64(5n), 'offer_quantity_max']] as const) {
        expect(refusal(() => decodeBolt12(request({ ...NO_OFFER, [type]: [...value] })), 'E_BOLT12_FORBIDDEN_FIELD', 4).message, name).toContain(name);
      }
    });
    it('"MUST reject the invoice request if invreq_amount is not present" (E_BOLT12_AMOUNT naming invreq_amount)', () => {
      expect(refusal(() => decodeBolt12(request({ ...NO_OFFER, 82: undefined })), 'E_BOLT12_AMOUNT', 4).message).toContain('invreq_amount');
    });
  });
});

describe('BOLT 12 reader: invoices', () => {
  it('control: an invoice for a request for an offer by PUB, signed by PUB, is valid', () => {
    expect(decodeBolt12(invoice({})).kind).toBe('invoice');
  });

  it('"MUST reject the invoice if" invoice_amount, invoice_created_at, invoice_payment_hash or invoice_node_id "is not present", or the signature: E_BOLT12_MISSING_FIELD naming it', () => {
    for (const [type, name] of [[170, 'invoice_amount'], [164, 'invoice_created_at'], [168, 'invoice_payment_hash'], [176, 'invoice_node_id']] as const) {
      expect(refusal(() => decodeBolt12(invoice({ [type]: undefined })), 'E_BOLT12_MISSING_FIELD', 4).message, name).toContain(name);
    }
    const unsigned = encodeBolt12String('lni', Uint8Array.from(body({ ...OFFER, ...REQUEST, ...INVOICE })));
    expect(refusal(() => decodeBolt12(unsigned), 'E_BOLT12_MISSING_FIELD', 4).message).toContain('signature');
  });

  it('"if invoice_features contains unknown even bits: MUST reject"; MPP (16, known) and an odd bit are valid', () => {
    expect(decodeBolt12(invoice({ 174: [0x01, 0x00, 0x00] })).kind).toBe('invoice'); // bit 16: MPP/compulsory
    expect(decodeBolt12(invoice({ 174: [0b10] })).kind).toBe('invoice');
    expect(refusal(() => decodeBolt12(invoice({ 174: [0b01] })), 'E_BOLT12_UNKNOWN_FEATURE', 4).message).toContain('invoice_features');
  });

  it('"MUST reject the invoice if invoice_paths is not present or is empty": E_BOLT12_NO_ROUTE naming invoice_paths', () => {
    expect(refusal(() => decodeBolt12(invoice({ 160: undefined })), 'E_BOLT12_NO_ROUTE', 4).message).toContain('invoice_paths');
    expect(refusal(() => decodeBolt12(invoice({ 160: [], 162: [] })), 'E_BOLT12_NO_ROUTE', 4).message).toContain('invoice_paths');
  });

  it('"MUST reject the invoice if num_hops is 0 in any blinded_path in invoice_paths" (and in the invreq_paths it copies): E_BOLT12_EMPTY_PATH naming the path', () => {
    expect(refusal(() => decodeBolt12(invoice({ 160: NO_HOPS })), 'E_BOLT12_EMPTY_PATH', 4).message).toContain('invoice_paths[0]');
    expect(refusal(() => decodeBolt12(invoice({ 90: NO_HOPS })), 'E_BOLT12_EMPTY_PATH', 4).message).toContain('invreq_paths[0]');
  });

  it('"MUST reject the invoice if invoice_blindedpay is not present", or not "exactly one blinded_payinfo per" path: E_BOLT12_NO_ROUTE with the counts', () => {
    refusal(() => decodeBolt12(invoice({ 162: undefined })), 'E_BOLT12_NO_ROUTE', 4);
    expect(refusal(() => decodeBolt12(invoice({ 162: [...PAYINFO, ...PAYINFO] })), 'E_BOLT12_NO_ROUTE', 4).message).toContain('invoice_blindedpay has 2 entries for 1 invoice_paths');
    expect(decodeBolt12(invoice({ 160: [...PATH, ...PATH], 162: [...PAYINFO, ...PAYINFO] })).fields.invoice_paths).toHaveLength(2);
  });

  it('"MUST NOT use the corresponding invoice_paths.path if payinfo.features has any unknown even bits set", "MUST reject the invoice if this leaves no usable paths"', () => {
    expect(refusal(() => decodeBolt12(invoice({ 162: payinfo([0b01]) })), 'E_BOLT12_NO_ROUTE', 4).message).toContain('unknown feature');
    expect(decodeBolt12(invoice({ 162: payinfo([0b10]) })).kind).toBe('invoice'); // an odd bit: usable
    expect(decodeBolt12(invoice({ 160: [...PATH, ...PATH], 162: [...payinfo([0b01]), ...payinfo([])] })).kind).toBe('invoice'); // one usable path is enough
  });

  it('"if invreq_amount is present: MUST reject the invoice if invoice_amount is not equal to invreq_amount" — also when the payer asked more than the offer\'s amount', () => {
    expect(refusal(() => decodeBolt12(invoice({ 170: tu64(4999n) })), 'E_BOLT12_AMOUNT', 4).message).toContain('invreq_amount 5000');
    // offer 1000 msat, request 1500 (a writer may ask more: "greater or equal to amount expected"), invoice 1500.
    expect(decodeBolt12(invoice({ 8: tu64(1000n), 82: tu64(1500n), 170: tu64(1500n) })).fields.invoice_amount).toBe(1500n);
  });

  it('without invreq_amount the expected amount is offer_amount x invreq_quantity: the refusal shows the product', () => {
    const f = { 8: tu64(1000n), 20: tu64(5n), 82: undefined, 86: tu64(3n), 170: tu64(2999n) };
    expect(refusal(() => decodeBolt12(invoice(f)), 'E_BOLT12_AMOUNT', 4).message).toContain('offer_amount 1000 msat x quantity 3 = 3000 msat');
  });

  it('invoice_node_id not the offer\'s signer: E_BOLT12_NODE_ID naming offer_issuer_id, or offer_paths for an offer with paths only', () => {
    const mallory = { 176: pub(MALLORY) };
    expect(refusal(() => decodeBolt12(invoice(mallory, MALLORY)), 'E_BOLT12_NODE_ID', 4).message).toContain('offer_issuer_id');
    expect(refusal(() => decodeBolt12(invoice({ ...mallory, 16: PATH, 22: undefined }, MALLORY)), 'E_BOLT12_NODE_ID', 4).message).toContain('offer_paths');
  });

  it('an invoice for a request that answers no offer: any invoice_node_id that signs it is valid ("MAY reject ... out-of-band")', () => {
    expect(decodeBolt12(invoice({ 10: text('refund'), 22: undefined, 176: pub(MALLORY) }, MALLORY)).kind).toBe('invoice');
  });

  it('a signature not by invoice_node_id: E_BOLT12_SIGNATURE naming invoice_node_id', () => {
    expect(refusal(() => decodeBolt12(invoice({}, MALLORY)), 'E_BOLT12_SIGNATURE', 4).message).toContain('invoice_node_id');
  });
});
