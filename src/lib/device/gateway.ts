/**
 * The gateway's steps (see channel.ts for the invariants and the state table). Each
 * takes the gateway's record and returns the next record and its output; every check
 * runs before the gateway's secret nonce is taken, so a refusal burns no nonce and
 * writes nothing (the caller writes the returned record only on success).
 *
 * INVARIANTS
 * - A device request (device/pay, device/settle, device/fail) is the device's before a word
 *   is said of the channel: its partial signature on the contract input, with the gateway's
 *   nonce beside it, is checked (credit/signing.ts checkUserSigned) right after the contract
 *   id and before the freeze, the retry answers and every rule that reads the record. A
 *   stranger who knows a channel id gets the same refusal from every channel, naming no state,
 *   amount or payment hash (issue 72); a genuine retry carries the same signed PSBT and passes.
 * - A retried device/pay gets the same job while its payment is in flight, never once the
 *   gateway failed it (E_PAYMENT_FAILED): a job is the order to pay the invoice, and a
 *   failed payment can no longer be settled, so paying it again would pay for nothing.
 * - A frozen channel (ctx.frozen: exit-credit, a close or rollover signed) co-signs nothing and
 *   decides no payment: every step refuses E_CONTRACT_FROZEN.
 *
 *   pay       device/pay: the device's signature, then everything the mint checks (credit
 *             checkState, checkChain) plus the HTLC
 *             output rebuilt from the invoice's hash, the two keys and the expiry; the
 *             HTLC amount covers the invoice plus the gateway's fee; the expiry leaves
 *             time to pay on Lightning and claim on chain. Stores the state; emits a job
 *             for its Lightning node (the invoice to pay).
 *   settle    the preimage from its Lightning node (sha256 = hash) → gateway/settle + nonce
 *   fail      the Lightning payment failed → gateway/fail + nonce
 *   complete  device/settle or device/fail: the device's signature, then the state without
 *             the HTLC, settled + A or S
 */
import { MalformedInputError, RefusedError, StateConflictError } from '../errors.ts';
import type { KeyPair } from '../keys/keys.ts';
import type { RandomSource } from '../random.ts';
import { decodeBolt11 } from '../invoice/bolt11.ts';
import { parsePsbtBase64 } from '../psbt/parse.ts';
import { readMusigInput, type MusigInput } from '../musig/psbt-keypath.ts';
import type { Transaction } from '@scure/btc-signer';
import type { CreditContract } from '../credit/terms.ts';
import { termsFromJson } from '../credit/codec.ts';
import { checkState } from '../credit/rules.ts';
import { checkUserSigned, issueStateNonce, mintComplete, signedKeyPathTx, stateNonceContext } from '../credit/signing.ts';
import type { GatewayChannel, InFlightJson } from '../credit/ports.ts';
import type { NoncePort } from '../musig/nonce-port.ts';
import { checkChain } from '../credit/mint.ts';
import type { ChainSource } from '../chain/types.ts';
import { hexBytes, preimageMatches, stateHtlc, toHex } from './channel.ts';
import { gatewayFeeMsat, msatToSatCeil, type GatewayTerms } from './policy.ts';
import { signAnswer, signedAgain } from '../credit/answer-signature.ts';

function refuse(code: string, message: string): never {
  throw new RefusedError(code, message);
}

export type GatewayContext = {
  gateway: KeyPair;
  nonces: NoncePort;
  random: RandomSource;
  /** The tip and the funding output, checked as the credit mint checks them (credit/mint.ts checkChain). */
  chain: ChainSource;
  policy: { safety_margin_blocks: number; min_confirmations: number };
  terms: GatewayTerms & { min_fee_rate: number; claim_margin_blocks: number; min_htlc_sat?: number };
  /** Why the channel takes no more payments (E_CONTRACT_FROZEN's words), read by the caller from the mint's credit record; unset while open. */
  frozen?: string;
};

export type GatewayStep = { record: GatewayChannel; message: Record<string, unknown> };

/** An answer the device acts on, signed by the gateway's contract key (credit/answer-signature.ts). */
function signedByGateway(ctx: GatewayContext, message: Record<string, unknown>): Record<string, unknown> {
  return signAnswer(message, ctx.gateway, 'gateway');
}

type PayMessage = {
  contract_id: string; state: number; settled_sat: number; invoice: string; psbt: string;
  htlc: { payment_hash: string; amount_sat: number; expiry_height: number };
};

function checkContract(r: GatewayChannel, id: string): void {
  if (id !== r.contract_id) refuse('E_WRONG_CONTRACT', `the message is for contract ${id}, not ${r.contract_id}`);
}

