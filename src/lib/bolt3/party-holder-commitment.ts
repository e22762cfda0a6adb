/**
 * The holder's latest commitment completed for broadcast (./party.ts's table, `commitment
 * finalize`): the peer's stored signatures checked again and ours added (invariant 1: the only
 * place our own commitment is signed), its HTLC transactions signed or handed over for a fee
 * input. Not here: sweeping its outputs (./party-claim.ts), the mutual close (./party-close.ts).
 */
import { base64 } from '@scure/base';
import { equalBytes, fromHex, toHex } from '../bytes.ts';
import { OffchainError, RefusedError, StateConflictError, UsageError } from '../errors.ts';
import { sha256 } from '../hash.ts';
import { derivePrivkey, pointOf } from './keys.ts';
import { finalizeCommitment, finalizeHtlcTransaction, signCommitment, signHtlcTransaction, type SignedTransaction } from './sign.ts';
import type { CommitmentTransaction } from './commitment.ts';
import type { HtlcTransaction } from './htlc-tx.ts';
import { txid } from './tx.ts';
import { htlcPsbt } from './psbt.ts';
import { fundHtlcTransaction } from './htlc-fee.ts';
import { channelIdOf, checkSeed, ownCommitment, ownPoint, type ChannelRecord, type SigningKeys } from './party.ts';

/**
 * Our latest commitment completed for broadcast: the peer's stored signatures checked
 * again, ours added here. HTLC-timeout transactions signed; HTLC-success ones for each
 * preimage given.
 */
export function holderCommitment(rec: ChannelRecord, seed: Uint8Array, keys: SigningKeys, preimages: readonly Uint8Array[]): Record<string, unknown> {
  return closeUnilaterally(rec, seed, keys, preimages).message;
}

/** The local htlc key of our commitment `c` (BOLT 3 derivation at its per-commitment point), from the htlc_basepoint secret: refused when not the channel's (E_KEY_MISMATCH). The caller zeroes it. */
export function holderHtlcKey(c: CommitmentTransaction, htlcBasepointSecret: Uint8Array): Uint8Array {
  if (!equalBytes(pointOf(htlcBasepointSecret), c.params.local.htlcBasepoint)) throw new RefusedError('E_KEY_MISMATCH', 'this key is not your htlc_basepoint secret of the channel');
  return derivePrivkey(htlcBasepointSecret, c.keys.perCommitmentPoint, undefined, c.params.local.htlcBasepoint);
}

/** The preimage among `preimages` an HTLC-success needs (none for an HTLC-timeout). */
export function preimageOf(h: HtlcTransaction, preimages: readonly Uint8Array[]): Uint8Array | undefined {
  return h.kind === 'htlc-success' ? preimages.find((p) => equalBytes(sha256(p), h.htlc.paymentHash)) : undefined;
}

/**
 * One HTLC transaction of our commitment with its own fee (legacy: SIGHASH_ALL both ways, the fee
 * fixed when the peer signed), completed: our signature with `privkey` (holderHtlcKey) beside the
 * peer's stored one (hex) — an HTLC-success with its preimage. `commitment finalize` and the watcher.
 */
export function signHolderHtlc(h: HtlcTransaction, privkey: Uint8Array, peerSignature: string, preimage?: Uint8Array): SignedTransaction {
  return finalizeHtlcTransaction(h, signHtlcTransaction(h, privkey, 'local'), fromHex(peerSignature, 'htlc signature'), preimage);
}

/** holderCommitment as a step: the record then says commitment n went out for broadcast, so it is never revoked. */
/** Wallets' funded PSBTs for the anchors / zero-fee HTLC transactions, in output order, and the rate they pay (./htlc-fee.ts). */
export type HtlcFunding = { wallets: import('@scure/btc-signer').Transaction[]; feeRate: number; limits: import('../tx/fee-guard.ts').FeeLimits };

export function closeUnilaterally(rec: ChannelRecord, seed: Uint8Array, keys: SigningKeys, preimages: readonly Uint8Array[], funding?: HtlcFunding): { record?: ChannelRecord; message: Record<string, unknown> } {
  checkSeed(rec, seed);
  const held = rec.local;
  if (!held) throw new StateConflictError('E_NOT_SIGNED', 'the peer has not signed any commitment of yours yet (commitment receive-sigs)');
  const n = held.state.commitment_number;
  const { c, htlcTxs } = ownCommitment(rec.channel, held.state, ownPoint(seed, n));
  if (c.txid !== held.txid) throw new OffchainError('E_BAD_CHANNEL_RECORD', `the record's commitment ${n} does not rebuild to ${held.txid}`);
  if (!equalBytes(pointOf(keys.fundingSecret), c.params.local.fundingPubkey)) throw new RefusedError('E_KEY_MISMATCH', 'this key is not your funding key of the channel');
  const signed = finalizeCommitment(c, signCommitment(c, keys.fundingSecret), fromHex(held.signature, 'signature'));
  let privkey: Uint8Array | undefined;
  if (htlcTxs.length > 0) {
    if (!keys.htlcBasepointSecret) throw new UsageError('E_NO_KEY', 'this commitment has HTLC outputs: give your htlc_basepoint secret (--htlc-key-env/--htlc-key-file)');
    privkey = holderHtlcKey(c, keys.htlcBasepointSecret);
  }
  let fundedCount = 0;
  const htlcs = htlcTxs.map((h, i) => {
    const base = { kind: h.kind, commitment_output_index: h.commitmentOutputIndex, txid: txid(h.tx), payment_hash: toHex(h.htlc.paymentHash), locktime: h.tx.lockTime };
    const preimage = preimageOf(h, preimages);
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
    return { ...base, hex: signHolderHtlc(h, privkey!, held.htlc_signatures[i]!, preimage).hex };
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
