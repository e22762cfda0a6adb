/**
 * The onion messages (JSON edge of ./sphinx.ts and ./payload.ts): `onion/route` (what
 * onion-build reads), `onion/packet` (what it prints), `onion/peeled` (what onion-peel
 * prints; its `packet` is the next one to forward, so peels chain through a pipe) and
 * `onion/secrets` (the sender's per-hop shared secrets, written only to a 0600 file).
 */
import { Type, type Static } from '@sinclair/typebox';
import { Hex, messageSchema } from '../message.ts';

const Msat = (description: string) => Type.String({ pattern: '^(0|[1-9][0-9]{0,19})$', description: `${description} (msat, decimal string)` });

export const HopPayloadJson = Type.Object(
  {
    amt_to_forward: Type.Optional(Msat('amt_to_forward')),
    outgoing_cltv_value: Type.Optional(Type.Integer({ minimum: 0, maximum: 0xffffffff, description: 'outgoing_cltv_value (block height)' })),
    short_channel_id: Type.Optional(Type.String({ pattern: '^[0-9]{1,8}x[0-9]{1,8}x[0-9]{1,5}$', description: 'short_channel_id, BLOCKxTXxOUTPUT' })),
    payment_data: Type.Optional(Type.Object({ payment_secret: Hex('payment_secret', 32), total_msat: Msat('total_msat') }, { additionalProperties: false })),
    encrypted_recipient_data: Type.Optional(Hex('encrypted_recipient_data')),
    current_path_key: Type.Optional(Hex('current_path_key (compressed point)', 33)),
    payment_metadata: Type.Optional(Hex('payment_metadata')),
    total_amount_msat: Type.Optional(Msat('total_amount_msat')),
    tlv: Type.Optional(Type.Array(Type.Object({ type: Type.String({ pattern: '^(0|[1-9][0-9]{0,19})$', description: 'TLV type (decimal)' }), value: Hex('raw value') }, { additionalProperties: false }), { description: 'other TLV records, raw' })),
  },
  { additionalProperties: false, description: 'a hop payload (BOLT 4 TLV), field names as in BOLT 4' },
);
export type HopPayloadJson = Static<typeof HopPayloadJson>;

export const OnionRouteSchema = messageSchema('onion/route', 'A route to wrap in an onion: each hop\'s node id and payload, in order from the first hop to the recipient, and the associated data (the payment hash).', {
  associated_data: Hex('associated data bound into every HMAC (the payment hash)', 32),
  hops: Type.Array(Type.Object({ node_id: Hex('the hop\'s node id (compressed public key)', 33), payload: HopPayloadJson }, { additionalProperties: false }), { maxItems: 27, description: 'the hops in the clear (at least one, unless blinded_path is given)' }),
  blinded_path: Type.Optional(
    Type.Object(
      {
        introduction_node_id: Hex('the introduction node\'s real node id', 33),
        path_key: Hex('the first path_key', 33),
        hops: Type.Array(Type.Object({ blinded_node_id: Hex('blinded node id', 33), encrypted_recipient_data: Hex('encrypted_recipient_data') }, { additionalProperties: false }), { minItems: 1 }),
      },
      { description: 'a recipient\'s onion/blinded-path (its message fields are allowed and ignored) to append after the clear hops' },
    ),
  ),
  blinded_payload: Type.Optional(
    Type.Object(
      { amt_to_forward: Msat('amount for the recipient'), outgoing_cltv_value: Type.Integer({ minimum: 0, maximum: 0xffffffff, description: 'the final CLTV' }), total_amount_msat: Msat('total of the payment') },
      { additionalProperties: false, description: 'with blinded_path: what the recipient\'s payload carries besides its encrypted_recipient_data' },
    ),
  ),
});

export const OnionPacketSchema = messageSchema('onion/packet', 'A 1366-byte BOLT 4 onion packet and the associated data it is bound to.', {
  packet: Hex('the onion packet (1366 bytes)', 1366),
  associated_data: Hex('associated data (the payment hash)', 32),
});

const U = (bits: 16 | 32, description: string) => Type.Integer({ minimum: 0, maximum: 2 ** bits - 1, description });

export const RecipientDataJson = Type.Object(
  {
    padding: Type.Optional(Hex('padding (ignored by the hop)')),
    short_channel_id: Type.Optional(Type.String({ pattern: '^[0-9]{1,8}x[0-9]{1,8}x[0-9]{1,5}$', description: 'where to forward, BLOCKxTXxOUTPUT' })),
    next_node_id: Type.Optional(Hex('where to forward, as a node id', 33)),
    path_id: Type.Optional(Hex('the recipient\'s own data, for the final hop')),
    next_path_key_override: Type.Optional(Hex('the path_key to give the next hop instead of the derived one', 33)),
    payment_relay: Type.Optional(
      Type.Object({ cltv_expiry_delta: U(16, 'cltv_expiry_delta'), fee_proportional_millionths: U(32, 'fee_proportional_millionths'), fee_base_msat: Msat('fee_base_msat') }, { additionalProperties: false }),
    ),
    payment_constraints: Type.Optional(Type.Object({ max_cltv_expiry: U(32, 'max_cltv_expiry'), htlc_minimum_msat: Msat('htlc_minimum_msat') }, { additionalProperties: false })),
    allowed_features: Type.Optional(Hex('allowed_features bitfield')),
    tlv: Type.Optional(Type.Array(Type.Object({ type: Type.String({ pattern: '^(0|[1-9][0-9]{0,19})$', description: 'TLV type (decimal)' }), value: Hex('raw value') }, { additionalProperties: false }), { description: 'other TLV records, raw' })),
  },
  { additionalProperties: false, description: 'what a blinded hop finds in its encrypted_recipient_data (BOLT 4 encrypted_data_tlv)' },
);

