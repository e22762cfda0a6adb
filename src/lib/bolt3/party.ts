/**
 * One party's side of BOLT 2's commitment exchange (commitment_signed / revoke_and_ack),
 * on BOLT 3's transactions. Pure: a step takes the party's record, its own inputs and
 * the peer's message, and returns the record to write (or none) and the message to
 * send; the `commitment` commands keep the record under --state-dir and write it before
 * printing.
 *
 * Invariants (each has a test in test/lib/bolt3/party.test.ts):
 *  1. A party never signs its OWN commitment for anyone: `signPeer` signs only the peer's
 *     commitment and its HTLC transactions; its own commitment is completed only by
 *     `holderCommitment`, which prints the whole transaction for broadcast.
 *  2. Own terms: what is signed is built from the party's own channel record and the
 *     state it agreed to (`--state`), never from the peer's message; a message whose
 *     channel, commitment number, balances, feerate, HTLC set (direction, amount, hash,
 *     cltv_expiry) or per-commitment point differs is refused naming the field. One
 *     commitment number is one state, for both commitments.
 *  3. Revoke only what is replaced: the secret of own commitment n−1 leaves only after the
 *     peer's signatures on own commitment n are verified and stored. The latest held
 *     commitment is never revoked.
 *  4. Checked revocations: a peer's secret for commitment n must be the secret of the point
 *     the peer gave for n (BOLT 2) and derive every stored secret (BOLT 3 compact store);
 *     a refused one changes nothing, so the honest one is still accepted after it.
 *  5. At most two unrevoked peer commitments: the peer's commitment n is signed only once
 *     it revoked n−2, so the only commitments it can broadcast without losing everything
 *     are its two latest, both agreed.
 *  6. Every revoked peer commitment stays punishable: its state is kept and its secret
 *     derivable from the compact store (`revokedPeerCommitment`).
 *  7. Replays print what the first run printed and write nothing.
 *  8. The peer's keys are its own: none of its basepoints or per-commitment points is one of
 *     the holder's (its five basepoints, the points it gave), checked at init, on every point
 *     the peer sends and again before signing (E_PEER_KEY_REUSED). A peer mirroring the
 *     holder's keys would make its commitment the holder's own, and `signPeer` would sign that
 *     (./party-keys.ts).
 *
 * The state machine (`rec` is the ChannelRecord; n the message's commitment number):
 *
 *   step               | in                 | checks                                   | writes                      | out
 *   -------------------|--------------------|------------------------------------------|-----------------------------|----------------------
 *   channelPoints      | —                  | —                                        | —                           | bolt3/channel-points
 *   initChannel        | peer's points      | channel id, peer funding key, points     | new record                  | bolt3/channel-opened
 *   signPeer           | own state n        | n = last signed + 1, peer revoked n−2,   | remote_signed += n          | bolt3/commitment-signed
 *                      |                    | agreed n unchanged, peer point n known   |                             |
 *   receiveSigs        | commitment-signed  | own terms (2), n = held + 1, signatures  | local = n, revoked = n−1    | bolt3/revoke-and-ack (n−1)
 *                      |                    |                                          |                             | or bolt3/commitment-held (n=0)
 *   revokeMessage      | —                  | a held commitment after n−1              | —                           | bolt3/revoke-and-ack (again)
 *   receiveRevocation  | revoke-and-ack     | n = revoked + 1, peer n+1 signed,        | secret stored, point n+2    | bolt3/revocation-received
 *                      |                    | secret·G = point n, compact store        |                             |
 *   holderCommitment   | —                  | stored peer signatures verify            | —                           | bolt3/holder-commitment
 *   penalties          | revoked txid       | revoked, secret derivable, not spent     | —                           | bolt3/penalties
 *
 * Each step lives in the file named after what it does; this file keeps the record and the
 * checks every step shares:
 *   channelPoints, initChannel          ./party-open.ts
 *   signPeer, receiveSigs               ./party-commitment-signed.ts
 *   revokeMessage, receiveRevocation    ./party-revoke-and-ack.ts
 *   holderCommitment (finalize)         ./party-holder-commitment.ts
 *   penalties                           ./party-penalty.ts
 *
 * Not here: HTLC add/settle negotiation (the parties agree each state out of band and
 * each gives its own copy), fee updates as separate messages. The mutual close is
 * ./party-close.ts (its steps) and ./close.ts (its transaction).
 */
