/** The view for people's switch and its number formats (src/lib/cli/human.ts). */
import { describe, expect, it } from 'vitest';
import { depthText, msatText, rows, thousands, wantsHuman } from '../../../src/lib/cli/human.ts';

describe('--human', () => {
  it('is the default on a terminal only; the flag, either way, wins', () => {
    expect(wantsHuman(undefined, { isTTY: true })).toBe(true);
    expect(wantsHuman(undefined, { isTTY: false })).toBe(false);
    expect(wantsHuman(undefined, {})).toBe(false);
    expect(wantsHuman(false, { isTTY: true })).toBe(false);
    expect(wantsHuman(true, { isTTY: false })).toBe(true);
  });

  it('numbers for people: thousands, msat as sat, aligned rows', () => {
    expect([thousands(0), thousands(999), thousands(1000), thousands(1_234_567), thousands(-1000), thousands(2n ** 64n)]).toEqual(['0', '999', '1,000', '1,234,567', '-1,000', '18,446,744,073,709,551,616']);
    expect([msatText('50000000'), msatText('1'), msatText(1500n), msatText('10')]).toEqual(['50,000 sat', '0.001 sat', '1.5 sat', '0.01 sat']);
    expect([depthText(undefined), depthText(0), depthText(1), depthText(1200)]).toEqual(['', ', in the mempool', ', 1 confirmation', ', 1,200 confirmations']);
    expect(rows([['a', '1'], undefined, ['long label', '2']])).toBe('  a           1\n  long label  2');
  });
});
