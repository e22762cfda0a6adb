/**
 * JSON Schemas of `route plan` / `route check`: a `route/request` (the nodes after the
 * sender, each with the channel reaching it and that channel's policy; the payee's
 * amount and expiry) and the `route/plan` it gives — every HTLC's amount and expiry and
 * each hop's BOLT 4 payload, in the shape an onion builder takes. msat are decimal strings.
 */
import { Type } from '@sinclair/typebox';
import { Hex, messageSchema } from '../message.ts';

const Msat = (what: string) => Type.String({ pattern: '^(0|[1-9][0-9]{0,21})$', description: `${what}, millisatoshis (decimal string)` });
const Scid = Type.String({ pattern: '^[0-9]{1,8}x[0-9]{1,8}x[0-9]{1,5}$', description: 'short_channel_id, BLOCKxTXxOUTPUT (BOLT 7)' });
const Cltv = (what: string) => Type.Integer({ minimum: 1, maximum: 499_999_999, description: what });
const Policy = Type.Object(
  {
    fee_base_msat: Type.Integer({ minimum: 0, maximum: 0xffff_ffff, description: 'channel_update fee_base_msat' }),
    fee_proportional_millionths: Type.Integer({ minimum: 0, maximum: 0xffff_ffff, description: 'channel_update fee_proportional_millionths' }),
    cltv_expiry_delta: Type.Integer({ minimum: 0, maximum: 0xffff, description: 'channel_update cltv_expiry_delta' }),
  },
  { additionalProperties: false, description: 'the policy of the channel into this hop, set by the node before it (what that node charges to forward)' },
);
const NodeId = Hex('node id, 33-byte compressed public key', 33);
const PaymentData = Type.Optional(
  Type.Object(
    { payment_secret: Hex('the invoice\'s payment_secret (BOLT 11 s)', 32), total_msat: Msat('the whole payment (all its parts), millisatoshis') },
    { additionalProperties: false, description: 'BOLT 4 payment_data (TLV 8), for the payee only' },
  ),
);

export const RouteRequestSchema = messageSchema('route/request', 'A route to price: the nodes after the sender (the payee last) and what the payee must receive.', {
  final_amount_msat: Msat('what the payee must receive'),
  final_cltv_expiry: Cltv('the payee\'s HTLC expiry (absolute block height: tip + its min_final_cltv_expiry_delta)'),
  payment_data: PaymentData,
  hops: Type.Array(Type.Object({ node_id: NodeId, short_channel_id: Type.Optional(Scid), policy: Policy }, { additionalProperties: false }), { minItems: 1 }),
});

export const RoutePlanSchema = messageSchema('route/plan', 'Every HTLC of a route and each hop\'s BOLT 4 payload, worked back from the payee.', {
  final_amount_msat: Msat('what the payee receives'),
  final_cltv_expiry: Cltv('the payee\'s HTLC expiry'),
  total_fee_msat: Msat('what the intermediate nodes keep'),
  first_htlc: Type.Object(
    { amount_msat: Msat('the sender\'s HTLC to the first hop'), cltv_expiry: Cltv('its expiry'), short_channel_id: Type.Optional(Scid) },
    { additionalProperties: false },
  ),
  hops: Type.Array(
    Type.Object(
      {
        node_id: NodeId,
        short_channel_id: Type.Optional(Scid),
        policy: Policy,
        amount_msat: Msat('the HTLC this node receives'),
        cltv_expiry: Cltv('its expiry'),
        fee_msat: Msat('what this node keeps (0 for the payee)'),
        payload: Type.Object(
          { amt_to_forward: Msat('BOLT 4 amt_to_forward'), outgoing_cltv_value: Cltv('BOLT 4 outgoing_cltv_value'), short_channel_id: Type.Optional(Scid), payment_data: PaymentData },
          { additionalProperties: false, description: 'this hop\'s BOLT 4 payload (the payee\'s has no short_channel_id, and payment_data when the invoice gave a payment_secret)' },
        ),
      },
      { additionalProperties: false },
    ),
    { minItems: 1 },
  ),
});

export const ROUTE_SCHEMAS = [RouteRequestSchema, RoutePlanSchema];
