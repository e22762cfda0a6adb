/**
 * JSON Schemas of the device ↔ gateway messages (docs/device-gateway.md): what the
 * device sends (`device/pay`, `device/settle`, `device/fail`) and what the gateway sends
 * (`gateway/job` — for its own Lightning node —, `gateway/settle`, `gateway/fail`,
 * `gateway/receipt`). The device's policy file has its schema in ./policy.ts.
 */
import { Type } from '@sinclair/typebox';
import { Base64Psbt, Hex, Sats, Txid, messageSchema } from '../message.ts';
import { AnswerSignature } from '../credit/schemas-fields.ts';

const ContractId = Hex('contract id: SHA-256 over every term of the credit contract under the channel', 32);
const StateNumber = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'state number: +1 for each signed state' });
const PaymentHash = Hex('the invoice\'s payment hash: SHA-256 of the preimage', 32);
const Height = (what: string) => Type.Integer({ minimum: 1, maximum: 499_999_999, description: what });
const Msat = (what: string) => Type.String({ pattern: '^(0|[1-9][0-9]{0,17})$', description: `${what}, millisatoshis (decimal string)` });
const NextNonce = Type.Object(
  { state: StateNumber, pubnonce: Hex('the gateway\'s BIP-327 public nonce for that state, bound to this contract and state number', 66) },
  { additionalProperties: false, description: 'the gateway nonce the device signs the next state against (BIP-327 DeterministicSign)' },
);
const Invoice = Type.String({ minLength: 1, maxLength: 7089, description: 'the BOLT 11 invoice being paid' });

export const DevicePaySchema = messageSchema('device/pay', 'A payment: the next state, carrying one HTLC output for the invoice, signed by the device.', {
  contract_id: ContractId,
  state: StateNumber,
  settled_sat: Sats('what the state pays the gateway: its settled amount, unchanged by a payment'),
  htlc: Type.Object(
    {
      payment_hash: PaymentHash,
      amount_sat: Sats('the HTLC output: invoice amount plus the gateway fee, rounded up to the sat'),
      expiry_height: Height('the HTLC\'s refund height (the device takes it back from then on)'),
    },
    { additionalProperties: false },
  ),
  invoice: Invoice,
  txid: Txid,
  psbt: Base64Psbt,
});

export const GatewayJobSchema = messageSchema('gateway/job', 'For the gateway\'s Lightning node: the invoice to pay now that the state holding its HTLC is stored.', {
  contract_id: ContractId,
  state: StateNumber,
  invoice: Invoice,
  payment_hash: PaymentHash,
  amount_msat: Msat('the invoice amount'),
  max_fee_msat: Msat('the most the Lightning route may cost without the gateway paying out of its fee'),
  htlc_expiry_height: Height('pay before this height less the claim margin, or fail'),
  state_txid: Txid,
});

export const GatewaySettleSchema = messageSchema('gateway/settle', 'The payment went through: the preimage, and the nonce for the state that settles it.', {
  contract_id: ContractId,
  payment_hash: PaymentHash,
  preimage: Hex('the payment preimage (the device checks its SHA-256 and keeps it as proof of payment)', 32),
  next_nonce: NextNonce,
  gateway_signature: AnswerSignature('gateway'),
});

export const GatewayFailSchema = messageSchema('gateway/fail', 'The payment failed: the nonce for the state that gives the amount back to the device.', {
  contract_id: ContractId,
  payment_hash: PaymentHash,
  next_nonce: NextNonce,
  gateway_signature: AnswerSignature('gateway'),
});

const Closing = (type: string, description: string) =>
  messageSchema(type, description, {
    contract_id: ContractId,
    state: StateNumber,
    payment_hash: PaymentHash,
    settled_sat: Sats('what the state pays the gateway'),
    txid: Txid,
    psbt: Base64Psbt,
  });

export const DeviceSettleSchema = Closing('device/settle', 'The state without the HTLC, its amount joined to the gateway\'s settled amount, signed by the device.');
export const DeviceFailSchema = Closing('device/fail', 'The state without the HTLC, its amount back in the device\'s change, signed by the device.');

export const GatewayReceiptSchema = messageSchema('gateway/receipt', 'The gateway stored the settle or fail state: the channel is idle; the nonce for the next payment.', {
  contract_id: ContractId,
  state: StateNumber,
  settled_sat: Sats('the gateway\'s settled amount in that state'),
  txid: Txid,
  next_nonce: NextNonce,
  gateway_signature: AnswerSignature('gateway'),
});

export const DeviceHtlcRefundSchema = messageSchema('device/htlc-refund', 'The device takes a payment\'s HTLC back on chain through the refund leaf, once its expiry height is final (device refund-htlc).', {
  contract_id: ContractId,
  payment_hash: PaymentHash,
  outpoint: Type.Object({ txid: Txid, vout: Type.Integer({ minimum: 0 }) }, { additionalProperties: false, description: 'the HTLC output of the state the gateway put on chain' }),
  amount_sat: Sats('the HTLC output'),
  txid: Txid,
  hex: Hex('the signed refund (nLockTime = the HTLC\'s expiry height)'),
  fee_sat: Sats('its fee'),
  vsize: Type.Integer({ minimum: 1 }),
  final: Type.Boolean({ description: 'whether the node accepts it at the tip now' }),
  final_from_height: Height('the first block that can include it (expiry height + 1)'),
  broadcast: Type.Optional(Type.Object({ txid: Txid }, { additionalProperties: false, description: 'with --broadcast: the node accepted it (sendrawtransaction)' })),
});

export const DEVICE_SCHEMAS = [DevicePaySchema, GatewayJobSchema, GatewaySettleSchema, GatewayFailSchema, DeviceSettleSchema, DeviceFailSchema, GatewayReceiptSchema, DeviceHtlcRefundSchema];
