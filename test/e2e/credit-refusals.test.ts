/**
 * The credit contract's refusal rules (BRIEF §3.1, §5) through the built CLI, as an
 * operator's pipeline meets them: the refusing `offchain` process exits 4 (refused) or
 * 5 (state conflict), prints exactly one line `offchain: error E_…: …` on stderr and
 * nothing on stdout, and leaves both parties' --state-dir byte for byte as they were.
 *
 * One contract is opened once (fixtures/credit/funding.psbt, the fixture keys via
 * --key-env, offline chain flags, OFFCHAIN_TEST_SEED) and paid 1000 sat; each test runs
 * on its own copy of both state directories. The refusing invocation itself runs without
 * the test seed (it needs no randomness), so its stderr holds the error line alone.
 * Requests a user's CLI would never produce are built with test/lib/credit/tamper.ts and
 * signed as the user, so only the rule under test can refuse them.
 *
 * A sample, not the list: one forged state (exit 4), one chain-flag rule, a spent nonce
 * (exit 5), a frozen contract, an unknown contract on either side, an open-time refund
 * and the user's own pending state. Every rule, with its code, exit code, message and
 * nothing written, is checked in process in test/lib/credit/refusals.test.ts.
 *
 * Requires `npm run build` (bin/run.js → dist/).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, tempDir } from '../helpers.ts';
import { networkDir, nonceCounts, record as storedRecord } from '../state.ts';
import { run, type Run } from './cli.ts';
import { runInProcess } from './in-process.ts';
import { fromHex } from '../../src/lib/bytes.ts';
import { keyPair } from '../../src/lib/keys/keys.ts';
import { termsFromJson } from '../../src/lib/credit/codec.ts';
import type { NextNonceJson, UserContractRecord } from '../../src/lib/credit/ports.ts';
import type { CreditContract } from '../../src/lib/credit/terms.ts';
import { buildRefund, buildState } from '../../src/lib/credit/transactions.ts';
import {
  buildSpend, musigFieldsOf, psbtBase64, psbtOf, refundWithNonce, signAsUser, snapshot, specOf, updateMessage,
  type SpendSpec,
} from '../lib/credit/tamper.ts';

const fixture = (p: string) => readFileSync(join(ROOT, 'fixtures', p), 'utf8').trim();
const MINT_KEY = fixture('keys/mint.key');
const USER_KEY = fixture('keys/user.key');
const USER = keyPair(fromHex(USER_KEY));
const MINT = keyPair(fromHex(MINT_KEY));
const PARTICIPANTS = [USER.publicKey, MINT.publicKey];
const PAYOUT = 'bcrt1plr5908qjdayaa5ehcxwy7hcur9glqafpvtt2v8c2nc24s4v5899s50wnte';
const REFUND = 'bcrt1py6453jm8063t35dhf6yddhqnf65hel4aryj9sz673xkkqpy73u9sfeux7j';
const TIP = 1000;
const EXPIRY = TIP + 4320;
const UNKNOWN_ID = 'ab'.repeat(32);

/** Operators' environment: the keys, no NODE_ENV=test (oclif changes its output under it). */
const ENV = { MINT_KEY, USER_KEY, NODE_ENV: '' };
const SEEDED = { ...ENV, OFFCHAIN_TEST_SEED: 'credit-refusals' };

const mintArgs = (dir: string) => ['--key-env', 'MINT_KEY', '--state-dir', join(dir, 'mint')];
const userArgs = (dir: string) => ['--key-env', 'USER_KEY', '--state-dir', join(dir, 'user')];
const mintUpdate = (dir: string, extra: string[] = []) => ['sign-update', '--role', 'mint', ...mintArgs(dir), '--tip-height', String(TIP + 1), '--confirmations', '1', ...extra];

function ok(r: Run): string {
  expect(r.status, `stderr: ${r.stderr}`).toBe(0);
  return r.stdout;
}

const tmp = tempDir('offchain-credit-refusals-');
afterAll(() => tmp.cleanup());
let n = 0;
/** A fresh copy of the state directories `from` (both parties). */
function copyOf(from: string): string {
  const to = join(tmp.path, `case-${++n}`);
  cpSync(from, to, { recursive: true });
  return to;
}

/** Set up once: the opening base (offer published, open-request made) and the paid base. */
const base = join(tmp.path, 'base');
const opening = join(tmp.path, 'opening');
let contractId = '';
let openRequest: Record<string, unknown>;
let firstNonce: NextNonceJson;
let state1: string;