import type { Static } from '@sinclair/typebox';
import { Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { fromHex, toHex } from '../bytes.ts';
import { OffchainError, RefusedError, StateConflictError } from '../errors.ts';
import { Hex as MessageHex } from '../message.ts';
import { counterpartyView, type CommitmentState } from './channel.ts';
import { buildCommitment, type CommitmentTransaction } from './commitment.ts';
import { buildHtlcTransactions, type HtlcTransaction } from './htlc-tx.ts';
import { decodePoint } from './keys.ts';
import { channelFromJson, stateFromJson } from './messages.ts';
import { generateFromSeed, indexOfCommitment, perCommitmentPoint } from './per-commitment.ts';
import { PerCommitmentSecretStore } from './secret-store.ts';
import {
  ChannelPointsSchema, ChannelStateSchema, CommitmentSignedSchema, OwnChannelJson, RevokeAndAckSchema,
} from './schemas.ts';
import { nobleBackend } from '../musig/engine/backend-noble.ts';
import { checkChannelTimelocks } from './funding-locktime.ts';

export type OwnChannel = Static<typeof OwnChannelJson>;
export type ChannelState = Static<typeof ChannelStateSchema>;
/** A state without its envelope: what a record keeps and a commitment_signed carries. */
export type StateTerms = Static<typeof CommitmentSignedSchema>['state'];
export type CommitmentSigned = Static<typeof CommitmentSignedSchema>;
export type RevokeAndAck = Static<typeof RevokeAndAckSchema>;
export type ChannelPoints = Static<typeof ChannelPointsSchema>;

const Terms = CommitmentSignedSchema.properties.state;
const Hex = (bytes?: number) => MessageHex('', bytes);

/** What a party keeps of one channel (`<state-dir>/<network>/bolt3/<txid>-<vout>/channel.json`). */
export const ChannelRecordSchema = Type.Object(
  {
    type: Type.Literal('bolt3/channel-record'),
    version: Type.Literal(1),
    network: Type.String(),
    channel: OwnChannelJson,
    /** Our per-commitment point of commitment 0: which seed file is this channel's. */
    local_first_point: Hex(33),
    /** The peer's per-commitment points we hold, by commitment number (the current and the next). */
    remote_points: Type.Record(Type.String({ pattern: '^[0-9]+$' }), Hex(33)),
    /** Our latest commitment, with the peer's verified signatures: the one we can broadcast. */
    local: Type.Union([
      Type.Null(),
      Type.Object({ state: Terms, txid: Hex(32), signature: Hex(), htlc_signatures: Type.Array(Hex()) }, { additionalProperties: false }),
    ]),
    /** Our per-commitment points the peer has been given, by number, for the numbers it has not revoked: its points must differ (invariant 8). */
    local_points: Type.Optional(Type.Record(Type.String({ pattern: '^[0-9]+$' }), Hex(33))),
    /** The highest own commitment number whose secret we revealed (−1: none). */
    local_revoked_through: Type.Integer({ minimum: -1 }),
    /** Every peer commitment we signed, in order: what a penalty rebuilds. */
    remote_signed: Type.Array(Type.Object({ state: Terms, txid: Hex(32) }, { additionalProperties: false })),
    /** The highest peer commitment number the peer revoked (−1: none). */
    remote_revoked_through: Type.Integer({ minimum: -1 }),
    /** The peer's revealed secrets, BOLT 3's compact store (at most 49). */
    secrets: Type.Array(Type.Object({ index: Type.Integer({ minimum: 0 }), secret: Hex(32) }, { additionalProperties: false }), { maxItems: 49 }),
    /** A hash of every state this party agreed to for its own commitments, by number: one number, one state. */
    agreed: Type.Optional(Type.Record(Type.String({ pattern: '^[0-9]+$' }), Hex(32))),
    /** The own commitment completed for broadcast (finalize): never revoked after that. */
    broadcast: Type.Optional(Type.Integer({ minimum: 0 })),
    /** A channel funded by a statechain backup: that backup's nLockTime (init --funding-locktime). */
    funding_locktime: Type.Optional(Type.Integer({ minimum: 1, maximum: 499_999_999 })),
    /** A mutual close proposed or signed: no further commitment is signed. */
    closing: Type.Optional(Type.Object({ proposed: Type.Boolean(), own_script: Hex(), fee_sat: Type.Integer({ minimum: 0 }), peer_script: Type.Optional(Hex()), txid: Type.Optional(Hex(32)) }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);
export type ChannelRecord = Static<typeof ChannelRecordSchema>;

export function channelIdOf(channel: { funding_txid: string; funding_vout: number }): string {
  return `${channel.funding_txid}:${channel.funding_vout}`;
}

/** A stored record, checked: a hand-edited or truncated file is refused, not trusted. */
export function decodeChannelRecord(value: unknown, where: string): ChannelRecord {
  if (!Value.Check(ChannelRecordSchema, value)) {
    const first = Value.Errors(ChannelRecordSchema, value).First();
    throw new OffchainError('E_BAD_CHANNEL_RECORD', `${where} is not a channel record (${first?.path || '/'}: ${first?.message ?? 'invalid'})`);
  }
  return value;
}

// ---- building both commitments from the party's own copy ----------------------------

function stateAt(terms: StateTerms, point: Uint8Array): CommitmentState {
  return stateFromJson({ ...terms, per_commitment_point: toHex(point) });
}

/** Our commitment number n: local = us, at our own point n. */
export function ownCommitment(channel: OwnChannel, terms: StateTerms, ownPoint: Uint8Array): { c: CommitmentTransaction; htlcTxs: HtlcTransaction[] } {
  const c = buildCommitment(channelFromJson(channel), stateAt(terms, ownPoint));
  return { c, htlcTxs: buildHtlcTransactions(c) };
}

/** The peer's commitment number n: the same state seen from its side, at its point n, its delay and dust limit. */
export function peerCommitment(channel: OwnChannel, terms: StateTerms, peerPoint: Uint8Array): { c: CommitmentTransaction; htlcTxs: HtlcTransaction[] } {
  const view = counterpartyView(channelFromJson(channel), stateAt(terms, peerPoint), {
    perCommitmentPoint: peerPoint,
    toSelfDelay: channel.remote_to_self_delay,
    dustLimitSatoshis: BigInt(channel.remote_dust_limit_satoshis),
  });
  const c = buildCommitment(view.params, view.state);
  return { c, htlcTxs: buildHtlcTransactions(c) };
}

/**
 * The mined commitment `txid` as the record rebuilds it — the party's own latest (at its point the
 * record keeps) or a commitment of the peer's it signed (at the peer's point) — with its HTLC
 * transactions: what the watcher takes from it and what `commitment list` counts left on it.
 * Undefined when the record rebuilds no such commitment to that txid.
 */
export function closingCommitment(rec: ChannelRecord, txid: string): { own: boolean; c: CommitmentTransaction; htlcTxs: HtlcTransaction[] } | undefined {
  if (rec.local?.txid === txid) {
    const n = rec.local.state.commitment_number;
    const point = n === 0 ? rec.local_first_point : rec.local_points?.[String(n)];
    const built = point === undefined ? undefined : ownCommitment(rec.channel, rec.local.state, fromHex(point, 'own per-commitment point', 33));
    return built?.c.txid === txid ? { own: true, ...built } : undefined;
  }
  const signed = rec.remote_signed.find((x) => x.txid === txid);
  const point = signed && rec.remote_points[String(signed.state.commitment_number)];
  const built = signed && point !== undefined ? peerCommitment(rec.channel, signed.state, fromHex(point, 'peer per-commitment point', 33)) : undefined;
  return built?.c.txid === txid ? { own: false, ...built } : undefined;
}

// ---- checks every step shares ------------------------------------------------------

export function checkChannelId(rec: ChannelRecord, id: string): void {
  const mine = channelIdOf(rec.channel);
  if (id !== mine) throw new RefusedError('E_WRONG_CHANNEL', `this message is for channel ${id}, not ${mine}`, { channel: id });
}

export function ownPoint(seed: Uint8Array, n: number): Uint8Array {
  return perCommitmentPoint(generateFromSeed(seed, indexOfCommitment(n)));
}

export function checkSeed(rec: ChannelRecord, seed: Uint8Array): void {
  if (toHex(ownPoint(seed, 0)) !== rec.local_first_point) {
    throw new RefusedError('E_KEY_MISMATCH', 'the --seed-file is not this channel\'s per-commitment seed');
  }
}

/** A 33-byte point from the peer, checked on the curve. */
export function checkPoint(hex: string, field: string): Uint8Array {
  const bytes = fromHex(hex, field, 33);
  decodePoint(nobleBackend, bytes, field);
  return bytes;
}

export function secretStore(rec: ChannelRecord): PerCommitmentSecretStore {
  return PerCommitmentSecretStore.fromEntries(rec.secrets.map((e) => ({ index: e.index, secret: fromHex(e.secret, 'stored secret', 32) })));
}

export type SigningKeys = { fundingSecret: Uint8Array; htlcBasepointSecret?: Uint8Array };

export function checkNotClosing(rec: ChannelRecord): void {
  if (rec.closing) throw new StateConflictError('E_CHANNEL_CLOSING', 'a mutual close of this channel was proposed or signed: no further commitment is signed');
  if (rec.broadcast !== undefined) {
    throw new StateConflictError('E_CHANNEL_CLOSING', `you completed your commitment ${rec.broadcast} for broadcast (finalize): it is never revoked, and no further commitment is signed`);
  }
}

/** BOLT 2's floors on what a commitment may carry, so that it can be relayed. */
const MIN_FEERATE_PER_KW = 253;
export const MIN_DUST_LIMIT_SATOSHIS = 354;

export function checkTermsFloor(rec: ChannelRecord, terms: StateTerms): void {
  if (rec.channel.format !== 'zero-fee' && terms.feerate_per_kw < MIN_FEERATE_PER_KW) {
    throw new RefusedError('E_FEERATE_TOO_LOW', `feerate_per_kw ${terms.feerate_per_kw} is below BOLT 2's ${MIN_FEERATE_PER_KW}: such a commitment is never relayed`);
  }
}

/** A channel on a statechain coin: no HTLC may expire before the channel can be on chain. */
export function checkFundingLocktime(rec: ChannelRecord, c: CommitmentTransaction, given?: number): void {
  const fundingLocktime = Math.max(rec.funding_locktime ?? 0, given ?? 0);
  if (fundingLocktime === 0) return;
  checkChannelTimelocks({
    fundingLocktime, toSelfDelay: Math.max(rec.channel.to_self_delay, rec.channel.remote_to_self_delay), htlcExpiries: c.state.htlcs.map((h) => h.cltvExpiry),
  });
}