export const OnionPeeledSchema = messageSchema('onion/peeled', 'One layer of an onion processed by its hop: the payload, and either the packet to forward or that this hop is the final one.', {
  final: Type.Boolean({ description: 'true when the next HMAC is all zero: this node is the recipient' }),
  payload: HopPayloadJson,
  payload_hex: Hex('the decrypted payload bytes (without length prefix)'),
  unknown_even_types: Type.Array(Type.String(), { description: 'unknown EVEN TLV types (a node must fail the HTLC on them)' }),
  associated_data: Hex('associated data (the payment hash)', 32),
  packet: Type.Optional(Hex('the packet to forward to the next hop (absent when final)', 1366)),
  recipient_data: Type.Optional(RecipientDataJson),
  next_path_key: Type.Optional(Hex('the path_key to send the next hop with the HTLC (update_add_htlc), when this hop is in a blinded path and not the last', 33)),
});

export const OnionBlindSchema = messageSchema('onion/blind', 'A path for the recipient to blind: each hop\'s real node id and the data only that hop may read, from the introduction node to the recipient.', {
  hops: Type.Array(Type.Object({ node_id: Hex('the hop\'s real node id', 33), recipient_data: RecipientDataJson }, { additionalProperties: false }), { minItems: 1, maxItems: 20 }),
});

export const OnionBlindedPathSchema = messageSchema('onion/blinded-path', 'A blinded path (BOLT 4 route blinding) to hand to payers: the introduction node in the clear, then blinded node ids and their encrypted data.', {
  introduction_node_id: Hex('the introduction node\'s real node id', 33),
  path_key: Hex('the first path_key: the payer puts it in the introduction node\'s payload as current_path_key', 33),
  hops: Type.Array(Type.Object({ blinded_node_id: Hex('blinded node id (the first one is the introduction node\'s)', 33), encrypted_recipient_data: Hex('encrypted_recipient_data for the hop\'s payload') }, { additionalProperties: false }), { minItems: 1 }),
});

export const OnionSecretsSchema = messageSchema('onion/secrets', 'The sender\'s per-hop shared secrets (SECRET: anyone holding them can read the route\'s failures); kept to unwrap returned errors.', {
  associated_data: Hex('associated data (the payment hash)', 32),
  node_ids: Type.Array(Hex('node id', 33)),
  shared_secrets: Type.Array(Hex('shared secret', 32)),
});



export const OnionErrorSchema = messageSchema('onion/error', 'A returned error packet (BOLT 4 "Returning Errors"), as the failing hop created it or a hop on the way back wrapped it.', {
  error_packet: Hex('the obfuscated error packet: HMAC || failure_len || failuremsg || pad_len || pad, XOR each hop\'s ammag stream'),
  attribution_data: Type.Optional(Hex('BOLT 4 attribution data: 20 hold times (u32, units of 100 ms) and 210 truncated HMACs, XOR each hop\'s ammagext stream', 920)),
});

export const OnionFailureSchema = messageSchema('onion/failure', 'A returned error unwrapped by the sender: which hop failed and why.', {
  hop: Type.Integer({ minimum: 0, description: 'index of the failing hop in the route (0 = first hop)' }),
  node_id: Hex('the failing hop\'s node id', 33),
  failure: Type.Object(
    {
      name: Type.String({ description: 'BOLT 4 failure name, or "unknown"' }),
      code: Type.Integer({ minimum: 0, maximum: 0xffff, description: 'failure_code' }),
      fields: Type.Record(Type.String(), Type.Union([Type.String(), Type.Integer()]), { description: 'the code\'s data fields (u64 as decimal strings, bytes as hex)' }),
      tlv: Type.Optional(Hex('trailing TLV stream, raw')),
    },
    { additionalProperties: false },
  ),
  failure_message: Hex('the raw failuremsg'),
  attribution: Type.Optional(
    Type.Object(
      {
        hold_times: Type.Array(
          Type.Object(
            {
              hop: Type.Integer({ minimum: 0, description: 'index in the route' }),
              node_id: Hex('the hop\'s node id', 33),
              hold_time: Type.Integer({ minimum: 0, maximum: 0xffffffff, description: 'how long the hop held the HTLC, in units of 100 ms, as it reported' }),
              hold_time_ms: Type.Integer({ minimum: 0, description: 'hold_time × 100' }),
            },
            { additionalProperties: false },
          ),
          { description: 'the hops whose attribution HMACs verified, in route order' },
        ),
        failed_at_hop: Type.Optional(Type.Integer({ minimum: 0, description: 'the first hop whose HMACs do not verify: the error was altered between it and the hop before it (this node, for hop 0)' })),
      },
      { additionalProperties: false, description: 'what the attribution data says, when the error carried it' },
    ),
  ),
});
export const ONION_SCHEMAS = [OnionRouteSchema, OnionPacketSchema, OnionPeeledSchema, OnionSecretsSchema, OnionErrorSchema, OnionFailureSchema, OnionBlindSchema, OnionBlindedPathSchema] as const;
