/**
 * JSON Schemas of the credit contract's ecash messages (docs/ecash.md): the offer's
 * ecash terms, NUT-00 blinded messages and signatures (NUT-12 DLEQ), a receipt's
 * next_keyset, the keyset documents (credit/keyset, credit/ecash-check,
 * credit/ecash-keysets), a decoded token, and NUT-09 restore. The contract's own
 * messages are schemas.ts.
 */
import { Type } from '@sinclair/typebox';
import { Hex, Sats, messageSchema } from '../message.ts';
import { KEYSET_ID, KeysetId, TokenKeysetId, InputFeePpk, FinalExpiry, EcashAmount, PointHex, KeysByAmount } from './schemas-fields.ts';

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
