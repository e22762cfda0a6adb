/**
 * The contract id commits to the exact fee rate: terms carry milli-sat/vB precision and
 * anything finer is refused, so two different term sets never share an id (issue 11:
 * `Math.round(fee_rate*1000)` made 2 and 2.0001 sat/vB one id).
 */
import { describe, it, expect } from 'vitest';
import { termsFromJson, termsToJson } from '../../../src/lib/credit/codec.ts';
import { makeContract } from '../../../src/lib/credit/terms.ts';
import { parseRate } from '../../../src/lib/cli/flags.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../helpers.ts';
import { decodeAddress } from '../../../src/lib/address.ts';
import { MINT, USER, CHANGE, REFUND, PAYOUT } from './world.ts';

const terms = (feeRate: number) => ({
  network: 'regtest' as const, userPubkey: USER.publicKey, mintPubkey: MINT.publicKey, capacity: 100_000n,
  funding: { txid: 'ab'.repeat(32), vout: 0 }, expiryHeight: 5000,
  refundScript: decodeAddress(REFUND, 'regtest'), changeScript: decodeAddress(CHANGE, 'regtest'), payoutScript: decodeAddress(PAYOUT, 'regtest'), feeRate,
});

describe('the contract id and the fee rate', () => {
  it('refuses a fee rate finer than 0.001 sat/vB (E_BAD_FEE_RATE, exit 3), where it once shared an id with the rounded rate', () => {
    for (const rate of [2.0001, 2.0004, 0.1000001]) {
      expect(() => makeContract(terms(rate)), String(rate)).toThrow(expect.objectContaining({ code: 'E_BAD_FEE_RATE', exitCode: 3 }));
      const json = { ...termsToJson(makeContract(terms(2))), fee_rate: rate };
      expect(() => termsFromJson(json, 'regtest')).toThrow(expect.objectContaining({ code: 'E_BAD_FEE_RATE' }));
    }
  });

  it('gives every milli-sat/vB step its own id', () => {
    const rates = [0.1, 1, 1.001, 2, 2.001, 2.002, 12.345, 99_999.999];
    const ids = rates.map((r) => makeContract(terms(r)).id);
    expect(new Set(ids).size).toBe(rates.length);
    expect(makeContract(terms(2.001)).id).toBe(makeContract(terms(2001 / 1000)).id);
  });

  it('the CLI refuses a --fee-rate with more than three decimals (E_USAGE)', () => {
    expect(parseRate('2.125')).toBe(2.125);
    expect(() => parseRate('2.0001')).toThrow(expect.objectContaining({ code: 'E_USAGE', exitCode: 2, message: expect.stringMatching(/more than three decimals/) }));
  });

  it('keeps the ids of existing contracts: the fixture open-request (made before this change) still hashes to its contract_id', () => {
    const fixture = JSON.parse(readFileSync(join(ROOT, 'fixtures/credit/open-request.json'), 'utf8')) as { contract_id: string; contract: never };
    expect(termsFromJson(fixture.contract, 'regtest').id).toBe(fixture.contract_id);
  });
});
