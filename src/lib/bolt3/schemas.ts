/**
 * JSON Schemas of the `commitment` messages: `bolt3/commitment-request` (a channel's
 * fixed parameters and one commitment's state, "local" being the commitment's holder)
 * and `bolt3/commitment` (the commitment and its HTLC transactions as built, with the
 * signatures each party has added). msat are decimal strings; signatures strict DER
 * without the sighash byte, as BOLT 3 prints them.
 */
import { Type } from '@sinclair/typebox';
import { Hex, Txid, messageSchema } from '../message.ts';

const Point = (what: string) => Hex(what, 33);
const Msat = (what: string) => Type.String({ pattern: '^(0|[1-9][0-9]{0,21})$', description: `${what}, msat (decimal string)` });
const Keys = Type.Object(
  {
    funding_pubkey: Point('funding_pubkey'),
    revocation_basepoint: Point('revocation_basepoint'),
    payment_basepoint: Point('payment_basepoint'),
    delayed_payment_basepoint: Point('delayed_payment_basepoint'),
    htlc_basepoint: Point('htlc_basepoint'),
  },
  { additionalProperties: false },
);
export const ChannelJson = Type.Object(
  {
    format: Type.Union([Type.Literal('legacy'), Type.Literal('anchors'), Type.Literal('zero-fee')]),
    funding_txid: Txid,
    funding_vout: Type.Integer({ minimum: 0 }),
    funding_satoshis: Type.Integer({ minimum: 1, maximum: 2_100_000_000_000_000 }),
    opener: Type.Union([Type.Literal('local'), Type.Literal('remote')], { description: 'who opened (pays the fee and the keyed anchors)' }),
    to_self_delay: Type.Integer({ minimum: 1, maximum: 65535, description: 'the CSV on the holder\'s own outputs' }),
    dust_limit_satoshis: Type.Integer({ minimum: 0 }),
    local: Keys,
    remote: Keys,
  },
  { additionalProperties: false, description: '"local" is the commitment\'s holder' },
);
export const StateJson = Type.Object(
  {
    commitment_number: Type.Integer({ minimum: 0, maximum: 2 ** 48 - 1 }),
    per_commitment_point: Point('the holder\'s per-commitment point for this commitment'),
    to_local_msat: Msat('holder\'s balance before the fee'),
    to_remote_msat: Msat('counterparty\'s balance'),
    feerate_per_kw: Type.Integer({ minimum: 0, maximum: 100_000_000 }),
    htlcs: Type.Array(
      Type.Object(
        {
          direction: Type.Union([Type.Literal('offered'), Type.Literal('received')], { description: 'seen from the holder' }),
          amount_msat: Msat('amount'),
          payment_hash: Hex('SHA256 of the preimage', 32),
          cltv_expiry: Type.Integer({ minimum: 1, maximum: 499_999_999 }),
          id: Type.Optional(Type.Integer({ minimum: 0 })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export const CommitmentRequestSchema = messageSchema('bolt3/commitment-request', 'One BOLT 3 commitment to build: the channel and the state.', {
  channel: ChannelJson,
  state: StateJson,
});

const Signatures = Type.Object(
  { commitment: Hex('funding signature on the commitment (DER)'), htlcs: Type.Array(Hex('HTLC-transaction signature (DER)'), { description: 'in commitment output order' }) },
  { additionalProperties: false },
);

export const CommitmentSchema = messageSchema('bolt3/commitment', 'A BOLT 3 commitment and its HTLC transactions, with the signatures added so far.', {
  channel: ChannelJson,
  state: StateJson,
  txid: Txid,
  unsigned_hex: Hex('the commitment without witness'),
  outputs: Type.Array(
    Type.Object(
      { index: Type.Integer({ minimum: 0 }), kind: Type.String(), amount_sat: Type.Integer({ minimum: 0 }), script_pubkey: Hex('output script'), witness_script: Type.Optional(Hex('P2WSH witness script')) },
      { additionalProperties: false },
    ),
  ),
  htlc_txs: Type.Array(
    Type.Object(
      { kind: Type.Union([Type.Literal('htlc-timeout'), Type.Literal('htlc-success')]), commitment_output_index: Type.Integer({ minimum: 0 }), txid: Txid, payment_hash: Hex('', 32), locktime: Type.Integer({ minimum: 0 }) },
      { additionalProperties: false },
    ),
  ),
  signatures: Type.Object({ local: Type.Optional(Signatures), remote: Type.Optional(Signatures) }, { additionalProperties: false }),
  hex: Type.Optional(Hex('the signed commitment, once both signatures are in (commitment finalize)')),
  signed_htlc_txs: Type.Optional(Type.Array(Type.Object({ txid: Txid, hex: Hex('signed HTLC transaction') }, { additionalProperties: false }))),
});

export const PenaltySchema = messageSchema('bolt3/penalty', 'A signed justice transaction taking a revoked commitment\'s revocable outputs.', {
  revoked_txid: Txid,
  txid: Txid,
  hex: Hex('the signed penalty transaction'),
  fee_sat: Type.Integer({ minimum: 0 }),
  inputs: Type.Array(
    Type.Object(
      { kind: Type.Union(['to_local', 'offered_htlc', 'received_htlc', 'second_stage'].map((k) => Type.Literal(k))), vout: Type.Integer({ minimum: 0 }), amount_sat: Type.Integer({ minimum: 0 }) },
      { additionalProperties: false },
    ),
  ),
});

export const SweepSchema = messageSchema('bolt3/sweep', 'A signed spend of the holder\'s delayed outputs (to_local, HTLC-timeout/-success outputs) after to_self_delay.', {
  commitment_txid: Txid,
  txid: Txid,
  hex: Hex('the signed sweep transaction (valid to_self_delay blocks after each spent output confirmed)'),
  fee_sat: Type.Integer({ minimum: 0 }),
  to_self_delay: Type.Integer({ minimum: 1, maximum: 65535 }),
  inputs: Type.Array(
    Type.Object(
      { kind: Type.Union(['to_local', 'htlc-timeout', 'htlc-success'].map((k) => Type.Literal(k))), txid: Txid, vout: Type.Integer({ minimum: 0 }), amount_sat: Type.Integer({ minimum: 0 }) },
      { additionalProperties: false },
    ),
  ),
});

const CommitmentNumber = Type.Integer({ minimum: 0, maximum: 2 ** 48 - 1, description: 'commitment number, counted from 0' });
const SecretIndex = Type.Integer({ minimum: 0, maximum: 2 ** 48 - 1, description: 'the 48-bit index: 2^48 - 1 - commitment number' });

export const PerCommitmentPointSchema = messageSchema('bolt3/per-commitment-point', 'The per_commitment_point of one commitment, derived from the holder\'s seed.', {
  commitment_number: CommitmentNumber,
  index: SecretIndex,
  per_commitment_point: Point('per_commitment_point'),
});

export const PerCommitmentSecretSchema = messageSchema(
  'bolt3/per-commitment-secret',
  'The per-commitment secret of a commitment being revoked: revealed to the counterparty on purpose (BOLT 2 revoke_and_ack).',
  { commitment_number: CommitmentNumber, index: SecretIndex, per_commitment_secret: Hex('per_commitment_secret', 32) },
);

export const SecretStoreSchema = messageSchema('bolt3/secret-store', 'The counterparty\'s revealed per-commitment secrets in BOLT 3\'s compact storage (at most 49, one per bucket).', {
  last_index: Type.Optional(SecretIndex),
  entries: Type.Array(Type.Object({ index: SecretIndex, secret: Hex('per_commitment_secret', 32) }, { additionalProperties: false }), { maxItems: 49 }),
});

export const SecretReceivedSchema = messageSchema('bolt3/secret-received', 'A per-commitment secret checked and stored by commitment receive (the secret itself is not repeated).', {
  store: Type.String({ description: 'the store file written' }),
  commitment_number: CommitmentNumber,
  index: SecretIndex,
  stored: Type.Integer({ minimum: 1, maximum: 49, description: 'secrets the compact store keeps' }),
});

export const BOLT3_SCHEMAS = [
  CommitmentRequestSchema, CommitmentSchema, PenaltySchema, SweepSchema, PerCommitmentPointSchema, PerCommitmentSecretSchema, SecretStoreSchema, SecretReceivedSchema,
];
