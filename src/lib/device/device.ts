/**
 * The device's steps (see channel.ts for the invariants and the state table). Each is
 * pure: it takes the device's record and a message, and returns the next record and the
 * message to send — the caller writes the record (durably) before the message leaves.
 * A refusal throws (coded) and returns nothing, so nothing is written.
 *
 *   pay      invoice (verified) → policy → sign state n+1: settled S, HTLC(A, hash), change
 *   settle   gateway/settle: sha256(preimage) = hash → sign state n+2: settled S + A; keep the preimage
 *   fail     gateway/fail: → sign state n+2: settled S, A back to the change
 *   receipt  gateway/receipt for the pending state → idle, next nonce
 *
 * settle, fail and receipt check the gateway's signature over its message first (channel.ts).
 *
 * What pay adds to the channel invariants (channel.ts):
 * - One payment per hash per device. A hash belongs to the channel whose state first
 *   carried its HTLC: that channel's gateway can complete the state (it holds its own
 *   nonce) and claim the HTLC on chain with the preimage, even after it failed the payment.
 *   So an invoice whose hash the device settled (or is settling), on this channel or any
 *   other of its state directory (a rollover's previous contract, a second channel, another
 *   gateway's), is refused (E_ALREADY_PAID); one in flight or failed on ANOTHER channel too
 *   (E_PAYMENT_ON_OTHER_CHANNEL): both gateways could otherwise take it, with one preimage,
 *   for one Lightning payment. A failed payment's hash may be paid again on its own channel:
 *   any state that channel's gateway could broadcast pays for it once.
 * - settle re-checks the other channels: a hash settled (or being settled) elsewhere is
 *   refused (E_ALREADY_PAID), so records written before the pay rule, with one hash in
 *   flight on two channels, get one settle for one preimage.
 * - The caller runs each step under the lock of the device's state directory (every
 *   channel's record in one directory, one lock: topics/device/command.ts deviceStep), and
 *   passes every other channel's record as `others`, read under that lock.
 * - The daily limit counts the spending of all the device's channels that day (PayParams.others).
 * - The daily limit's UTC day never goes back: a clock set back counts against the
 *   latest day on record of any of the device's channels (only a later day opens a fresh
 *   budget; a channel whose own record is older does not).
 * - A device/pay the gateway refused is ended only by the gateway's signed word that it
 *   never co-signed it (credit abandon: the nonce burned, a fresh one for the same
 *   state): the device never signs a second HTLC state on its own guess.
 * - The same invoice again while it is in flight resends the stored device/pay
 *   unchanged (nothing newly signed, nothing counted twice): a lost message never
 *   leaves a payment in flight that the gateway never saw.
 * - A settle or fail already signed is resent as is for the same gateway nonce, and
 *   signed again — the same state, the same transaction — for a new nonce of the same
 *   state (the gateway lost the first: its host's key is gone): a gateway host lost
 *   between settle and complete never leaves the channel stuck off chain.
 */
import { base64 } from '@scure/base';
import { StateConflictError, RefusedError } from '../errors.ts';
import type { KeyPair } from '../keys/keys.ts';
import { decodeBolt11 } from '../invoice/bolt11.ts';
import { serializePsbt } from '../psbt/parse.ts';
import { termsFromJson } from '../credit/codec.ts';
import { userSignAgainst } from '../credit/signing.ts';
import { buildState } from '../credit/transactions.ts';
import type { DeviceChannel, InFlightJson, NextNonceJson } from '../credit/ports.ts';
import { stripRequest } from '../credit/htlc-channel.ts';
import { checkAnswer } from '../credit/answer-signature.ts';
import { hexBytes, preimageMatches, stateHtlc } from './channel.ts';
import { checkPayment, msatToSatCeil, type DevicePolicy, type GatewayTerms } from './policy.ts';

function refuse(code: string, message: string): never {
  throw new RefusedError(code, message);
}

export type Step = { record: DeviceChannel; message: Record<string, unknown> };

function utcDay(now: number): string {
  return new Date(now * 1000).toISOString().slice(0, 10);
}

function needNonce(r: DeviceChannel, state: number): NextNonceJson {
  const n = r.gateway_nonce;
  if (!n || n.state !== state) throw new StateConflictError('E_NO_GATEWAY_NONCE', `no gateway nonce for state ${state}: apply the gateway's last receipt first`);
  return n;
}