function checkOpen(ctx: GatewayContext): void {
  if (ctx.frozen !== undefined) refuse('E_CONTRACT_FROZEN', ctx.frozen);
}

/** A device request read and found to be the device's: the contract, its PSBT and the contract input. */
type DeviceRequest = { c: CreditContract; tx: Transaction; input: MusigInput };

/**
 * The request is the device's (INVARIANTS): for this contract, its PSBT carrying the device's
 * valid partial signature beside the gateway's nonce — refusals that name the request only —
 * then the freeze. Before anything that reads the record; the input read here is the one
 * completed, so its signature is verified once.
 */
function checkDeviceRequest(ctx: GatewayContext, r: GatewayChannel, m: { contract_id: string; psbt: string }): DeviceRequest {
  checkContract(r, m.contract_id);
  const c = termsFromJson(r.contract, r.network);
  const tx = parsePsbtBase64(m.psbt, 'psbt');
  const input = readMusigInput(tx, 0);
  checkUserSigned(input, ctx.gateway.publicKey, c.userPubkey);
  checkOpen(ctx);
  return { c, tx, input };
}

function checkStateNumber(r: GatewayChannel, state: number): void {
  if (state !== r.next_state) throw new StateConflictError('E_STALE_STATE', `state ${state} is not the next state ${r.next_state} of contract ${r.contract_id}`);
}

async function complete(ctx: GatewayContext, { c, tx, input }: DeviceRequest, state: number, settled: bigint, htlc?: InFlightJson) {
  checkState(tx, c, settled, ctx.terms.min_fee_rate, htlc ? stateHtlc(c, htlc) : undefined);
  return signedKeyPathTx(tx, await mintComplete(tx, input, ctx.gateway, c.userPubkey, ctx.nonces, stateNonceContext(c.id, state)));
}

/**
 * device/pay: check, co-sign and store the state carrying the HTLC; emit the Lightning job.
 * `o.decided` (a gateway that pays through its own node): a retry of a payment already decided
 * gets its gateway/settle or gateway/fail (decidedAnswer) — after the device's signature.
 */
