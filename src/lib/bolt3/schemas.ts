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

const PenaltyInputKind = Type.Union(['to_local', 'offered_htlc', 'received_htlc', 'second_stage'].map((k) => Type.Literal(k)));

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

// ---- the per-party channel (BOLT 2's commitment_signed / revoke_and_ack) ----------

const ChannelId = Type.String({ pattern: '^[0-9a-f]{64}:(0|[1-9][0-9]{0,9})$', description: 'the funding outpoint, txid:vout' });

/** A party's own channel: ChannelJson from its side (local = itself) plus what it imposes on the peer. */
export const OwnChannelJson = Type.Object(
  {
    ...ChannelJson.properties,
    remote_to_self_delay: Type.Integer({ minimum: 1, maximum: 65535, description: 'the CSV on the peer\'s own outputs (the to_self_delay this party asked for)' }),
    remote_dust_limit_satoshis: Type.Integer({ minimum: 0, description: 'the peer\'s dust_limit_satoshis (trims its commitment)' }),
  },
  { additionalProperties: false, description: 'this party\'s channel: "local" is this party' },
);

export const OwnChannelSchema = messageSchema('bolt3/channel', 'A party\'s channel, from its own side ("local" is this party): what every one of its commitment steps builds from.', {
  ...OwnChannelJson.properties,
});

const AgreedHtlc = StateJson.properties.htlcs.items;

/** The state a party agreed to, from its own side: what its own commitment and its peer's are both built from. */
export const ChannelStateSchema = messageSchema('bolt3/channel-state', 'A channel state this party agreed to, from its own side (to_local = its own balance; offered = it pays).', {
  channel_id: ChannelId,
  commitment_number: CommitmentNumber,
  to_local_msat: Msat('this party\'s balance before the fee'),
  to_remote_msat: Msat('the peer\'s balance'),
  feerate_per_kw: StateJson.properties.feerate_per_kw,
  htlcs: Type.Array(AgreedHtlc, { maxItems: 966 }),
});

export const ChannelPointsSchema = messageSchema('bolt3/channel-points', 'A party\'s per-commitment points for commitments 0 and 1 (BOLT 2 open_channel / channel_ready), for its peer\'s commitment init.', {
  channel_id: ChannelId,
  funding_pubkey: Point('the sender\'s funding_pubkey'),
  first_per_commitment_point: Point('per_commitment_point of commitment 0'),
  second_per_commitment_point: Point('per_commitment_point of commitment 1'),
});

export const ChannelOpenedSchema = messageSchema('bolt3/channel-opened', 'A channel recorded under --state-dir by commitment init (nothing secret).', {
  channel_id: ChannelId,
  format: ChannelJson.properties.format,
  funding_satoshis: ChannelJson.properties.funding_satoshis,
  state_dir: Type.String({ description: 'where the channel is kept' }),
});

export const CommitmentSignedSchema = messageSchema('bolt3/commitment-signed', 'BOLT 2 commitment_signed: the sender\'s signatures on the RECEIVER\'s commitment and its HTLC transactions, never on its own.', {
  channel_id: ChannelId,
  commitment_number: CommitmentNumber,
  per_commitment_point: Point('the receiver\'s per-commitment point the commitment was built with'),
  state: Type.Omit(ChannelStateSchema, ['type', 'version', 'network', 'channel_id'], { description: 'the state, from the sender\'s side (the receiver compares it with its own)' }),
  commitment_txid: Txid,
  signature: Hex('the sender\'s funding signature on the receiver\'s commitment (DER)'),
  htlc_signatures: Type.Array(Hex('the sender\'s signature on an HTLC transaction of the receiver\'s commitment (DER)'), { description: 'in BOLT 3 output order' }),
});

