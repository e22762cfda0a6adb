/**
 * The statechain commands' --fee-rate (statechain-withdraw, src/topics/statechain/command.ts)
 * is read by strictDecimal: a decimal number written plainly, 0.1 … 100000, at most three
 * decimals. Anything else is a usage error (E_USAGE, exit 2) — never a number read some
 * other way (0x10 as 16, 1e3 as 1000, " 2" as 2). test/e2e/statechain-refusals.test.ts keeps
 * CLI samples of the rule (exit 2, nothing written); the cases themselves are here.
 */
import { describe, expect, it } from 'vitest';
import { strictDecimal } from '../../../src/topics/statechain/flags.ts';
import { refusal } from '../../setup/refusal.ts';

const rate = (text: string) => strictDecimal(text, '--fee-rate', 0.1, 100_000, 3);

describe('statechain --fee-rate is parsed strictly', () => {
  it('refuses hex, exponents, spaces, signs, too many decimals and values out of range (E_USAGE, 2)', () => {
    for (const text of ['0x10', '1e3', '100001', ' 2', '2 ', '2.0001', '+2', '-1', '0.09', '', '02', '2.', '.5', 'Infinity', 'NaN']) {
      const e = refusal(() => rate(text), 'E_USAGE', 2);
      expect(e.message).toContain('--fee-rate');
    }
  });

  it('takes a plain decimal within range, at its value', () => {
    expect([rate('2'), rate('0.1'), rate('100000'), rate('2.001'), rate('0.5'), rate('10')]).toEqual([2, 0.1, 100_000, 2.001, 0.5, 10]);
  });
});