function signState(r: DeviceChannel, device: KeyPair, settled: bigint, htlc: InFlightJson | undefined, nonce: NextNonceJson) {
  const c = termsFromJson(r.contract, r.network);
  const tx = buildState(c, settled, htlc ? stateHtlc(c, htlc) : undefined);
  userSignAgainst(tx, 0, device, c.mintPubkey, nonce);
  return { txid: tx.id, psbt: base64.encode(serializePsbt(tx)) };
}

/** Another channel of the device, as pay and settle read it. */
export type OtherChannel = Pick<DeviceChannel, 'contract_id' | 'paid' | 'day' | 'in_flight' | 'failed'>;

export type PayParams = {
  invoice: string; policy: DevicePolicy; gateway: GatewayTerms; now: number; tip: number;
  /**
   * The device's other channels (every other contract of its state directory: the one a
   * rollover replaced, a second channel): a hash any of them holds is refused, and their
   * spending today counts against the same daily limit — the policy is the device's, not a channel's.
   */
  others?: readonly OtherChannel[];
};

/** A hash settled or being settled on another channel: E_ALREADY_PAID. */
function refusePaidElsewhere(others: readonly OtherChannel[], hash: string): void {
  const o = others.find((x) => x.paid.some((p) => p.payment_hash === hash));
  if (o) refuse('E_ALREADY_PAID', `payment ${hash} was settled on this device's channel ${o.contract_id}: one preimage pays for one payment (the gateway could take it twice)`);
}

/** How a payment in flight is finished, for the error line. */
const RESEND = 'send it again as recorded with "offchain device pay --resend" (with --peer URL for a gateway service), or feed the gateway\'s answer';

function refuseAbandoning(r: DeviceChannel): void {
  if (r.in_flight?.abandon) throw new StateConflictError('E_PENDING', `payment ${r.in_flight.payment_hash} is being abandoned: feed the gateway's answer to "offchain credit abandon --role user" first`);
}

/**
 * `device pay --resend`: the payment in flight as last recorded — the settle or fail signed
 * since, else its device/pay — to be sent again unchanged (nothing signed here); undefined
 * when none is in flight.
 */
export function inFlightRequest(r: DeviceChannel): Record<string, unknown> | undefined {
  refuseAbandoning(r);
  return r.pending?.request ?? r.in_flight?.request;
}

/** Step 1: verify the invoice, apply the policy, sign state n+1 with the HTLC. */
export function pay(r: DeviceChannel, device: KeyPair, p: PayParams): Step {
  if (r.pending) refuse('E_HTLC_IN_FLIGHT', `state ${r.pending.state} (${r.pending.kind}) awaits the gateway's receipt: ${RESEND}`);
  // The same invoice again while it is in flight: its device/pay was lost (the process
  // killed after the record was written, a broken pipe), so resend it unchanged —
  // refusing would leave a payment in flight the gateway never saw, and nothing to end it.
  refuseAbandoning(r);
  if (r.in_flight && r.in_flight.invoice === p.invoice.trim()) return { record: r, message: r.in_flight.request };
  const invoice = decodeBolt11(p.invoice); // signature, fields: coded refusals
  // The UTC day never goes back: a clock set back (a reset RTC, a spoofed time source)
  // counts against the latest day on record instead of opening a fresh budget — the latest
  // day on ANY of the device's channels, or the clock set back would open one on another.
  const day = [r, ...(p.others ?? [])].reduce((latest, o) => (o.day.date > latest ? o.day.date : latest), utcDay(p.now));
  const spent = r.day.date === day ? BigInt(r.day.spent_msat) : 0n;
  const elsewhere = (p.others ?? []).reduce((sum, o) => sum + (o.day.date === day ? BigInt(o.day.spent_msat) : 0n), 0n);
  const ok = checkPayment({
    invoice, network: r.network, policy: p.policy, gateway: p.gateway, now: p.now, tip: p.tip,
    channelExpiry: r.contract.expiry_height, spentTodayMsat: spent + elsewhere, inFlight: r.in_flight !== undefined,
  });
  // A payment hash already paid: the gateway holds its preimage and could settle it again
  // without paying anyone (a Lightning node never pays one payment hash twice either).
  const hash = Buffer.from(invoice.paymentHash).toString('hex');
  if (r.paid.some((x) => x.payment_hash === hash)) refuse('E_ALREADY_PAID', `payment ${hash} was paid and settled before (its preimage is this device's proof of payment): the gateway could settle it again without paying`);
  const others = p.others ?? [];
  refusePaidElsewhere(others, hash);
  const held = others.find((o) => o.in_flight?.payment_hash === hash || (o.failed ?? []).some((x) => x.payment_hash === hash));
  if (held) {
    refuse('E_PAYMENT_ON_OTHER_CHANNEL', `payment ${hash} is ${held.in_flight?.payment_hash === hash ? 'in flight' : 'failed'} on this device's channel ${held.contract_id}, whose gateway holds a state with its HTLC and could claim it with the preimage a payment here reveals: pay it on that channel, or ask the payee for a new invoice`);
  }
  const state = r.state + 1;
  const htlc: InFlightJson = {
    state, payment_hash: hash, amount_sat: Number(ok.htlcSat), fee_sat: Number(ok.htlcSat - msatToSatCeil(ok.amountMsat)),
    invoice_amount_msat: ok.amountMsat.toString(), expiry_height: ok.expiryHeight, invoice: p.invoice.trim(),
  };
  const signed = signState(r, device, BigInt(r.settled_sat), htlc, needNonce(r, state));
  const message = {
    type: 'device/pay', version: 1, network: r.network, contract_id: r.contract_id, state, settled_sat: r.settled_sat,
    htlc: { payment_hash: htlc.payment_hash, amount_sat: htlc.amount_sat, expiry_height: htlc.expiry_height },
    invoice: htlc.invoice, txid: signed.txid, psbt: signed.psbt,
  };
  return { record: { ...r, in_flight: { ...htlc, request: message }, day: { date: day, spent_msat: (spent + ok.amountMsat).toString() } }, message };
}