export const RevokeAndAckSchema = messageSchema('bolt3/revoke-and-ack', 'BOLT 2 revoke_and_ack: the secret of the sender\'s previous commitment (revealed ON PURPOSE) and its next per-commitment point.', {
  channel_id: ChannelId,
  commitment_number: CommitmentNumber,
  per_commitment_secret: Hex('the revoked commitment\'s per_commitment_secret', 32),
  next_per_commitment_point: Point('per_commitment_point of the commitment after the one the sender now holds'),
});

export const CommitmentHeldSchema = messageSchema('bolt3/commitment-held', 'The peer\'s signatures on this party\'s first commitment checked and stored (nothing to revoke yet).', {
  channel_id: ChannelId,
  commitment_number: CommitmentNumber,
  commitment_txid: Txid,
});

export const RevocationReceivedSchema = messageSchema('bolt3/revocation-received', 'A peer\'s revocation checked against the point it gave for that commitment and stored (the secret is not repeated).', {
  channel_id: ChannelId,
  commitment_number: CommitmentNumber,
  revoked_txid: Txid,
  stored: Type.Integer({ minimum: 1, maximum: 49, description: 'secrets the compact store keeps' }),
});

export const HolderCommitmentSchema = messageSchema('bolt3/holder-commitment', 'This party\'s latest commitment, completed with its own signature at broadcast time, and its HTLC transactions.', {
  channel_id: ChannelId,
  commitment_number: CommitmentNumber,
  txid: Txid,
  hex: Hex('the signed commitment'),
  htlc_txs: Type.Array(
    Type.Object(
      {
        kind: Type.Union([Type.Literal('htlc-timeout'), Type.Literal('htlc-success')]), commitment_output_index: Type.Integer({ minimum: 0 }), txid: Txid,
        payment_hash: Hex('', 32), locktime: Type.Integer({ minimum: 0 }), hex: Type.Optional(Hex('the signed HTLC transaction (HTLC-success: only with its preimage)')),
        psbt: Type.Optional(Type.String({ description: 'anchors / zero-fee: the HTLC transaction as a PSBT carrying the peer\'s SINGLE|ANYONECANPAY signature, to be given a fee input before you sign it' })),
        needs_fee_input: Type.Optional(Type.Literal(true)),
        fee_sat: Type.Optional(Type.Integer({ minimum: 0, description: 'funded with --fee-psbt: the fee the wallet\'s coins pay' })),
        needs_wallet_signatures: Type.Optional(Type.Literal(true, { description: 'funded with --fee-psbt and signed by you (input 0): sign the wallet\'s inputs with bitcoin-cli walletprocesspsbt, broadcast once the commitment is confirmed, sweep its output with commitment sweep --htlc-tx' })),
      },
      { additionalProperties: false },
    ),
  ),
});

export const PenaltiesSchema = messageSchema('bolt3/penalties', 'Signed justice transactions for a revoked commitment: one per output (or one for the chosen set), second-stage outputs included.', {
  channel_id: ChannelId,
  commitment_number: CommitmentNumber,
  revoked_txid: Txid,
  skipped: Type.Array(Type.Object({ txid: Type.Optional(Txid), vout: Type.Integer({ minimum: 0 }), reason: Type.String() }, { additionalProperties: false }), { description: 'revocable outputs left out (spent, or worth less than their fee); txid when not the commitment\'s' }),
  transactions: Type.Array(
    Type.Object(
      {
        txid: Txid, hex: Hex('the signed justice transaction'), fee_sat: Type.Integer({ minimum: 0 }),
        inputs: Type.Array(Type.Object({ kind: PenaltyInputKind, txid: Txid, vout: Type.Integer({ minimum: 0 }), amount_sat: Type.Integer({ minimum: 0 }) }, { additionalProperties: false })),
      },
      { additionalProperties: false },
    ),
    { minItems: 1 },
  ),
});

