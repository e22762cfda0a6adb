/**
 * Statechain refusals through the built CLI: each is one coded line on stderr, the exit
 * code of its class, nothing on stdout, and every party's state directory (documents and
 * nonces) byte for byte as before. The library tests (test/lib/statechain/refusals.test.ts)
 * cover every rule; these show the commands keep the "nothing written" promise.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.ts';
import { snapshot } from '../lib/credit/tamper.ts';
import { bytesOf, hexOf } from '../independent/tx.ts';
import { publicKeyOf } from '../independent/secp256k1.ts';
import { seal, signBody } from '../../src/lib/statechain/seal.ts';
import { KEYS, depositThrough, flow, fundingTo, ok, refused, type Flow } from './statechain-flow.ts';

describe('statechain refusals leave every party\'s state as it was', () => {
  let dir: { path: string; cleanup: () => void };
  let f: Flow;
  let coinId: string;
  let msgs: Record<string, string>;
  const operatorPub = hexOf(publicKeyOf(bytesOf(KEYS.OPERATOR_KEY!)));

  beforeAll(() => {
    dir = tempDir('offchain-e2e-sc-refusals-');
    f = flow(dir.path, () => ['--tip-height', '200', '--deposit-confirmations', '3']);
    const d = depositThrough(f, 'ALICE_KEY', (address) => fundingTo(address, 100_000n));
    coinId = d.coinId;
    const request = ok(f.as('BOB_KEY', ['statechain-transfer', '--start', '--coin', coinId, '--operator-key', operatorPub]));
    const sign = ok(f.as('ALICE_KEY', ['statechain-transfer'], request));
    const cosigned = ok(f.as('OPERATOR_KEY', ['statechain-transfer'], sign));
    const pkg = ok(f.as('ALICE_KEY', ['statechain-transfer'], cosigned));
    msgs = { request, sign, cosigned, pkg };
  }, 300_000);
  afterAll(() => dir.cleanup());

  /** Run `who`'s step, expect the refusal, and that nobody's files changed. */
  const expectNothingWritten = (who: string, args: string[], input: string, code: string, status: number, chain?: string[]) => {
    const before = snapshot(dir.path);
    const r = chain
      ? flow(dir.path, () => chain).as(who, args, input)
      : f.as(who, args, input);
    refused(r, code, status);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(snapshot(dir.path)).toEqual(before);
  };

  it('the operator: the same request again is answered the same, writing nothing', () => {
    const before = snapshot(dir.path);
    expect(ok(f.as('OPERATOR_KEY', ['statechain-transfer'], msgs.sign!))).toBe(msgs.cosigned);
    expect(snapshot(dir.path)).toEqual(before);
  });

  it('the operator: a request for a coin it does not have (E_UNKNOWN_COIN, 5)', () => {
    expectNothingWritten('OPERATOR_KEY', ['statechain-transfer'], msgs.sign!.replace(new RegExp(coinId, 'g'), 'ab'.repeat(16)), 'E_UNKNOWN_COIN', 5);
  });

  it('the operator: a request changed after the owner signed it (E_BAD_REQUEST_SIG, 4)', () => {
    const m = JSON.parse(msgs.sign!) as { locktime: number };
    expectNothingWritten('OPERATOR_KEY', ['statechain-transfer'], JSON.stringify({ ...m, locktime: m.locktime - 10 }), 'E_BAD_REQUEST_SIG', 4);
  });

  it('the receiver: a deposit short of its confirmations (E_DEPOSIT_UNCONFIRMED, 4), before accepting anything', () => {
    expectNothingWritten('BOB_KEY', ['statechain-transfer'], msgs.pkg!, 'E_DEPOSIT_UNCONFIRMED', 4, ['--tip-height', '200', '--deposit-confirmations', '1']);
    expectNothingWritten('BOB_KEY', ['statechain-verify'], msgs.pkg!, 'E_DEPOSIT_UNCONFIRMED', 4, ['--tip-height', '200', '--deposit-confirmations', '0']);
  });

  it('the operator: a wrong t₂ signed by the receiver (E_BAD_T2), another receiver, a cut ciphertext — its share unchanged', () => {
    const bobAccept = JSON.parse(ok(f.as('BOB_KEY', ['statechain-transfer'], msgs.pkg!))) as Record<string, string>;
    const carolReq = JSON.parse(ok(f.as('CAROL_KEY', ['statechain-transfer', '--start', '--coin', coinId, '--operator-key', operatorPub]))) as { receiver_auth: string };
    // Bob (whose key the test holds) sends a t₂ that is not t₁ − o₂, sealed and signed properly.
    const { receiver_sig: _, ...body }: Record<string, string> = { ...bobAccept, t2_sealed: seal(bytesOf(operatorPub), bytesOf('00'.repeat(31) + '2a'), `${coinId}/${bobAccept.transfer_id}/t2`, bytesOf('77'.repeat(32))) };
    const wrongT2 = { ...body, receiver_sig: signBody(bobAccept.type!, body, bytesOf(KEYS.BOB_KEY!), new Uint8Array(32)) };
    expectNothingWritten('OPERATOR_KEY', ['statechain-transfer'], JSON.stringify(wrongT2), 'E_BAD_T2', 4);
    expectNothingWritten('OPERATOR_KEY', ['statechain-transfer'], JSON.stringify({ ...bobAccept, receiver_auth: carolReq.receiver_auth }), 'E_WRONG_RECEIVER', 4);
    expectNothingWritten('OPERATOR_KEY', ['statechain-transfer'], JSON.stringify({ ...bobAccept, t2_sealed: bobAccept.t2_sealed!.slice(0, 100) }), 'E_BAD_REQUEST_SIG', 4);
    // The honest acceptance still completes afterwards.
    expect(JSON.parse(ok(f.as('OPERATOR_KEY', ['statechain-transfer'], JSON.stringify(bobAccept)))).type).toBe('statechain/transfer-done');
  });

  it('the receiver: a package not sealed for it, or one it has already accepted', () => {
    expectNothingWritten('DAVE_KEY', ['statechain-transfer'], msgs.pkg!, 'E_NOT_RECEIVING', 5);
    // Carol asked for the coin (previous test) but the package is Bob's.
    expectNothingWritten('CAROL_KEY', ['statechain-transfer'], msgs.pkg!, 'E_WRONG_RECEIVER', 4);
    expectNothingWritten('BOB_KEY', ['statechain-transfer'], msgs.pkg!, 'E_NOT_RECEIVING', 5);
  });

  it('malformed input: not JSON (3), a message of another command (3)', () => {
    expectNothingWritten('OPERATOR_KEY', ['statechain-transfer'], '{"type": "statechain/transfer-sign", "version": 1', 'E_MALFORMED_JSON', 3);
    expectNothingWritten('OPERATOR_KEY', ['statechain-transfer'], msgs.request!.replace('statechain/transfer-request', 'statechain/deposit-request'), 'E_WRONG_MESSAGE', 3);
  });

  it('the owner: a backup before its locktime (E_NOT_FINAL, 4)', () => {
    expectNothingWritten('ALICE_KEY', ['statechain-backup', '--coin', coinId], '', 'E_NOT_FINAL', 4);
  });
});
