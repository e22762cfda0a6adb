import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { btcToSats, satsToBtc } from '../../../src/lib/chain/amount.ts';
import { MAX_MONEY } from '../../../src/lib/constants.ts';
import { refusal } from '../../setup/refusal.ts';

describe('btcToSats — Core JSON amounts to exact satoshis', () => {
  it.each([
    ['0.1', 10_000_000n],
    ['0.3', 30_000_000n],
    ['1.1', 110_000_000n],
    ['0.07', 7_000_000n],
    ['0.00000001', 1n],
    ['20999999.97690000', 2_099_999_997_690_000n],
    ['21000000.00000000', MAX_MONEY],
    ['0', 0n],
    ['-0.5', -50_000_000n],
  ] as const)('%s BTC as parsed JSON and as text', (text, sats) => {
    // The number path is what JSON.parse gives us from Core's reply.
    expect(btcToSats(JSON.parse(text) as number)).toBe(sats);
    expect(btcToSats(text)).toBe(sats);
  });

  it('refuses what is not an 8-decimal amount within 21e6 BTC', () => {
    for (const bad of ['0.000000001', '1e-8', 'abc', '', '21000000.00000001', '.5']) {
      refusal(() => btcToSats(bad), 'E_BAD_AMOUNT', 3);
    }
    for (const bad of [Number.NaN, Infinity, 21_000_000.01, 1e21]) {
      refusal(() => btcToSats(bad), 'E_BAD_AMOUNT', 3);
    }
  });

  it('property: every satoshi amount survives Core-style text → JSON.parse → btcToSats', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: MAX_MONEY }), (sats) => {
        const coreText = satsToBtc(sats); // e.g. "20999999.97690000", as ValueFromAmount writes it
        expect(btcToSats(JSON.parse(coreText) as number)).toBe(sats);
        expect(btcToSats(coreText)).toBe(sats);
      }),
      { numRuns: 20_000 },
    );
  });

  it('exhaustive windows where doubles are coarsest: just below 21e6 BTC and around 2^24 BTC', () => {
    const windows = [MAX_MONEY - 50_000n, 1_677_721_600_000_000n - 25_000n]; // 2^24 BTC in sats
    for (const start of windows) {
      for (let s = start; s < start + 50_000n; s++) {
        if (btcToSats(JSON.parse(satsToBtc(s)) as number) !== s) throw new Error(`mismatch at ${s}`);
      }
    }
  });

  it('satsToBtc writes 8 decimals', () => {
    expect(satsToBtc(1n)).toBe('0.00000001');
    expect(satsToBtc(2_099_999_997_690_000n)).toBe('20999999.97690000');
    expect(satsToBtc(-50_000_000n)).toBe('-0.50000000');
  });
});
