/**
 * Statechain refusals through the built CLI: each is one coded line on stderr, the exit
 * code of its class, nothing on stdout, and every party's state directory (documents and
 * nonces) byte for byte as before. The library tests (test/lib/statechain/refusals.test.ts)
 * cover every rule; these show the commands keep the "nothing written" promise.
 *
 * The coin is deposited and its transfer started in this process (statechain-here.ts: the
 * steps the refusals stand on; test/e2e/statechain.test.ts narrates them through processes);
 * one refusal of each exit class (5 E_UNKNOWN_COIN, 4 E_BAD_REQUEST_SIG, 3
 * E_MALFORMED_JSON, 2 E_USAGE and E_CHAIN_OFFLINE) runs spawned, every other step the
 * same built bundle's `main` in this process (statechain-here.ts; ~10 ms instead of a
 * ~0.15 CPU-s node process), with the same state directories checked the same way.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.ts';
import { bytesOf, hexOf } from '../independent/tx.ts';
import { publicKeyOf } from '../independent/secp256k1.ts';
import { seal, signBody } from '../../src/lib/statechain/seal.ts';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { flow, fundingPsbt, fundingTo, KEYS, ok, refused, stateSnapshot, type Flow } from './statechain-flow.ts';
import { depositVia, flowHere, type AsyncFlow } from './statechain-here.ts';

describe('statechain refusals leave every party\'s state as it was', () => {
  let dir: { path: string; cleanup: () => void };
  let f: Flow;
  let here: AsyncFlow;
  let coinId: string;
  let msgs: Record<string, string>;
  let offer2: string;
  let fundingFile2: string;
  const operatorPub = hexOf(publicKeyOf(bytesOf(KEYS.OPERATOR_KEY!)));

  beforeAll(async () => {
    dir = tempDir('offchain-e2e-sc-refusals-');
    f = flow(dir.path, () => ['--tip-height', '200', '--confirmations', '3']);
    here = flowHere(dir.path, () => ['--tip-height', '200', '--confirmations', '3']);
    const d = await depositVia(here, 'ALICE_KEY', (address) => fundingTo(address, 100_000n));
    coinId = d.coinId;
    // A second deposit, stopped at the offer: for the funding refusals.
    const req2 = ok(await here.as('DAVE_KEY', ['statechain-deposit', '--start', '--operator-key', operatorPub]));
    offer2 = ok(await here.as('OPERATOR_KEY', ['statechain-deposit', '--interval', '10', '--initial-lock', '+100', '--min-confirmations', '2', '--backup-fee', '400', '--margin', '6'], req2));
    fundingFile2 = join(dir.path, 'dave.funding.hex');
    writeFileSync(fundingFile2, fundingTo((JSON.parse(offer2) as { statement: { address: string } }).statement.address, 100_000n));
    const request = ok(await here.as('BOB_KEY', ['statechain-transfer', '--start', '--coin', coinId, '--operator-key', operatorPub]));
    const sign = ok(await here.as('ALICE_KEY', ['statechain-transfer'], request));
    const cosigned = ok(await here.as('OPERATOR_KEY', ['statechain-transfer'], sign));
    const pkg = ok(await here.as('ALICE_KEY', ['statechain-transfer'], cosigned));
    msgs = { request, sign, cosigned, pkg };
  }, 300_000);
  afterAll(() => dir.cleanup());

  /** Run `who`'s step (in this process, or `spawned`), expect the refusal, and that nobody's files changed. */
  const expectNothingWritten = async (who: string, args: string[], input: string, code: string, status: number, chain?: string[], spawned = false) => {
    const before = stateSnapshot(dir.path);
    const r = spawned
      ? (chain ? flow(dir.path, () => chain) : f).as(who, args, input)
      : await (chain ? flowHere(dir.path, () => chain) : here).as(who, args, input);
    refused(r, code, status);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(stateSnapshot(dir.path)).toEqual(before);
  };

  it('the operator: the same request again is answered the same, writing nothing', async () => {
    const before = stateSnapshot(dir.path);
    expect(ok(await here.as('OPERATOR_KEY', ['statechain-transfer'], msgs.sign!))).toBe(msgs.cosigned);
    expect(stateSnapshot(dir.path)).toEqual(before);
  });

  it('the operator: a request for a coin it does not have (E_UNKNOWN_COIN, 5)', async () => {
    await expectNothingWritten('OPERATOR_KEY', ['statechain-transfer'], msgs.sign!.replace(new RegExp(coinId, 'g'), 'ab'.repeat(16)), 'E_UNKNOWN_COIN', 5, undefined, true);
  });

  it('the operator: a request changed after the owner signed it (E_BAD_REQUEST_SIG, 4)', async () => {
    const m = JSON.parse(msgs.sign!) as { locktime: number };
    await expectNothingWritten('OPERATOR_KEY', ['statechain-transfer'], JSON.stringify({ ...m, locktime: m.locktime - 10 }), 'E_BAD_REQUEST_SIG', 4, undefined, true);
  });

  it('the receiver: a deposit short of its confirmations (E_DEPOSIT_UNCONFIRMED, 4), before accepting anything', async () => {
    await expectNothingWritten('BOB_KEY', ['statechain-transfer'], msgs.pkg!, 'E_DEPOSIT_UNCONFIRMED', 4, ['--tip-height', '200', '--confirmations', '1']);
    await expectNothingWritten('BOB_KEY', ['statechain-verify'], msgs.pkg!, 'E_DEPOSIT_UNCONFIRMED', 4, ['--tip-height', '200', '--confirmations', '0']);
  });

  it('the receiver: its own floor over the operator\'s terms (E_DEPOSIT_UNCONFIRMED, E_LOCKTIME_MARGIN, 4), before accepting anything', async () => {
    // The terms ask 2 confirmations (the deposit has 3) and a margin of 6 (Bob's backup is at 290, the tip 200).
    await expectNothingWritten('BOB_KEY', ['statechain-verify', '--min-confirmations', '4'], msgs.pkg!, 'E_DEPOSIT_UNCONFIRMED', 4);
    await expectNothingWritten('BOB_KEY', ['statechain-transfer', '--min-margin', '90'], msgs.pkg!, 'E_LOCKTIME_MARGIN', 4);
    const verified = JSON.parse(ok(await here.as('BOB_KEY', ['statechain-verify'], msgs.pkg!))) as { amount_sat: number; backup_fee_sat: number; backup_value_sat: number };
    expect(verified).toMatchObject({ amount_sat: 100_000, backup_fee_sat: 400, backup_value_sat: 100_000 - 400 });
  });

  it('the operator: a wrong t₂ signed by the receiver (E_BAD_T2), another receiver, a cut ciphertext — its share unchanged', async () => {
    msgs.accept = ok(await here.as('BOB_KEY', ['statechain-transfer'], msgs.pkg!));
    const bobAccept = JSON.parse(msgs.accept) as Record<string, string>;
    const carolReq = JSON.parse(ok(await here.as('CAROL_KEY', ['statechain-transfer', '--start', '--coin', coinId, '--operator-key', operatorPub]))) as { receiver_auth: string };
    // Bob (whose key the test holds) sends a t₂ that is not t₁ − o₂, sealed and signed properly.
    const { receiver_sig: _, ...body }: Record<string, string> = { ...bobAccept, t2_sealed: seal(bytesOf(operatorPub), bytesOf('00'.repeat(31) + '2a'), `${coinId}/${bobAccept.transfer_id}/t2`, bytesOf('77'.repeat(32))) };
    const wrongT2 = { ...body, receiver_sig: signBody(bobAccept.type!, body, bytesOf(KEYS.BOB_KEY!), new Uint8Array(32)) };
    await expectNothingWritten('OPERATOR_KEY', ['statechain-transfer'], JSON.stringify(wrongT2), 'E_BAD_T2', 4);
    await expectNothingWritten('OPERATOR_KEY', ['statechain-transfer'], JSON.stringify({ ...bobAccept, receiver_auth: carolReq.receiver_auth }), 'E_WRONG_RECEIVER', 4);
    await expectNothingWritten('OPERATOR_KEY', ['statechain-transfer'], JSON.stringify({ ...bobAccept, t2_sealed: bobAccept.t2_sealed!.slice(0, 100) }), 'E_BAD_REQUEST_SIG', 4);
    // The honest acceptance still completes afterwards.
    msgs.done = ok(await here.as('OPERATOR_KEY', ['statechain-transfer'], JSON.stringify(bobAccept)));
    expect(JSON.parse(msgs.done).type).toBe('statechain/transfer-done');
  });

  it('the receiver: a package not sealed for it; one it has accepted (its answer lost) prints the same acceptance, writing nothing', async () => {
    await expectNothingWritten('DAVE_KEY', ['statechain-transfer'], msgs.pkg!, 'E_NOT_RECEIVING', 5);
    // Carol asked for the coin (previous test) but the package is Bob's.
    await expectNothingWritten('CAROL_KEY', ['statechain-transfer'], msgs.pkg!, 'E_WRONG_RECEIVER', 4);
    const before = stateSnapshot(dir.path);
    expect(ok(await here.as('BOB_KEY', ['statechain-transfer'], msgs.pkg!))).toBe(msgs.accept);
    expect(stateSnapshot(dir.path)).toEqual(before);
    // Once Bob has read transfer-done, the package is history.
    ok(await here.as('BOB_KEY', ['statechain-transfer'], msgs.done!));
    await expectNothingWritten('BOB_KEY', ['statechain-transfer'], msgs.pkg!, 'E_NOT_RECEIVING', 5);
  });

  it('the owner: no withdrawal to a pay-to-anchor (2) or above the fee guard (4); a refused request writes nothing, another rate is a new request; a withdrawal whose broadcast fails (no node: E_CHAIN_OFFLINE, 2) is kept; the step again, or --coin alone, prints the same bytes', async () => {
    const to = ['--to', 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080', '--fee-rate', '2'];
    // Issue 37 review: the coin paid to the keyless pay-to-anchor address is refused before anything is issued.
    await expectNothingWritten('BOB_KEY', ['statechain-withdraw', '--coin', coinId, '--to', 'bcrt1pfeesnyr2tx', '--fee-rate', '2'], '', 'E_BAD_ADDRESS', 2);
    // The fee guard: 500 sat/vB is 56,000 sat, above half the coin (E_FEE_TOO_HIGH, 4); a share above 1 is a usage error.
    await expectNothingWritten('BOB_KEY', ['statechain-withdraw', '--coin', coinId, ...to.slice(0, 2), '--fee-rate', '500'], '', 'E_FEE_TOO_HIGH', 4);
    await expectNothingWritten('BOB_KEY', ['statechain-withdraw', '--coin', coinId, ...to, '--max-fee-share', '2'], '', 'E_USAGE', 2);
    const first = ok(await here.as('BOB_KEY', ['statechain-withdraw', '--coin', coinId, ...to]));
    expect(ok(await here.as('BOB_KEY', ['statechain-withdraw', '--coin', coinId, ...to]))).toBe(first);
    // A request the operator refuses (a version-2 withdrawal, as an older offchain asked it, signed by Bob) writes nothing there.
    const { owner_sig: _sig, ...body } = JSON.parse(first) as Record<string, string>;
    const v2: Record<string, string> = { ...body, tx: `02${body.tx!.slice(2)}` };
    await expectNothingWritten('OPERATOR_KEY', ['statechain-withdraw'], JSON.stringify({ ...v2, owner_sig: signBody(v2.type!, v2, bytesOf(KEYS.BOB_KEY!), new Uint8Array(32)) }), 'E_WITHDRAWAL_UNBUMPABLE', 4);
    // Another rate while the first waits is a new request (before: E_WITHDRAWAL_PENDING), the first still printed for its own rate.
    const req = ok(await here.as('BOB_KEY', ['statechain-withdraw', '--coin', coinId, '--to', to[1]!, '--fee-rate', '3']));
    expect(req).not.toBe(first);
    expect(ok(await here.as('BOB_KEY', ['statechain-withdraw', '--coin', coinId, ...to]))).toBe(first);
    const cos = ok(await here.as('OPERATOR_KEY', ['statechain-withdraw'], req));
    // The operator co-signed one: the other is refused, nothing written.
    await expectNothingWritten('OPERATOR_KEY', ['statechain-withdraw'], first, 'E_COIN_WITHDRAWN', 4);
    const r = await here.as('BOB_KEY', ['statechain-withdraw', '--broadcast'], cos);
    refused(r, 'E_CHAIN_OFFLINE', 2);
    expect(r.stderr).toContain(`statechain-withdraw --coin ${coinId} prints it again`);
    const before = stateSnapshot(dir.path);
    const spend = JSON.parse(ok(await here.as('BOB_KEY', ['statechain-withdraw'], cos))) as { kind: string; hex: string; txid: string };
    expect(spend.kind).toBe('withdrawal');
    expect(ok(await here.as('BOB_KEY', ['statechain-withdraw', '--coin', coinId]))).toBe(ok(await here.as('BOB_KEY', ['statechain-withdraw'], cos)));
    expect(stateSnapshot(dir.path)).toEqual(before);
    // A second withdrawal is told the first is signed.
    await expectNothingWritten('BOB_KEY', ['statechain-withdraw', '--coin', coinId, '--to', 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080', '--fee-rate', '3'], '', 'E_ALREADY_WITHDRAWN', 5);
  });

  it('the owner: its backup with --broadcast and no node is E_CHAIN_OFFLINE (2), not E_INTERNAL', async () => {
    await expectNothingWritten('BOB_KEY', ['statechain-backup', '--coin', coinId, '--broadcast'], '', 'E_CHAIN_OFFLINE', 2, ['--tip-height', '400', '--confirmations', '3'], true);
  });

  it('numeric flags are parsed strictly: 0x10, 1e3 and over-range are usage errors (2)', async () => {
    // Two CLI samples (exit 2, nothing written); 1e3, 100001, ' 2' and more: test/lib/statechain/fee-rate-flag.test.ts.
    for (const rate of ['0x10', '2.0001']) {
      await expectNothingWritten('BOB_KEY', ['statechain-withdraw', '--coin', coinId, '--to', 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080', '--fee-rate', rate], '', 'E_USAGE', 2, undefined, rate === '0x10');
    }
    await expectNothingWritten('OPERATOR_KEY', ['statechain-deposit', '--backup-fee', '99999999999999999'], msgs.request!, 'E_USAGE', 2);
    await expectNothingWritten('OPERATOR_KEY', ['statechain-deposit', '--interval', '1e3'], msgs.request!, 'E_USAGE', 2);
  });

  it('the depositor: a raw funding transaction offline cannot be checked (E_FUNDING_UNCHECKED, 4); terms above its floor (E_BACKUP_FEE_TOO_HIGH, E_BELOW_FLOOR, 4)', async () => {
    await expectNothingWritten('DAVE_KEY', ['statechain-deposit', '--funding', fundingFile2], offer2, 'E_FUNDING_UNCHECKED', 4);
    const psbt = join(dir.path, 'dave.funding.psbt');
    writeFileSync(psbt, fundingPsbt(readFileSync(fundingFile2, 'utf8')));
    await expectNothingWritten('DAVE_KEY', ['statechain-deposit', '--funding', psbt, '--max-backup-fee', '399'], offer2, 'E_BACKUP_FEE_TOO_HIGH', 4);
    await expectNothingWritten('DAVE_KEY', ['statechain-deposit', '--funding', psbt, '--max-backup-fee-percent', '0.39'], offer2, 'E_BACKUP_FEE_TOO_HIGH', 4);
    await expectNothingWritten('DAVE_KEY', ['statechain-deposit', '--funding', psbt, '--min-interval', '11'], offer2, 'E_BELOW_FLOOR', 4);
    await expectNothingWritten('DAVE_KEY', ['statechain-deposit', '--funding', psbt, '--max-backup-fee-percent', '1e1'], offer2, 'E_USAGE', 2);
    // Accepted, then asked again (its answer lost): the same request, nothing written.
    const first = ok(await here.as('DAVE_KEY', ['statechain-deposit', '--funding', psbt], offer2));
    const before = stateSnapshot(dir.path);
    expect(ok(await here.as('DAVE_KEY', ['statechain-deposit', '--funding', psbt], offer2))).toBe(first);
    expect(stateSnapshot(dir.path)).toEqual(before);
  });

  it('malformed input: not JSON (3), a message of another command (3)', async () => {
    await expectNothingWritten('OPERATOR_KEY', ['statechain-transfer'], '{"type": "statechain/transfer-sign", "version": 1', 'E_MALFORMED_JSON', 3, undefined, true);
    await expectNothingWritten('OPERATOR_KEY', ['statechain-transfer'], msgs.request!.replace('statechain/transfer-request', 'statechain/deposit-request'), 'E_WRONG_MESSAGE', 3);
  });

  it('the owner: a backup before its locktime (E_NOT_FINAL, 4)', async () => {
    await expectNothingWritten('ALICE_KEY', ['statechain-backup', '--coin', coinId], '', 'E_NOT_FINAL', 4);
  });
});