beforeAll(async () => {
  // The contract every test copies: setup, run by the same built bundle in this process (in-process.ts);
  // test/e2e/credit-lifecycle.test.ts opens and pays through processes, and every refusal here is one.
  ok(await runInProcess(['open-credit', '--role', 'mint', '--publish', ...mintArgs(base), '--payout-address', PAYOUT], { env: SEEDED }));
  const offer = join(base, 'offer.json');
  writeFileSync(offer, ok(await runInProcess(['open-credit', '--role', 'mint', '--publish', ...mintArgs(base)], { env: SEEDED })));
  const request = ok(
    await runInProcess(['open-credit', '--role', 'user', '--offer', offer, ...userArgs(base), '--tip-height', String(TIP), '--expiry', `+${EXPIRY - TIP}`, '--refund-address', REFUND, '--in', join(ROOT, 'fixtures/credit/funding.psbt')], { env: SEEDED }),
  );
  openRequest = JSON.parse(request) as Record<string, unknown>;
  contractId = openRequest.contract_id as string;
  cpSync(base, opening, { recursive: true });
  const accept = ok(await runInProcess(['open-credit', '--role', 'mint', ...mintArgs(base), '--tip-height', String(TIP)], { input: request, env: SEEDED }));
  firstNonce = (JSON.parse(accept) as { next_nonce: NextNonceJson }).next_nonce;
  ok(await runInProcess(['open-credit', '--role', 'user', ...userArgs(base)], { input: accept, env: SEEDED }));
  state1 = ok(await runInProcess(['sign-update', '--role', 'user', '--amount', '1000', ...userArgs(base)], { env: SEEDED }));
  const receipt = ok(await runInProcess(mintUpdate(base), { input: state1, env: SEEDED }));
  ok(await runInProcess(['sign-update', '--role', 'user', ...userArgs(base)], { input: receipt, env: SEEDED }));
}, 120_000);

/** The user's record and its contract, read from the user's state database. */
function userSide(dir: string): { record: UserContractRecord; c: CreditContract } {
  const record = storedRecord<UserContractRecord>(networkDir(join(dir, 'user')), 'credit-user', contractId);
  if (!record) throw new Error(`the user in ${dir} has no record of contract ${contractId}`);
  return { record, c: termsFromJson(record.contract, 'regtest') };
}

/** State 2 (cumulative 2000 unless told), built from `mutate`d data and signed by the user. */
function forgedUpdate(dir: string, o: { mutate?: (s: SpendSpec) => SpendSpec; cumulative?: bigint; amount?: bigint; nonce?: NextNonceJson } = {}): string {
  const { record, c } = userSide(dir);
  const cumulative = o.cumulative ?? 2000n;
  const spec = (o.mutate ?? ((s) => s))(specOf(buildState(c, cumulative), PARTICIPANTS));
  const tx = signAsUser(buildSpend(spec), USER, MINT.publicKey, o.nonce ?? record.mint_nonce!);
  return JSON.stringify(updateMessage(c, 2, o.amount ?? cumulative - 1000n, cumulative, tx));
}

/**
 * Run one refusing invocation on `dir` and check the whole contract: exit code, one
 * coded stderr line naming the problem, empty stdout, both state directories unchanged.
 */
