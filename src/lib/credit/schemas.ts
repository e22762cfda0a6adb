/**
 * JSON Schemas of the credit contract's messages (BRIEF §3.1). Each is the single
 * definition the decoders validate with and `schemas/credit.*.json` shows.
 *
 * Flow: mint `credit/offer` → user `credit/address` (fund it with any wallet) →
 * `credit/open-request` → mint `credit/open-accept` → user `credit/opened` (refund
 * fully signed: only now sign and broadcast the funding) → per payment
 * `credit/update-request` → mint `credit/receipt` → user `credit/balance` → at the end
 * `credit/close-request` → `credit/closed`, or the rollover in two rounds, so the user
 * holds the new contract's verified refund before it signs anything that moves its
 * funds: `credit/rollover-request` → `credit/rollover-refund` → `credit/rollover-sign`
 * → `credit/rollover-accept` → `credit/rolled-over`. Unilateral: mint `credit/exit`,
 * user `credit/refund`. Operator view: `credit/contracts`. Recovery from a refused or
 * lost request: `credit/abandon` → `credit/abandoned` (or the mint's lost answer);
 * a refused open: `credit/open-abandoned`.
 *
 * Families beside this file: the ecash messages (schemas-ecash.ts), the mint operator's
 * (schemas-operator.ts), and the fields they share (schemas-fields.ts).
 */
import { Type } from '@sinclair/typebox';
import { Base64Psbt, Hex, Sats, Txid, messageSchema } from '../message.ts';
import { Pubkey, ContractId, Address, FeeRate, Height, StateNumber, NextNonce, Payments, AnswerSignature } from './schemas-fields.ts';
import { EcashOfferSchema, NextKeysetSchema, BlindedMessageSchema, BlindSignatureSchema, KeysetSchema, EcashCheckSchema, EcashKeysetsSchema, TokenSchema, RestoreRequestSchema, RestoreSchema } from './schemas-ecash.ts';
import { ExitSchema, StoreMigratedSchema, ContractsSchema } from './schemas-operator.ts';

export const CreditTermsSchema = Type.Object(
  {
    user_pubkey: Pubkey('the user'),
    mint_pubkey: Pubkey('the mint'),
    capacity_sat: Sats('satoshis locked in the funding output'),
    funding: Type.Object({ txid: Txid, vout: Type.Integer({ minimum: 0 }) }, { additionalProperties: false }),
    expiry_height: Height('the refund\'s nLockTime; the mint must exit by this block'),
    refund_address: Address('user: where the refund pays'),
    change_address: Address('user: change in update, close and rollover transactions'),
    payout_address: Address('mint: where it is paid'),
    fee_rate: FeeRate('fee rate of the refund and of every update state (paid by the user)'),
  },
  { additionalProperties: false },
);

export const CreditOfferSchema = messageSchema('credit/offer', 'A mint\'s standing terms for opening credit contracts.', {
  mint_pubkey: Pubkey('the mint'),
  payout_address: Address('mint: where it is paid'),
  min_fee_rate: FeeRate('the lowest fee rate the mint accepts for update states'),
  safety_margin_blocks: Type.Integer({ minimum: 1, description: 'the mint stops accepting updates this many blocks before expiry' }),
  min_confirmations: Type.Integer({ minimum: 1, description: 'funding confirmations the mint waits for before accepting payments' }),
  min_expiry_blocks: Type.Integer({ minimum: 1, description: 'shortest contract the mint opens, in blocks from the tip' }),
  max_expiry_blocks: Type.Integer({ minimum: 1, description: 'longest contract the mint opens, in blocks from the tip' }),
  default_expiry_blocks: Type.Integer({ minimum: 1, description: 'suggested contract length (about a month: 4320)' }),
  ecash: Type.Optional(EcashOfferSchema),
});

export const CreditAddressSchema = messageSchema('credit/address', 'Where the user\'s wallet sends the funding (do not broadcast it yet).', {
  address: Address('the contract\'s P2TR address'),
  descriptor: Type.String({ description: 'tr(musig(user,mint)) output descriptor (BIP-390) so a Core wallet can watch it' }),
  user_pubkey: Pubkey('the user'),
  mint_pubkey: Pubkey('the mint'),
  output_key: Hex('x-only taproot output key', 32),
  next: Type.String(),
});

export const OpenRequestSchema = messageSchema('credit/open-request', 'User → mint: the terms, the unsigned funding PSBT, and the refund to co-sign.', {
  contract_id: ContractId,
  contract: CreditTermsSchema,
  funding_psbt: Base64Psbt,
  refund_psbt: Base64Psbt,
});

export const OpenAcceptSchema = messageSchema('credit/open-accept', 'Mint → user: the mint\'s partial signature on the refund, and its first nonce; signed by the mint\'s key.', {
  contract_id: ContractId,
  refund_psbt: Base64Psbt,
  next_nonce: NextNonce,
  mint_signature: AnswerSignature('mint'),
});

