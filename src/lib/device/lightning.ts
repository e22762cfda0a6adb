/**
 * The gateway pays a stored job (`gateway/job`, gateway.ts `pay`) through its Core
 * Lightning node and learns the outcome: paid (with the preimage), failed for good, or
 * still pending. The node is reached through the LightningRpc port (lib/lightning/cln-rpc.ts
 * over the node's `lightning-rpc` socket; a fake in unit tests); nothing here writes state:
 * the command turns the outcome into the `settle` or `fail` step, each committed before its
 * message is printed, or into E_PAYMENT_PENDING (nothing written).
 *
 * Rules (each one tested, test/lib/device/lightning.test.ts):
 * - Never pay a payment hash twice: the node is asked first (`listpays` by payment hash);
 *   a hash it knows is never paid again: a complete payment gives its preimage, a pending
 *   one E_PAYMENT_PENDING, a failed one the fail (once the `pay` that made it can no
 *   longer be retrying). Core Lightning itself refuses a second `pay` while one is in
 *   flight and answers a paid hash with the old preimage, so two gateways racing cannot
 *   pay twice either.
 * - The gateway never pays more routing fee than the device pays it: `maxfee` is the job's
 *   `max_fee_msat` = HTLC amount − invoice amount, i.e. exactly the gateway's fee (its
 *   terms' fee, rounded up to the sat). A route that costs more fails the payment.
 * - The Lightning HTLC resolves before the gateway must claim on chain: `maxdelay` =
 *   HTLC expiry − claim margin − the node's block height, so even a payee that holds the
 *   HTLC to its last block leaves the gateway the claim margin to claim the device's HTLC
 *   with the preimage (or, failed, to fail it off chain). Too late to route at all
 *   (below the invoice's final CLTV delta): failed without paying.
 * - Pending is not failed: an answer that does not settle the matter (no answer in time,
 *   an HTLC still out, a `pay` that may still retry) is pending, and only a later look at
 *   the node decides.
 * - The preimage must hash to the job's payment hash, else the node's answer is refused
 *   (E_LIGHTNING_PROTOCOL) and nothing is settled.
 * - A completed payment settles a job only if this gateway paid it for that job: the job is
 *   marked `attempted` (committed) before `pay` is called, and a hash the node shows complete
 *   for a job never attempted was paid for something else — another device paying the same
 *   (reused) invoice, or by hand — so the job fails and the device gets its amount back,
 *   rather than the gateway keeping an HTLC it paid nothing for. (Core Lightning's xpay takes
 *   no label, so the node cannot say whose payment it was.)
 */
import { OffchainError, RefusedError } from '../errors.ts';
import { decodeBolt11 } from '../invoice/bolt11.ts';
import { ClnRpcError, ClnTimeoutError, type LightningRpc } from '../lightning/cln-rpc.ts';
import type { Network } from '../network.ts';
import { hexBytes, preimageMatches } from './channel.ts';

/** The fields of a `gateway/job` the payment needs. */
export type LightningJob = {
  network: Network;
  invoice: string;
  payment_hash: string;
  amount_msat: string;
  max_fee_msat: string;
  htlc_expiry_height: number;
};

export type PaymentOutcome =
  | { status: 'paid'; preimage: Uint8Array; fee_msat: bigint; how: 'paid now' | 'paid before' }
  | { status: 'failed'; reason: string }
  | { status: 'pending'; reason: string };

export type PayOptions = {
  /** The gateway's claim margin (its terms): blocks it keeps between the Lightning HTLC's expiry and the device's. */
  claimMarginBlocks: number;
  /** How long `pay` may keep trying routes (its `retry_for`), seconds; the answer is awaited a little longer. */
  retryForSeconds: number;
  /** Now, unix seconds (a failed `pay` younger than retry_for may still be retrying). */
  now: number;
  /**
   * Called once, right before `pay` is sent: the caller commits the job's `attempted` mark
   * (so a crash after `pay` still knows, on the next run, that the payment was this job's).
   */
  beforePay?: () => Promise<void>;
  /** The job was marked attempted by an earlier run: a payment the node completed is this job's. */
  attempted?: boolean;
  /**
   * After `pay` answered with an error, how long to keep asking while the node still shows the
   * failed-back HTLC as out (it updates its record a moment after pay answers), ms; default 3000.
   */
  settleWaitMs?: number;
};