export async function pay(ctx: GatewayContext, r: GatewayChannel, m: PayMessage, now: number, o: { decided?: boolean } = {}): Promise<GatewayStep> {
  const request = checkDeviceRequest(ctx, r, m);
  const decided = o.decided ? decidedAnswer(r, m, ctx.gateway) : undefined;
  if (decided) return { record: r, message: decided };
  // A retried device/pay (its gateway/job was lost) gets the same job again, nothing new signed.
  if (r.in_flight?.job && r.in_flight.state === m.state && r.latest?.state === m.state && request.tx.id === r.latest.txid) {
    // Never once failed: a job printed again would have the invoice paid again, and a
    // failed payment's preimage settles nothing (the device's fail state drops the HTLC).
    if (r.in_flight.failed) refuse('E_PAYMENT_FAILED', `payment ${r.in_flight.payment_hash} was failed: its job is not given again (the device signs the fail state next)`);
    return { record: r, message: r.in_flight.job };
  }
  if (r.in_flight) refuse('E_HTLC_IN_FLIGHT', `payment ${r.in_flight.payment_hash} is still in flight on this channel`);
  checkStateNumber(r, m.state);
  if (BigInt(m.settled_sat) !== BigInt(r.settled_sat)) refuse('E_BAD_PAYOUT', `the state pays the gateway ${m.settled_sat} sat settled, the gateway's record is ${r.settled_sat} sat`);
  const invoice = decodeBolt11(m.invoice);
  const hash = toHex(invoice.paymentHash);
  if (m.htlc.payment_hash !== hash) refuse('E_HASH_MISMATCH', `the HTLC's payment hash ${m.htlc.payment_hash} is not the invoice's ${hash}`);
  if (invoice.amountMsat === undefined) refuse('E_INVOICE_NO_AMOUNT', 'the invoice has no amount');
  if (invoice.timestamp + invoice.expiry <= now) refuse('E_INVOICE_EXPIRED', `the invoice expired at ${invoice.timestamp + invoice.expiry}`);
  const owed = msatToSatCeil(invoice.amountMsat + gatewayFeeMsat(ctx.terms, invoice.amountMsat));
  if (BigInt(m.htlc.amount_sat) < owed) refuse('E_HTLC_UNDERPAYS', `the HTLC carries ${m.htlc.amount_sat} sat, less than the invoice plus the gateway's fee (${owed} sat)`);
  // An HTLC too small to claim on chain at a fee the gateway expects would be the gateway's
  // loss should the device never sign the settle (with nothing settled yet, the claim is its
  // only way out): its terms may set a floor.
  if (ctx.terms.min_htlc_sat !== undefined && m.htlc.amount_sat < ctx.terms.min_htlc_sat) {
    refuse('E_HTLC_TOO_SMALL', `the HTLC carries ${m.htlc.amount_sat} sat, below the gateway's minimum of ${ctx.terms.min_htlc_sat} sat (its terms' min_htlc_sat)`);
  }
  const tip = (await ctx.chain.tip()).height;
  const soonest = tip + invoice.minFinalCltvExpiryDelta + ctx.terms.cltv_budget_blocks + ctx.terms.claim_margin_blocks;
  if (m.htlc.expiry_height < soonest) {
    refuse('E_HTLC_EXPIRY_TOO_SOON', `the HTLC expires at ${m.htlc.expiry_height}; paying on Lightning and claiming on chain needs it at ${soonest} or later`);
  }
  if (m.htlc.expiry_height + ctx.terms.claim_margin_blocks > r.contract.expiry_height) {
    refuse('E_HTLC_EXPIRY_TOO_LATE', `the HTLC expires at ${m.htlc.expiry_height}, within ${ctx.terms.claim_margin_blocks} blocks of the channel's expiry ${r.contract.expiry_height}`);
  }
  const htlc: InFlightJson = {
    state: m.state, payment_hash: hash, amount_sat: m.htlc.amount_sat, fee_sat: m.htlc.amount_sat - Number(msatToSatCeil(invoice.amountMsat)),
    invoice_amount_msat: invoice.amountMsat.toString(), expiry_height: m.htlc.expiry_height, invoice: m.invoice,
  };
  // Chain facts last before the nonce: funding confirmed, the contract not within the safety margin.
  await checkChain(ctx, request.c);
  const signed = await complete(ctx, request, m.state, BigInt(r.settled_sat), htlc);
  const message = {
    type: 'gateway/job', version: 1, network: r.network, contract_id: r.contract_id, state: m.state,
    invoice: m.invoice, payment_hash: hash, amount_msat: htlc.invoice_amount_msat,
    max_fee_msat: (BigInt(htlc.amount_sat) * 1000n - invoice.amountMsat).toString(),
    htlc_expiry_height: htlc.expiry_height, state_txid: signed.txid,
  };
  const record: GatewayChannel = {
    ...r, next_state: m.state + 1, in_flight: { ...htlc, job: message },
    latest: { state: m.state, settled_sat: r.settled_sat, txid: signed.txid, hex: signed.hex, htlc: { payment_hash: hash, amount_sat: htlc.amount_sat, expiry_height: htlc.expiry_height } },
  };
  return { record, message };
}

/** The Lightning node paid: present the preimage (it must hash to the payment in flight). */
export async function settle(ctx: GatewayContext, r: GatewayChannel, preimage: Uint8Array): Promise<GatewayStep> {
  checkOpen(ctx);
  const f = r.in_flight;
  if (!f) refuse('E_NO_PAYMENT_IN_FLIGHT', 'no payment is in flight on this channel');
  if (f.failed) refuse('E_PAYMENT_FAILED', `payment ${f.payment_hash} was failed; it cannot be settled`);
  if (!preimageMatches(preimage, hexBytes(f.payment_hash))) refuse('E_WRONG_PREIMAGE', `the preimage does not hash to the payment in flight ${f.payment_hash}`);
  const c = termsFromJson(r.contract, r.network);
  const next_nonce = await issueStateNonce(ctx.nonces, ctx.random, ctx.gateway, c, r.next_state);
  const message = signedByGateway(ctx, { type: 'gateway/settle', version: 1, network: r.network, contract_id: r.contract_id, payment_hash: f.payment_hash, preimage: toHex(preimage), next_nonce });
  return { record: { ...r, in_flight: { ...f, preimage: toHex(preimage), answer: message } }, message };
}

/** The Lightning payment failed (or the gateway gives up): the device gets the amount back. */
export async function fail(ctx: GatewayContext, r: GatewayChannel, paymentHash: string): Promise<GatewayStep> {
  checkOpen(ctx);
  const f = r.in_flight;
  if (!f) refuse('E_NO_PAYMENT_IN_FLIGHT', 'no payment is in flight on this channel');
  if (f.payment_hash !== paymentHash) refuse('E_WRONG_PAYMENT', `payment ${paymentHash} is not the one in flight (${f.payment_hash})`);
  if (f.preimage) refuse('E_PAYMENT_SETTLED', `payment ${f.payment_hash} has its preimage: settle it`);
  const c = termsFromJson(r.contract, r.network);
  const next_nonce = await issueStateNonce(ctx.nonces, ctx.random, ctx.gateway, c, r.next_state);
  const message = signedByGateway(ctx, { type: 'gateway/fail', version: 1, network: r.network, contract_id: r.contract_id, payment_hash: f.payment_hash, next_nonce });
  return { record: { ...r, in_flight: { ...f, failed: true, answer: message } }, message };
}