export const OpenedSchema = messageSchema('credit/opened', 'The user holds a fully signed refund: now, and only now, sign and broadcast the funding.', {
  contract_id: ContractId,
  address: Address('the contract\'s P2TR address'),
  refund: Type.Object({ txid: Txid, hex: Hex('the signed refund transaction'), final_from_height: Height('first block that can include it (expiry + 1)') }),
  funding_psbt: Base64Psbt,
  next: Type.String(),
});

export const UpdateRequestSchema = messageSchema('credit/update-request', 'User → mint: the next state, signed by the user (BIP-327 DeterministicSign).', {
  contract_id: ContractId,
  state: StateNumber,
  amount_sat: Sats('what this payment adds'),
  cumulative_sat: Sats('the mint\'s total under this state'),
  psbt: Base64Psbt,
  outputs: Type.Optional(Type.Array(BlindedMessageSchema, { minItems: 1, maxItems: 64, description: 'NUT-00 blinded messages summing to amount_sat (with an ecash offer)' })),
  outputs_signature: Type.Optional(Hex(
    'with outputs: BIP-340 signature by the user\'s key over the tagged hash "offchain/credit/v1/outputs" of contract_id ‖ state (u32 BE) ‖ txid ‖ the mint nonce in the PSBT ‖ amount_sat (u64 BE) ‖ cumulative_sat (u64 BE) ‖ output count (u16 BE) ‖ each output\'s amount (u64 BE) ‖ id length (u8) ‖ id ‖ B_ (docs/ecash.md)',
    64,
  )),
});

export const ReceiptSchema = messageSchema('credit/receipt', 'Mint → user: the state is stored fully signed; credit the amount. Signed by the mint\'s key; carries no signature on the state.', {
  contract_id: ContractId,
  state: StateNumber,
  amount_sat: Sats('credited by this state'),
  cumulative_sat: Sats('the mint\'s total'),
  txid: Txid,
  next_nonce: NextNonce,
  signatures: Type.Optional(Type.Array(BlindSignatureSchema, { minItems: 1, maxItems: 64, description: 'one NUT-00 blind signature with NUT-12 DLEQ per output, in order' })),
  next_keyset: Type.Optional(NextKeysetSchema),
  mint_signature: AnswerSignature('mint'),
});

export const BalanceSchema = messageSchema('credit/balance', 'The user\'s own record after a receipt.', {
  contract_id: ContractId,
  state: Type.Integer({ minimum: 0 }),
  cumulative_sat: Sats('paid to the mint so far'),
  spendable_sat: Sats('what the user can still pay'),
  expiry_height: Height('the contract\'s expiry'),
  ecash: Type.Optional(Type.Object({
    issued_sat: Sats('ecash received under this contract so far (equals cumulative_sat when every payment carried outputs)'),
    unpaid_sat: Type.Optional(Sats('a payment the mint signed without ecash for the user\'s outputs (settled by credit abandon): claim it with credit ecash claim, or close; no further payment is signed until it is paid')),
    unpaid_state: Type.Optional(Type.Integer({ minimum: 1, description: 'the state of that payment' })),
    this_payment_sat: Type.Optional(Sats('ecash in the token just written')),
    proofs: Type.Optional(Type.Integer({ minimum: 0, description: 'proofs in that token' })),
    token_out: Type.Optional(Type.String({ description: 'where the cashuB token was written (a 0600 file), or "-" for standard output' })),
    counter: Type.Integer({ minimum: 0, description: 'the NUT-13 counter: next derivation index for this keyset' }),
  }, { additionalProperties: false })),
  payments: Type.Optional(Payments('a device channel\'s payments (device receipt): every one paid with its preimage, failed, or in flight')),
});

export const CloseRequestSchema = messageSchema('credit/close-request', 'User → mint: a cooperative close, signed by the user.', {
  contract_id: ContractId,
  state: StateNumber,
  cumulative_sat: Sats('the mint\'s total'),
  fee_rate: FeeRate('fee rate of the close'),
  psbt: Base64Psbt,
});

export const ClosedSchema = messageSchema('credit/closed', 'Mint → user: the fully signed close; either party may broadcast it. Signed by the mint\'s key.', {
  contract_id: ContractId,
  cumulative_sat: Sats('paid to the mint'),
  txid: Txid,
  hex: Hex('the signed close transaction'),
  mint_signature: AnswerSignature('mint'),
});

export const RolloverRequestSchema = messageSchema('credit/rollover-request', 'User → mint: the proposed rollover (its transaction not yet signed) and the next contract\'s refund to co-sign; the request signed by the user\'s key.', {
  contract_id: ContractId,
  state: StateNumber,
  cumulative_sat: Sats('the mint\'s total'),
  fee_rate: FeeRate('fee rate of the rollover'),
  new_contract_id: ContractId,
  new_contract: CreditTermsSchema,
  rollover_psbt: Base64Psbt,
  refund_psbt: Base64Psbt,
  // Optional in the schema so that one missing is refused by the protocol (E_REQUEST_UNSIGNED), not as malformed.
  mint_pubnonce: Type.Optional(Hex('the mint\'s nonce for this state (the user\'s record of the last receipt): the mint answers only while it is that state\'s live nonce', 66)),
  user_signature: Type.Optional(Hex(
    'BIP-340 signature by the user\'s contract key over the tagged hash "offchain/credit/v1/request" of this message\'s canonical JSON line without this member (as mint_signature on answers); the mint refuses the request without it or with another (E_REQUEST_UNSIGNED) before it reads the contract\'s state',
    64,
  )),
});

