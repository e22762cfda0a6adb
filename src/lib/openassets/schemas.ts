/** JSON Schemas of the Open Assets messages (decode-openassets). */
import { Type } from '@sinclair/typebox';
import { Hex, messageSchema, Sats, Txid } from '../message.ts';

const Quantity = (description: string) => Type.String({ pattern: '^(0|[1-9][0-9]{0,18})$', description: `${description} (decimal string, at most 2^63-1)` });
const AssetId = Type.String({ pattern: '^[1-9A-HJ-NP-Za-km-z]{30,40}$', description: 'asset ID, base58check (A… mainnet, o… test networks)' });
const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

export const OaMarkerSchema = Type.Object(
  {
    output: Type.Integer({ minimum: 0, description: 'index of the marker output' }),
    payload: Hex('the pushed marker payload'),
    asset_quantities: Type.Array(Quantity('asset quantity')),
    metadata: Hex('metadata bytes'),
    metadata_text: Type.Optional(Type.String({ description: 'metadata as UTF-8, when it is' })),
    asset_definition_url: Type.Optional(Type.String({ description: 'the u= asset definition pointer' })),
  },
  { additionalProperties: false },
);

export const OaDecodedSchema = messageSchema('openassets/decoded', 'One transaction decoded under the Open Assets protocol, colored as far as its ancestors allow.', {
  line: Type.Optional(Type.Integer({ minimum: 1, description: 'stream mode: the input line' })),
  txid: Txid,
  rule: Type.Union([Type.Literal('spec'), Type.Literal('reference')], { description: 'marker rule used' }),
  status: Type.Union([Type.Literal('colored'), Type.Literal('uncolored'), Type.Literal('undecided')], {
    description: 'colored: marker and coloring valid; uncolored: no marker or the coloring failed (see reason); undecided: ancestors missing',
  }),
  reason: Type.Optional(Type.String({ description: 'why the transaction is uncolored' })),
  missing_ancestors: Type.Optional(Type.Array(Txid, { description: 'txids whose transactions are needed and were not given' })),
  hint_if_missing: Type.Optional(Type.String()),
  marker: Type.Optional(OaMarkerSchema),
  outputs: Type.Array(
    Type.Object(
      {
        index: Type.Integer({ minimum: 0 }),
        value: Sats('output value'),
        script: Hex('output script'),
        address: Nullable(Type.String()),
        colored_address: Nullable(Type.String({ description: 'Open Assets address (0x13 namespace), P2PKH/P2SH only' })),
        type: Type.Union([Type.Literal('issuance'), Type.Literal('marker'), Type.Literal('transfer'), Type.Literal('uncolored')]),
        asset_id: Nullable(AssetId),
        asset_quantity: Type.Union([Quantity('asset units'), Type.Null()], { description: 'null while undecided' }),
      },
      { additionalProperties: false },
    ),
  ),
});

export const OaErrorSchema = messageSchema('openassets/error', 'Stream mode: one input line that could not be decoded; the stream goes on.', {
  line: Type.Integer({ minimum: 1 }),
  code: Type.String({ pattern: '^E_[A-Z0-9_]+$' }),
  exit_code: Type.Integer(),
  message: Type.String(),
});

export const OaAssetIdSchema = messageSchema('openassets/asset-id', 'The asset ID of an issuing script.', {
  script: Hex('issuing output script'),
  asset_id: AssetId,
});

export const OaAddressSchema = messageSchema('openassets/address', 'A Bitcoin address and its colored (Open Assets) address.', {
  address: Type.String(),
  colored_address: Type.String(),
});

/** Colu's and Counterparty's messages (also printed by `openassets decode`) are theirs: src/lib/schemas.ts lists them after these (both protocols are built on ./tx.ts). */
export const OPENASSETS_SCHEMAS = [OaDecodedSchema, OaErrorSchema, OaAssetIdSchema, OaAddressSchema];
