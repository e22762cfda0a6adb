/**
 * The device's spending policy (a JSON file the device's owner writes) and its checks,
 * run on a verified BOLT 11 invoice before the device signs anything. Each refusal has
 * its own code (exit 4, nothing written):
 *
 *   E_INVOICE_WRONG_NETWORK  the invoice's currency is not the channel's network
 *   E_INVOICE_NO_AMOUNT      an invoice without an amount (the device never picks one)
 *   E_INVOICE_EXPIRED        timestamp + expiry is not after now
 *   E_PAYEE_NOT_ALLOWED      the payee is not in allowed_payees (unless "any")
 *   E_OVER_PAYMENT_LIMIT     amount over max_payment_msat
 *   E_OVER_DAILY_LIMIT       today's spending + this amount over max_daily_msat
 *   E_GATEWAY_FEE_TOO_HIGH   the gateway's fee base or ppm over the policy's maximum
 *   E_CLTV_DOES_NOT_FIT      min_final_cltv_expiry_delta + the gateway's Lightning budget +
 *                            the claim margin does not fit in the HTLC's expiry (htlc_expiry_blocks)
 *   E_CHANNEL_EXPIRES_FIRST  the HTLC's expiry plus the claim margin passes the channel's expiry
 *   E_HTLC_IN_FLIGHT         a payment is already in flight (one at a time)
 */
import { Type, type Static } from '@sinclair/typebox';
import { toHex } from '../bytes.ts';
import { RefusedError } from '../errors.ts';
import { CURRENCY_NETWORKS, type Bolt11Invoice } from '../invoice/bolt11.ts';
import type { Network } from '../network.ts';

export const DevicePolicySchema = Type.Object(
  {
    max_payment_msat: Type.Integer({ minimum: 1, description: 'The most one payment may send (before the gateway fee).' }),
    max_daily_msat: Type.Integer({ minimum: 1, description: 'The most all payments of one UTC day may send.' }),
    max_fee_base_msat: Type.Integer({ minimum: 0, description: 'The highest gateway base fee the device accepts.' }),
    max_fee_ppm: Type.Integer({ minimum: 0, maximum: 1_000_000, description: 'The highest gateway proportional fee (millionths) the device accepts.' }),
    allowed_payees: Type.Union([Type.Literal('any'), Type.Array(Type.String({ pattern: '^0[23][0-9a-f]{64}$' }))], { description: 'Payee node ids (33-byte hex) the device may pay, or "any".' }),
    htlc_expiry_blocks: Type.Integer({ minimum: 1, maximum: 10_000, description: 'The HTLC refund height, in blocks from the tip.' }),
    claim_margin_blocks: Type.Integer({ minimum: 1, maximum: 1000, description: 'Blocks left between the HTLC expiry and the channel expiry.' }),
  },
  { additionalProperties: false },
);
export type DevicePolicy = Static<typeof DevicePolicySchema>;

/** What the gateway charges and how many blocks its Lightning route may use (from its offer). */
export type GatewayTerms = { fee_base_msat: number; fee_ppm: number; cltv_budget_blocks: number };

function refuse(code: string, message: string): never {
  throw new RefusedError(code, message);
}

/** The gateway's fee on `amountMsat`, rounded up to the msat. */
export function gatewayFeeMsat(t: Pick<GatewayTerms, 'fee_base_msat' | 'fee_ppm'>, amountMsat: bigint): bigint {
  return BigInt(t.fee_base_msat) + (amountMsat * BigInt(t.fee_ppm) + 999_999n) / 1_000_000n;
}

/** msat rounded up to whole sat (an HTLC output carries whole sat; the device never underpays). */
export function msatToSatCeil(msat: bigint): bigint {
  return (msat + 999n) / 1000n;
}

export type PaymentCheck = {
  invoice: Bolt11Invoice;
  network: Network;
  policy: DevicePolicy;
  gateway: GatewayTerms;
  /** Unix seconds. */
  now: number;
  tip: number;
  channelExpiry: number;
  /** Spent today before this payment (msat). */
  spentTodayMsat: bigint;
  inFlight: boolean;
};

