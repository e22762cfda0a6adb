/**
 * revoke_and_ack, both ways (./party.ts's table): `revokeMessage`, our secret of the commitment
 * before the one we hold (invariant 3: only what is replaced), and `receiveRevocation`, the
 * peer's secret for its commitment n, checked against the point it gave for n and the compact
 * store (invariant 4), so that commitment stays punishable (invariant 6).
 */
import { equalBytes, fromHex, toHex } from '../bytes.ts';
import { RefusedError, StateConflictError } from '../errors.ts';
import type { Network } from '../network.ts';
import { generateFromSeed, indexOfCommitment, perCommitmentPoint } from './per-commitment.ts';
import { channelIdOf, checkChannelId, checkPoint, checkSeed, ownPoint, secretStore, type ChannelRecord, type RevokeAndAck } from './party.ts';
import { checkPeerKey, givenPoints, keptPoints, ownKeys } from './party-keys.ts';
import { mismatch } from './party-terms.ts';

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