type GatewayNotice = { type: string; contract_id: string; payment_hash: string; next_nonce: NextNonceJson; preimage?: string; gateway_signature?: string };

/** A gateway answer is the gateway's own, every member as it signed it (credit/answer-signature.ts): checked before anything else. */
function checkGatewayAnswer(r: DeviceChannel, m: Record<string, unknown>): void {
  checkAnswer(m, hexBytes(r.contract.mint_pubkey), 'gateway');
}

function checkNotice(r: DeviceChannel, n: GatewayNotice): InFlightJson {
  if (n.contract_id !== r.contract_id) refuse('E_WRONG_CONTRACT', `the message is for contract ${n.contract_id}, not ${r.contract_id}`);
  const f = r.in_flight;
  if (!f) refuse('E_NO_PAYMENT_IN_FLIGHT', 'no payment is in flight on this channel');
  if (n.payment_hash !== f.payment_hash) refuse('E_WRONG_PAYMENT', `the message is for payment ${n.payment_hash}, the one in flight is ${f.payment_hash}`);
  if (n.next_nonce.state !== f.state + 1) refuse('E_STATE_NUMBER', `the gateway's nonce is for state ${n.next_nonce.state}, expected ${f.state + 1}`);
  return f;
}

/**
 * The pending settle or fail of this payment, when `n` asks for it again. With the nonce it
 * was signed against, it is resent as is (its message was lost). With another nonce for the
 * same state (the gateway lost the first: its host's nonce key is gone), the same state is
 * signed again against the new one: the same transaction, so the gateway can have it under
 * either nonce and gains nothing, and DeterministicSign gives the device a fresh nonce of
 * its own for a new gateway nonce (and the same signature again for an old one).
 */
function again(r: DeviceChannel, kind: 'settle' | 'fail', n: GatewayNotice): 'resend' | 'resign' | undefined {
  const p = r.pending;
  if (p?.kind !== kind || p.payment_hash !== n.payment_hash) return undefined;
  return n.next_nonce.state === r.gateway_nonce?.state && n.next_nonce.pubnonce === r.gateway_nonce.pubnonce ? 'resend' : 'resign';
}

/**
 * gateway/settle: the preimage must hash to the payment hash, and the hash must be settled on
 * no other channel of the device (`others`, read under the device's lock); sign the state
 * paying the HTLC amount into settled.
 */
