/**
 * The JSON edge of the BOLT 3 library for the `commitment` commands: a channel and a
 * state decoded into ChannelParameters / CommitmentState, and a `bolt3/commitment`
 * rebuilt from them — its txid, outputs and HTLC transactions are always recomputed, so
 * a signature is only ever made or checked over what the parameters give.
 */
import type { Static } from '@sinclair/typebox';
import { equalBytes, fromHex, toHex } from '../bytes.ts';
import { MalformedInputError, RefusedError, UsageError } from '../errors.ts';
import { validatePublicKey } from '../keys/keys.ts';
import type { ChannelParameters, CommitmentState } from './channel.ts';
import { buildCommitment, type CommitmentTransaction } from './commitment.ts';
import { commitmentFormat } from './formats.ts';
import { buildHtlcTransactions, type HtlcTransaction } from './htlc-tx.ts';
import { ChannelJson, StateJson } from './schemas.ts';
import { serializeTx, txid } from './tx.ts';
import { derivePrivkey, pointOf } from './keys.ts';
import { signCommitment, signHtlcTransaction, verifyCommitmentSignature, verifyHtlcSignature, type Party } from './sign.ts';

type ChannelJsonT = Static<typeof ChannelJson>;
type StateJsonT = Static<typeof StateJson>;

const point = (hex: string, field: string) => validatePublicKey(fromHex(hex, field, 33), field);
const keys = (k: ChannelJsonT['local'], who: string) => ({
  fundingPubkey: point(k.funding_pubkey, `${who}.funding_pubkey`),
  revocationBasepoint: point(k.revocation_basepoint, `${who}.revocation_basepoint`),
  paymentBasepoint: point(k.payment_basepoint, `${who}.payment_basepoint`),
  delayedPaymentBasepoint: point(k.delayed_payment_basepoint, `${who}.delayed_payment_basepoint`),
  htlcBasepoint: point(k.htlc_basepoint, `${who}.htlc_basepoint`),
});

export function channelFromJson(c: ChannelJsonT): ChannelParameters {
  return {
    format: commitmentFormat(c.format),
    fundingOutpoint: { txid: c.funding_txid, vout: c.funding_vout },
    fundingSatoshis: BigInt(c.funding_satoshis),
    opener: c.opener,
    local: keys(c.local, 'local'),
    remote: keys(c.remote, 'remote'),
    toSelfDelay: c.to_self_delay,
    dustLimitSatoshis: BigInt(c.dust_limit_satoshis),
  };
}

export function stateFromJson(s: StateJsonT): CommitmentState {
  return {
    commitmentNumber: s.commitment_number,
    perCommitmentPoint: point(s.per_commitment_point, 'per_commitment_point'),
    toLocalMsat: BigInt(s.to_local_msat),
    toRemoteMsat: BigInt(s.to_remote_msat),
    feeratePerKw: s.feerate_per_kw,
    htlcs: s.htlcs.map((h, i) => ({
      direction: h.direction,
      amountMsat: BigInt(h.amount_msat),
      paymentHash: fromHex(h.payment_hash, `htlcs[${i}].payment_hash`, 32),
      cltvExpiry: h.cltv_expiry,
      ...(h.id === undefined ? {} : { id: BigInt(h.id) }),
    })),
  };
}

export function buildFromJson(channel: ChannelJsonT, state: StateJsonT): { c: CommitmentTransaction; htlcTxs: HtlcTransaction[] } {
  const c = buildCommitment(channelFromJson(channel), stateFromJson(state));
  return { c, htlcTxs: buildHtlcTransactions(c) };
}
