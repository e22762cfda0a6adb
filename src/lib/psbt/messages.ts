/**
 * Messages of the generic PSBT commands. `psbt/updated` is what every PSBT step prints
 * (combine, finalize, the MuSig2 rounds): the PSBT plus where it stands, shaped after
 * Core's `{psbt, complete}` answers so runbooks can branch on `complete` and `next`.
 */
import { Type } from '@sinclair/typebox';
import { base64 } from '@scure/base';
import type { Transaction } from '@scure/btc-signer';
import { Base64Psbt, Hex, Txid, messageSchema } from '../message.ts';
import type { Network } from '../network.ts';
import { analyzePsbt } from './analyze.ts';
import { serializePsbt } from './parse.ts';

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
  global_xpubs: Type.Optional(Type.Array(Type.Object({}, { additionalProperties: true }))),
  tx_modifiable: Type.Optional(Type.Object({}, { additionalProperties: true })),
  proprietary: Type.Optional(Type.Array(Type.Object({}, { additionalProperties: true }))),
  unknown: Type.Optional(Type.Array(Type.Object({}, { additionalProperties: true }))),
});

export function psbtUpdated(tx: Transaction, network: Network, step: string) {
  const bytes = serializePsbt(tx);
  const analysis = analyzePsbt(tx);
  return {
    message: {
      type: 'psbt/updated',
      version: 1,
      network,
      txid: tx.id,
      step,
      complete: analysis.next === 'extractor',
      next: analysis.next,
      summary: analysis.summary,
      psbt: base64.encode(bytes),
    },
    psbt: bytes,
  };
}