export function settle(r: DeviceChannel, device: KeyPair, n: GatewayNotice, others: readonly OtherChannel[] = []): Step {
  checkGatewayAnswer(r, n);
  const repeat = again(r, 'settle', n);
  if (repeat === 'resend') return { record: r, message: r.pending!.request };
  const f = checkNotice(r, n);
  refusePaidElsewhere(others, f.payment_hash);
  if (r.pending && !repeat) refuse('E_HTLC_IN_FLIGHT', `a ${r.pending.kind} of this payment is already signed`);
  const preimage = hexBytes(n.preimage ?? '');
  if (!preimageMatches(preimage, hexBytes(f.payment_hash))) refuse('E_WRONG_PREIMAGE', `the preimage does not hash to the payment hash ${f.payment_hash}`);
  const settled = BigInt(r.settled_sat) + BigInt(f.amount_sat);
  const state = f.state + 1;
  const signed = signState(r, device, settled, undefined, n.next_nonce);
  const message = { type: 'device/settle', version: 1, network: r.network, contract_id: r.contract_id, state, payment_hash: f.payment_hash, settled_sat: Number(settled), txid: signed.txid, psbt: signed.psbt };
  return {
    record: {
      ...r, gateway_nonce: n.next_nonce,
      pending: { kind: 'settle', state, settled_sat: Number(settled), payment_hash: f.payment_hash, request: message },
      paid: repeat ? r.paid : [...r.paid, { payment_hash: f.payment_hash, preimage: n.preimage!, amount_sat: f.amount_sat, fee_sat: f.fee_sat, invoice_amount_msat: f.invoice_amount_msat, state }],
    },
    message,
  };
}

/** gateway/fail: sign the state without the HTLC, its amount back in the change. */
export function fail(r: DeviceChannel, device: KeyPair, n: GatewayNotice): Step {
  // A fail the gateway never gave (a relay's) would have the device sign away a payment the gateway settled.
  checkGatewayAnswer(r, n);
  const repeat = again(r, 'fail', n);
  if (repeat === 'resend') return { record: r, message: r.pending!.request };
  const f = checkNotice(r, n);
  if (r.pending && !repeat) refuse('E_HTLC_IN_FLIGHT', `a ${r.pending.kind} of this payment is already signed`);
  const state = f.state + 1;
  const signed = signState(r, device, BigInt(r.settled_sat), undefined, n.next_nonce);
  const message = { type: 'device/fail', version: 1, network: r.network, contract_id: r.contract_id, state, payment_hash: f.payment_hash, settled_sat: r.settled_sat, txid: signed.txid, psbt: signed.psbt };
  // The failed amount no longer counts against today's limit (once: not again on a re-sign).
  const spent = repeat ? BigInt(r.day.spent_msat) : BigInt(r.day.spent_msat) - BigInt(f.invoice_amount_msat);
  return {
    record: {
      ...r, gateway_nonce: n.next_nonce, day: { ...r.day, spent_msat: (spent < 0n ? 0n : spent).toString() },
      pending: { kind: 'fail', state, settled_sat: r.settled_sat, payment_hash: f.payment_hash, request: message },
    },
    message,
  };
}

/** gateway/receipt for the pending settle or fail: the channel is idle again at that state. */
export function receipt(r: DeviceChannel, m: { type: string; contract_id: string; state: number; settled_sat: number; next_nonce: NextNonceJson; gateway_signature?: string }): DeviceChannel {
  checkGatewayAnswer(r, m);
  if (m.contract_id !== r.contract_id) refuse('E_WRONG_CONTRACT', `the receipt is for contract ${m.contract_id}, not ${r.contract_id}`);
  const p = r.pending;
  // The same receipt again (applied, its output lost): the record is already idle at it.
  if (!p && m.state === r.state && m.settled_sat === r.settled_sat && r.gateway_nonce?.state === m.next_nonce.state && r.gateway_nonce.pubnonce === m.next_nonce.pubnonce) return r;
  if (!p || m.state !== p.state) refuse('E_STATE_NUMBER', `the receipt is for state ${m.state}, the pending state is ${p?.state ?? 'none'}`);
  if (m.settled_sat !== p.settled_sat) refuse('E_RECEIPT_MISMATCH', `the receipt says settled ${m.settled_sat} sat, the device signed ${p.settled_sat} sat`);
  if (m.next_nonce.state !== p.state + 1) refuse('E_STATE_NUMBER', `the receipt's nonce is for state ${m.next_nonce.state}, expected ${p.state + 1}`);
  const { in_flight: f, pending: _p, ...rest } = r;
  // A failed payment's HTLC state stays claimable by nobody but the device (after its expiry): remember it.
  const failed = p.kind === 'fail' && f ? [...(r.failed ?? []), { ...stripRequest(f), txid: String(f.request.txid), settled_sat: r.settled_sat }] : r.failed;
  return { ...rest, state: p.state, settled_sat: p.settled_sat, gateway_nonce: m.next_nonce, ...(failed ? { failed } : {}) };
}