export const ClaimsSchema = messageSchema('bolt3/claims', 'What a party takes from its peer\'s (unrevoked) commitment the peer broadcast: its HTLCs with their preimages, ours back at cltv_expiry (BOLT 5).', {
  channel_id: ChannelId,
  commitment_number: CommitmentNumber,
  commitment_txid: Txid,
  skipped: Type.Array(Type.Object({ vout: Type.Integer({ minimum: 0 }), reason: Type.String() }, { additionalProperties: false })),
  transactions: Type.Array(
    Type.Object(
      {
        kind: Type.Union([Type.Literal('htlc-claim'), Type.Literal('htlc-timeout')]), vout: Type.Integer({ minimum: 0 }), payment_hash: Hex('', 32),
        locktime: Type.Integer({ minimum: 0 }), txid: Txid, hex: Hex('the signed spend (an htlc-timeout is valid from its locktime on)'),
        fee_sat: Type.Integer({ minimum: 0 }), amount_sat: Type.Integer({ minimum: 0 }),
      },
      { additionalProperties: false },
    ),
    { minItems: 1 },
  ),
});

export const ShutdownSchema = messageSchema('bolt3/shutdown', 'BOLT 2 shutdown: a party proposes a mutual close of the final state, naming its own output script and the fee.', {
  channel_id: ChannelId,
  commitment_number: CommitmentNumber,
  script_pubkey: Hex('the proposer\'s output script'),
  fee_sat: Type.Integer({ minimum: 0, maximum: 2_100_000_000_000_000, description: 'the closing fee, paid by the opener' }),
});

export const ClosingSignedSchema = messageSchema('bolt3/closing-signed', 'BOLT 2 closing_signed: the sender\'s signature on the mutual close both build the same way.', {
  channel_id: ChannelId,
  commitment_number: CommitmentNumber,
  fee_sat: Type.Integer({ minimum: 0, maximum: 2_100_000_000_000_000 }),
  sender_script_pubkey: Hex('the sender\'s output script'),
  receiver_script_pubkey: Hex('the receiver\'s output script, from its shutdown'),
  txid: Txid,
  signature: Hex('the sender\'s funding signature on the closing transaction (DER)'),
});

export const ClosingTxSchema = messageSchema('bolt3/closing-tx', 'The mutual close, signed by both parties: broadcast it.', {
  channel_id: ChannelId,
  txid: Txid,
  hex: Hex('the signed closing transaction'),
  fee_sat: Type.Integer({ minimum: 0, maximum: 2_100_000_000_000_000 }),
});

const Spent = (values: string[]) => Type.Union(values.map((v) => Type.Literal(v)));