/** Core Lightning's names of our networks (getinfo.network). */
const CLN_NETWORK: Record<Network, string> = { mainnet: 'bitcoin', testnet: 'testnet', testnet4: 'testnet4', signet: 'signet', regtest: 'regtest' };

/** E_NETWORK_MISMATCH (exit 4) unless the node's getinfo names `network` (Core Lightning's word for it); `what` is on `network`. */
export function checkNodeNetwork(info: { network?: unknown }, network: Network, what = 'the channel'): void {
  if (info.network !== CLN_NETWORK[network]) {
    throw new RefusedError('E_NETWORK_MISMATCH', `the Lightning node is on ${String(info.network)}, ${what} on ${network} (Core Lightning calls it ${CLN_NETWORK[network]})`);
  }
}

/** Extra seconds beyond retry_for before a failed payment counts as final, and before the answer is given up. */
const GRACE_SECONDS = 10;

type Pay = { status: string; preimage?: string; payment_preimage?: string; created_at?: number; amount_msat?: number | string; amount_sent_msat?: number | string };

/**
 * What the node knows of a payment hash: paid, pending, failed, or nothing. All attempts
 * failed counts as failed only once no `pay` can still be retrying: `opts` undefined when
 * this process's own `pay` has returned, else a pay started before (by an earlier run) may
 * retry until its first attempt's time + retry_for (+ grace) — with this run's retry_for:
 * re-run with the same --pay-timeout.
 */
export async function paymentStatus(node: LightningRpc, job: LightningJob, opts?: Pick<PayOptions, 'retryForSeconds' | 'now'>): Promise<PaymentOutcome | undefined> {
  const { pays } = await node.call<{ pays: Pay[] }>('listpays', { payment_hash: job.payment_hash });
  if (!Array.isArray(pays)) throw new OffchainError('E_LIGHTNING_PROTOCOL', 'Core Lightning listpays: no "pays" list in the answer');
  if (pays.length === 0) return undefined;
  const complete = pays.find((p) => p.status === 'complete');
  if (complete) return paid(job, complete, 'paid before');
  if (pays.some((p) => p.status === 'pending')) return { status: 'pending', reason: 'the node has an HTLC out for this payment' };
  // A status this code does not know is not taken for a failure.
  const odd = pays.find((p) => p.status !== 'failed');
  if (odd) return { status: 'pending', reason: `the node reports the payment as "${String(odd.status)}"` };
  // The one pay that made these attempts (a known hash is never paid again) started before its
  // first attempt, and starts no new one retry_for after its start.
  const first = Math.min(...pays.map((p) => Number(p.created_at ?? Number.MAX_SAFE_INTEGER)));
  if (opts && opts.now < first + opts.retryForSeconds + GRACE_SECONDS) {
    return { status: 'pending', reason: `every attempt so far failed, but the pay that began at ${first} may retry until ${first + opts.retryForSeconds + GRACE_SECONDS}` };
  }
  return { status: 'failed', reason: `every attempt the node made failed (${pays.length})` };
}

function paid(job: LightningJob, p: Pay, how: 'paid now' | 'paid before'): PaymentOutcome {
  const hex = p.payment_preimage ?? p.preimage;
  if (typeof hex !== 'string' || !/^[0-9a-f]{64}$/i.test(hex)) throw new OffchainError('E_LIGHTNING_PROTOCOL', `Core Lightning reports payment ${job.payment_hash} complete without a preimage`);
  const preimage = hexBytes(hex.toLowerCase());
  if (!preimageMatches(preimage, hexBytes(job.payment_hash))) throw new OffchainError('E_LIGHTNING_PROTOCOL', `Core Lightning's preimage for payment ${job.payment_hash} does not hash to it: nothing settled`);
  // The routing fee, for the operator's log only (the node kept it within maxfee).
  const msat = (v: unknown) => (typeof v === 'number' && Number.isSafeInteger(v) ? BigInt(v) : typeof v === 'string' && /^[0-9]{1,20}$/.test(v) ? BigInt(v) : undefined);
  const sent = msat(p.amount_sent_msat);
  const amount = msat(p.amount_msat) ?? BigInt(job.amount_msat);
  return { status: 'paid', preimage, fee_msat: sent === undefined ? 0n : sent - amount, how };
}

