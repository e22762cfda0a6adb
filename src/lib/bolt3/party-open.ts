/**
 * The channel party's opening steps (./party.ts's table): `channelPoints`, our per-commitment
 * points 0 and 1 for the peer (BOLT 2 open_channel's first_per_commitment_point, channel_ready's
 * next), and `initChannel`, the new record from our own channel, our seed and the peer's points,
 * its keys checked to be its own (invariant 8). Not here: the funding transaction itself.
 */
import { toHex } from '../bytes.ts';
import { MalformedInputError, RefusedError } from '../errors.ts';
import type { Network } from '../network.ts';
import { channelFromJson } from './messages.ts';
import { MIN_DUST_LIMIT_SATOSHIS, channelIdOf, checkPoint, ownPoint, type ChannelPoints, type ChannelRecord, type OwnChannel } from './party.ts';
import { checkPeerBasepoints, checkPeerKey, ownKeys } from './party-keys.ts';
import { mismatch } from './party-terms.ts';

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
