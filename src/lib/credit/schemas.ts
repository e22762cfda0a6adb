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
 */
import { Type } from '@sinclair/typebox';
import { Base64Psbt, Hex, Sats, Txid, messageSchema } from '../message.ts';

const Pubkey = (who: string) => Hex(`${who}'s 33-byte compressed public key`, 33);
const ContractId = Hex('contract id: SHA-256 over every term (docs/credit.md)', 32);
const Address = (what: string) => Type.String({ minLength: 14, maxLength: 90, description: what });
const FeeRate = (what: string) => Type.Number({ minimum: 0.1, maximum: 100_000, description: `${what}, sat/vB` });
const Height = (what: string) => Type.Integer({ minimum: 1, maximum: 499_999_999, description: what });
const StateNumber = Type.Integer({ minimum: 1, description: 'state number: 1 for the first payment, +1 for each next step' });
const NextNonce = Type.Object(
  { state: StateNumber, pubnonce: Hex('the mint\'s BIP-327 public nonce for that state, bound to this contract and state number', 66) },
  { additionalProperties: false, description: 'the mint nonce the user signs the next state against (BIP-327 DeterministicSign)' },
);

const KEYSET_ID = '00[0-9a-f]{14}|01[0-9a-f]{64}';
const KeysetId = Type.String({ pattern: `^(${KEYSET_ID})$`, description: 'NUT-02 keyset id: version 01 (33 bytes, Nutshell 0.20), or 00 (8 bytes, a keyset made by Nutshell ≤ 0.19)' });
/** A keyset id as a token carries it: full, or in a V4 token the short form of a version-01 id, its first 8 bytes (NUT-00). */
const TokenKeysetId = (description: string) => Type.String({ pattern: `^(${KEYSET_ID}|01[0-9a-f]{14})$`, description });
const InputFeePpk = Type.Integer({ minimum: 0, maximum: 2 ** 32, description: 'NUT-02 input_fee_ppk: what the ecash mint charges to spend one proof of the keyset, in parts per thousand of its unit' });
const FinalExpiry = Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: 'NUT-02 final_expiry: unix seconds after which the ecash mint may drop the keyset; null (or 0) for none' });
const EcashAmount = Type.Integer({ minimum: 1, maximum: 2 ** 52, description: 'a power of two, in the keyset\'s unit (sat)' });
const PointHex = (what: string) => Hex(`${what}: a compressed secp256k1 point`, 33);
const KeysByAmount = Type.Record(Type.String({ pattern: '^[1-9][0-9]{0,19}$' }), PointHex('the key for this amount'), { description: 'NUT-01 keys: amount (decimal string) → public key' });

/** Where a contract's credit becomes ecash: the mint it fronts and the keyset it signs with. */
export const EcashOfferSchema = Type.Object(
  {
    mint_url: Type.String({ minLength: 1, maxLength: 512, description: 'the Cashu mint that redeems the tokens' }),
    unit: Type.Literal('sat'),
    keyset_id: KeysetId,
    input_fee_ppk: Type.Optional(InputFeePpk),
    final_expiry: Type.Optional(FinalExpiry),
    keys: KeysByAmount,
  },
  { additionalProperties: false, description: 'ecash for credit: every payment returns Cashu blind signatures under this keyset (docs/ecash.md)' },
);

/** A receipt's announcement of the keyset the next payment's outputs are to use (the ecash mint rotated). */
export const NextKeysetSchema = Type.Object(
  { id: KeysetId, unit: Type.Literal('sat'), input_fee_ppk: InputFeePpk, final_expiry: FinalExpiry, keys: KeysByAmount, sig: Hex('BIP-340 signature by the mint\'s key over the tagged hash ("offchain/credit/next-keyset") of the canonical JSON line {contract_id, state, next_keyset without sig}', 64) },
  { additionalProperties: false, description: 'the ecash mint\'s active keyset, for the next payment: the user checks the mint\'s signature and that its keys, unit, fee and expiry hash to its id (NUT-02), then makes its next outputs under it' },
);

