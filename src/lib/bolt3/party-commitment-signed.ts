/**
 * commitment_signed, both ways (./party.ts's table): `signPeer` signs the PEER's commitment n
 * from our record and the state we agreed to (invariants 1, 2, 5, 8); `receiveSigs` checks the
 * peer's signatures on OUR commitment n against our own copy, stores them, and only then
 * answers with the revocation of n−1 (invariant 3, ./party-revoke-and-ack.ts).
 * Not here: the revocation received, the holder's commitment completed for broadcast.
 */
import { fromHex, toHex } from '../bytes.ts';
import { MalformedInputError, RefusedError, StateConflictError, UsageError } from '../errors.ts';
import type { Network } from '../network.ts';
import { indexOfCommitment, perCommitmentPoint } from './per-commitment.ts';
import { ProvenKey, signCommitment, signCounterpartyCommitment, verifyCommitmentSignature, verifyHtlcSignature } from './sign.ts';
import {
  channelIdOf, checkChannelId, checkFundingLocktime, checkNotClosing, checkSeed, checkTermsFloor, ownCommitment, ownPoint, peerCommitment, secretStore,
  type ChannelRecord, type ChannelState, type CommitmentSigned, type SigningKeys, type StateTerms,
} from './party.ts';
import { checkPeerBasepoints, checkPeerKey, givenPoints, keptPoints, ownKeys } from './party-keys.ts';
import { differingField, flipTerms, mismatch, termsHash, termsOf } from './party-terms.ts';
import { revokeMessage } from './party-revoke-and-ack.ts';

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
  // Each key proven once, here where it is loaded (k·G), then trusted by the signer below.
  const fundingKey = new ProvenKey(keys.fundingSecret, 'secret');
  if (!fundingKey.is(fromHex(ch.local.funding_pubkey, 'funding_pubkey'))) {
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
    signature = toHex(signCommitment(c, fundingKey));
  } else {
    if (!keys.htlcBasepointSecret) throw new UsageError('E_NO_KEY', 'this commitment has HTLC outputs: give your htlc_basepoint secret (--htlc-key-env/--htlc-key-file)');
    const htlcBasepointKey = new ProvenKey(keys.htlcBasepointSecret, 'secret');
    if (!htlcBasepointKey.is(fromHex(ch.local.htlc_basepoint, 'htlc_basepoint', 33))) {
      throw new RefusedError('E_KEY_MISMATCH', 'this key is not your htlc_basepoint secret of the channel');
    }
    // sign.ts's commitment_signed: the funding signature and one per HTLC transaction, as the peer's remote.
    const signed = signCounterpartyCommitment(c, htlcTxs, fundingKey, htlcBasepointKey);
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
