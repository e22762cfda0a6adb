/**
 * A deposit-request sent again after its answer was lost (a pipe re-run, `--peer`'s blind
 * retry) gets the offer the operator already made — the same bytes, nothing written — and
 * the deposit goes on from it. A different request that lands on a coin id already taken
 * (the test seed makes every fresh process draw the same one) is still refused,
 * E_COIN_EXISTS (exit 5), with nothing written.
 *
 * Before the fix the retry was refused E_COIN_EXISTS under the test seed and, with real
 * randomness, answered a second coin: a second share kept for nobody, an offer the owner
 * never asked for.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { tempDir } from '../helpers.ts';
import { flow, fundingPsbt, fundingTo, ok, OPERATOR_PUB, refused, TERMS, stateSnapshot } from './statechain-flow.ts';
import { writeFileSync } from 'node:fs';

const OFFLINE = ['--tip-height', '200', '--confirmations', '3'];
const dirs: { cleanup: () => void }[] = [];
afterAll(() => dirs.forEach((d) => d.cleanup()));
const fresh = () => {
  const d = tempDir('offchain-e2e-sc-deposit-retry-');
  dirs.push(d);
  return d.path;
};

describe('statechain deposit-request retried', () => {
  it('the same request again: the same offer, byte for byte, nothing written; the deposit finishes from it', () => {
    const dir = fresh();
    const f = flow(dir, () => OFFLINE);
    const request = ok(f.as('ALICE_KEY', ['statechain-deposit', '--start', '--operator-key', OPERATOR_PUB]));
    const offer = ok(f.as('OPERATOR_KEY', ['statechain-deposit', ...TERMS], request));
    const before = stateSnapshot(join(dir, 'OPERATOR_KEY'));
    expect(ok(f.as('OPERATOR_KEY', ['statechain-deposit', ...TERMS], request))).toBe(offer);
    expect(stateSnapshot(join(dir, 'OPERATOR_KEY'))).toEqual(before);
    // The owner takes the (one) offer on; the operator co-signs backup 1 for the coin it answered.
    const { coin_id: coinId, statement } = JSON.parse(offer) as { coin_id: string; statement: { address: string } };
    const psbt = join(dir, 'funding.psbt');
    writeFileSync(psbt, fundingPsbt(fundingTo(statement.address, 100_000n)));
    const backup = ok(f.as('ALICE_KEY', ['statechain-deposit', '--funding', psbt], offer));
    const cosigned = ok(f.as('OPERATOR_KEY', ['statechain-deposit'], backup));
    expect(JSON.parse(ok(f.as('ALICE_KEY', ['statechain-deposit'], cosigned)))).toMatchObject({ coin_id: coinId });
    // After the coin moved on, the first request is still answered with its offer (the offer the owner holds).
    expect(ok(f.as('OPERATOR_KEY', ['statechain-deposit', ...TERMS], request))).toBe(offer);
  }, 60_000);

  it('under the test seed (the same coin id in every process): the same request again answers the same; another request on that id is refused, nothing written', () => {
    const dir = fresh();
    const f = flow(dir, () => OFFLINE, { OFFCHAIN_TEST_SEED: 'deposit-retry' });
    const alice = ok(f.as('ALICE_KEY', ['statechain-deposit', '--start', '--operator-key', OPERATOR_PUB]));
    const bob = ok(f.as('BOB_KEY', ['statechain-deposit', '--start', '--operator-key', OPERATOR_PUB]));
    const offer = ok(f.as('OPERATOR_KEY', ['statechain-deposit', ...TERMS], alice));
    const before = stateSnapshot(join(dir, 'OPERATOR_KEY'));
    expect(ok(f.as('OPERATOR_KEY', ['statechain-deposit', ...TERMS], alice))).toBe(offer);
    refused(f.as('OPERATOR_KEY', ['statechain-deposit', ...TERMS], bob), 'E_COIN_EXISTS', 5);
    expect(stateSnapshot(join(dir, 'OPERATOR_KEY'))).toEqual(before);
  }, 60_000);
});