export const ChannelsSchema = messageSchema('bolt3/channels', 'A channel party\'s channels (commitment list), a revoked commitment\'s penalty deadline first, with what the chain says and what must be done now.', {
  tip_height: Type.Integer({ minimum: 0 }),
  channels: Type.Array(
    Type.Object(
      {
        channel_id: ChannelId,
        capacity_sat: Type.Integer({ minimum: 0, description: 'the funding output, sat' }),
        status: Type.String({
          description: 'the record\'s word (open, closing, closing-signed, force-closing: your commitment completed for broadcast), and with a node the chain\'s: funding-unconfirmed, unfunded, funding-pending / funding-lost (a channel on a statechain coin: its funding backup not mined yet; its coin taken by another transaction, the channel never on chain), ' +
            'penalty-due / penalized (a revoked commitment of the peer\'s spent the funding; penalized once every revocable output is spent in a block), peer-closing / peer-closed, force-closing / force-closed, closing / closed (the mutual close), spent-unknown',
        }),
        record_status: Spent(['open', 'closing', 'closing-signed', 'force-closing']),
        local_commitment: Type.Union([Type.Null(), CommitmentNumber], { description: 'your latest commitment held (with the peer\'s signatures)' }),
        remote_commitment: Type.Union([Type.Null(), CommitmentNumber], { description: 'the peer\'s latest commitment you signed' }),
        revoked_commitments: Type.Integer({ minimum: 0, description: 'the peer\'s commitments it revoked: each one punishable if broadcast' }),
        htlcs: Type.Integer({ minimum: 0, description: 'HTLCs in the latest state' }),
        htlc_sat: Type.Integer({ minimum: 0 }),
        to_local_msat: Type.Optional(Msat('your balance in the latest state')),
        to_remote_msat: Type.Optional(Msat('the peer\'s balance in the latest state')),
        to_self_delay: Type.Integer({ minimum: 1, description: 'the delay on your own to_local (the peer asked for it)' }),
        remote_to_self_delay: Type.Integer({ minimum: 1, description: 'the delay on the peer\'s to_local: your window to punish a revoked commitment' }),
        chain: Type.Optional(Type.Union([
          Type.Object({ funding: Type.Literal('unspent') }, { additionalProperties: false }),
          Type.Object({
            funding: Type.Literal('not-mined'), in_mempool: Type.Boolean(), funding_locktime: Type.Optional(Type.Integer({ minimum: 1 })),
            lost_to: Type.Optional(Type.Object({ coin_outpoint: Type.String(), txid: Type.Optional(Type.String()), confirmations: Type.Integer({ minimum: 0 }) }, { additionalProperties: false })),
          }, { additionalProperties: false }),
          Type.Object(
            {
              funding: Type.Literal('spent'),
              spent_by: Spent(['revoked-commitment', 'their-commitment', 'own-commitment', 'mutual-close', 'unknown']),
              txid: Type.Optional(Txid),
              confirmations: Type.Optional(Type.Integer({ minimum: 0, description: '0: in the mempool' })),
              commitment_number: Type.Optional(CommitmentNumber),
            },
            { additionalProperties: false },
          ),
        ], { description: 'with a node: who spent the funding, found as offchain watch finds it; absent offline' })),
        penalty: Type.Optional(Type.Object(
          {
            deadline_height: Type.Integer({ minimum: 0, description: 'the revoked commitment mined at H: H + remote_to_self_delay − 1 (in the mempool: tip + remote_to_self_delay)' }),
            blocks_left: Type.Integer(),
            outputs_left: Type.Union([Type.Null(), Type.Integer({ minimum: 0 })], { description: 'revocable outputs (second stages included) not yet spent in a block; null: not known (the search failed)' }),
            in_mempool: Type.Integer({ minimum: 0, description: 'of those, how many a transaction in the mempool is taking' }),
            error: Type.Optional(Type.String()),
          },
          { additionalProperties: false },
        )),
        sweep_from: Type.Optional(Type.Integer({ minimum: 0, description: 'your commitment mined: the first block your to_local may be swept in' })),
        htlc_outputs: Type.Optional(Type.Object(
          {
            unspent: Type.Integer({ minimum: 0, description: 'HTLC outputs of the closing commitment (yours, or the peer\'s current) that nothing spends yet, in a block or the mempool' }),
            soonest_cltv_expiry: Type.Optional(Type.Integer({ minimum: 0, description: 'the soonest cltv_expiry among them: from it the peer may time out an HTLC it offered' })),
          },
          { additionalProperties: false, description: 'your commitment, or the peer\'s current one, mined: its HTLC outputs left to take' },
        )),
        sent: Type.Optional(Type.Array(Type.Object({ outpoint: Type.String(), txid: Txid, confirmations: Type.Union([Type.Null(), Type.Integer({ minimum: 0 })]) }, { additionalProperties: false }), { description: 'what offchain watch sent for this channel (its records), each as the node knows it: null unknown, 0 in the mempool' })),
        must_act: Type.Boolean({ description: 'a penalty is due (something revocable is left, or not known to be taken), the funding is spent by nothing the record knows, or a mined commitment (yours, the peer\'s current) still has HTLC outputs unspent, which the peer races' }),
        next: Type.String({ description: 'what the party does now for this channel, in words' }),
      },
      { additionalProperties: false },
    ),
  ),
  preimages_learnt: Type.Optional(Type.Array(
    Type.Object(
      {
        payment_hash: Hex('the payment_hash whose preimage the watcher learnt', 32),
        txid: Txid,
        channel_id: ChannelId,
      },
      { additionalProperties: false },
    ),
    { description: 'the preimages offchain watch learnt on chain (the peer claimed an HTLC you offered), by payment_hash: each used for every HTLC of that payment_hash; absent when none' },
  )),
});