/** The HTLC the policy allows for this invoice: amount (invoice + fee, in sat) and expiry height. */
export function checkPayment(p: PaymentCheck): { amountMsat: bigint; feeMsat: bigint; htlcSat: bigint; expiryHeight: number } {
  const inv = p.invoice;
  if (p.inFlight) refuse('E_HTLC_IN_FLIGHT', 'a payment is already in flight (one HTLC at a time): finish it first — "offchain device pay --resend" sends it again as recorded (with --peer URL for a gateway service), or settle or fail it by hand');
  if (!CURRENCY_NETWORKS[inv.currency].includes(p.network)) refuse('E_INVOICE_WRONG_NETWORK', `the invoice is for ${inv.currency}, the channel is on ${p.network}`);
  if (inv.amountMsat === undefined) refuse('E_INVOICE_NO_AMOUNT', 'the invoice has no amount; the device pays only invoices that name one');
  if (inv.timestamp + inv.expiry <= p.now) refuse('E_INVOICE_EXPIRED', `the invoice expired at ${inv.timestamp + inv.expiry} (now ${p.now})`);
  const payee = toHex(inv.payee);
  if (p.policy.allowed_payees !== 'any' && !p.policy.allowed_payees.includes(payee)) refuse('E_PAYEE_NOT_ALLOWED', `payee ${payee} is not in the policy's allowed_payees`);
  const amountMsat = inv.amountMsat;
  if (amountMsat > BigInt(p.policy.max_payment_msat)) refuse('E_OVER_PAYMENT_LIMIT', `the invoice asks ${amountMsat} msat, over the policy's max_payment_msat ${p.policy.max_payment_msat}`);
  if (p.spentTodayMsat + amountMsat > BigInt(p.policy.max_daily_msat)) {
    refuse('E_OVER_DAILY_LIMIT', `${p.spentTodayMsat} msat spent today plus ${amountMsat} msat is over the policy's max_daily_msat ${p.policy.max_daily_msat}`);
  }
  if (p.gateway.fee_base_msat > p.policy.max_fee_base_msat || p.gateway.fee_ppm > p.policy.max_fee_ppm) {
    refuse('E_GATEWAY_FEE_TOO_HIGH', `the gateway charges ${p.gateway.fee_base_msat} msat + ${p.gateway.fee_ppm} ppm, over the policy's ${p.policy.max_fee_base_msat} msat + ${p.policy.max_fee_ppm} ppm`);
  }
  // The gateway's rule (gateway.ts): the HTLC must leave it the invoice's final delta, its
  // Lightning budget and the claim margin to get the state and its claim mined.
  const needed = inv.minFinalCltvExpiryDelta + p.gateway.cltv_budget_blocks + p.policy.claim_margin_blocks;
  if (needed > p.policy.htlc_expiry_blocks) {
    refuse('E_CLTV_DOES_NOT_FIT', `the invoice's min_final_cltv_expiry_delta ${inv.minFinalCltvExpiryDelta} plus the gateway's ${p.gateway.cltv_budget_blocks}-block budget plus the ${p.policy.claim_margin_blocks}-block claim margin does not fit in the HTLC's ${p.policy.htlc_expiry_blocks} blocks`);
  }
  const expiryHeight = p.tip + p.policy.htlc_expiry_blocks;
  if (expiryHeight + p.policy.claim_margin_blocks > p.channelExpiry) {
    refuse('E_CHANNEL_EXPIRES_FIRST', `the HTLC would expire at ${expiryHeight}, within ${p.policy.claim_margin_blocks} blocks of the channel's expiry ${p.channelExpiry}: close or roll the channel over`);
  }
  const feeMsat = gatewayFeeMsat(p.gateway, amountMsat);
  return { amountMsat, feeMsat, htlcSat: msatToSatCeil(amountMsat + feeMsat), expiryHeight };
}
