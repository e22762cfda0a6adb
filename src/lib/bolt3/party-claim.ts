/**
 * BOLT 5 "Unilateral Close Handling: Remote Commitment Transaction": what a party takes
 * from its peer's commitment when the PEER broadcast it (a commitment not revoked; a
 * revoked one is ./party-penalty.ts's). From the peer's side an HTLC it offered is ours
 * with the preimage; an HTLC it received (ours, offered by us) comes back to us once its
 * cltv_expiry is final — both straight from the commitment output with our HTLC key for
 * that commitment (`remote_htlcpubkey`), no second stage:
 *
 *     peer's offered HTLC (we claim):    <remotehtlcsig> <payment_preimage> <script>
 *     peer's received HTLC (we time out): <remotehtlcsig> <> <script>, nLockTime = cltv_expiry
 *
 * Anchors channels add `1 OP_CSV` to those branches (nSequence 1). One transaction per
 * output, so one already taken by the peer does not hold the others back. Invariant: an
 * HTLC we offered is never lost to the peer's force close — it comes back at cltv_expiry
 * unless the peer showed the preimage (i.e. was paid); one the peer offered is ours the
 * moment we know its preimage, until its cltv_expiry when the peer may take it back.
 */
import { equalBytes, fromHex, toHex } from '../bytes.ts';
import { OffchainError, RefusedError } from '../errors.ts';
import { sha256 } from '../hash.ts';
import { dustThreshold } from '../tx/policy.ts';
import { NOBLE } from './backend.ts';
import { derFromCompact } from './ecdsa.ts';
import { feeFromWeight } from './formats.ts';
import { derivePrivkey, pointOf } from './keys.ts';
import { channelIdOf, peerCommitment, type ChannelRecord } from './party.ts';
import { SIGHASH_ALL, segwitV0Sighash } from './sighash.ts';
import { serializeTx, txid, weight, type Tx } from './tx.ts';

export type ClaimPlan = {
  htlcBasepointSecret: Uint8Array;
  preimages: readonly Uint8Array[];
  destinationScript: Uint8Array;
  feeratePerKw: number;
};

const MAX_SIGNATURE = new Uint8Array(73);

/** Our HTLC outputs of the peer's (unrevoked) commitment `commitmentTxid`, each in a transaction of its own. */
export function claimFromPeerCommitment(rec: ChannelRecord, commitmentTxid: string, plan: ClaimPlan): Record<string, unknown> {
  const signed = rec.remote_signed.find((s) => s.txid === commitmentTxid);
  if (!signed) throw new RefusedError('E_UNKNOWN_COMMITMENT', `${commitmentTxid} is not a commitment of the peer you signed`);
  const n = signed.state.commitment_number;
  if (n <= rec.remote_revoked_through) {
    throw new RefusedError('E_REVOKED_COMMITMENT', `the peer revoked its commitment ${n}: take all of it with commitment penalty`);
  }
  const point = rec.remote_points[String(n)];
  if (!point) throw new OffchainError('E_BAD_CHANNEL_RECORD', `the peer's point for commitment ${n} is missing from the record`);
  const { c } = peerCommitment(rec.channel, signed.state, fromHex(point, 'peer point', 33));
  if (c.txid !== commitmentTxid) throw new OffchainError('E_BAD_CHANNEL_RECORD', `the record's commitment ${n} rebuilds to ${c.txid}`);
  const basepoint = fromHex(rec.channel.local.htlc_basepoint, 'htlc_basepoint', 33);
  if (!equalBytes(pointOf(plan.htlcBasepointSecret), basepoint)) throw new RefusedError('E_KEY_MISMATCH', 'this key is not your htlc_basepoint secret of the channel');
  // On the peer's commitment we are "remote": our HTLC key is its remote_htlcpubkey.
  const privkey = derivePrivkey(plan.htlcBasepointSecret, c.keys.perCommitmentPoint, undefined, basepoint);
  if (!equalBytes(pointOf(privkey), c.keys.remoteHtlcPubkey)) throw new OffchainError('E_INTERNAL', 'the derived HTLC key is not the commitment\'s remote_htlcpubkey');
  const csv = c.params.format.htlcCsv;
  const skipped: { vout: number; reason: string }[] = [];
  const transactions: Record<string, unknown>[] = [];
  for (const o of c.outputs) {
    if (!o.htlc || !o.witnessScript) continue;
    // From the peer's side: its offered HTLC is ours with the preimage; its received one comes back to us at cltv_expiry.
    const claim = o.kind === 'offered_htlc';
    const preimage = claim ? plan.preimages.find((p) => equalBytes(sha256(p), o.htlc!.paymentHash)) : undefined;
    if (claim && !preimage) {
      skipped.push({ vout: o.index, reason: `no preimage for payment hash ${toHex(o.htlc.paymentHash)}` });
      continue;
    }
    const unsigned: Tx = {
      version: 2,
      lockTime: claim ? 0 : o.htlc.cltvExpiry,
      inputs: [{ txid: c.txid, vout: o.index, sequence: csv > 0 ? csv : 0xfffffffd }],
      outputs: [{ amount: o.amountSat, script: plan.destinationScript }],
    };
    const fifth = claim ? preimage! : new Uint8Array(0);
    const fee = feeFromWeight(plan.feeratePerKw, weight({ ...unsigned, inputs: [{ ...unsigned.inputs[0]!, witness: [MAX_SIGNATURE, fifth, o.witnessScript] }] }));
    const amount = o.amountSat - fee;
    if (amount < dustThreshold(plan.destinationScript)) {
      skipped.push({ vout: o.index, reason: 'worth less than its fee at this feerate' });
      continue;
    }
    const tx: Tx = { ...unsigned, outputs: [{ amount, script: plan.destinationScript }] };
    const digest = segwitV0Sighash(tx, 0, o.witnessScript, o.amountSat, SIGHASH_ALL);
    const signature = Uint8Array.from([...derFromCompact(NOBLE.ecdsa.signCompact(digest, privkey)), SIGHASH_ALL]);
    const done: Tx = { ...tx, inputs: [{ ...tx.inputs[0]!, witness: [signature, fifth, o.witnessScript] }] };
    transactions.push({
      kind: claim ? 'htlc-claim' : 'htlc-timeout', vout: o.index, payment_hash: toHex(o.htlc.paymentHash), locktime: tx.lockTime,
      txid: txid(done), hex: toHex(serializeTx(done)), fee_sat: Number(fee), amount_sat: Number(o.amountSat),
    });
  }
  privkey.fill(0);
  if (transactions.length === 0) {
    throw new RefusedError('E_CLAIM_NOTHING_TO_TAKE', `nothing of yours to take from ${commitmentTxid} now: ${skipped.map((s) => `output ${s.vout}: ${s.reason}`).join('; ') || 'no HTLC output'}`);
  }
  return { type: 'bolt3/claims', version: 1, network: rec.network, channel_id: channelIdOf(rec.channel), commitment_number: n, commitment_txid: commitmentTxid, skipped, transactions };
}
