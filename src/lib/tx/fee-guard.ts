/**
 * The fee guard: a command that builds a transaction refuses, before it prints, signs for
 * or broadcasts anything, a fee that is almost certainly a mistake — as bitcoin-cli's
 * sendrawtransaction refuses above `maxfeerate` (default 0.10 BTC/kvB = 10,000 sat/vB).
 * Two limits, both named in the refusal:
 *
 *   --max-fee-rate R    sat/vB of what is checked (a transaction, or a CPFP package as
 *                       a whole); default 10,000 (Core's maxfeerate)
 *   --max-fee-share S   the fee the payer pays as a share of the amount it moves
 *                       (0 < S ≤ 1); default 0.5: a fee above half the amount refused
 *
 * Refusal: E_FEE_TOO_HIGH, exit 4 (a safety rule). Raising the limit is the way to go
 * ahead on purpose. Pure: no I/O, amounts in sat as bigint.
 */
import { RefusedError, UsageError } from '../errors.ts';
import { feeFor } from './policy.ts';

/** Bitcoin Core's default maxfeerate, 0.10 BTC/kvB, in sat/vB. */
export const CORE_MAX_FEE_RATE = 10_000;
/** Default cap on the fee as a share of the amount the payer moves. */
export const DEFAULT_MAX_FEE_SHARE = 0.5;

export type FeeLimits = { maxFeeRate: number; maxFeeShare: number };

export const DEFAULT_FEE_LIMITS: FeeLimits = { maxFeeRate: CORE_MAX_FEE_RATE, maxFeeShare: DEFAULT_MAX_FEE_SHARE };

/** The limits from the flags' text (undefined: the default); a bad value is E_USAGE, exit 2. */
export function parseFeeLimits(flags: { maxFeeRate?: string | undefined; maxFeeShare?: string | undefined }): FeeLimits {
  const rate = flags.maxFeeRate === undefined ? CORE_MAX_FEE_RATE : Number(flags.maxFeeRate);
  if (!Number.isFinite(rate) || rate <= 0) throw new UsageError('E_USAGE', `--max-fee-rate must be a positive number of sat/vB, got ${flags.maxFeeRate}`);
  const share = flags.maxFeeShare === undefined ? DEFAULT_MAX_FEE_SHARE : Number(flags.maxFeeShare);
  if (!Number.isFinite(share) || share <= 0 || share > 1) throw new UsageError('E_USAGE', `--max-fee-share must be a number above 0 and at most 1, got ${flags.maxFeeShare}`);
  return { maxFeeRate: rate, maxFeeShare: share };
}

function limitsText(limits: FeeLimits): string {
  return `--max-fee-rate ${limits.maxFeeRate} sat/vB, --max-fee-share ${limits.maxFeeShare}`;
}

/** A requested fee rate above --max-fee-rate is refused before anything is built. */
export function checkFeeRate(feeRate: number, limits: FeeLimits = DEFAULT_FEE_LIMITS, flag = '--fee-rate'): void {
  if (feeRate > limits.maxFeeRate) {
    throw new RefusedError('E_FEE_TOO_HIGH', `${flag} ${feeRate} sat/vB is above the limit (${limitsText(limits)}); raise --max-fee-rate to pay it on purpose`, {
      fee_rate: feeRate,
      max_fee_rate: limits.maxFeeRate,
    });
  }
}

export type FeeToCheck = {
  /** What pays it, for the message ("the exit package"). */
  what: string;
  /** The fee of everything checked, sat. */
  feeSat: bigint;
  /** Its virtual size, vB. */
  vsize: number;
  /** The amount the payer moves (what the fee comes out of), sat. */
  amountSat: bigint;
  /** The part of feeSat the payer pays from amountSat (default all of it). */
  payerFeeSat?: bigint;
};

/** Refuse a built fee above either limit (E_FEE_TOO_HIGH, exit 4), naming both. */
export function checkFee(fee: FeeToCheck, limits: FeeLimits = DEFAULT_FEE_LIMITS): void {
  const rate = Number(fee.feeSat) / fee.vsize;
  const payer = fee.payerFeeSat ?? fee.feeSat;
  const share = fee.amountSat > 0n ? Number(payer) / Number(fee.amountSat) : Infinity;
  const over = rate > limits.maxFeeRate ? 'rate' : share > limits.maxFeeShare ? 'share' : undefined;
  if (!over) return;
  throw new RefusedError(
    'E_FEE_TOO_HIGH',
    `${fee.what} pays ${fee.feeSat} sat in fees (${rate.toFixed(2)} sat/vB; ${payer} sat = ${(share * 100).toFixed(1)}% of the ${fee.amountSat} sat it moves), ` +
      `above the limit (${limitsText(limits)}); raise ${over === 'rate' ? '--max-fee-rate' : '--max-fee-share'} to pay it on purpose`,
    { fee_sat: Number(fee.feeSat), fee_rate: rate, share, max_fee_rate: limits.maxFeeRate, max_fee_share: limits.maxFeeShare },
  );
}

/**
 * The highest rate, sat/kvB, at which a transaction of `vsize` vB that moves `amountSat` passes
 * the guard: its fee (the rate on its size, rounded up to a sat, as the builders take it) within
 * --max-fee-rate × vsize and within --max-fee-share of the amount. A watcher bids at most this —
 * short of its schedule it says `shortfall: 'budget'` — rather than a bid refused every round.
 */
export function guardedRateCap(vsize: number, amountSat: bigint, limits: FeeLimits): number {
  const maxFee = Math.min(Math.floor(limits.maxFeeRate * vsize), Math.floor(limits.maxFeeShare * Number(amountSat)));
  let cap = Math.min(Math.floor(limits.maxFeeRate * 1000), Math.floor((maxFee * 1000) / vsize));
  while (cap > 0 && Number(feeFor(vsize, cap / 1000)) > maxFee) cap--;
  return Math.max(0, cap);
}