/**
 * A channel party's hand-over to a keyless watchtower (`commitment tower-export`, read by `offchain
 * watch --tower`): one appointment per revoked commitment of the peer, each its locator (the
 * commitment txid's first 16 bytes) and its blob (./appointment.ts: ChaCha20-Poly1305 under
 * SHA256(txid) of the justice ladders, ./tower-justice.ts). Nothing of the channel is readable
 * before the commitment is on chain; nothing secret at all.
 */
export const TowerJusticeSchema = messageSchema('bolt3/tower-justice', 'Channel party → its watchtower: per revoked commitment of the peer, a locator (the commitment txid\'s first 16 bytes) and the encrypted justice ladders (ChaCha20-Poly1305 under SHA256 of the txid). No secret, nothing readable before the breach.', {
  appointments: Type.Array(
    Type.Object(
      {
        locator: Hex('the revoked commitment\'s txid, its first 16 bytes (display order)', 16),
        blob: Type.String({ pattern: '^[A-Za-z0-9+/]*={0,2}$', minLength: 40, maxLength: 16_777_216, description: 'base64: nonce (12 bytes) ‖ ChaCha20-Poly1305 ciphertext ‖ tag (16 bytes), key SHA256(commitment txid), aad "offchain/tower-justice/1"' }),
      },
      { additionalProperties: false },
    ),
    { maxItems: 1_000_000, description: 'one per revoked commitment worth punishing, in locator order' },
  ),
  next: Type.String(),
});

const RungHex = Type.String({ pattern: '^([0-9a-f]{2})+$', maxLength: 4000, description: 'a signed justice transaction: one input (through the revocation key), one output (the party\'s)' });
const Rungs = Type.Array(RungHex, { minItems: 1, maxItems: 64, description: 'the fee ladder, lowest fee first: each rung replaces the one below (BIP 125)' });

/** What a blob of `bolt3/tower-justice` decrypts to (UTF-8 JSON): the justice ladders of one revoked commitment. */
export const JusticeLaddersSchema = Type.Object(
  {
    v: Type.Literal(1),
    to_self_delay: Type.Integer({ minimum: 1, maximum: 65535, description: 'the CSV on the cheater\'s outputs: a ladder must be mined by the block before its input is final for him (confirmation height + to_self_delay − 1)' }),
    outputs: Type.Array(
      Type.Object(
        {
          rungs: Rungs,
          second_stage: Type.Optional(Type.Object({ rungs: Rungs }, { additionalProperties: false, description: 'legacy channels only: the ladder on the output of the cheater\'s HTLC transaction for this HTLC (its txid is fixed: the peer\'s signature on it is SIGHASH_ALL)' })),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 967, description: 'one per revocable output of the commitment (to_local, each HTLC output)' },
    ),
  },
  { additionalProperties: false },
);

export const BOLT3_SCHEMAS = [
  CommitmentRequestSchema, SweepSchema, PerCommitmentPointSchema,
  OwnChannelSchema, ChannelStateSchema, ChannelPointsSchema, ChannelOpenedSchema, CommitmentSignedSchema, RevokeAndAckSchema, CommitmentHeldSchema, RevocationReceivedSchema, HolderCommitmentSchema, PenaltiesSchema,
  ShutdownSchema, ClosingSignedSchema, ClosingTxSchema, ClaimsSchema, ChannelsSchema, TowerJusticeSchema,
];
