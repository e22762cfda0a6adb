/**
 * The `counterparty/decoded` message (one transaction) and `counterparty/unpacked` (a
 * bare message payload). Balances and validity need Counterparty's own ledger: not here.
 */
import { Type } from '@sinclair/typebox';
import { toHex } from '../bytes.ts';
import { MESSAGE_VERSION } from '../envelope.ts';
import { OffchainError } from '../errors.ts';
import { Hex, messageSchema, Sats, Txid } from '../message.ts';
import type { Network } from '../network.ts';
import type { RawTx } from '../tx/raw.ts';
import { findData } from './decode.ts';
import { unpackMessage, type Unpacked } from './messages.ts';

export const DECODED_TYPE = 'counterparty/decoded';
export const UNPACKED_TYPE = 'counterparty/unpacked';

function unpackOrError(data: Uint8Array): { message: Unpacked | null; message_error?: string } {
  try {
    return { message: unpackMessage(data) };
  } catch (e) {
    if (e instanceof OffchainError) return { message: null, message_error: e.message };
    throw e;
  }
}

export function counterpartyMessage(tx: RawTx, network: Network) {
  const found = findData(tx, network);
  const first = tx.inputs[0];
  const base = {
    type: DECODED_TYPE,
    version: MESSAGE_VERSION,
    network,
    txid: tx.txid,
    ...(first ? { first_input: `${first.prevTxid}:${first.vout}` } : {}),
  };
  if (found.data === undefined) return { ...base, status: 'not-counterparty', reason: found.reason ?? 'no Counterparty data' };
  return {
    ...base,
    status: 'counterparty',
    encoding: found.encodings,
    data_outputs: found.dataOutputs,
    ...(found.source ? { source: found.source } : {}),
    destinations: found.destinations,
    btc_amount: found.btcAmount,
    data: toHex(found.data),
    ...unpackOrError(found.data),
  };
}

export function unpackedMessage(data: Uint8Array, network: Network) {
  return { type: UNPACKED_TYPE, version: MESSAGE_VERSION, network, data: toHex(data), message: unpackMessage(data) };
}

const Message = Type.Object(
  {
    message_type: Type.String({ description: 'send, enhanced_send, issuance, broadcast, bet (decoded); other names with message_data.payload hex; unknown' }),
    message_type_id: Type.Integer({ minimum: 0 }),
    message_data: Type.Record(Type.String(), Type.Unknown(), { description: 'fields as counterparty-core unpack names them; integers that may pass 2^53 as decimal strings' }),
  },
  { additionalProperties: false },
);

export const XcpDecodedSchema = messageSchema(DECODED_TYPE, 'Counterparty data found in one transaction and its message unpacked (no ledger: no balances, no validity).', {
  txid: Txid,
  first_input: Type.Optional(Type.String({ description: 'txid:vout of the first input: its txid is the ARC4 key; its output would give the source address' })),
  status: Type.Union([Type.Literal('counterparty'), Type.Literal('not-counterparty')]),
  reason: Type.Optional(Type.String({ description: 'why this is not a Counterparty transaction' })),
  encoding: Type.Optional(Type.Array(Type.Union([Type.Literal('opreturn'), Type.Literal('multisig'), Type.Literal('pubkeyhash'), Type.Literal('p2sh')]))),
  data_outputs: Type.Optional(Type.Array(Type.Integer({ minimum: 0 }))),
  source: Type.Optional(Type.String({ description: 'P2SH encoding only: the address of the redeem script\'s public key' })),
  destinations: Type.Optional(Type.Array(Type.Object({ output: Type.Integer({ minimum: 0 }), address: Type.Union([Type.String(), Type.Null()]), value: Sats('output value') }, { additionalProperties: false }))),
  btc_amount: Type.Optional(Sats('sum of the destinations\' values')),
  data: Type.Optional(Hex('the message: type id and payload, prefix removed')),
  message: Type.Optional(Type.Union([Message, Type.Null()])),
  message_error: Type.Optional(Type.String({ description: 'why the payload did not unpack' })),
});

export const XcpUnpackedSchema = messageSchema(UNPACKED_TYPE, 'A bare Counterparty message payload (type id + data) unpacked.', {
  data: Hex('the message given'),
  message: Message,
});