function expectRefusal(dir: string, args: string[], input: string, code: string, exitCode: 4 | 5, message: RegExp): void {
  const before = snapshot(dir);
  const r = run(args, { input, env: ENV });
  expect(r.status, `stderr: ${r.stderr}`).toBe(exitCode);
  expect(r.stdout).toBe('');
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^offchain: error ${code}: \\S`));
  expect(lines[0]).toMatch(message);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(snapshot(dir)).toEqual(before);
}

describe('credit refusals through the CLI (exit code, one stderr line, empty stdout, state unchanged)', () => {
  it('the base contract is open with 1000 sat paid, and a retried identical request gets the stored receipt (exit 0, nothing written)', () => {
    const dir = copyOf(base);
    expect(userSide(dir).record.confirmed).toEqual({ state: 1, cumulative_sat: 1000 });
    const before = snapshot(dir);
    // The snapshot sees both parties' durable state: each one's state.sqlite, whose rows hold the mint's store and the user's records and nonces.
    expect(Object.keys(before)).toEqual(expect.arrayContaining(['rows:mint/regtest/state.sqlite', 'rows:user/regtest/state.sqlite']));
    const nonces = nonceCounts(networkDir(join(dir, 'user')));
    expect(nonces.unused + nonces.consumed).toBeGreaterThan(0);
    const again = JSON.parse(ok(run(mintUpdate(dir), { input: state1, env: ENV }))) as Record<string, unknown>;
    expect(again).toMatchObject({ type: 'credit/receipt', state: 1, cumulative_sat: 1000 });
    expect(snapshot(dir)).toEqual(before);
  });

  it('E_LOCKTIME: a state with nLockTime ≠ 0', () => {
    const dir = copyOf(base);
    expectRefusal(dir, mintUpdate(dir), forgedUpdate(dir, { mutate: (s) => ({ ...s, lockTime: EXPIRY }) }), 'E_LOCKTIME', 4, /nLockTime 5320; it must be 0/);
  });

  it('E_TOO_CLOSE_TO_EXPIRY: an honest payment once the tip is within the safety margin', () => {
    const dir = copyOf(base);
    const request = ok(run(['sign-update', '--role', 'user', '--amount', '1000', ...userArgs(dir)], { env: ENV }));
    const args = ['sign-update', '--role', 'mint', ...mintArgs(dir), '--tip-height', String(EXPIRY - 144), '--confirmations', '6'];
    expectRefusal(dir, args, request, 'E_TOO_CLOSE_TO_EXPIRY', 4, /expires at 5320, 144 blocks from the tip 5176: within the 144-block safety margin/);
  });

  it('E_NONCE_USED: the next state signed against the mint nonce already spent on state 1 (exit 5)', () => {
    const dir = copyOf(base);
    expect(userSide(dir).record.mint_nonce!.pubnonce).not.toBe(firstNonce.pubnonce);
    // Asked before any rule reads the contract (issue 72): its words name no state, amount or nonce id.
    expectRefusal(dir, mintUpdate(dir), forgedUpdate(dir, { nonce: firstNonce }), 'E_NONCE_USED', 5, new RegExp(`^offchain: error E_NONCE_USED: the mint nonce this request is signed against has already been used \\(the mint signed another request with it, or it was abandoned\\): this request is never signed; the user asks what the mint holds with "offchain credit abandon --role user --start --contract ${contractId}"$`));
  });

  it('E_NONCE_USED: a payment arriving after the mint signed a close with its nonce (the settlement not named)', () => {
    const dir = copyOf(base);
    // A request made (and lost) before the close: the user's directory is as it was before it.
    const scratch = copyOf(dir);
    const late = ok(run(['sign-update', '--role', 'user', '--amount', '1000', ...userArgs(scratch)], { env: ENV }));
    const close = ok(run(['close-credit', '--role', 'user', '--start', ...userArgs(dir)], { env: SEEDED }));
    ok(run(['close-credit', '--role', 'mint', ...mintArgs(dir)], { input: close, env: SEEDED }));
    expectRefusal(dir, mintUpdate(dir), late, 'E_NONCE_USED', 5, /^offchain: error E_NONCE_USED: the mint nonce this request is signed against has already been used \(/);
  });

  it('E_UNKNOWN_CONTRACT: a request for a contract the mint does not have, and a receipt for one the user does not have', () => {
    const dir = copyOf(base);
    const request = { ...(JSON.parse(forgedUpdate(dir)) as Record<string, unknown>), contract_id: UNKNOWN_ID };
    expectRefusal(dir, mintUpdate(dir), JSON.stringify(request), 'E_UNKNOWN_CONTRACT', 4, new RegExp(`this mint has no contract ${UNKNOWN_ID}`));
    const receipt = ok(run(mintUpdate(copyOf(base)), { input: forgedUpdate(dir), env: ENV }));
    const foreign = { ...(JSON.parse(receipt) as Record<string, unknown>), contract_id: UNKNOWN_ID };
    expectRefusal(dir, ['sign-update', '--role', 'user', ...userArgs(dir)], JSON.stringify(foreign), 'E_UNKNOWN_CONTRACT', 4, new RegExp(`no contract ${UNKNOWN_ID} in this state directory`));
  });

  it('E_REFUND_LOCKTIME: at open, a refund whose nLockTime is not the agreed expiry', () => {
    const dir = copyOf(opening);
    const c = termsFromJson(openRequest.contract as never, 'regtest');
    const userNonce = musigFieldsOf(psbtOf(openRequest.refund_psbt as string), USER.publicKey).pubnonce;
    const refund = refundWithNonce({ ...specOf(buildRefund(c), PARTICIPANTS), lockTime: EXPIRY - 1 }, USER.publicKey, userNonce);
    const request = JSON.stringify({ ...openRequest, refund_psbt: psbtBase64(refund) });
    expectRefusal(dir, ['open-credit', '--role', 'mint', ...mintArgs(dir), '--tip-height', String(TIP)], request, 'E_REFUND_LOCKTIME', 4, /the refund's nLockTime is 5319, not the agreed expiry height 5320/);
  });

  it('E_PENDING: the user asks for a second payment while the first awaits its receipt (exit 5)', () => {
    const dir = copyOf(base);
    const first = ok(run(['sign-update', '--role', 'user', '--amount', '1000', ...userArgs(dir)], { env: ENV }));
    // The same payment again is the same request, unchanged.
    expect(ok(run(['sign-update', '--role', 'user', '--amount', '1000', ...userArgs(dir)], { env: ENV }))).toBe(first);
    expectRefusal(dir, ['sign-update', '--role', 'user', '--amount', '2000', ...userArgs(dir)], '', 'E_PENDING', 5, /state 2 \(update\) is still waiting for the mint's answer/);
  });
});
