/**
 * The two on-chain ends of a payment's HTLC, from each party's own record:
 *
 *   gatewayExitClaim  the gateway's exit (`gateway claim`): its latest state (which holds
 *                  the HTLC) and ONE TRUC child that claims the HTLC through the claim leaf
 *                  with the preimage (and sweeps its payout, when its key can sign it) —
 *                  the credit exit's own builder (../credit/exit.ts buildExit with `claim`);
 *   gatewayClaim   the same claim alone (v2) once the state is confirmed;
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
import type { HtlcOutput } from '../htlc/htlc.ts';
import { buildSpend, type Spend } from '../htlc/spend.ts';
import { termsFromJson } from '../credit/codec.ts';
import { hexBytes, paymentHtlc, preimageMatches } from './channel.ts';
import { Transaction } from '@scure/btc-signer';
import type { FeeLimits } from '../tx/fee-guard.ts';
import { buildExit, type ExitOptions } from '../credit/exit.ts';
import type { DeviceChannel, GatewayChannel, MintContractRecord } from '../credit/ports.ts';
import { equalBytes } from '../bytes.ts';

function refuse(code: string, message: string): never {
  throw new RefusedError(code, message);
}

/** The HTLC of the gateway's latest state (E_NO_HTLC when it holds none). */
export function htlcOf(g: GatewayChannel): HtlcOutput {
  const h = g.latest?.htlc;
  if (!g.latest || !h) refuse('E_NO_HTLC', 'the gateway\'s latest state holds no HTLC');
  return paymentHtlc(termsFromJson(g.contract, g.network), hexBytes(h.payment_hash), h.expiry_height);
}

export function gatewayClaim(g: GatewayChannel, gateway: KeyPair, preimage: Uint8Array, destination: Uint8Array, feeRate: number, feeLimits?: FeeLimits): Spend {
  const h = g.latest?.htlc;
  if (!g.latest || !h) refuse('E_NO_HTLC', 'the gateway\'s latest state holds no HTLC');
  if (!preimageMatches(preimage, hexBytes(h.payment_hash))) refuse('E_WRONG_PREIMAGE', `the preimage does not hash to ${h.payment_hash}`);
  const c = termsFromJson(g.contract, g.network);
  const htlc = paymentHtlc(c, hexBytes(h.payment_hash), h.expiry_height);
  const tx = Transaction.fromRaw(hexBytes(g.latest.hex), { allowUnknownOutputs: true });
  const vout = Array.from({ length: tx.outputsLength }, (_, i) => i).find((i) => equalBytes(tx.getOutput(i).script!, htlc.scriptPubKey));
  if (vout === undefined) refuse('E_NO_HTLC', 'the latest state has no output to this HTLC');
  return buildSpend({ htlc, path: 'claim', outpoint: { txid: g.latest.txid, vout }, amountSat: BigInt(h.amount_sat), destination, feeRate, signer: gateway, preimage, version: 3, ...(feeLimits ? { feeLimits } : {}) });
}

/**
 * The preimage the gateway claims with: the one its Lightning node returned (stored by
 * `gateway settle`), else one given (a payment that succeeded after the gateway failed it
 * is still claimable while its HTLC state is the latest). It must hash to the HTLC's hash.
 */
export function claimPreimage(g: GatewayChannel, given?: Uint8Array): Uint8Array {
  const h = g.latest?.htlc;
  if (!g.latest || !h) refuse('E_NO_HTLC', `the gateway's latest state${g.latest ? ` (${g.latest.state})` : ''} holds no HTLC: exit with exit-credit`);
  const stored = g.in_flight?.payment_hash === h.payment_hash && g.in_flight.preimage ? hexBytes(g.in_flight.preimage) : undefined;
  const preimage = given ?? stored;
  if (!preimage) refuse('E_NO_PREIMAGE', `the gateway holds no preimage for payment ${h.payment_hash} (gateway settle stores it; or pass --preimage-file)`);
  if (!preimageMatches(preimage, hexBytes(h.payment_hash))) refuse('E_WRONG_PREIMAGE', `the preimage does not hash to ${h.payment_hash}`);
  return preimage;
}

/** The gateway's exit package claiming the HTLC: the credit/exit message with `htlc_claim`. */
export function gatewayExitClaim(record: MintContractRecord, mint: KeyPair, opts: Omit<ExitOptions, 'claim'> & { preimage?: Uint8Array }): Record<string, unknown> {
  const g = record.gateway;
  if (!g) refuse('E_NO_HTLC', `contract ${record.contract_id} is not a device channel (no gateway record): exit with exit-credit`);
  const preimage = claimPreimage(g, opts.preimage);
  const h = g.latest!.htlc!;
  const c = termsFromJson(g.contract, g.network);
  const { preimage: _p, ...exit } = opts;
  return buildExit(record, mint, { ...exit, claim: { htlc: paymentHtlc(c, hexBytes(h.payment_hash), h.expiry_height), preimage } });
}

/** The payments whose HTLC the device may take back: the one in flight, then every failed one. */
export function refundable(d: DeviceChannel): { payment_hash: string; expiry_height: number; amount_sat: number; txid: string; settled_sat: number }[] {
  return [...(d.in_flight ? [{ ...d.in_flight, txid: String(d.in_flight.request.txid), settled_sat: d.settled_sat }] : []), ...(d.failed ?? [])];
}

/**
 * The refund of payment `paymentHash`'s HTLC from the state `stateTxid` holding it. A failed
 * hash may be paid again, so one hash can sit in several states (each its own txid and
 * expiry, any of which the gateway may broadcast): then the state must be named — the
 * device never guesses which one is on chain.
 */
export function deviceRefund(d: DeviceChannel, device: KeyPair, paymentHash: string, destination: Uint8Array, feeRate: number, feeLimits?: FeeLimits, stateTxid?: string): Spend {
  const all = refundable(d).filter((x) => x.payment_hash === paymentHash);
  if (all.length === 0) refuse('E_WRONG_PAYMENT', `no payment ${paymentHash} in flight or failed on this channel`);
  const matches = stateTxid === undefined ? all : all.filter((x) => x.txid === stateTxid.toLowerCase());
  if (matches.length === 0) refuse('E_WRONG_PAYMENT', `no state ${stateTxid} holds payment ${paymentHash} (its states: ${all.map((x) => x.txid).join(', ')})`);
  if (new Set(matches.map((x) => x.txid)).size > 1) {
    refuse('E_WRONG_PAYMENT', `payment ${paymentHash} is held by ${matches.length} states (${matches.map((x) => x.txid).join(', ')}): name the one on chain with --state-txid`);
  }
  const p = matches[0]!;
  const c = termsFromJson(d.contract, d.network);
  const htlc = paymentHtlc(c, hexBytes(p.payment_hash), p.expiry_height);
  return buildSpend({
    htlc, path: 'refund', outpoint: { txid: p.txid, vout: p.settled_sat > 0 ? 1 : 0 }, amountSat: BigInt(p.amount_sat), destination, feeRate, signer: device, version: 3,
    ...(feeLimits ? { feeLimits } : {}),
  });
}
