/**
 * Recovering from refusals through the built CLI (issue 7, item 1): a payment the mint
 * refuses leaves the user's contract in E_PENDING for every other request — exit 5, the
 * error naming `credit abandon` — until `credit abandon` goes user → mint → user; then the
 * contract closes. A refused open is abandoned by the user alone and opens again. --expiry
 * mistakes are refused on the user's side before anything is written. Every refusal is
 * checked as the operator meets it: exit code, one coded stderr line, empty stdout, both
 * state directories byte for byte unchanged.
 *
 * Requires `npm run build` (bin/run.js → dist/).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, tempDir } from '../helpers.ts';
import { run, type Run } from './cli.ts';
import { snapshot } from '../lib/credit/tamper.ts';
import { hasState, networkDir, nonceCounts, record as storedRecord } from '../state.ts';

const fixture = (p: string) => readFileSync(join(ROOT, 'fixtures', p), 'utf8').trim();
const ENV = { MINT_KEY: fixture('keys/mint.key'), USER_KEY: fixture('keys/user.key'), NODE_ENV: '' };
const SEEDED = { ...ENV, OFFCHAIN_TEST_SEED: 'credit-abandon' };
const PAYOUT = 'bcrt1plr5908qjdayaa5ehcxwy7hcur9glqafpvtt2v8c2nc24s4v5899s50wnte';
const REFUND = 'bcrt1py6453jm8063t35dhf6yddhqnf65hel4aryj9sz673xkkqpy73u9sfeux7j';
const FUNDING = join(ROOT, 'fixtures/credit/funding.psbt');
const TIP = 1000;
const EXPIRY = TIP + 4320;
const NEAR_EXPIRY = String(EXPIRY - 144); // inside the default 144-block safety margin

const tmp = tempDir('offchain-credit-abandon-');
afterAll(() => tmp.cleanup());
const dir = tmp.path;
const mint = ['--key-env', 'MINT_KEY', '--state-dir', join(dir, 'mint')];
const usr = ['--key-env', 'USER_KEY', '--state-dir', join(dir, 'user')];
const offer = join(dir, 'offer.json');
const openUser = (expiry: string, tip = TIP) => ['open-credit', '--role', 'user', '--offer', offer, ...usr, '--tip-height', String(tip), '--expiry', expiry, '--refund-address', REFUND, '--in', FUNDING];

function ok(r: Run): string {
  expect(r.status, `stderr: ${r.stderr}`).toBe(0);
  return r.stdout;
}

/** One refusing invocation: exit code, one coded stderr line, empty stdout, nothing written. */
function refused(args: string[], input: string | undefined, code: string, exitCode: 2 | 3 | 4 | 5, message: RegExp): string {
  const before = snapshot(dir);
  const r = run(args, { input, env: ENV });
  expect(r.status, `stderr: ${r.stderr}`).toBe(exitCode);
  expect(r.stdout).toBe('');
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^offchain: error ${code}: \\S`));
  expect(lines[0]).toMatch(message);
  expect(snapshot(dir)).toEqual(before);
  return lines[0]!;
}

let contractId = '';

describe('a refused open, abandoned by the user, then opened again', () => {
  beforeAll(() => {
    ok(run(['open-credit', '--role', 'mint', '--publish', ...mint, '--payout-address', PAYOUT], { env: SEEDED }));
    writeFileSync(offer, ok(run(['open-credit', '--role', 'mint', '--publish', ...mint], { env: SEEDED })));
  }, 60_000);

  it('an --expiry mistake is refused before anything is written (exit 2)', () => {
    ok(run(['open-credit', '--role', 'mint', '--publish', ...mint], { env: ENV })); // the mint's directory exists
    refused(openUser('4320', 800_000), undefined, 'E_EXPIRY_IN_PAST', 2, /4320 is not after the tip 800000 \(did you mean \+4320/);
    // E_EXPIRY_TOO_FAR, E_EXPIRY_TOO_SOON and a value that is not a height (E_USAGE): test/lib/credit/abandon.test.ts
    // ('--expiry is checked on the user side before anything is written'); the default window 432–12960 is the
    // offer's (test/e2e/__snapshots__/credit-snapshots/01-offer.json).
    expect(hasState(networkDir(join(dir, 'user')))).toBe(false); // the user's state database not even made
  });

  it('the mint refuses the open; credit abandon forgets it (no record, no unused nonce); the same funding opens', () => {
    const request = ok(run(openUser(`+${EXPIRY - TIP}`), { env: SEEDED }));
    contractId = (JSON.parse(request) as { contract_id: string }).contract_id;
    refused(['open-credit', '--role', 'mint', ...mint, '--tip-height', '6000'], request, 'E_BAD_EXPIRY', 4, /this mint opens contracts of/);
    const gone = JSON.parse(ok(run(['credit', 'abandon', '--role', 'user', '--start', ...usr], { env: ENV }))) as Record<string, unknown>;
    expect(gone).toMatchObject({ type: 'credit/open-abandoned', contract_id: contractId });
    expect(storedRecord(networkDir(join(dir, 'user')), 'credit-user', contractId)).toBeUndefined();
    // Its refund nonce is spent: the user's nonces hold no unused one (and the spent one stays, consumed).
    expect(nonceCounts(networkDir(join(dir, 'user')))).toMatchObject({ unused: 0, consumed: expect.any(Number) });
    expect(nonceCounts(networkDir(join(dir, 'user'))).consumed).toBeGreaterThan(0);
    const again = ok(run(openUser(`+${EXPIRY - TIP}`), { env: SEEDED }));
    expect((JSON.parse(again) as { contract_id: string }).contract_id).toBe(contractId);
    const accept = ok(run(['open-credit', '--role', 'mint', ...mint, '--tip-height', String(TIP)], { input: again, env: SEEDED }));
    expect(JSON.parse(ok(run(['open-credit', '--role', 'user', ...usr], { input: accept, env: SEEDED })))).toMatchObject({ type: 'credit/opened' });
  });
});

describe('a payment refused near expiry, abandoned through the mint, then a cooperative close', () => {
  const mintUpdate = (tip: string) => ['sign-update', '--role', 'mint', ...mint, '--tip-height', tip, '--confirmations', '1'];
  let request = '';
  let sent = '';

  beforeAll(() => {
    const first = ok(run(['sign-update', '--role', 'user', '--amount', '1000', ...usr], { env: SEEDED }));
    ok(run(['sign-update', '--role', 'user', ...usr], { input: ok(run(mintUpdate(String(TIP + 1)), { input: first, env: SEEDED })), env: SEEDED }));
    request = ok(run(['sign-update', '--role', 'user', '--amount', '500', ...usr], { env: SEEDED }));
  }, 60_000);

  it('the mint refuses (E_TOO_CLOSE_TO_EXPIRY, exit 4, nothing written)', () => {
    refused(mintUpdate(NEAR_EXPIRY), request, 'E_TOO_CLOSE_TO_EXPIRY', 4, /safety margin/);
  });

  it('every other request is E_PENDING (exit 5), naming credit abandon; nothing written', () => {
    const hint = /state 2 \(update\) is still waiting for the mint's answer.*offchain credit abandon --role user --start --contract [0-9a-f]{64}/;
    refused(['sign-update', '--role', 'user', '--amount', '700', ...usr], undefined, 'E_PENDING', 5, hint);
    refused(['close-credit', '--role', 'user', '--start', ...usr], undefined, 'E_PENDING', 5, hint);
    refused(['rollover', '--role', 'user', '--expiry', '+4320', '--tip-height', String(TIP + 2), ...usr], undefined, 'E_PENDING', 5, hint);
  });

  it('credit abandon: user → mint (credit/abandoned, a fresh nonce) → user (credit/balance at state 1)', () => {
    sent = ok(run(['credit', 'abandon', '--role', 'user', '--start', ...usr], { env: SEEDED }));
    expect(JSON.parse(sent)).toMatchObject({ type: 'credit/abandon', contract_id: contractId, state: 2, kind: 'update' });
    // A forged abandon (another signature) is refused by the mint, nothing written.
    const forged = JSON.stringify({ ...JSON.parse(sent), user_signature: 'ab'.repeat(64) });
    refused(['credit', 'abandon', '--role', 'mint', ...mint], forged, 'E_BAD_SIGNATURE', 4, /not signed by the contract's user key/);
    const answer = ok(run(['credit', 'abandon', '--role', 'mint', ...mint], { input: sent, env: SEEDED }));
    expect(JSON.parse(answer)).toMatchObject({ type: 'credit/abandoned', state: 2, next_nonce: { state: 2 } });
    const balance = JSON.parse(ok(run(['credit', 'abandon', '--role', 'user', ...usr], { input: answer, env: SEEDED }))) as Record<string, unknown>;
    expect(balance).toMatchObject({ type: 'credit/balance', state: 1, cumulative_sat: 1000 });
  });

  it('the refused request, replayed, is refused for good (E_NONCE_USED, exit 5); the close goes through', () => {
    refused(mintUpdate(String(TIP + 1)), request, 'E_NONCE_USED', 5, /already been used/);
    const close = ok(run(['close-credit', '--role', 'user', '--start', ...usr], { env: SEEDED }));
    const closed = ok(run(['close-credit', '--role', 'mint', ...mint], { input: close, env: SEEDED }));
    expect(JSON.parse(ok(run(['close-credit', '--role', 'user', ...usr], { input: closed, env: SEEDED })))).toMatchObject({ type: 'credit/closed', cumulative_sat: 1000 });
  });

  it('nothing left to abandon: E_USAGE (exit 2) from --start, nothing written', () => {
    refused(['credit', 'abandon', '--role', 'user', '--start', ...usr], undefined, 'E_USAGE', 2, /no contract .* has a request to abandon/);
  });

  it('a contract this user does not have: E_UNKNOWN_CONTRACT (exit 4), nothing written, for close, rollover and abandon', () => {
    const other = ['--contract', 'ab'.repeat(32)];
    refused(['close-credit', '--role', 'user', '--start', ...usr, ...other], undefined, 'E_UNKNOWN_CONTRACT', 4, /no contract abab/);
    refused(['rollover', '--role', 'user', '--expiry', '+4320', '--tip-height', String(TIP + 2), ...usr, ...other], undefined, 'E_UNKNOWN_CONTRACT', 4, /no contract abab/);
    refused(['credit', 'abandon', '--role', 'user', '--start', ...usr, ...other], undefined, 'E_UNKNOWN_CONTRACT', 4, /no contract abab/);
  });
});
