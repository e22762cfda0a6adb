/**
 * JSON Schemas of the `ptlc` messages. `ptlc/created` describes the point-locked output
 * (re-derived and compared when read back); `ptlc/presign` carries the claim PSBT and
 * the two MuSig2 adaptor rounds (payee nonce → payer nonce and partial signature → payee
 * partial signature, pre-signature and nonce parity); `ptlc/spend` is a claim or refund
 * to broadcast; `ptlc/extracted` says t was read from a claim (t itself only in a file).
 */
import { Type } from '@sinclair/typebox';
import { Base64Psbt, Hex, Sats, Txid, messageSchema } from '../message.ts';
import { watchedFields } from '../htlc/schemas.ts';

const Pubkey = (who: string) => Hex(`${who}: 33-byte compressed public key`, 33);

export const PtlcCreatedSchema = messageSchema('ptlc/created', 'A point-locked taproot output: MuSig2 key path for the adaptor claim, a CLTV refund leaf for the payer.', {
  address: Type.String(),
  script_pubkey: Hex('output script'),
  payer: Pubkey('who funds it and takes it back after the timeout'),
  payee: Pubkey('who claims it by completing the adaptor signature with t'),
  point: Pubkey('the lock point T = t·G'),
  locktime: Type.Integer({ minimum: 1, maximum: 0xffff_ffff, description: 'absolute timeout of the refund leaf' }),
  amount_sat: Type.Optional(Sats('the amount the payer means to fund')),
  participants: Type.Array(Pubkey('MuSig2 participant'), { minItems: 2, maxItems: 2 }),
  internal_key: Hex('x-only MuSig2 aggregate (BIP-327 KeyAgg, sorted keys)', 32),
  merkle_root: Hex('the refund leaf\'s TapLeaf hash (the tree\'s root)', 32),
  output_key: Hex('x-only output key', 32),
  refund_leaf: Type.Object({ script: Hex('and_v(v:pk(payer),after(L))'), control_block: Hex('BIP-341 control block') }, { additionalProperties: false }),
  descriptor: Type.String({ description: 'BIP-380/390 descriptor with checksum' }),
});

export const PtlcPresignSchema = messageSchema('ptlc/presign', 'The claim\'s MuSig2 adaptor session, step by step; complete once pre_signature is there.', {
  ptlc: Type.Object({}, { additionalProperties: true, description: 'the ptlc/created message' }),
  psbt: Base64Psbt,
  claim_txid: Txid,
  outpoint: Type.Object({ txid: Txid, vout: Type.Integer({ minimum: 0, maximum: 0xffff_ffff }) }, { additionalProperties: false }),
  amount_sat: Sats('the PTLC output\'s amount'),
  payee_pubnonce: Hex('payee\'s BIP-327 public nonce', 66),
  payer_pubnonce: Type.Optional(Hex('payer\'s BIP-327 public nonce', 66)),
  payer_partial_sig: Type.Optional(Hex('payer\'s partial signature in the adaptor session', 32)),
  payee_partial_sig: Type.Optional(Hex('payee\'s partial signature in the adaptor session', 32)),
  pre_signature: Type.Optional(Hex('xbytes(R\') || s\': completes to a BIP-340 signature only with t', 64)),
  nonce_parity: Type.Optional(Type.Union([Type.Literal(0), Type.Literal(1)], { description: 'parity of R\' (0: even y), for adapt and extract' })),
  next: Type.String({ description: 'who acts next: payer, payee, or "claim" once pre-signed' }),
});

export const PtlcSpendSchema = messageSchema('ptlc/spend', 'A PTLC claim (key path, adapted signature) or refund (CLTV leaf), signed.', {
  path: Type.Union([Type.Literal('claim'), Type.Literal('refund')]),
  txid: Txid,
  hex: Hex('the signed transaction'),
  fee_sat: Sats('fee paid'),
  locktime: Type.Integer({ minimum: 0, maximum: 0xffff_ffff }),
});

export const PtlcExtractedSchema = messageSchema('ptlc/extracted', 'The adaptor secret t was read from a claim and written to the named file (0600), never here.', {
  claim_txid: Txid,
  point: Pubkey('the lock point t opens'),
  secret_file: Type.String({ description: 'where t was written (hex, mode 0600)' }),
});

const Role = Type.Union([Type.Literal('sender'), Type.Literal('hop'), Type.Literal('payee')]);
const PublicLock = Type.Object(
  {
    role: Role,
    index: Type.Integer({ minimum: 0, maximum: 27 }),
    node_id: Type.Optional(Pubkey('the node this record is for, when planned from a route/plan')),
    L: Pubkey('incoming lock point (sender, payee: the payment point)'),
    R: Pubkey('outgoing lock point = L + y·G'),
  },
  { additionalProperties: false },
);

export const PtlcLockSchema = messageSchema('ptlc/lock', 'One party\'s lock record of a decorrelated multi-hop payment: R = L + y·G. Holds y: a 0600 file for that party only.', {
  role: Role,
  index: Type.Integer({ minimum: 0, maximum: 27 }),
  L: Pubkey('incoming lock point'),
  R: Pubkey('outgoing lock point'),
  y: Hex('the secret tweak', 32),
});

export const PtlcLocksSchema = messageSchema('ptlc/locks', 'The public lock points of a multi-hop payment (every PTLC on the route has its own).', {
  payment_point: Type.Optional(Pubkey('the payee\'s Z = z·G')),
  locks: Type.Array(PublicLock),
  files: Type.Optional(Type.Array(Type.String(), { description: 'the ptlc/lock record written for each party (0600), to deliver privately' })),
});

export const PtlcLockSecretSchema = messageSchema('ptlc/lock-secret', 'The other side\'s secret of a lock record was computed and written to a file (0600), never here.', {
  index: Type.Integer({ minimum: 0, maximum: 27 }),
  from: Type.Union([Type.Literal('l'), Type.Literal('r')]),
  opens: Pubkey('the point the written secret opens'),
  secret_file: Type.String(),
});

export const PtlcWatchedSchema = messageSchema('ptlc/watched', 'A payer\'s funded PTLC kept in the state directory: offchain watch over it refunds it once its locktime is final.', watchedFields('PTLC'));

export const PTLC_SCHEMAS = [PtlcWatchedSchema, PtlcCreatedSchema, PtlcPresignSchema, PtlcSpendSchema, PtlcExtractedSchema, PtlcLockSchema, PtlcLocksSchema, PtlcLockSecretSchema];