/**
 * The gateway/settle or gateway/fail already given for the payment a retried device/pay carries
 * (same contract, state and transaction): a service answers the retry with it, unchanged,
 * instead of asking the Lightning node again or issuing another nonce. Undefined otherwise.
 * A lookup only: pay (o.decided) asks it once the request is the device's.
 */
export function decidedAnswer(r: GatewayChannel, m: { contract_id: string; state: number; psbt: string }, key: KeyPair): Record<string, unknown> | undefined {
  const f = r.in_flight;
  if (!f?.answer || m.contract_id !== r.contract_id || f.state !== m.state || r.latest?.state !== m.state) return undefined;
  return parsePsbtBase64(m.psbt, 'psbt').id === r.latest.txid ? signedAgain(f.answer, key, 'gateway') : undefined;
}

/** The gateway/settle or gateway/fail given for `paymentHash`, while in flight or as the last payment completed; undefined until decided. */
export function paymentAnswer(r: GatewayChannel, paymentHash: string, key: KeyPair): Record<string, unknown> | undefined {
  const answer = r.in_flight?.payment_hash === paymentHash ? r.in_flight.answer : r.decided?.payment_hash === paymentHash ? r.decided.answer : undefined;
  return answer && signedAgain(answer, key, 'gateway');
}

type CompleteMessage = { type: string; contract_id: string; state: number; payment_hash: string; settled_sat: number; psbt: string };

/** device/settle or device/fail: co-sign and store the state without the HTLC; receipt with the next nonce. */
export async function completeStep(ctx: GatewayContext, r: GatewayChannel, m: CompleteMessage): Promise<GatewayStep> {
  const request = checkDeviceRequest(ctx, r, m);
  if (r.receipt && r.latest && m.state === r.latest.state && m.settled_sat === r.latest.settled_sat && !r.in_flight) return { record: r, message: signedAgain(r.receipt, ctx.gateway, 'gateway') };
  const f = r.in_flight;
  if (!f) refuse('E_NO_PAYMENT_IN_FLIGHT', 'no payment is in flight on this channel');
  if (m.payment_hash !== f.payment_hash) refuse('E_WRONG_PAYMENT', `the message is for payment ${m.payment_hash}, the one in flight is ${f.payment_hash}`);
  checkStateNumber(r, m.state);
  let settled: bigint;
  if (m.type === 'device/settle') {
    if (!f.preimage) refuse('E_NO_PREIMAGE', 'the gateway has no preimage for this payment: it cannot take the HTLC amount');
    settled = BigInt(r.settled_sat) + BigInt(f.amount_sat);
  } else if (m.type === 'device/fail') {
    if (!f.failed) refuse('E_PAYMENT_NOT_FAILED', 'the gateway has not failed this payment (gateway fail first)');
    settled = BigInt(r.settled_sat);
  } else {
    throw new MalformedInputError('E_WRONG_MESSAGE', `expected device/settle or device/fail, got ${m.type}`);
  }
  if (BigInt(m.settled_sat) !== settled) refuse('E_BAD_PAYOUT', `the state says settled ${m.settled_sat} sat, the gateway expects ${settled} sat`);
  const signed = await complete(ctx, request, m.state, settled);
  const { c } = request;
  const message = signedByGateway(ctx, {
    type: 'gateway/receipt', version: 1, network: r.network, contract_id: r.contract_id, state: m.state, settled_sat: Number(settled), txid: signed.txid,
    next_nonce: await issueStateNonce(ctx.nonces, ctx.random, ctx.gateway, c, m.state + 1),
  });
  const { in_flight: _f, decided: _d, ...rest } = r;
  const decided = f.answer ? { decided: { payment_hash: f.payment_hash, answer: f.answer, amount_sat: f.amount_sat, fee_sat: f.fee_sat, invoice_amount_msat: f.invoice_amount_msat, state: f.state } } : {};
  return { record: { ...rest, ...decided, next_state: m.state + 1, settled_sat: Number(settled), latest: { state: m.state, settled_sat: Number(settled), txid: signed.txid, hex: signed.hex }, receipt: message }, message };
}
