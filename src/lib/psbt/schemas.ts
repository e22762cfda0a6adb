/**
 * JSON Schemas of the generic PSBT commands' messages (docs and `schemas/`). Kept apart
 * from the builders in messages.ts so printing a message never loads the schema library.
 */
import { Type } from '@sinclair/typebox';
import { Base64Psbt, Hex, Txid, messageSchema } from '../message.ts';

const Role = Type.Union(['creator', 'updater', 'signer', 'finalizer', 'extractor'].map((r) => Type.Literal(r)));

export const PsbtUpdatedSchema = messageSchema('psbt/updated', 'A PSBT after one step, with the role it needs next.', {
  txid: Txid,
  step: Type.String({ description: 'what this invocation did, e.g. "musig nonce"' }),
  complete: Type.Boolean({ description: 'true when every input is finalized (extract next)' }),
  next: Role,
  summary: Type.String({ description: 'one line for humans' }),
  psbt: Base64Psbt,
});

export const PsbtExtractedSchema = messageSchema('psbt/extracted', 'The network transaction of a finalized PSBT.', {
  txid: Txid,
  wtxid: Type.Optional(Txid),
  vsize: Type.Integer({ minimum: 1 }),
  hex: Hex('the raw transaction, ready for sendrawtransaction'),
});

export const PsbtAnalysisSchema = messageSchema('psbt/analysis', 'Which BIP-174 role each input needs next, MuSig2-aware.', {
  txid: Txid,
  next: Role,
  summary: Type.String(),
  fee_sat: Type.Optional(Type.Integer({ minimum: 0 })),
  estimated_vsize: Type.Optional(Type.Integer()),
  estimated_feerate_sat_per_kvb: Type.Optional(Type.Integer()),
  error: Type.Optional(Type.String()),
  inputs: Type.Array(Type.Object({}, { additionalProperties: true }), { description: 'per input: index, next, missing, musig2 sessions (docs/psbt.md)' }),
});

export const PsbtDecodedSchema = messageSchema('psbt/decoded', 'Everything in a PSBT, with Bitcoin Core decodepsbt key names (docs/psbt.md).', {
  txid: Txid,
  psbt_version: Type.Integer(),
  tx: Type.Object({}, { additionalProperties: true }),
  inputs: Type.Array(Type.Object({}, { additionalProperties: true })),
  outputs: Type.Array(Type.Object({}, { additionalProperties: true })),
  fee_sat: Type.Optional(Type.Integer({ minimum: 0 })),
  global_xpubs: Type.Array(Type.Object({ xpub: Type.String(), master_fingerprint: Type.String(), path: Type.String() })),
  tx_modifiable: Type.Optional(Type.Object({}, { additionalProperties: true })),
  proprietary: Type.Array(
    Type.Object({ identifier: Hex('proprietary identifier'), subtype: Type.Integer(), key: Hex('key data'), value: Hex('value') }),
  ),
  unknown: Type.Record(Type.String({ description: 'key, hex' }), Hex('value'), { description: 'unrecognised global fields, key → value' }),
});
