/**
 * BOLT 2's mutual close (`shutdown`, then `closing_signed`) on BOLT 3's closing
 * transaction: the funding output spent to each party's own script at its balance of the
 * final commitment, the opener paying the fee, an output below the dust limit left out,
 * outputs in BIP-69 order, nLockTime 0, nSequence 0xFFFFFFFF.
 *
 * Invariants: a party signs a closing transaction only when nothing is in flight — the
 * commitment it holds and the peer's latest it signed are the same state, with no HTLC,
 * and every earlier commitment of both is revoked — so the closing pays exactly the
 * balances both already agreed; its own output is the script it chose (`--to`), never one
 * from the peer's message; the fee is at most what the final commitment pays (BOLT 2) and
 * comes out of the opener's balance only. Once a party has proposed or signed a close it
 * signs no further commitment (E_CHANNEL_CLOSING): the closing transaction is its exit.
 */
import { compareBytes, equalBytes, fromHex, toHex } from '../bytes.ts';
import { RefusedError } from '../errors.ts';
import { channelFundingOutput } from './channel.ts';
import { compactFromDer, derFromCompact } from './ecdsa.ts';
import { NOBLE } from './backend.ts';
import { buildCommitment } from './commitment.ts';
import { pointOf } from './keys.ts';
import { sortedFundingPubkeys } from './scripts.ts';
import { SIGHASH_ALL, segwitV0Sighash } from './sighash.ts';
import { serializeTx, txid, type Tx } from './tx.ts';
import { channelFromJson } from './messages.ts';
import { dustThreshold } from '../tx/policy.ts';

export type ClosingTerms = {
  fundingTxid: string;
  fundingVout: number;
  /** Each party's balance in the final state (sat, fee not yet taken) and its script. */
  opener: { amountSat: bigint; script: Uint8Array };
  accepter: { amountSat: bigint; script: Uint8Array };
  feeSat: bigint;
  dustLimitSatoshis: bigint;
};

export function closingTransaction(t: ClosingTerms): Tx {
  if (t.feeSat < 0n || t.feeSat > t.opener.amountSat) {
    throw new RefusedError('E_CLOSING_FEE', `a closing fee of ${t.feeSat} sat is more than the opener's ${t.opener.amountSat} sat`);
  }
  const outputs = [
    { amount: t.opener.amountSat - t.feeSat, script: t.opener.script },
    { amount: t.accepter.amountSat, script: t.accepter.script },
  ].filter((o) => o.amount >= t.dustLimitSatoshis && o.amount >= dustThreshold(o.script));
  outputs.sort((a, b) => (a.amount < b.amount ? -1 : a.amount > b.amount ? 1 : compareBytes(a.script, b.script)));
  return { version: 2, lockTime: 0, inputs: [{ txid: t.fundingTxid, vout: t.fundingVout, sequence: 0xffffffff }], outputs };
}

type Channel = Parameters<typeof channelFromJson>[0];
type FinalState = { to_local_msat: string; to_remote_msat: string; feerate_per_kw: number; commitment_number: number; htlcs: unknown[] };

/** The closing transaction of a channel from one party's side: its own script and the peer's. */
export function closingFor(channel: Channel & { remote_dust_limit_satoshis: number }, state: FinalState, ownScript: Uint8Array, peerScript: Uint8Array, feeSat: bigint): Tx {
  const mine = { amountSat: BigInt(state.to_local_msat) / 1000n, script: ownScript };
  const theirs = { amountSat: BigInt(state.to_remote_msat) / 1000n, script: peerScript };
  return closingTransaction({
    fundingTxid: channel.funding_txid, fundingVout: channel.funding_vout,
    opener: channel.opener === 'local' ? mine : theirs, accepter: channel.opener === 'local' ? theirs : mine,
    feeSat, dustLimitSatoshis: BigInt(Math.max(channel.dust_limit_satoshis, channel.remote_dust_limit_satoshis)),
  });
}

/** BOLT 2: the closing fee may not exceed the final commitment's fee. */
export function maxClosingFee(channel: Channel, state: FinalState, ownPoint: Uint8Array): bigint {
  const c = buildCommitment(channelFromJson(channel), {
    commitmentNumber: state.commitment_number, perCommitmentPoint: ownPoint, toLocalMsat: BigInt(state.to_local_msat), toRemoteMsat: BigInt(state.to_remote_msat),
    feeratePerKw: state.feerate_per_kw, htlcs: [],
  });
  return c.actualFeeSat;
}

function sighash(channel: Channel, tx: Tx): Uint8Array {
  const params = channelFromJson(channel);
  const funding = channelFundingOutput(params);
  return segwitV0Sighash(tx, 0, funding.witnessScript, funding.amount, SIGHASH_ALL);
}

export function signClosing(channel: Channel, tx: Tx, fundingSecret: Uint8Array): Uint8Array {
  if (!equalBytes(pointOf(fundingSecret), fromHex(channel.local.funding_pubkey, 'funding_pubkey'))) {
    throw new RefusedError('E_KEY_MISMATCH', 'this key is not your funding key of the channel');
  }
  return derFromCompact(NOBLE.ecdsa.signCompact(sighash(channel, tx), fundingSecret));
}

export function verifyPeerClosing(channel: Channel, tx: Tx, signature: Uint8Array): boolean {
  return NOBLE.ecdsa.verifyCompact(compactFromDer(signature), sighash(channel, tx), fromHex(channel.remote.funding_pubkey, 'funding_pubkey'));
}

/** The closing transaction with both signatures: `0 <sig1> <sig2> <funding script>`. */
export function completeClosing(channel: Channel, tx: Tx, ownSignature: Uint8Array, peerSignature: Uint8Array): { txid: string; hex: string } {
  const params = channelFromJson(channel);
  const funding = channelFundingOutput(params);
  const [first] = sortedFundingPubkeys(params.local.fundingPubkey, params.remote.fundingPubkey);
  const mine = Uint8Array.from([...ownSignature, SIGHASH_ALL]);
  const theirs = Uint8Array.from([...peerSignature, SIGHASH_ALL]);
  const ownFirst = equalBytes(first, params.local.fundingPubkey);
  const signed: Tx = { ...tx, inputs: [{ ...tx.inputs[0]!, witness: [new Uint8Array(0), ownFirst ? mine : theirs, ownFirst ? theirs : mine, funding.witnessScript] }] };
  return { txid: txid(signed), hex: toHex(serializeTx(signed)) };
}