/** NUT-00 BlindedMessage: B_ = hash_to_curve(secret) + r·G, for one power-of-two amount. */
export const BlindedMessageSchema = Type.Object(
  { amount: EcashAmount, id: KeysetId, B_: PointHex('the blinded secret') },
  { additionalProperties: false },
);

/** NUT-00 BlindSignature with its NUT-12 DLEQ proof. */
export const BlindSignatureSchema = Type.Object(
  {
    amount: EcashAmount,
    id: KeysetId,
    C_: PointHex('the blind signature k·B_'),
    dleq: Type.Object({ e: Hex('DLEQ challenge', 32), s: Hex('DLEQ response', 32) }, { additionalProperties: false }),
  },
  { additionalProperties: false },
);

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

export const OpenAcceptSchema = messageSchema('credit/open-accept', 'Mint → user: the mint\'s partial signature on the refund, and its first nonce.', {
  contract_id: ContractId,
  refund_psbt: Base64Psbt,
  next_nonce: NextNonce,
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

export const ReceiptSchema = messageSchema('credit/receipt', 'Mint → user: the state is stored fully signed; credit the amount. Carries no mint signature.', {
  contract_id: ContractId,
  state: StateNumber,
  amount_sat: Sats('credited by this state'),
  cumulative_sat: Sats('the mint\'s total'),
  txid: Txid,
  next_nonce: NextNonce,
  signatures: Type.Optional(Type.Array(BlindSignatureSchema, { minItems: 1, maxItems: 64, description: 'one NUT-00 blind signature with NUT-12 DLEQ per output, in order' })),
  next_keyset: Type.Optional(NextKeysetSchema),
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
});

export const KeysetSchema = messageSchema('credit/keyset', 'The ecash keyset the credit mint issues under: a NUT-01 GET /v1/keys answer (keysets[], shaped as Nutshell 0.20.3 answers) with our envelope.', {
  keysets: Type.Array(Type.Object({ id: KeysetId, unit: Type.Literal('sat'), active: Type.Boolean(), input_fee_ppk: InputFeePpk, final_expiry: FinalExpiry, keys: KeysByAmount }, { additionalProperties: false }), { minItems: 1, maxItems: 1 }),
});

/** One keyset as the credit mint keeps it (public: the private keys are derived from the seed at use). */
const KeptKeyset = Type.Object({
  id: KeysetId,
  unit: Type.Literal('sat'),
  input_fee_ppk: InputFeePpk,
  final_expiry: FinalExpiry,
  amounts: Type.Integer({ minimum: 1, maximum: 64, description: 'keys for the amounts 2^0 … 2^(amounts−1)' }),
  id_version: Type.Union([Type.Literal('00'), Type.Literal('01')]),
  path: Type.String({ description: 'the BIP-32 path its keys derive at (Nutshell: MINT_DERIVATION_PATH with the keyset index last)' }),
  active: Type.Boolean({ description: 'the ecash mint issues under it' }),
  listed: Type.Boolean({ description: 'the ecash mint lists it (its tokens redeem)' }),
}, { additionalProperties: false });

export const EcashCheckSchema = messageSchema('credit/ecash-check', 'Before going live: the credit mint\'s own derivation reproduces the ecash mint\'s active keyset (a difference is refused, E_ECASH_KEYSET_MISMATCH, naming the setting).', {
  source: Type.String({ description: 'where the ecash mint\'s answers came from: its URL, or the files' }),
  equal: Type.Literal(true),
  keyset: KeptKeyset,
  also_active: Type.Array(KeysetId, { description: 'other active keysets of the unit the mint lists (a restart with the next index leaves the old one active; "credit ecash follow" issues under the highest index)' }),
});

export const EcashKeysetsSchema = messageSchema('credit/ecash-keysets', 'The ecash mint\'s keysets as the credit mint keeps them, after following the mint\'s answers (a rotation: the new active keyset reproduced at the next index).', {
  source: Type.String({ description: 'where the ecash mint\'s answers came from: its URL, or the files' }),
  active: KeysetId,
  changed: Type.Boolean({ description: 'the keyset issued under, or a keyset\'s state, changed' }),
  added: Type.Array(KeysetId, { description: 'keysets reproduced for the first time' }),
  keysets: Type.Array(KeptKeyset),
});

export const TokenSchema = messageSchema('credit/token', 'A decoded Cashu token: its proofs once each (no Y twice), and with --keyset each checked (NUT-12 DLEQ) against its keyset. No secret is shown: Y = hash_to_curve(secret) identifies a proof (NUT-07).', {
  version_prefix: Type.Union([Type.Literal('cashuA'), Type.Literal('cashuB')]),
  mint: Type.String(),
  unit: Type.String(),
  memo: Type.Optional(Type.String()),
  amount_sat: Sats('the sum of the proofs'),
  keyset_id: Type.Optional(Type.String({ pattern: `^(${KEYSET_ID})$`, description: 'verified: the one keyset every proof is under (NUT-02 version 00 or 01)' })),
  proofs: Type.Array(Type.Object({
    id: TokenKeysetId('the proof\'s keyset id as the token gives it, full or short (verified: the full id it resolves to)'),
    amount: Type.Integer({ minimum: 1 }),
    Y: PointHex('hash_to_curve(secret)'),
    C: PointHex('the unblinded signature'),
    dleq: Type.Union([Type.Literal('valid'), Type.Literal('not checked'), Type.Literal('absent')], { description: 'valid: verified against the keyset; not checked: present, decoded without --keyset' }),
  }, { additionalProperties: false })),
  verified: Type.Boolean({ description: 'false: decoded without a keyset, nothing but the encoding checked; true: every proof verified' }),
  all_valid: Type.Optional(Type.Boolean({ description: 'with --keyset: every proof carries a DLEQ that verifies against its keyset (a token that fails is refused instead)' })),
});

const RestoreOutput = Type.Object(
  { amount: Type.Integer({ minimum: 0, description: 'as the wallet asks (wallets ask with 0: the signature carries the amount)' }), id: Type.String({ pattern: '^[0-9a-f]{2,66}$', description: 'the keyset id the wallet derived the output for, as it asks (read, not trusted: the signature names the keyset the mint signed under)' }), B_: PointHex('the blinded message') },
  { additionalProperties: false },
);

/** NUT-09 PostRestoreRequest with our envelope (`credit ecash restore` reads it, or the bare NUT-09 body a wallet POSTs). */
export const RestoreRequestSchema = messageSchema('credit/restore-request', 'Wallet → mint: NUT-09 restore request — blinded messages regenerated from a NUT-13 seed, asking for the signatures the mint made on them.', {
  outputs: Type.Array(RestoreOutput, { maxItems: 1000 }),
});

/** NUT-09 PostRestoreResponse with our envelope: what `credit ecash restore` prints (a NUT-09 client reads outputs and signatures). */
export const RestoreSchema = messageSchema('credit/restore', 'Mint → wallet: NUT-09 restore. For each asked blinded message the mint signed, in the request\'s order, the output as asked and its blind signature with NUT-12 DLEQ; nothing for any other.', {
  outputs: Type.Array(RestoreOutput, { maxItems: 1000 }),
  signatures: Type.Array(BlindSignatureSchema, { maxItems: 1000, description: 'signatures[i] is outputs[i]\'s: the amount and keyset the mint signed it for' }),
});

export const CloseRequestSchema = messageSchema('credit/close-request', 'User → mint: a cooperative close, signed by the user.', {
  contract_id: ContractId,
  state: StateNumber,
  cumulative_sat: Sats('the mint\'s total'),
  fee_rate: FeeRate('fee rate of the close'),
  psbt: Base64Psbt,
});

export const ClosedSchema = messageSchema('credit/closed', 'Mint → user: the fully signed close; either party may broadcast it.', {
  contract_id: ContractId,
  cumulative_sat: Sats('paid to the mint'),
  txid: Txid,
  hex: Hex('the signed close transaction'),
});

export const RolloverRequestSchema = messageSchema('credit/rollover-request', 'User → mint: the proposed rollover (not yet signed) and the next contract\'s refund to co-sign.', {
  contract_id: ContractId,
  state: StateNumber,
  cumulative_sat: Sats('the mint\'s total'),
  fee_rate: FeeRate('fee rate of the rollover'),
  new_contract_id: ContractId,
  new_contract: CreditTermsSchema,
  rollover_psbt: Base64Psbt,
  refund_psbt: Base64Psbt,
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

export const RolloverAcceptSchema = messageSchema('credit/rollover-accept', 'Mint → user: the rollover\'s contract input signed; the old contract is frozen.', {
  contract_id: ContractId,
  new_contract_id: ContractId,
  rollover_psbt: Base64Psbt,
  next_nonce: NextNonce,
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

export const ExitSchema = messageSchema('credit/exit', 'The mint\'s unilateral exit: its latest state, and a CPFP child paying for both.', {
  contract_id: ContractId,
  state: Type.Integer({ minimum: 1 }),
  cumulative_sat: Sats('what the state pays the mint'),
  deadline_height: Height('the state must be mined by this block (the refund is final after it)'),
  state_tx: Type.Object({ txid: Txid, hex: Hex('the fully signed state'), vsize: Type.Integer(), fee_sat: Sats('its own fee') }),
  child: Type.Object({
    txid: Txid,
    complete: Type.Boolean(),
    psbt: Base64Psbt,
    hex: Type.Optional(Hex('the signed child: the mint key signs its own payout; a wallet\'s payout is signed by the wallet (--child)')),
    package_fee_rate: Type.Number({ description: 'fee rate of state + child together, sat/vB' }),
  }),
  htlc_claim: Type.Optional(
    Type.Object(
      {
        payment_hash: Hex('the HTLC\'s payment hash', 32),
        vout: Type.Integer({ minimum: 0, description: 'the HTLC output of the state the child spends through its claim leaf' }),
        amount_sat: Sats('the HTLC output'),
      },
      { additionalProperties: false, description: 'gateway claim (a device channel): the child also claims this HTLC with the preimage' },
    ),
  ),
  broadcast: Type.Optional(Type.Union([
    Type.Object({ txid: Txid }, { additionalProperties: false, description: 'gateway claim --broadcast of a state already confirmed: the child alone (sendrawtransaction)' }),
    Type.Object(
      {
        package_msg: Type.String({ description: 'Core\'s submitpackage package_msg ("success")' }),
        tx_results: Type.Array(
          Type.Object(
            {
              txid: Txid,
              wtxid: Hex('witness txid', 32),
              vsize: Type.Optional(Type.Integer()),
              fees_sat: Type.Optional(Sats('base fee the node counted')),
              error: Type.Optional(Type.String()),
            },
            { additionalProperties: false },
          ),
        ),
      },
      { additionalProperties: false, description: 'with --broadcast: what the node answered' },
    ),
  ])),
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

export const StoreMigratedSchema = messageSchema('credit/store-migrated', 'Operator: the mint\'s SQLite store was copied into an empty PostgreSQL database; the source refuses every use from now on.', {
  from: Type.String({ description: 'the SQLite mint directory migrated' }),
  to: Type.String({ description: 'the PostgreSQL store, its URL without a password' }),
  migration_id: Type.String({ pattern: '^[0-9a-f]{32}$', description: 'names this migration in both stores (a rerun finishes it)' }),
  contracts: Type.Integer({ minimum: 0 }),
  funding_outpoints: Type.Integer({ minimum: 0 }),
  blind_signatures: Type.Integer({ minimum: 0 }),
  documents: Type.Integer({ minimum: 0, description: 'the offer and other documents' }),
  nonces_consumed: Type.Integer({ minimum: 0, description: 'consumed nonces copied (their ids: never issued again)' }),
  nonces_burned: Type.Integer({ minimum: 0, description: 'unused secret nonces burned, not copied: each one\'s user recovers with credit abandon' }),
  resumed: Type.Boolean({ description: 'an earlier run had already copied: an interrupted one, which this run finished, or a finished one (nothing was left to do; `next` says so)' }),
  next: Type.String(),
});

export const RefundSchema = messageSchema('credit/refund', 'The user\'s unilateral exit after expiry.', {
  contract_id: ContractId,
  txid: Txid,
  hex: Hex('the signed refund'),
  final: Type.Boolean({ description: 'whether the tip allows it into the mempool now' }),
  final_from_height: Height('first block that can include it'),
});

export const ContractsSchema = messageSchema('credit/contracts', 'The mint\'s contracts, with what must be exited now.', {
  tip_height: Type.Integer({ minimum: 0 }),
  ecash_outstanding: Type.Optional(Type.Array(Type.Object({ keyset_id: KeysetId, issued_sat: Sats('all ecash the credit mint ever signed under this keyset, over every contract'), signatures: Type.Integer({ minimum: 0 }) }, { additionalProperties: false }))),
  contracts: Type.Array(
    Type.Object({
      contract_id: ContractId,
      status: Type.String({ description: 'open, closing, rolling-over, exiting (exit-credit marked it), or once confirmed closed, rolled-over, exited' }),
      capacity_sat: Sats('locked'),
      cumulative_sat: Sats('paid to the mint in its latest state'),
      state: Type.Integer({ minimum: 0 }),
      expiry_height: Height('expiry'),
      blocks_to_expiry: Type.Integer(),
      settlement: Type.Optional(
        Type.Object({
          kind: Type.Union([Type.Literal('close'), Type.Literal('rollover')]),
          txid: Txid,
          confirmations: Type.Optional(Type.Integer({ minimum: 0, description: 'asked of the node; absent offline or when unknown' })),
        }),
      ),
      exit: Type.Optional(
        Type.Object({
          state: Type.Integer({ minimum: 1, description: 'the state the mint exits with (exit-credit marked the contract: it signs nothing more of it)' }),
          txid: Txid,
          confirmations: Type.Optional(Type.Integer({ minimum: 0, description: 'asked of the node; absent offline or when unknown' })),
        }),
      ),
      must_exit: Type.Boolean({ description: 'a signed state, no confirmed settlement or exit, within the safety margin: broadcast the latest state now (exit-credit)' }),
      next: Type.String({ description: 'what the operator does now for this contract, in words' }),
      ecash_issued_sat: Type.Optional(Sats('ecash the mint signed under this contract (equals cumulative_sat when every payment carried outputs)')),
    }),
  ),
});

export const CREDIT_SCHEMAS = [
  CreditOfferSchema, CreditAddressSchema, OpenRequestSchema, OpenAcceptSchema, OpenedSchema, UpdateRequestSchema, ReceiptSchema,
  BalanceSchema, CloseRequestSchema, ClosedSchema, RolloverRequestSchema, RolloverRefundSchema, RolloverSignSchema, RolloverAcceptSchema,
  RolledOverSchema, ExitSchema,
  RefundSchema, ContractsSchema, AbandonSchema, AbandonedSchema, OpenAbandonedSchema, KeysetSchema, EcashCheckSchema, EcashKeysetsSchema, TokenSchema, StoreMigratedSchema,
  RestoreRequestSchema, RestoreSchema,
];