/** The `pay` parameters for a job: the invoice, maxfee (the gateway's fee), maxdelay (its CLTV room), retry_for. */
export function payParams(job: LightningJob, blockheight: number, opts: Pick<PayOptions, 'claimMarginBlocks' | 'retryForSeconds'>): Record<string, unknown> | { tooLate: string } {
  const maxdelay = job.htlc_expiry_height - opts.claimMarginBlocks - blockheight;
  const minFinal = decodeBolt11(job.invoice).minFinalCltvExpiryDelta;
  if (maxdelay < minFinal) {
    return { tooLate: `the device's HTLC expires at ${job.htlc_expiry_height}: with the claim margin of ${opts.claimMarginBlocks} blocks, a Lightning HTLC sent at height ${blockheight} may be locked for ${maxdelay} blocks, less than the invoice's final CLTV delta ${minFinal}` };
  }
  const maxfee = BigInt(job.max_fee_msat);
  return { bolt11: job.invoice, maxfee: maxfee <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(maxfee) : `${maxfee}msat`, maxdelay, retry_for: opts.retryForSeconds };
}

/**
 * Pay `job` unless the node already knows its payment hash; the outcome. Throws only for
 * an unreachable or broken node (nothing decided) or a network mismatch (refused).
 */
export async function payJob(node: LightningRpc, job: LightningJob, opts: PayOptions): Promise<PaymentOutcome> {
  const info = await node.call<{ network?: string; blockheight?: number }>('getinfo', {});
  checkNodeNetwork(info, job.network);
  if (typeof info.blockheight !== 'number') throw new OffchainError('E_LIGHTNING_PROTOCOL', 'Core Lightning getinfo: no blockheight');
  const known = await paymentStatus(node, job, opts);
  if (known?.status === 'paid' && !opts.attempted) {
    return { status: 'failed', reason: `the node paid ${job.payment_hash} before this gateway tried to pay this job: that payment was for something else (the same invoice paid for another device, or by hand), so this job is not settled with it` };
  }
  if (known) return known;
  const params = payParams(job, info.blockheight, opts);
  if ('tooLate' in params) return { status: 'failed', reason: `not paid: ${params.tooLate}` };
  await opts.beforePay?.();
  try {
    const r = await node.call<Pay>('pay', params, (opts.retryForSeconds + GRACE_SECONDS) * 1000);
    if (r.status === 'complete') return paid(job, r, 'paid now');
  } catch (e) {
    if (!(e instanceof ClnRpcError) && !(e instanceof ClnTimeoutError)) throw e;
    // The node's word on the payment hash decides, not the error: an HTLC may still be out.
    let after = await paymentStatus(node, job);
    const until = Date.now() + (opts.settleWaitMs ?? 3000);
    while (e instanceof ClnRpcError && after?.status === 'pending' && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 250));
      after = await paymentStatus(node, job);
    }
    if (after?.status === 'paid') return after;
    if (e instanceof ClnTimeoutError) return { status: 'pending', reason: `no answer from pay within ${opts.retryForSeconds + GRACE_SECONDS} s${after ? `: ${after.reason}` : ''}` };
    if (after?.status === 'pending') return after;
    // pay has returned, so it no longer retries: no HTLC out, nothing complete.
    return { status: 'failed', reason: e.message };
  }
  // pay answered without an error but not complete (e.g. "pending"): ask again later.
  return (await paymentStatus(node, job)) ?? { status: 'pending', reason: 'pay answered without completing' };
}

/** The gateway's stored payment in flight (channel.ts GatewayChannel.in_flight), as far as paying it goes. */
export type InFlightPayment = { payment_hash: string; preimage?: string; failed?: true; job?: Record<string, unknown>; attempted?: true };

/**
 * The outcome for the payment in flight: already decided in the gateway's record (it holds the
 * preimage, or failed it) without asking the node; else what the node knows or does (payJob).
 */
export async function payInFlight(node: LightningRpc, f: InFlightPayment, opts: PayOptions): Promise<PaymentOutcome> {
  if (f.preimage) return { status: 'paid', preimage: hexBytes(f.preimage), fee_msat: 0n, how: 'paid before' };
  if (f.failed) return { status: 'failed', reason: `payment ${f.payment_hash} was failed before` };
  if (!f.job) throw new OffchainError('E_NO_JOB', `payment ${f.payment_hash} has no stored job to pay`);
  return payJob(node, f.job as unknown as LightningJob, { ...opts, attempted: opts.attempted ?? f.attempted === true });
}
