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
 *   (penalties: ./party-penalty.ts)
 *
 * Not here: HTLC add/settle negotiation (the parties agree each state out of band and
 * each gives its own copy), fee updates as separate messages. The mutual close is
 * ./party-close.ts (its steps) and ./close.ts (its transaction).
 */
import type { Static } from '@sinclair/typebox';
import { Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { equalBytes, fromHex, toHex } from '../bytes.ts';
import { MalformedInputError, OffchainError, RefusedError, StateConflictError, UsageError } from '../errors.ts';
import type { Network } from '../network.ts';
import { Hex as MessageHex } from '../message.ts';
import { counterpartyView, type CommitmentState } from './channel.ts';
import { buildCommitment, type CommitmentTransaction } from './commitment.ts';
import { buildHtlcTransactions, type HtlcTransaction } from './htlc-tx.ts';
import { decodePoint, derivePrivkey, pointOf } from './keys.ts';
import { channelFromJson, stateFromJson } from './messages.ts';
import { generateFromSeed, indexOfCommitment, perCommitmentPoint } from './per-commitment.ts';
import { PerCommitmentSecretStore } from './secret-store.ts';
import {
  finalizeCommitment, finalizeHtlcTransaction, signCommitment, signCounterpartyCommitment, signHtlcTransaction, verifyCommitmentSignature, verifyHtlcSignature,
} from './sign.ts';
import { txid } from './tx.ts';
import { htlcPsbt } from './psbt.ts';
import { fundHtlcTransaction } from './htlc-fee.ts';
import { base64 } from '@scure/base';
import { sha256 } from '../hash.ts';
import {
  ChannelPointsSchema, ChannelStateSchema, CommitmentSignedSchema, OwnChannelJson, RevokeAndAckSchema,
} from './schemas.ts';
import { nobleBackend } from '../musig/engine/backend-noble.ts';
import { checkChannelTimelocks } from '../statechain/channel.ts';
import { checkPeerBasepoints, checkPeerKey, givenPoints, keptPoints, ownKeys } from './party-keys.ts';
import { differingField, flipTerms, mismatch, termsHash, termsOf } from './party-terms.ts';

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

// ---- terms (the comparisons themselves: ./party-terms.ts) ------------------------

/** The state agreed for commitment number n so far (by either commitment), if any. */
function agreedAt(rec: ChannelRecord, n: number): StateTerms | undefined {
  if (rec.local?.state.commitment_number === n) return rec.local.state;
  return rec.remote_signed.find((s) => s.state.commitment_number === n)?.state;
}

function checkAgreed(rec: ChannelRecord, terms: StateTerms): void {
  const hash = rec.agreed?.[String(terms.commitment_number)];
  if (hash !== undefined && hash !== termsHash(terms)) {
    throw new StateConflictError('E_STATE_CONFLICT', `commitment ${terms.commitment_number} was already agreed with other terms: one number, one state`);
  }
  const before = agreedAt(rec, terms.commitment_number);
  if (!before) return;
  const field = differingField(before, terms);
  if (field) {
    throw new StateConflictError('E_STATE_CONFLICT', `commitment ${terms.commitment_number} was already agreed with another ${field}: one number, one state`, { field });
  }
}

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

function checkPoint(hex: string, field: string): Uint8Array {
  const bytes = fromHex(hex, field, 33);
  decodePoint(nobleBackend, bytes, field);
  return bytes;
}

// ---- steps -------------------------------------------------------------------------

/** Our points for commitments 0 and 1 (BOLT 2 open_channel's first_per_commitment_point, channel_ready's next). */
export function channelPoints(network: Network, channel: OwnChannel, seed: Uint8Array): ChannelPoints {
  return {
    type: 'bolt3/channel-points', version: 1, network, channel_id: channelIdOf(channel), funding_pubkey: channel.local.funding_pubkey,
    first_per_commitment_point: toHex(ownPoint(seed, 0)), second_per_commitment_point: toHex(ownPoint(seed, 1)),
  };
}

/** A new record from our own channel, our seed, and the peer's points. */
export function initChannel(network: Network, channel: OwnChannel, seed: Uint8Array, peer: ChannelPoints, opts: { fundingLocktime?: number } = {}): ChannelRecord {
  for (const [field, value] of [['dust_limit_satoshis', channel.dust_limit_satoshis], ['remote_dust_limit_satoshis', channel.remote_dust_limit_satoshis]] as const) {
    if (value < MIN_DUST_LIMIT_SATOSHIS) {
      throw new RefusedError('E_DUST_LIMIT', `${field} ${value} is below BOLT 2's ${MIN_DUST_LIMIT_SATOSHIS}: a commitment could carry outputs Core will not relay`);
    }
  }
  if (peer.channel_id !== channelIdOf(channel)) {
    throw new RefusedError('E_WRONG_CHANNEL', `these points are for channel ${peer.channel_id}, not ${channelIdOf(channel)}`);
  }
  if (peer.funding_pubkey !== channel.remote.funding_pubkey) mismatch('remote.funding_pubkey', 'the peer\'s points');
  if (channel.local.funding_pubkey === channel.remote.funding_pubkey) {
    throw new MalformedInputError('E_BAD_CHANNEL', 'local and remote funding_pubkey are the same key');
  }
  channelFromJson(channel); // every key a point, before anything is kept
  const given = { 0: toHex(ownPoint(seed, 0)), 1: toHex(ownPoint(seed, 1)) };
  const own = ownKeys(channel, given);
  checkPeerBasepoints(channel, own);
  checkPeerKey(own, channel.remote.funding_pubkey, 'remote.funding_pubkey');
  checkPeerKey(own, peer.first_per_commitment_point, 'first_per_commitment_point');
  checkPeerKey(own, peer.second_per_commitment_point, 'second_per_commitment_point');
  return {
    type: 'bolt3/channel-record', version: 1, network, channel,
    local_first_point: given[0],
    local_points: given,
    remote_points: {
      0: toHex(checkPoint(peer.first_per_commitment_point, 'first_per_commitment_point')),
      1: toHex(checkPoint(peer.second_per_commitment_point, 'second_per_commitment_point')),
    },
    local: null, local_revoked_through: -1, remote_signed: [], remote_revoked_through: -1, secrets: [],
    ...(opts.fundingLocktime === undefined ? {} : { funding_locktime: opts.fundingLocktime }),
  };
}

export type SigningKeys = { fundingSecret: Uint8Array; htlcBasepointSecret?: Uint8Array };

/**
 * commitment_signed: our signatures on the PEER's commitment n, built from our record and
 * the state we agreed to. The only signatures that ever leave a party.
 */
export function signPeer(
  rec: ChannelRecord, state: ChannelState, keys: SigningKeys, opts: { fundingLocktime?: number } = {},
): { record?: ChannelRecord; message: CommitmentSigned } {
  checkChannelId(rec, state.channel_id);
  checkNotClosing(rec);
  const terms = termsOf(state);
  const n = terms.commitment_number;
  const ch = rec.channel;
  if (!equalBytes(pointOf(keys.fundingSecret), fromHex(ch.local.funding_pubkey, 'funding_pubkey'))) {
    throw new RefusedError('E_KEY_MISMATCH', 'this key is not your funding key of the channel');
  }
  const last = rec.remote_signed.at(-1);
  const rerun = last !== undefined && last.state.commitment_number === n;
  if (!rerun) {
    const expected = last === undefined ? 0 : last.state.commitment_number + 1;
    if (n !== expected) {
      throw new StateConflictError('E_COMMITMENT_NUMBER', `the peer's next commitment is number ${expected}, not ${n}`, { expected });
    }
    if (n - 2 > rec.remote_revoked_through) {
      throw new RefusedError('E_PEER_NOT_REVOKED', `the peer has not revoked commitment ${n - 2}: receive its revoke_and_ack before signing commitment ${n}`);
    }
  }
  checkAgreed(rec, terms);
  checkTermsFloor(rec, terms);
  const pointHex = rerun ? undefined : rec.remote_points[String(n)];
  const point = rerun ? peerPointOfSigned(rec, n) : pointHex ? fromHex(pointHex, 'peer point', 33) : undefined;
  if (!point) throw new RefusedError('E_NO_PER_COMMITMENT_POINT', `the peer's per-commitment point for commitment ${n} is not known yet`);
  const own = ownKeys(ch, givenPoints(rec));
  checkPeerBasepoints(ch, own);
  checkPeerKey(own, toHex(point), `per-commitment point ${n}`);
  const { c, htlcTxs } = peerCommitment(ch, terms, point);
  checkFundingLocktime(rec, c, opts.fundingLocktime);
  if (rerun && c.txid !== last.txid) throw new StateConflictError('E_STATE_CONFLICT', `commitment ${n} of the peer was signed as ${last.txid}`);
  let signature: string;
  let htlcSignatures: string[] = [];
  if (htlcTxs.length === 0) {
    signature = toHex(signCommitment(c, keys.fundingSecret));
  } else {
    if (!keys.htlcBasepointSecret) throw new UsageError('E_NO_KEY', 'this commitment has HTLC outputs: give your htlc_basepoint secret (--htlc-key-env/--htlc-key-file)');
    if (!equalBytes(pointOf(keys.htlcBasepointSecret), fromHex(ch.local.htlc_basepoint, 'htlc_basepoint', 33))) {
      throw new RefusedError('E_KEY_MISMATCH', 'this key is not your htlc_basepoint secret of the channel');
    }
    // sign.ts's commitment_signed: the funding signature and one per HTLC transaction, as the peer's remote.
    const signed = signCounterpartyCommitment(c, htlcTxs, keys.fundingSecret, keys.htlcBasepointSecret);
    signature = toHex(signed.signature);
    htlcSignatures = signed.htlcSignatures.map(toHex);
  }
  const message: CommitmentSigned = {
    type: 'bolt3/commitment-signed', version: 1, network: rec.network as Network, channel_id: channelIdOf(ch), commitment_number: n,
    per_commitment_point: toHex(point), state: terms, commitment_txid: c.txid, signature, htlc_signatures: htlcSignatures,
  };
  if (rerun) return { message };
  return { record: { ...rec, remote_signed: [...rec.remote_signed, { state: terms, txid: c.txid }] }, message };
}

/** The point a signed peer commitment was built with: from the points held, or from its revealed secret. */
function peerPointOfSigned(rec: ChannelRecord, n: number): Uint8Array | undefined {
  const held = rec.remote_points[String(n)];
  if (held) return fromHex(held, 'peer point', 33);
  if (n <= rec.remote_revoked_through) return perCommitmentPoint(secretStore(rec).deriveSecret(indexOfCommitment(n)));
  return undefined;
}

export function secretStore(rec: ChannelRecord): PerCommitmentSecretStore {
  return PerCommitmentSecretStore.fromEntries(rec.secrets.map((e) => ({ index: e.index, secret: fromHex(e.secret, 'stored secret', 32) })));
}

/**
 * commitment_signed received: the peer's signatures on OUR commitment n, checked against
 * our own copy of channel and state; stored; then (and only then) our commitment n−1 is
 * revoked in the answer.
 */
export function receiveSigs(
  rec: ChannelRecord, m: CommitmentSigned, state: ChannelState, seed: Uint8Array, opts: { fundingLocktime?: number } = {},
): { record?: ChannelRecord; message: Record<string, unknown> } {
  checkChannelId(rec, m.channel_id);
  checkChannelId(rec, state.channel_id);
  checkSeed(rec, seed);
  checkNotClosing(rec);
  const terms = termsOf(state);
  const n = m.commitment_number;
  if (terms.commitment_number !== n) mismatch('commitment_number', `the peer signed commitment ${n}`);
  const field = differingField(terms, flipTerms(m.state));
  if (field) mismatch(field, `the peer's commitment_signed for commitment ${n}`);
  checkAgreed(rec, terms);
  const point = ownPoint(seed, n);
  if (m.per_commitment_point !== toHex(point)) mismatch('per_commitment_point', `the peer's commitment_signed for commitment ${n}`);
  if (rec.local && rec.local.state.commitment_number === n) {
    // A replay of what we hold: the same answer as the first time, nothing written.
    return { message: answerFor(rec, seed) };
  }
  const expected = rec.local ? rec.local.state.commitment_number + 1 : 0;
  if (n !== expected) throw new StateConflictError('E_COMMITMENT_NUMBER', `your next commitment is number ${expected}, not ${n}`, { expected });
  checkTermsFloor(rec, terms);
  const { c, htlcTxs } = ownCommitment(rec.channel, terms, point);
  checkFundingLocktime(rec, c, opts.fundingLocktime);
  if (m.commitment_txid !== c.txid) mismatch('commitment_txid', `the peer's commitment_signed for commitment ${n}`);
  if (!verifyCommitmentSignature(c, fromHex(m.signature, 'signature'), 'remote')) {
    throw new RefusedError('E_BAD_SIGNATURE', `the peer's funding signature does not verify for your commitment ${c.txid}`);
  }
  if (m.htlc_signatures.length !== htlcTxs.length) {
    throw new MalformedInputError('E_MALFORMED_MESSAGE', `${m.htlc_signatures.length} HTLC signatures for ${htlcTxs.length} HTLC transactions`);
  }
  htlcTxs.forEach((h, i) => {
    if (!verifyHtlcSignature(h, fromHex(m.htlc_signatures[i]!, `htlc_signatures[${i}]`), 'remote')) {
      throw new RefusedError('E_BAD_HTLC_SIGNATURE', `the peer's signature on HTLC transaction ${i} (${h.kind}) does not verify`);
    }
  });
  const record: ChannelRecord = {
    ...rec,
    local: { state: terms, txid: c.txid, signature: m.signature, htlc_signatures: m.htlc_signatures },
    local_revoked_through: n - 1,
    agreed: { ...rec.agreed, [String(n)]: termsHash(terms) },
    // The answer gives the peer our point n + 1 (revoke_and_ack's next_per_commitment_point).
    local_points: keptPoints({ ...givenPoints(rec), [String(n + 1)]: toHex(ownPoint(seed, n + 1)) }, rec.remote_revoked_through),
  };
  return { record, message: answerFor(record, seed) };
}

/** What receiveSigs answers for the commitment now held: the revocation of the one before, or (first commitment) an acknowledgement. */
function answerFor(rec: ChannelRecord, seed: Uint8Array): Record<string, unknown> {
  const held = rec.local!;
  if (held.state.commitment_number === 0) {
    return { type: 'bolt3/commitment-held', version: 1, network: rec.network, channel_id: channelIdOf(rec.channel), commitment_number: 0, commitment_txid: held.txid };
  }
  return revokeMessage(rec, seed);
}

/** revoke_and_ack for the commitment before the one we hold (a rerun of what receiveSigs printed). */
export function revokeMessage(rec: ChannelRecord, seed: Uint8Array): RevokeAndAck {
  checkSeed(rec, seed);
  const held = rec.local?.state.commitment_number;
  if (held === undefined || held === 0) {
    throw new RefusedError('E_NOTHING_TO_REVOKE', 'you hold no commitment that replaces an earlier one: nothing may be revoked yet');
  }
  const n = held - 1;
  return {
    type: 'bolt3/revoke-and-ack', version: 1, network: rec.network as Network, channel_id: channelIdOf(rec.channel), commitment_number: n,
    per_commitment_secret: toHex(generateFromSeed(seed, indexOfCommitment(n))),
    next_per_commitment_point: toHex(ownPoint(seed, held + 1)),
  };
}

/** revoke_and_ack received: the peer's secret for its commitment n, checked against the point it gave for n. */
export function receiveRevocation(rec: ChannelRecord, m: RevokeAndAck): { record?: ChannelRecord; message: Record<string, unknown> } {
  checkChannelId(rec, m.channel_id);
  const n = m.commitment_number;
  const secret = fromHex(m.per_commitment_secret, 'per_commitment_secret', 32);
  const signed = rec.remote_signed.find((s) => s.state.commitment_number === n);
  const answer = (r: ChannelRecord) => ({
    type: 'bolt3/revocation-received', version: 1, network: r.network, channel_id: channelIdOf(r.channel), commitment_number: n,
    revoked_txid: signed!.txid, stored: r.secrets.length,
  });
  if (n <= rec.remote_revoked_through) {
    const known = secretStore(rec).deriveSecret(indexOfCommitment(n));
    if (!equalBytes(known, secret)) {
      throw new RefusedError('E_BAD_PER_COMMITMENT_SECRET', `commitment ${n} was revoked with another secret`);
    }
    const next = rec.remote_points[String(n + 2)];
    if (next !== undefined && next !== m.next_per_commitment_point) mismatch('next_per_commitment_point', `the replayed revoke_and_ack for commitment ${n}`);
    return { message: answer(rec) };
  }
  if (n !== rec.remote_revoked_through + 1) {
    throw new StateConflictError('E_COMMITMENT_NUMBER', `the peer's next revocation is of commitment ${rec.remote_revoked_through + 1}, not ${n}`);
  }
  if (!signed || !rec.remote_signed.some((s) => s.state.commitment_number === n + 1)) {
    throw new RefusedError('E_PREMATURE_REVOCATION', `a revocation of commitment ${n} before you signed the peer's commitment ${n + 1}`);
  }
  const pointHex = rec.remote_points[String(n)];
  if (!pointHex || toHex(perCommitmentPoint(secret)) !== pointHex) {
    throw new RefusedError('E_BAD_PER_COMMITMENT_SECRET', `the secret is not that of the point the peer gave for commitment ${n}: the commitment is not revoked`);
  }
  const next = checkPoint(m.next_per_commitment_point, 'next_per_commitment_point');
  checkPeerKey(ownKeys(rec.channel, givenPoints(rec)), m.next_per_commitment_point, 'next_per_commitment_point');
  const store = secretStore(rec);
  store.insertSecret(indexOfCommitment(n), secret); // throws, leaving rec as it was
  const points = Object.fromEntries(Object.entries(rec.remote_points).filter(([k]) => Number(k) > n));
  points[String(n + 2)] = toHex(next);
  const record: ChannelRecord = {
    ...rec, remote_points: points, remote_revoked_through: n,
    secrets: store.entries().map((e) => ({ index: e.index, secret: toHex(e.secret) })),
    ...(rec.local_points ? { local_points: keptPoints(rec.local_points, n) } : {}),
  };
  return { record, message: answer(record) };
}

/**
 * Our latest commitment completed for broadcast: the peer's stored signatures checked
 * again, ours added here. HTLC-timeout transactions signed; HTLC-success ones for each
 * preimage given.
 */
export function holderCommitment(rec: ChannelRecord, seed: Uint8Array, keys: SigningKeys, preimages: readonly Uint8Array[]): Record<string, unknown> {
  return closeUnilaterally(rec, seed, keys, preimages).message;
}

/** holderCommitment as a step: the record then says commitment n went out for broadcast, so it is never revoked. */
/** Wallets' funded PSBTs for the anchors / zero-fee HTLC transactions, in output order, and the rate they pay (./htlc-fee.ts). */
export type HtlcFunding = { wallets: import('@scure/btc-signer').Transaction[]; feeRate: number; limits: import('../tx/fee-guard.ts').FeeLimits };

export function closeUnilaterally(rec: ChannelRecord, seed: Uint8Array, keys: SigningKeys, preimages: readonly Uint8Array[], funding?: HtlcFunding): { record?: ChannelRecord; message: Record<string, unknown> } {
  checkSeed(rec, seed);
  const held = rec.local;
  if (!held) throw new RefusedError('E_NOT_SIGNED', 'the peer has not signed any commitment of yours yet (commitment receive-sigs)');
  const n = held.state.commitment_number;
  const { c, htlcTxs } = ownCommitment(rec.channel, held.state, ownPoint(seed, n));
  if (c.txid !== held.txid) throw new OffchainError('E_BAD_CHANNEL_RECORD', `the record's commitment ${n} does not rebuild to ${held.txid}`);
  if (!equalBytes(pointOf(keys.fundingSecret), c.params.local.fundingPubkey)) throw new RefusedError('E_KEY_MISMATCH', 'this key is not your funding key of the channel');
  const signed = finalizeCommitment(c, signCommitment(c, keys.fundingSecret), fromHex(held.signature, 'signature'));
  let privkey: Uint8Array | undefined;
  if (htlcTxs.length > 0) {
    if (!keys.htlcBasepointSecret) throw new UsageError('E_NO_KEY', 'this commitment has HTLC outputs: give your htlc_basepoint secret (--htlc-key-env/--htlc-key-file)');
    if (!equalBytes(pointOf(keys.htlcBasepointSecret), c.params.local.htlcBasepoint)) throw new RefusedError('E_KEY_MISMATCH', 'this key is not your htlc_basepoint secret of the channel');
    privkey = derivePrivkey(keys.htlcBasepointSecret, c.keys.perCommitmentPoint, undefined, c.params.local.htlcBasepoint);
  }
  let fundedCount = 0;
  const htlcs = htlcTxs.map((h, i) => {
    const base = { kind: h.kind, commitment_output_index: h.commitmentOutputIndex, txid: txid(h.tx), payment_hash: toHex(h.htlc.paymentHash), locktime: h.tx.lockTime };
    const preimage = h.kind === 'htlc-success' ? preimages.find((p) => equalBytes(sha256(p), h.htlc.paymentHash)) : undefined;
    if (h.kind === 'htlc-success' && !preimage) return base; // signed once its preimage is known
    if (h.feeSat === 0n) {
      // Anchors / zero-fee: the transaction pays no fee of its own and our SIGHASH_ALL would
      // seal it so. With a wallet's funded PSBT (--fee-psbt, in order) its coins and change are
      // added and only then do we sign (./htlc-fee.ts); without one, it is handed over with the
      // peer's SINGLE|ANYONECANPAY signature, for a fee input to be added before we sign.
      const wallet = funding?.wallets[fundedCount];
      if (wallet) {
        fundedCount++;
        const f = fundHtlcTransaction(h, wallet, funding!.feeRate, funding!.limits, privkey!, fromHex(held.htlc_signatures[i]!, 'htlc signature'), preimage);
        return { ...base, txid: f.txid, psbt: f.psbt, fee_sat: Number(f.feeSat), needs_wallet_signatures: true };
      }
      return { ...base, psbt: base64.encode(htlcPsbt(h, { remote: fromHex(held.htlc_signatures[i]!, 'htlc signature') })), needs_fee_input: true };
    }
    const local = signHtlcTransaction(h, privkey!, 'local');
    const tx = finalizeHtlcTransaction(h, local, fromHex(held.htlc_signatures[i]!, 'htlc signature'), preimage);
    return { ...base, hex: tx.hex };
  });
  privkey?.fill(0);
  if (funding && fundedCount < funding.wallets.length) {
    throw new UsageError('E_USAGE', `${funding.wallets.length} --fee-psbt given but only ${fundedCount} HTLC transaction(s) of this commitment need one (an HTLC-success needs its --preimage-file)`);
  }
  const message = {
    type: 'bolt3/holder-commitment', version: 1, network: rec.network, channel_id: channelIdOf(rec.channel), commitment_number: n,
    txid: signed.txid, hex: signed.hex, htlc_txs: htlcs,
  };
  return rec.broadcast === n ? { message } : { record: { ...rec, broadcast: n }, message };
}


export function checkNotClosing(rec: ChannelRecord): void {
  if (rec.closing) throw new RefusedError('E_CHANNEL_CLOSING', 'a mutual close of this channel was proposed or signed: no further commitment is signed');
  if (rec.broadcast !== undefined) {
    throw new RefusedError('E_CHANNEL_CLOSING', `you completed your commitment ${rec.broadcast} for broadcast (finalize): it is never revoked, and no further commitment is signed`);
  }
}

/** BOLT 2's floors on what a commitment may carry, so that it can be relayed. */
const MIN_FEERATE_PER_KW = 253;
export const MIN_DUST_LIMIT_SATOSHIS = 354;

function checkTermsFloor(rec: ChannelRecord, terms: StateTerms): void {
  if (rec.channel.format !== 'zero-fee' && terms.feerate_per_kw < MIN_FEERATE_PER_KW) {
    throw new RefusedError('E_FEERATE_TOO_LOW', `feerate_per_kw ${terms.feerate_per_kw} is below BOLT 2's ${MIN_FEERATE_PER_KW}: such a commitment is never relayed`);
  }
}

/** A channel on a statechain coin: no HTLC may expire before the channel can be on chain. */
function checkFundingLocktime(rec: ChannelRecord, c: CommitmentTransaction, given?: number): void {
  const fundingLocktime = Math.max(rec.funding_locktime ?? 0, given ?? 0);
  if (fundingLocktime === 0) return;
  checkChannelTimelocks({
    fundingLocktime, toSelfDelay: Math.max(rec.channel.to_self_delay, rec.channel.remote_to_self_delay), htlcExpiries: c.state.htlcs.map((h) => h.cltvExpiry),
  });
}
