/**
 * Finding J (issue 22 review), the send half: a pair whose package left ('sent') and whose
 * receiver vanished can send the coin to another receiver, as a single sender can from
 * 'sent'; the same receiver's request again prints the stored answers (never a second
 * transfer). Library level.
 */
import { afterAll, describe, expect, it } from 'vitest';
import * as op from '../../../src/lib/statechain/operator.ts';
import type { OperatorRecord } from '../../../src/lib/statechain/ports.ts';
import * as tr from '../../../src/lib/statechain/transfer.ts';
import * as send from '../../../src/lib/statechain/joint-send.ts';
import { cleanup, pairOwned, party } from './harness.ts';

afterAll(cleanup);

async function sendTo(p: Awaited<ReturnType<typeof pairOwned>>, recA: send.SendingRecord, recB: send.SendingRecord, opRecord: OperatorRecord, name: string) {
  const who = party(name);
  const req = tr.startReceive(p.coinId, p.d.operator.auth.publicKey, who);
  const nonce = await send.jointNonce(recB, req.message as never, 200, p.bob);
  const sign = await send.jointTransferSign(recA, nonce.message as never, 200, p.alice);
  const cos = await op.cosignTransfer(opRecord, sign.message as never, p.d.opCtx);
  const signA = await send.jointSignA(sign.record, cos.message as never, p.alice);
  const pkg = await send.jointPackage(nonce.record, signA.message as never, p.bob);
  return { who, req, nonce, sign, cos, signA, pkg };
}

describe('a pair in \'sent\' whose receiver vanished', () => {
  it('sends the coin to another receiver, who takes it (the abandoned backup counted); the vanished receiver\'s request again prints the stored answers', async () => {
    const p = await pairOwned();
    const first = await sendTo(p, p.recA, p.recB, p.opRecord, 'vanishing-mallory');
    expect(first.pkg.record.status).toBe('sent');
    // Mallory's request again (the pipeline rerun): B's stored joint-nonce, A's stored transfer-sign, nothing new.
    const againB = await send.jointNonce(first.pkg.record, first.req.message as never, 200, p.bob);
    expect(againB.message).toEqual(first.nonce.message);
    expect(againB.record).toBe(first.pkg.record);
    const againA = await send.jointTransferSign(first.signA.record, first.nonce.message as never, 200, p.alice);
    expect(againA.message).toEqual(first.sign.message);
    // Carol instead: the pair re-sends from 'sent'; the operator, still 'transferring', replaces the pending transfer.
    const second = await sendTo(p, first.signA.record, first.pkg.record, first.cos.record, 'carol');
    const facts = p.facts;
    const accepted = tr.acceptPackage(second.pkg.message as never, second.req.pending, facts, second.who);
    expect(accepted.verified.backups).toBe(4); // backup 1, the pair's, Mallory's (abandoned, counted), Carol's
    const done = op.completeTransfer(second.cos.record, accepted.message as never, p.d.opCtx);
    expect(done.record.statement.owner_share).toBe(second.req.pending.share);
    expect(tr.finishReceive(accepted.record, done.message as never).status).toBe('active');
  });
});
