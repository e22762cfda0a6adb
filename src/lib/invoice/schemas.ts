/**
 * JSON Schemas of `invoice decode`'s four messages: `invoice/bolt11` (a BOLT 11
 * payment request), `invoice/offer`, `invoice/request` and `invoice/bolt12` (BOLT 12).
 * BOLT 12 fields keep the spec's TLV names; BOLT 11 fields the names of its tagged-field
 * list. Millisatoshis and BOLT 12 amounts/quantities are decimal strings; times are unix
 * seconds. Every message says whether it is `valid` (payable) at `now`, whether it
 * `expired`, and lists what a payer must still check itself (`payer_checks`).
 */
import { Type, type TSchema } from '@sinclair/typebox';
import { Hex, messageSchema } from '../message.ts';

const Decimal = (description: string) => Type.String({ pattern: '^(0|[1-9][0-9]*)$', description });
const Msat = (what: string) => Decimal(`${what}, millisatoshis (decimal string)`);
const Point = (what: string) => Hex(`${what}, 33-byte compressed public key`, 33);
const Scid = Type.String({ pattern: '^[0-9]+x[0-9]+x[0-9]+$', description: 'short_channel_id, BLOCKxTXxOUTPUT (BOLT 7)' });
const Seconds = (description: string) => Type.Integer({ minimum: 0, description });
const opt = <T extends TSchema>(t: T) => Type.Optional(t);

const Status = {
  now: Seconds('the time the message was judged at (--now, or the clock)'),
  expires_at: opt(Seconds('unix seconds after which a payer must not pay (or request); absent when it never expires')),
  expired: Type.Boolean({ description: 'now is after expires_at' }),
  valid: Type.Boolean({ description: 'every signature and rule of the spec holds and it has not expired: a payer may go ahead (after payer_checks)' }),
  payer_checks: Type.Array(Type.String(), { description: 'what a payer must still check for itself before paying, in words' }),
};

const Fallback = Type.Object(
  {
    version: Type.Integer({ minimum: 0, maximum: 255, description: 'witness version 0-16, or BOLT 11\'s 17 (P2PKH) / 18 (P2SH)' }),
    hex: Hex('witness program or hash'),
    address: opt(Type.String({ description: 'the address on this network; absent when the version/program gives none (a reader skips it)' })),
  },
  { additionalProperties: false },
);

export const InvoiceBolt11Schema = messageSchema('invoice/bolt11', 'A decoded BOLT 11 invoice, its signature verified.', {
  invoice: Type.String({ description: 'the invoice, lower case' }),
  currency: Type.Union([Type.Literal('bc'), Type.Literal('tb'), Type.Literal('tbs'), Type.Literal('bcrt')], { description: 'BIP-173 currency prefix' }),
  amount_msat: opt(Msat('the amount to pay; absent: the payer chooses')),
  created_at: Seconds('timestamp'),
  expiry: Seconds('x: seconds after created_at (3600 when absent)'),
  payee: Point('the payee node id (n, or recovered from the signature)'),
  payee_from: Type.Union([Type.Literal('n'), Type.Literal('recovered')], { description: 'n: the signature verified against the n field; recovered: public-key recovery' }),
  payment_hash: Hex('p: SHA-256 of the preimage', 32),
  payment_secret: Hex('s: payment_secret for the final hop payload', 32),
  description: opt(Type.String({ description: 'd' })),
  description_hash: opt(Hex('h: SHA-256 of the description', 32)),
  min_final_cltv_expiry_delta: Type.Integer({ minimum: 0, description: 'c: blocks (18 when absent)' }),
  features: opt(Hex('9: the feature bits, big-endian bytes')),
  feature_bits: Type.Array(Type.Integer({ minimum: 0 }), { description: 'the set feature bits, ascending' }),
  fallbacks: Type.Array(Fallback, { description: 'f fields, most preferred first' }),
  route_hints: Type.Array(
    Type.Array(
      Type.Object(
        {
          pubkey: Point('the node at the start of the channel'),
          short_channel_id: Scid,
          fee_base_msat: Type.Integer({ minimum: 0 }),
          fee_proportional_millionths: Type.Integer({ minimum: 0 }),
          cltv_expiry_delta: Type.Integer({ minimum: 0 }),
        },
        { additionalProperties: false },
      ),
    ),
    { description: 'r fields: each a route from a public node to the payee' },
  ),
  payment_metadata: opt(Hex('m')),
  unknown_fields: Type.Array(Type.Object({ tag: Type.Integer(), words: Type.String({ description: 'the data, bech32 characters' }) }, { additionalProperties: false }), {
    description: 'fields a reader skips: unknown tags, and p/h/s/n fields of the wrong length',
  }),
  signature: Hex('r || s', 64),
  recovery_id: Type.Integer({ minimum: 0, maximum: 3 }),
  ...Status,
});

