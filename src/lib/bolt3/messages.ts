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

export type SignaturesJson = { commitment: string; htlcs: string[] };

export function commitmentMessage(
  network: string, channel: ChannelJsonT, state: StateJsonT, c: CommitmentTransaction, htlcTxs: readonly HtlcTransaction[],
  signatures: { local?: SignaturesJson; remote?: SignaturesJson },
): Record<string, unknown> {
  return {
    type: 'bolt3/commitment',
    version: 1,
    network,
    channel,
    state,
    txid: c.txid,
    unsigned_hex: toHex(serializeTx(c.tx, false)),
    outputs: c.outputs.map((o) => ({
      index: o.index, kind: o.kind, amount_sat: Number(o.amountSat), script_pubkey: toHex(o.script), ...(o.witnessScript ? { witness_script: toHex(o.witnessScript) } : {}),
    })),
    htlc_txs: htlcTxs.map((h) => ({ kind: h.kind, commitment_output_index: h.commitmentOutputIndex, txid: txid(h.tx), payment_hash: toHex(h.htlc.paymentHash), locktime: h.tx.lockTime })),
    signatures,
  };
}


export function checkSignatureCount(s: SignaturesJson, htlcCount: number, who: string): void {
  if (s.htlcs.length !== htlcCount) {
    throw new MalformedInputError('E_MALFORMED_MESSAGE', `${who}: ${s.htlcs.length} HTLC signatures for ${htlcCount} HTLC transactions`);
  }
}

/**
 * One party's HTLC signatures — and, unless the caller's next step checks it anyway
 * (finalizeCommitment does), its funding signature — checked against the rebuilt
 * transactions; a bad one names the party.
 */
export function checkPartySignatures(c: CommitmentTransaction, htlcTxs: readonly HtlcTransaction[], s: SignaturesJson, by: Party, opts = { commitment: true }): void {
  checkSignatureCount(s, htlcTxs.length, by);
  if (opts.commitment && !verifyCommitmentSignature(c, fromHex(s.commitment, `${by} commitment signature`), by)) {
    throw new RefusedError('E_BAD_SIGNATURE', `the ${by} funding signature does not verify for commitment ${c.txid}`, { party: by });
  }
  htlcTxs.forEach((h, i) => {
    if (!verifyHtlcSignature(h, fromHex(s.htlcs[i]!, `${by} HTLC signature ${i}`), by)) {
      throw new RefusedError('E_BAD_HTLC_SIGNATURE', `the ${by} signature on HTLC transaction ${i} (${h.kind}) does not verify`, { party: by });
    }
  });
}

/**
 * One party's signatures: its funding key on the commitment, and the HTLC key derived from
 * its htlc_basepoint secret and the commitment's per-commitment point on each HTLC transaction.
 */
export function partySignatures(c: CommitmentTransaction, htlcTxs: readonly HtlcTransaction[], as: Party, fundingSecret: Uint8Array, htlcBasepointSecret?: Uint8Array): SignaturesJson {
  const keys = as === 'local' ? c.params.local : c.params.remote;
  if (!equalBytes(pointOf(fundingSecret), keys.fundingPubkey)) throw new RefusedError('E_KEY_MISMATCH', `this key is not the ${as} funding key of the channel`);
  const htlcs: string[] = [];
  if (htlcTxs.length > 0) {
    if (!htlcBasepointSecret) throw new UsageError('E_NO_KEY', 'this commitment has HTLC outputs: give the htlc_basepoint secret');
    if (!equalBytes(pointOf(htlcBasepointSecret), keys.htlcBasepoint)) throw new RefusedError('E_KEY_MISMATCH', `this key is not the ${as} htlc_basepoint secret of the channel`);
    const privkey = derivePrivkey(htlcBasepointSecret, c.keys.perCommitmentPoint, undefined, keys.htlcBasepoint);
    for (const h of htlcTxs) htlcs.push(toHex(signHtlcTransaction(h, privkey, as)));
  }
  return { commitment: toHex(signCommitment(c, fundingSecret)), htlcs };
}
