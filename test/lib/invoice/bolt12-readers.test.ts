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

