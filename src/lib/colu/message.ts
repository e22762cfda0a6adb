/**
 * The `colu/decoded` message: a transaction's outputs and its Colu ("CC") OP_RETURN
 * payload, decoded. Balances (the asset flow) need the inputs' colored state and are
 * not computed here.
 */
import { Type } from '@sinclair/typebox';
import { toHex } from '../bytes.ts';
import { MESSAGE_VERSION } from '../envelope.ts';
import { OffchainError } from '../errors.ts';
import { Hex, messageSchema, Sats, Txid } from '../message.ts';
import type { Network } from '../network.ts';
import { scriptAddress } from '../address.ts';
import type { RawTx } from '../openassets/tx.ts';
import { decodeColuPayload } from './decode.ts';

/** The data of `OP_RETURN <one push>`, or undefined. */
function opReturnData(s: Uint8Array): Uint8Array | undefined {
  if (s.length < 2 || s[0] !== 0x6a) return undefined;
  const op = s[1]!;
  let start = 2;
  let len: number;
  if (op >= 1 && op <= 0x4b) len = op;
  else if (op === 0x4c && s.length >= 3) { len = s[2]!; start = 3; }
  else if (op === 0x4d && s.length >= 4) { len = s[2]! | (s[3]! << 8); start = 4; }
  else return undefined;
  return start + len === s.length ? s.subarray(start) : undefined;
}

export function coluMessage(tx: RawTx, network: Network) {
  let colu: Record<string, unknown> | undefined;
  let reason: string | undefined;
  let index: number | undefined;
  for (let i = 0; i < tx.outputs.length && colu === undefined; i++) {
    const data = opReturnData(tx.outputs[i]!.script);
    if (!data || data.length < 4 || data[0] !== 0x43 || data[1] !== 0x43) continue;
    try {
      const p = decodeColuPayload(data);
      colu = JSON.parse(JSON.stringify(p, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));
      index = i;
    } catch (e) {
      reason ??= `output ${i}: ${e instanceof OffchainError ? e.message : String(e)}`;
    }
  }
  return {
    type: 'colu/decoded',
    version: MESSAGE_VERSION,
    network,
    txid: tx.txid,
    ...(colu ? { op_return_output: index, payload: colu } : { reason: reason ?? 'no Colu ("CC") OP_RETURN output' }),
    outputs: tx.outputs.map((o, i) => ({ index: i, value: Number(o.value), script: toHex(o.script), address: scriptAddress(o.script, network) ?? null })),
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
  outputs: Type.Array(Type.Object({ index: Type.Integer(), value: Sats('output value'), script: Hex('output script'), address: Type.Union([Type.String(), Type.Null()]) }, { additionalProperties: false })),
});
