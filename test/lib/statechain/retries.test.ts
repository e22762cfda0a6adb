/**
 * Issue 22, findings 3, 5 and 7 (lost answers): retries never lose a signed step.
 *
 * Every party keeps each answer it produced until the next step is confirmed; a rerun
 * prints the same bytes and writes nothing:
 * - the owner's signed withdrawal is in its record before it is printed or broadcast; the
 *   same operator answer again prints the same transaction (and a new withdrawal is told
 *   the old one is signed), and the step-1 request repeated is the same request;
 * - a single receiver keeps its transfer-accept; its answer lost, the same package again
 *   prints the same acceptance, which the operator completes;
 * - a sender whose transfer-cosigned answer was lost reruns step 2 with the same receiver
 *   request and gets the same transfer-sign; the operator answers it again with its stored
 *   answer, and the transfer completes (before: a new transfer id, E_BACKUP_LOCKTIME forever).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { verifyKeyPathSpend } from '../../independent/verify.ts';
import * as op from '../../../src/lib/statechain/operator.ts';
import * as own from '../../../src/lib/statechain/owner.ts';
import * as dep from '../../../src/lib/statechain/deposit.ts';
import * as tr from '../../../src/lib/statechain/transfer.ts';
import * as joint from '../../../src/lib/statechain/joint.ts';
import { toHex } from '../../../src/lib/bytes.ts';
import { refusal, refusalAsync } from '../../setup/refusal.ts';
import { ANCHORED_TERMS, chainStub, cleanup, depositRequested, fundingTx, pairOwned, party, towards, confirmedCoin } from './harness.ts';
import { DEFAULT_FLOOR } from '../../../src/lib/statechain/floor.ts';
import * as send from '../../../src/lib/statechain/joint-send.ts';

afterAll(cleanup);

const TO = Uint8Array.from([0x00, 0x14, ...new Uint8Array(20).fill(9)]);


describe('the owner\'s withdrawal is never lost', () => {
  it('the signed withdrawal is kept before it leaves; the same answer again prints the same bytes; a new withdrawal is refused, the stored one printed', async () => {
    const { d, prevout, coinOutputKey } = await confirmedCoin();
    const w = await own.withdrawRequest(d.ownerRecord, TO, 2, d.owner);
    // Step 1 repeated (its answer lost before it reached the operator): the same request, no second nonce.
    const again = await own.withdrawRequest(w.record, TO, 2, d.owner);
    expect(again.message).toEqual(w.message);
    expect(again.record).toBe(w.record);
    const cos = op.cosignWithdrawal(d.opRecord, w.message as never, d.opCtx);
    const fin = await own.withdrawFinish(w.record, cos.message as never, d.owner);
    verifyKeyPathSpend(fin.signed.hex, [prevout], coinOutputKey);
    // What the command writes before printing or broadcasting holds the signed bytes.
    expect(fin.record.withdrawal).toEqual({ txid: fin.signed.txid, hex: fin.signed.hex, broadcast: false });
    // The broadcast failed (no node, or the node refused): the step again prints the same bytes, changing nothing.
    const rerun = await own.withdrawFinish(fin.record, cos.message as never, d.owner);
    const bytes = { txid: fin.signed.txid, hex: fin.signed.hex };
    expect(rerun.signed).toEqual(bytes);
    expect(rerun.record).toBe(fin.record);
    expect(own.storedWithdrawal(fin.record)).toEqual(bytes);
    await refusalAsync(own.withdrawRequest(fin.record, TO, 3, d.owner), 'E_ALREADY_WITHDRAWN', 5);
    refusal(() => own.storedWithdrawal(d.ownerRecord), 'E_NOT_SIGNED', 5);
  });
});

describe('a single receiver can repeat its acceptance', () => {
  it('its transfer-accept is kept with the coin: the package again prints the same bytes, and the operator completes them', async () => {
    const s = await towards('retry-bob');
    const facts = { tipHeight: 200, deposit: s.chain.deposit! };
    const accepted = tr.acceptPackage(s.pkg.message as never, s.req.pending, facts, s.receiver);
    // The acceptance is lost: the receiver's state (the coin, receiving) answers the same package with the same bytes.
    expect(tr.acceptedBefore(accepted.record, s.pkg.message as never)).toEqual(accepted.message);
    expect(tr.acceptedBefore(accepted.record, { ...(s.pkg.message as { coin_id: string }), transfer_id: 'ee'.repeat(16) })).toBeUndefined();
    const done = op.completeTransfer(s.cosigned.record, tr.acceptedBefore(accepted.record, s.pkg.message as never) as never, s.d.opCtx);
    const mine = tr.finishReceive(accepted.record, done.message as never);
    expect({ status: mine.status, owner: done.record.statement.owner_share }).toEqual({ status: 'active', owner: s.req.pending.share });
    // Once the coin is ours, the package is history: nothing is printed again.
    expect(tr.acceptedBefore(mine, s.pkg.message as never)).toBeUndefined();
  });
});

describe('a sender whose transfer-cosigned answer was lost', () => {
  it('reruns step 2 with the same request and gets the same transfer-sign; the operator answers it again; the transfer completes', async () => {
    const { chain, d } = await confirmedCoin();
    const bob = party('lost-cosigned-bob');
    const req = tr.startReceive(d.ownerRecord.coin_id, d.operator.auth.publicKey, bob);
    const sign = await tr.transferSign(d.ownerRecord, req.message as never, 200, d.owner);
    const cos = await op.cosignTransfer(d.opRecord, sign.message as never, d.opCtx); // its answer is lost
    const sign2 = await tr.transferSign(sign.record, req.message as never, 200, d.owner);
    expect(sign2.message).toEqual(sign.message);
    const cos2 = await op.cosignTransfer(cos.record, sign2.message as never, d.opCtx);
    expect(cos2.message).toEqual(cos.message);
    // Another receiver while the answer is outstanding is refused (the operator may have counted the first backup).
    const carol = party('lost-cosigned-carol');
    await refusalAsync(tr.transferSign(sign.record, tr.startReceive(d.ownerRecord.coin_id, d.operator.auth.publicKey, carol).message as never, 200, d.owner), 'E_TRANSFER_PENDING', 5);
    const pkg = await tr.transferPackage(sign2.record, cos2.message as never, d.owner);
    const accepted = tr.acceptPackage(pkg.message as never, req.pending, { tipHeight: 200, deposit: chain.deposit! }, bob);
    const done = op.completeTransfer(cos2.record, accepted.message as never, d.opCtx);
    expect(tr.finishReceive(accepted.record, done.message as never).status).toBe('active');
  });
});

describe('a pair\'s first part repeats its acceptance', () => {
  it('A reading B\'s joint-t2 again (its acceptance lost) prints the same transfer-accept bytes', async () => {
    const { chain, d } = await confirmedCoin(ANCHORED_TERMS);
    const facts = { tipHeight: 200, deposit: chain.deposit! };
    const bob = party('retry-pair-bob');
    const alice = party('retry-pair-alice');
    const b = joint.startPart(d.ownerRecord.coin_id, d.operator.auth.publicKey, bob);
    const a = joint.startJointReceive(d.ownerRecord.coin_id, d.operator.auth.publicKey, b.message as never, alice);
    const sign = await tr.transferSign(d.ownerRecord, a.message as never, 200, d.owner);
    const cos = await op.cosignTransfer(d.opRecord, sign.message as never, d.opCtx);
    const pkg = await tr.transferPackage(sign.record, cos.message as never, d.owner);
    const taken = joint.jointTakePackage(pkg.message as never, a.pending, facts, alice);
    const t2 = joint.jointTakeHandoff(taken.message as never, b.pending, facts, bob);
    const first = joint.jointAcceptFrom(t2.message as never, taken.record, alice);
    expect(joint.jointAcceptFrom(t2.message as never, taken.record, alice)).toEqual(first);
    expect(op.completeTransfer(cos.record, first as never, d.opCtx).record.statement.owner_auth_b).toBe(toHex(bob.auth.publicKey));
  });
});

describe('a pair sending its coin repeats its steps', () => {
  it('B\'s joint-nonce and A\'s transfer-sign, lost and asked again, print the same bytes; another receiver waits (E_TRANSFER_PENDING); the transfer completes', async () => {
    const p = await pairOwned();
    const carol = party('retry-pair-carol');
    const req = tr.startReceive(p.coinId, p.d.operator.auth.publicKey, carol);
    const nonce = await send.jointNonce(p.recB, req.message as never, 200, p.bob);
    const nonce2 = await send.jointNonce(nonce.record, req.message as never, 200, p.bob);
    expect(nonce2.message).toEqual(nonce.message);
    const dave = tr.startReceive(p.coinId, p.d.operator.auth.publicKey, party('retry-pair-dave'));
    await refusalAsync(send.jointNonce(nonce.record, dave.message as never, 200, p.bob), 'E_TRANSFER_PENDING', 5);
    const sign = await send.jointTransferSign(p.recA, nonce.message as never, 200, p.alice);
    const sign2 = await send.jointTransferSign(sign.record, nonce.message as never, 200, p.alice);
    expect(sign2.message).toEqual(sign.message);
    const cos = await op.cosignTransfer(p.opRecord, sign2.message as never, p.d.opCtx);
    const signA = await send.jointSignA(sign.record, cos.message as never, p.alice);
    const pkg = await send.jointPackage(nonce.record, signA.message as never, p.bob);
    const accepted = tr.acceptPackage(pkg.message as never, req.pending, p.facts, carol);
    const done = op.completeTransfer(cos.record, accepted.message as never, p.d.opCtx);
    expect({ owner: done.record.statement.owner_share, b: done.record.statement.owner_auth_b }).toEqual({ owner: req.pending.share, b: undefined });
  });
});

describe('a depositor repeats its steps', () => {
  it('step 3 again (its deposit-backup lost) prints the same request; step 5 again prints the same coin, nothing signed twice', async () => {
    const chain = chainStub(200);
    const r = await depositRequested(chain);
    const backup = await dep.depositBackup(r.start.pending, r.offer.message as never, r.funding, 200, DEFAULT_FLOOR, r.owner);
    expect(dep.depositRequestedBefore(backup.record, r.offer.message as never, r.funding)).toEqual(backup.message);
    // Another funding for the same offer is not this request.
    expect(dep.depositRequestedBefore(backup.record, r.offer.message as never, fundingTx(r.key.script, 90_000n))).toBeUndefined();
    const cos = await op.cosignDepositBackup(r.offer.record, backup.message as never, r.opCtx);
    const coin = await dep.depositFinish(backup.record, cos.message as never, r.owner);
    expect(await dep.depositFinish(coin, cos.message as never, r.owner)).toBe(coin);
    expect(dep.depositRequestedBefore(coin, r.offer.message as never, r.funding)).toBeUndefined();
  });
});
