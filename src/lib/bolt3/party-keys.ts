/**
 * Invariant 8 of ./party.ts: the peer's keys are its own. None of its basepoints or
 * per-commitment points may be one of the holder's keys — its five basepoints and the
 * per-commitment points it gave the peer (for the numbers the peer has not revoked, kept in
 * the record as `local_points`; point 0 always). A peer mirroring the holder's keys, delay
 * and dust limit makes its commitment n the very transaction of the holder's commitment n,
 * and `signPeer` would sign it (issue 37). Refused with E_PEER_KEY_REUSED, naming the field.
 */
import { RefusedError } from '../errors.ts';
import type { ChannelRecord, OwnChannel } from './party.ts';

const BASEPOINTS = ['funding_pubkey', 'revocation_basepoint', 'payment_basepoint', 'delayed_payment_basepoint', 'htlc_basepoint'] as const;

/** The holder's own public keys a peer key must differ from (invariant 8), by hex: its basepoints and the points it gave. */
export function ownKeys(channel: OwnChannel, points: Readonly<Record<string, string>>): Map<string, string> {
  const own = new Map<string, string>(BASEPOINTS.map((k) => [channel.local[k], `local.${k}`]));
  for (const [n, hex] of Object.entries(points)) own.set(hex, `per-commitment point ${n}`);
  return own;
}

export function checkPeerKey(own: ReadonlyMap<string, string>, hex: string, field: string): void {
  const mine = own.get(hex);
  if (mine !== undefined) {
    throw new RefusedError('E_PEER_KEY_REUSED', `the peer's ${field} is your own ${mine}: a peer's keys must be its own (mirroring yours, its commitment would be yours)`, { field });
  }
}

/** The peer's basepoints against the holder's keys (its funding key was compared at init already). */
export function checkPeerBasepoints(channel: OwnChannel, own: ReadonlyMap<string, string>): void {
  for (const k of BASEPOINTS) if (k !== 'funding_pubkey') checkPeerKey(own, channel.remote[k], `remote.${k}`);
}

/** Our points the record says the peer was given and could still copy, and point 0 (records from before `local_points`: point 0 only). */
export function givenPoints(rec: ChannelRecord): Record<string, string> {
  return { 0: rec.local_first_point, ...rec.local_points };
}

/** Our given points for the numbers the peer has not revoked: those its points and commitments (signPeer) are still compared with. */
export function keptPoints(points: Record<string, string>, remoteRevokedThrough: number): Record<string, string> {
  return Object.fromEntries(Object.entries(points).filter(([k]) => Number(k) > remoteRevokedThrough));
}