const Path = Type.Object(
  {
    first_node_id: opt(Point('first_node_id')),
    first_scid: opt(Scid),
    first_scid_dir: opt(Type.Integer({ minimum: 0, maximum: 1 })),
    path_key: Point('path_key'),
    path: Type.Array(Type.Object({ blinded_node_id: Point('blinded_node_id'), encrypted_recipient_data: Hex('encrypted_recipient_data') }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);
const Paths = (d: string) => Type.Array(Path, { description: d });

const OfferFields = {
  offer_chains: opt(Type.Array(Hex('chain hash (genesis block hash, as carried)', 32))),
  offer_metadata: opt(Hex('offer_metadata')),
  offer_currency: opt(Type.String({ description: 'ISO 4217 code' })),
  offer_amount: opt(Decimal('per item: msat, or the currency\'s minor unit with offer_currency')),
  offer_description: opt(Type.String()),
  offer_features: opt(Hex('offer_features')),
  offer_absolute_expiry: opt(Seconds('offer_absolute_expiry')),
  offer_paths: opt(Paths('offer_paths')),
  offer_issuer: opt(Type.String()),
  offer_quantity_max: opt(Decimal('0: unlimited')),
  offer_issuer_id: opt(Point('offer_issuer_id')),
};
const RequestFields = {
  invreq_metadata: opt(Hex('invreq_metadata')),
  ...OfferFields,
  invreq_chain: opt(Hex('invreq_chain', 32)),
  invreq_amount: opt(Msat('invreq_amount')),
  invreq_features: opt(Hex('invreq_features')),
  invreq_quantity: opt(Decimal('invreq_quantity')),
  invreq_payer_id: opt(Point('invreq_payer_id')),
  invreq_payer_note: opt(Type.String()),
  invreq_paths: opt(Paths('invreq_paths')),
  invreq_bip_353_name: opt(Type.Object({ name: Type.String(), domain: Type.String() }, { additionalProperties: false })),
};
const Unknown = {
  unknown_fields: Type.Array(Type.Object({ type: Decimal('TLV type'), value: Hex('value') }, { additionalProperties: false }), { description: 'unknown odd TLV records (ignored)' }),
};
const Signature = { signature: opt(Hex('BIP-340 signature of the Merkle root (verified)', 64)) };

export const InvoiceOfferSchema = messageSchema('invoice/offer', 'A decoded BOLT 12 offer (lno…).', {
  offer: Type.String({ description: 'the offer, lower case, without + continuations' }),
  ...OfferFields,
  ...Unknown,
  ...Status,
});

export const InvoiceRequestSchema = messageSchema('invoice/request', 'A decoded BOLT 12 invoice request (lnr…), signed by invreq_payer_id.', {
  invoice_request: Type.String({ description: 'lower case, without + continuations' }),
  ...RequestFields,
  ...Signature,
  ...Unknown,
  ...Status,
});

export const InvoiceBolt12Schema = messageSchema('invoice/bolt12', 'A decoded BOLT 12 invoice (lni…), signed by invoice_node_id.', {
  invoice: Type.String({ description: 'lower case, without + continuations' }),
  ...RequestFields,
  invoice_paths: opt(Paths('invoice_paths')),
  invoice_blindedpay: opt(
    Type.Array(
      Type.Object(
        {
          fee_base_msat: Type.Integer({ minimum: 0 }),
          fee_proportional_millionths: Type.Integer({ minimum: 0 }),
          cltv_expiry_delta: Type.Integer({ minimum: 0 }),
          htlc_minimum_msat: Msat('htlc_minimum_msat'),
          htlc_maximum_msat: Msat('htlc_maximum_msat'),
          features: Hex('features'),
        },
        { additionalProperties: false },
      ),
    ),
  ),
  invoice_created_at: opt(Seconds('invoice_created_at')),
  invoice_relative_expiry: opt(Seconds('seconds after invoice_created_at (7200 when absent)')),
  invoice_payment_hash: opt(Hex('invoice_payment_hash', 32)),
  invoice_amount: opt(Msat('invoice_amount')),
  invoice_fallbacks: opt(Type.Array(Fallback)),
  invoice_features: opt(Hex('invoice_features')),
  invoice_node_id: opt(Point('invoice_node_id')),
  ...Signature,
  ...Unknown,
  ...Status,
});

export const INVOICE_SCHEMAS = [InvoiceBolt11Schema, InvoiceOfferSchema, InvoiceRequestSchema, InvoiceBolt12Schema];
