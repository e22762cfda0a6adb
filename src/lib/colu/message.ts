/**
 * The `colu/decoded` message: a transaction's outputs and its Colu ("CC") OP_RETURN
 * payload, decoded. Balances (the asset flow) need the inputs' colored state and are
 * not computed here.
 */
import { Type } from '@sinclair/typebox';
import { toHex } from '../bytes.ts';
import { MESSAGE_VERSION } from '../envelope.ts';
import { Hex, messageSchema, Sats, Txid } from '../message.ts';
import type { Network } from '../network.ts';
import { scriptAddress } from '../address.ts';
import type { RawTx } from '../tx/raw.ts';
import { decodeColuPayload, findColuOutput } from './decode.ts';
import type { ColuColoring } from './coloring.ts';

const plain = (v: unknown) => JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x)));

export function coluMessage(tx: RawTx, network: Network, coloring?: ColuColoring) {
  const found = findColuOutput(tx);
  const colu = found.data ? plain(decodeColuPayload(found.data)) : undefined;
  return {
    type: 'colu/decoded',
    version: MESSAGE_VERSION,
    network,
    txid: tx.txid,
    ...(colu ? { op_return_output: found.index, payload: colu } : { reason: found.reason }),
    ...(coloring
      ? {
          flow: {
            status: coloring.status,
            ...(coloring.overflow !== undefined ? { overflow: coloring.overflow } : {}),
            ...(coloring.missing ? { missing_ancestors: coloring.missing } : {}),
            ...(coloring.reason && colu ? { reason: coloring.reason } : {}),
          },
        }
      : {}),
    outputs: tx.outputs.map((o, i) => ({
      index: i,
      value: Number(o.value),
      script: toHex(o.script),
      address: scriptAddress(o.script, network) ?? null,
      ...(coloring && coloring.status === 'colored' ? { assets: coloring.outputs[i] === null ? [] : plain(coloring.outputs[i]) } : {}),
    })),
  };
}

const Amount = Type.String({ pattern: '^[0-9]+$', description: 'decimal string' });
export const ColuDecodedSchema = messageSchema('colu/decoded', 'A transaction\'s Colu ("CC") OP_RETURN payload, decoded (no balances).', {
  txid: Txid,
  op_return_output: Type.Optional(Type.Integer({ minimum: 0 })),
  reason: Type.Optional(Type.String({ description: 'why no payload was decoded' })),
  payload: Type.Optional(
    Type.Object(
      {
        protocol: Type.Integer(),
        version: Type.Integer(),
        type: Type.Union([Type.Literal('issuance'), Type.Literal('transfer'), Type.Literal('burn')]),
        opcode: Type.Integer(),
        torrentHash: Type.Optional(Hex('torrent hash', 20)),
        sha2: Type.Optional(Hex('metadata SHA-256', 32)),
        multiSig: Type.Array(Type.Object({ index: Type.Integer(), hashType: Type.String() }, { additionalProperties: false })),
        noRules: Type.Optional(Type.Boolean()),
        amount: Type.Optional(Amount),
        divisibility: Type.Optional(Type.Integer()),
        lockStatus: Type.Optional(Type.Boolean()),
        aggregationPolicy: Type.Optional(Type.String()),
        payments: Type.Array(
          Type.Object(
            {
              skip: Type.Boolean(), range: Type.Boolean(), percent: Type.Boolean(), output: Type.Optional(Type.Integer()),
              burn: Type.Optional(Type.Boolean()), amount: Amount, input: Type.Integer({ description: 'input the units come from (skip flags)' }),
            },
            { additionalProperties: false },
          ),
        ),
      },
      { additionalProperties: false },
    ),
  ),
  hint_if_missing: Type.Optional(Type.String({ description: 'with a node: why ancestors may be missing (-txindex)' })),
  flow: Type.Optional(
    Type.Object(
      {
        status: Type.Union([Type.Literal('colored'), Type.Literal('undecided'), Type.Literal('no-payload'), Type.Literal('unsupported')], { description: 'colored: assets per output below; undecided: ancestors missing' }),
        overflow: Type.Optional(Type.Boolean({ description: 'an invalid instruction sent every input asset to the last output' })),
        missing_ancestors: Type.Optional(Type.Array(Txid)),
        reason: Type.Optional(Type.String()),
      },
      { additionalProperties: false },
    ),
  ),
  outputs: Type.Array(
    Type.Object(
      {
        index: Type.Integer(), value: Sats('output value'), script: Hex('output script'), address: Type.Union([Type.String(), Type.Null()]),
        assets: Type.Optional(Type.Array(Type.Object({
          assetId: Type.Union([Type.String(), Type.Null()]), amount: Amount, issueTxid: Type.String(), divisibility: Type.Integer(), lockStatus: Type.Boolean(), aggregationPolicy: Type.String(),
        }, { additionalProperties: false }), { description: 'with ancestors: the Colu assets this output carries' })),
      },
      { additionalProperties: false },
    ),
  ),
});
