/**
 * The fee guard (src/lib/tx/fee-guard.ts): refuse above --max-fee-rate (default Core's
 * maxfeerate, 0.10 BTC/kvB = 10,000 sat/vB) and above --max-fee-share of the amount the
 * payer moves (default 0.5); E_FEE_TOO_HIGH, exit 4, naming both limits. Expected values
 * are worked by hand in the comments.
 */
import { describe, expect, it } from 'vitest';
import { refusal } from '../../setup/refusal.ts';
import { CORE_MAX_FEE_RATE, checkFee, checkFeeRate, parseFeeLimits } from '../../../src/lib/tx/fee-guard.ts';

describe('the fee guard', () => {
  it('the default rate limit is Core\'s maxfeerate: 0.10 BTC per 1000 vB = 10,000,000 sat / 1000 vB = 10,000 sat/vB', () => {
    expect(CORE_MAX_FEE_RATE).toBe(0.1 * 100_000_000 / 1000);
    expect(parseFeeLimits({})).toEqual({ maxFeeRate: 10_000, maxFeeShare: 0.5 });
  });

  it('a requested rate at the limit passes; above it is refused naming both limits', () => {
    checkFeeRate(10_000);
    const e = refusal(() => checkFeeRate(10_001), 'E_FEE_TOO_HIGH', 4);
    expect(e.message).toContain('--max-fee-rate 10000 sat/vB, --max-fee-share 0.5');
  });

  it('the issue\'s example: 41,100 of 50,000 sat in fees (82.2%) is refused by the share, whatever the rate', () => {
    // 41,100 sat over 137 vB is 300 sat/vB: under the rate limit, over half the amount.
    const e = refusal(() => checkFee({ what: 'the claim', feeSat: 41_100n, vsize: 137, amountSat: 50_000n }), 'E_FEE_TOO_HIGH', 4);
    expect(e.message).toBe(
      'the claim pays 41100 sat in fees (300.00 sat/vB; 41100 sat = 82.2% of the 50000 sat it moves), above the limit (--max-fee-rate 10000 sat/vB, --max-fee-share 0.5); raise --max-fee-share to pay it on purpose',
    );
  });

  it('exactly half the amount passes; one sat more is refused', () => {
    checkFee({ what: 'x', feeSat: 25_000n, vsize: 1000, amountSat: 50_000n });
    refusal(() => checkFee({ what: 'x', feeSat: 25_001n, vsize: 1000, amountSat: 50_000n }), 'E_FEE_TOO_HIGH', 4);
  });

  it('a package: the rate is of the whole, the share only of what the payer pays (payerFeeSat)', () => {
    // 1,000 sat parent fee + 9,000 child fee over 200 vB = 50 sat/vB; the payer pays 9,000 of 20,000 = 45%.
    checkFee({ what: 'p', feeSat: 10_000n, vsize: 200, amountSat: 20_000n, payerFeeSat: 9_000n });
    refusal(() => checkFee({ what: 'p', feeSat: 10_000n, vsize: 200, amountSat: 20_000n, payerFeeSat: 10_001n }), 'E_FEE_TOO_HIGH', 4);
  });

  it('a lower --max-fee-rate refuses a built fee by rate, and says which limit to raise', () => {
    const limits = parseFeeLimits({ maxFeeRate: '20', maxFeeShare: '1' });
    const e = refusal(() => checkFee({ what: 'x', feeSat: 2_100n, vsize: 100, amountSat: 1_000_000n }, limits), 'E_FEE_TOO_HIGH', 4);
    expect(e.message).toMatch(/raise --max-fee-rate to pay it on purpose$/);
  });

  it('limits that make no sense are usage errors (exit 2)', () => {
    refusal(() => parseFeeLimits({ maxFeeRate: '0' }), 'E_USAGE', 2);
    refusal(() => parseFeeLimits({ maxFeeRate: 'x' }), 'E_USAGE', 2);
    refusal(() => parseFeeLimits({ maxFeeShare: '1.5' }), 'E_USAGE', 2);
    refusal(() => parseFeeLimits({ maxFeeShare: '0' }), 'E_USAGE', 2);
  });
});