export const RolloverRefundSchema = messageSchema('credit/rollover-refund', 'Mint → user: the rollover is acceptable; here is the new refund\'s partial signature.', {
  contract_id: ContractId,
  new_contract_id: ContractId,
  refund_psbt: Base64Psbt,
});

export const RolloverSignSchema = messageSchema('credit/rollover-sign', 'User → mint: the new refund is complete; the rollover, signed by the user.', {
  contract_id: ContractId,
  state: StateNumber,
  new_contract_id: ContractId,
  rollover_psbt: Base64Psbt,
});

export const RolloverAcceptSchema = messageSchema('credit/rollover-accept', 'Mint → user: the rollover\'s contract input signed; the old contract is frozen. Signed by the mint\'s key.', {
  contract_id: ContractId,
  new_contract_id: ContractId,
  rollover_psbt: Base64Psbt,
  next_nonce: NextNonce,
  mint_signature: AnswerSignature('mint'),
});

export const RolledOverSchema = messageSchema('credit/rolled-over', 'The user holds the new contract\'s signed refund; the rollover can be completed and broadcast.', {
  contract_id: ContractId,
  new_contract_id: ContractId,
  refund: Type.Object({ txid: Txid, hex: Hex('the new contract\'s signed refund'), final_from_height: Height('first block that can include it') }),
  rollover: Type.Object({
    txid: Txid,
    complete: Type.Boolean({ description: 'false when the user\'s wallet must still sign its extra inputs' }),
    psbt: Base64Psbt,
    hex: Type.Optional(Hex('the signed rollover, when complete')),
  }),
});

export const AbandonSchema = messageSchema(
  'credit/abandon',
  'User → mint: abandon the request for this state (refused, or its answer lost). Signed by the user\'s key; the mint answers with what it signed at that state, or a credit/abandoned.',
  {
    contract_id: ContractId,
    state: StateNumber,
    kind: Type.Union([Type.Literal('update'), Type.Literal('close'), Type.Literal('rollover')]),
    txid: Txid,
    mint_pubnonce: Hex('the mint nonce the abandoned request was signed against', 66),
    user_signature: Hex('BIP-340 signature by the user\'s contract key over the tagged hash "offchain/credit/v1/abandon" of contract_id ‖ state (u32 BE) ‖ txid ‖ mint_pubnonce', 64),
  },
);

export const AbandonedSchema = messageSchema(
  'credit/abandoned',
  'Mint → user: it never signed that state; the abandoned nonce is burned and a fresh nonce issued for the same state number. Signed by the mint\'s key.',
  {
    contract_id: ContractId,
    state: StateNumber,
    txid: Txid,
    abandoned_pubnonce: Hex('the burned mint nonce', 66),
    next_nonce: NextNonce,
    mint_signature: Hex('BIP-340 signature by the mint\'s contract key over the tagged hash "offchain/credit/v1/abandoned" of contract_id ‖ state ‖ txid ‖ abandoned_pubnonce ‖ next state ‖ next pubnonce', 64),
  },
);

export const OpenAbandonedSchema = messageSchema('credit/open-abandoned', 'User: an open the mint refused (or never answered) is forgotten and its refund nonce destroyed.', {
  contract_id: ContractId,
  funding: Type.Object({ txid: Txid, vout: Type.Integer({ minimum: 0 }) }, { additionalProperties: false }),
  next: Type.String(),
});

export const RefundSchema = messageSchema('credit/refund', 'The user\'s unilateral exit after expiry.', {
  contract_id: ContractId,
  txid: Txid,
  hex: Hex('the signed refund'),
  final: Type.Boolean({ description: 'whether the tip allows it into the mempool now' }),
  final_from_height: Height('first block that can include it'),
});

export const CREDIT_SCHEMAS = [
  CreditOfferSchema, CreditAddressSchema, OpenRequestSchema, OpenAcceptSchema, OpenedSchema, UpdateRequestSchema, ReceiptSchema,
  BalanceSchema, CloseRequestSchema, ClosedSchema, RolloverRequestSchema, RolloverRefundSchema, RolloverSignSchema, RolloverAcceptSchema,
  RolledOverSchema, ExitSchema,
  RefundSchema, ContractsSchema, AbandonSchema, AbandonedSchema, OpenAbandonedSchema, KeysetSchema, EcashCheckSchema, EcashKeysetsSchema, TokenSchema, StoreMigratedSchema,
  RestoreRequestSchema, RestoreSchema,
];
