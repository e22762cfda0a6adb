/**
 * The channel of BOLT 3 Appendix C (and F, which reuses it), read from the vector file:
 * funding outpoint, both parties' keys and secrets, the per-commitment point and the
 * seven test HTLCs. Only data is read here; no expected value is computed. Payment
 * hashes are SHA256 of the listed preimages, hashed with node:crypto (not the code
 * under test).
 *
 * The spec gives no revocation basepoint for *local* and no delayed-payment basepoint
 * for *remote*: neither appears in local's commitment. They are filled with local's
 * payment basepoint and remote's payment basepoint, and no test depends on them.
 */
import { createHash } from 'node:crypto';
import { loadVector } from '../../helpers.ts';
import { fromHex } from '../../../src/lib/bytes.ts';
import type { ChannelParameters, CommitmentState, Htlc } from '../../../src/lib/bolt3/channel.ts';
import type { CommitmentFormat } from '../../../src/lib/bolt3/channel.ts';

export const C = loadVector('bolts/bolt03/commitment-tx-test-vectors.json');
export const F = loadVector('bolts/bolt03/commitment-tx-anchors-test-vectors.json');

/** A private key as the spec prints it: 32 bytes and the 01 compressed marker. */
export function specPrivkey(hex: string): Uint8Array {
  if (hex.length !== 66 || !hex.endsWith('01')) throw new Error(`not a 32-byte key with the 01 marker: ${hex}`);
  return fromHex(hex.slice(0, 64));
}

const v = C.derivation_internals.values;
export const secrets = {
  localFunding: specPrivkey(C.keys.local_funding_privkey),
  remoteFunding: specPrivkey(v.remote_funding_privkey),
  localPaymentBasepoint: specPrivkey(v.local_payment_basepoint_secret),
  remotePaymentBasepoint: specPrivkey(v.remote_payment_basepoint_secret),
  remoteRevocationBasepoint: specPrivkey(v.remote_revocation_basepoint_secret),
  localDelayedPaymentBasepoint: specPrivkey(v.local_delayed_payment_basepoint_secret),
  localPerCommitment: specPrivkey(v.x_local_per_commitment_secret),
  /** The spec's `local_privkey` / `remote_privkey`: the HTLC keys of this commitment (htlc basepoint = payment basepoint here). */
  localHtlcPrivkey: specPrivkey(C.keys.local_privkey),
  remoteHtlcPrivkey: specPrivkey(v.remote_privkey),
};

export const perCommitmentPoint = fromHex(v.local_per_commitment_point);

export function channel(format: CommitmentFormat, dustLimitSatoshis = BigInt(C.parameters.local_dust_limit_satoshi)): ChannelParameters {
  const p = C.parameters;
  return {
    format,
    fundingOutpoint: { txid: p.funding_tx_id, vout: p.funding_output_index },
    fundingSatoshis: BigInt(p.funding_amount_satoshi),
    opener: 'local',
    local: {
      fundingPubkey: fromHex(C.keys.local_funding_pubkey),
      paymentBasepoint: fromHex(C.obscuring_factor_inputs.local_payment_basepoint),
      htlcBasepoint: fromHex(C.htlc_basepoints.local_htlc_basepoint),
      delayedPaymentBasepoint: fromHex(v.local_delayed_payment_basepoint),
      revocationBasepoint: fromHex(C.obscuring_factor_inputs.local_payment_basepoint), // unused, see header
    },
    remote: {
      fundingPubkey: fromHex(C.keys.remote_funding_pubkey),
      paymentBasepoint: fromHex(C.obscuring_factor_inputs.remote_payment_basepoint),
      htlcBasepoint: fromHex(C.htlc_basepoints.remote_htlc_basepoint),
      revocationBasepoint: fromHex(v.remote_revocation_basepoint),
      delayedPaymentBasepoint: fromHex(C.obscuring_factor_inputs.remote_payment_basepoint), // unused, see header
    },
    toSelfDelay: p.local_delay,
    dustLimitSatoshis,
  };
}

export type SpecHtlc = { htlc_index: number; direction: string; amount_msat: number; expiry: number; payment_preimage: string };

export const preimages: Uint8Array[] = (C.htlcs as SpecHtlc[]).map((h) => fromHex(h.payment_preimage));

export function htlc(index: number): Htlc {
  const h = (C.htlcs as SpecHtlc[])[index]!;
  if (h.htlc_index !== index) throw new Error('HTLC list out of order');
  return {
    id: BigInt(index),
    direction: h.direction === 'local->remote' ? 'offered' : 'received',
    amountMsat: BigInt(h.amount_msat),
    paymentHash: createHash('sha256').update(preimages[index]!).digest(),
    cltvExpiry: h.expiry,
  };
}

/**
 * Which HTLCs a case has in flight: none for "simple commitment tx with no HTLCs", HTLCs
 * 1, 5 and 6 for the "same amount and preimage" case, 0-4 otherwise (the spec's
 * parameters note; the builder's balance check confirms each choice).
 */
export function htlcIndicesFor(name: string, useHtlcs = true): number[] {
  if (!useHtlcs || name.startsWith('simple commitment tx with no HTLCs')) return [];
  if (name.includes('same amount and preimage')) return [1, 5, 6];
  return [0, 1, 2, 3, 4];
}

export function state(toLocalMsat: bigint, toRemoteMsat: bigint, feeratePerKw: number, htlcIndices: number[]): CommitmentState {
  return {
    commitmentNumber: C.parameters.commitment_number,
    perCommitmentPoint,
    toLocalMsat,
    toRemoteMsat,
    feeratePerKw,
    htlcs: htlcIndices.map(htlc),
  };
}
