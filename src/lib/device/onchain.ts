/**
 * The two on-chain ends of a payment's HTLC, from each party's own record:
 *
 *   gatewayClaim   the gateway, having broadcast its latest state (which holds the HTLC),
 *                  takes the HTLC through the claim leaf with the preimage;
 *   deviceRefund   the device takes an HTLC back through the refund leaf once its
 *                  expiry height is final — from the state of the payment in flight, or
 *                  of any failed payment (the gateway may broadcast that older state).
 *
 * Both are TRUC (version 3), as the states they spend: the node refuses a non-TRUC child
 * of an unconfirmed TRUC parent, and the claim is the gateway's only CPFP of a state
 * holding an HTLC and no payout (nothing settled yet) — a version-2 claim could not get
 * that state mined before the device may refund the HTLC.
 *
 * The device never holds a fully signed state, but it built every state itself: it
 * knows each state's txid and that the HTLC output is the first output after the
 * gateway's payout (index 1 when something was settled, else 0).
 */
import type { KeyPair } from '../keys/keys.ts';
import { RefusedError } from '../errors.ts';
import { buildSpend, type Spend } from '../htlc/spend.ts';
import { termsFromJson } from '../credit/codec.ts';
import { hexBytes, paymentHtlc, preimageMatches, type DeviceChannel, type GatewayChannel } from './channel.ts';
import { Transaction } from '@scure/btc-signer';
import { equalBytes } from '../bytes.ts';

function refuse(code: string, message: string): never {
  throw new RefusedError(code, message);
}

export function gatewayClaim(g: GatewayChannel, gateway: KeyPair, preimage: Uint8Array, destination: Uint8Array, feeRate: number): Spend {
  const h = g.latest?.htlc;
  if (!g.latest || !h) refuse('E_NO_HTLC', 'the gateway\'s latest state holds no HTLC');
  if (!preimageMatches(preimage, hexBytes(h.payment_hash))) refuse('E_WRONG_PREIMAGE', `the preimage does not hash to ${h.payment_hash}`);
  const c = termsFromJson(g.contract, g.network);
  const htlc = paymentHtlc(c, hexBytes(h.payment_hash), h.expiry_height);
  const tx = Transaction.fromRaw(hexBytes(g.latest.hex), { allowUnknownOutputs: true });
  const vout = Array.from({ length: tx.outputsLength }, (_, i) => i).find((i) => equalBytes(tx.getOutput(i).script!, htlc.scriptPubKey));
  if (vout === undefined) refuse('E_NO_HTLC', 'the latest state has no output to this HTLC');
  return buildSpend({ htlc, path: 'claim', outpoint: { txid: g.latest.txid, vout }, amountSat: BigInt(h.amount_sat), destination, feeRate, signer: gateway, preimage, version: 3 });
}

export function deviceRefund(d: DeviceChannel, device: KeyPair, paymentHash: string, destination: Uint8Array, feeRate: number): Spend {
  const candidates = [...(d.in_flight ? [{ ...d.in_flight, txid: String(d.in_flight.request.txid), settled_sat: d.settled_sat }] : []), ...(d.failed ?? [])];
  const p = candidates.find((x) => x.payment_hash === paymentHash);
  if (!p) refuse('E_WRONG_PAYMENT', `no payment ${paymentHash} in flight or failed on this channel`);
  const c = termsFromJson(d.contract, d.network);
  const htlc = paymentHtlc(c, hexBytes(p.payment_hash), p.expiry_height);
  return buildSpend({
    htlc, path: 'refund', outpoint: { txid: p.txid, vout: p.settled_sat > 0 ? 1 : 0 }, amountSat: BigInt(p.amount_sat), destination, feeRate, signer: device, version: 3,
  });
}
