/**
 * Issue 22, deliver 5: a pair is a pair at the operator. A coin held jointly (O = A + B)
 * is bound at the operator to both parts' authentication keys (`owner_auth_b`); what only
 * the pair may ask — a withdrawal, a transfer — needs B's own signed consent to exactly
 * that request, besides A's request signature. A alone (before: enough) is refused, and
 * nothing changes at the operator (no record returned; the honest pair still withdraws).
 * Each part also refuses a transfer the operator would not bind to both parts.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { toHex } from '../../../src/lib/bytes.ts';
import * as op from '../../../src/lib/statechain/operator.ts';
import * as own from '../../../src/lib/statechain/owner.ts';
import * as tr from '../../../src/lib/statechain/transfer.ts';
import * as send from '../../../src/lib/statechain/joint-send.ts';
import { nonceGen } from '../../../src/lib/statechain/signer.ts';
import { signStatement } from '../../../src/lib/statechain/statement.ts';
import { verifyTransfer } from '../../../src/lib/statechain/verify.ts';
import { refusal, refusalAsync } from '../../setup/refusal.ts';
import { cleanup, pairOwned, party, towards } from './harness.ts';
import * as joint from '../../../src/lib/statechain/joint.ts';

afterAll(cleanup);

const DEST = Uint8Array.from([0x00, 0x14, ...new Uint8Array(20).fill(4)]);

describe('a pair is a pair at the operator', () => {
  it('the operator binds the pair\'s coin to both parts; A alone cannot have it co-sign a withdrawal (E_PAIR_CONSENT), nor with B\'s consent to another', async () => {
    const p = await pairOwned();
    expect({ a: p.opRecord.statement.owner_auth, b: p.opRecord.statement.owner_auth_b }).toEqual({ a: toHex(p.alice.auth.publicKey), b: toHex(p.bob.auth.publicKey) });
    // A alone: a withdrawal request signed with A's key (the coin's owner_auth), with no consent from B.
    const tx = own.withdrawalTransaction(p.recA, DEST, 2);
    const alone = { type: 'statechain/withdraw-request', version: 1, network: 'regtest', coin_id: p.coinId, tx: toHex(tx.unsignedTx), owner_pubnonce: toHex(nonceGen(new Uint8Array(64).fill(5)).pubnonce) };
    refusal(() => op.cosignWithdrawal(p.opRecord, own.sign(alone.type, alone, 'owner_sig', p.alice) as never, p.d.opCtx), 'E_PAIR_CONSENT', 4);
    // B consented to a withdrawal at 2 sat/vB; A asks the operator for one at 5 sat/vB with B's consent attached.
    const bNonce = await send.jointWithdrawNonce(p.recB, DEST, 2, p.bob);
    const other = { ...alone, tx: toHex(own.withdrawalTransaction(p.recA, DEST, 5).unsignedTx), part_b: bNonce.message };
    refusal(() => op.cosignWithdrawal(p.opRecord, own.sign(other.type, other, 'owner_sig', p.alice) as never, p.d.opCtx), 'E_PAIR_CONSENT', 4);
    // B's consent forged by A (signed with A's key) is refused too.
    const { part_sig: _sig, ...consent } = bNonce.message as Record<string, unknown>;
    const forged = { ...alone, part_b: own.sign(String(consent.type), consent, 'part_sig', p.alice) };
    refusal(() => op.cosignWithdrawal(p.opRecord, own.sign(forged.type, forged, 'owner_sig', p.alice) as never, p.d.opCtx), 'E_BAD_REQUEST_SIG', 4);
    // The pair together: B's nonce, A's request carrying it; the operator co-signs.
    const req = await send.jointWithdrawRequest(p.recA, bNonce.message as never, DEST, 2, p.alice);
    const cos = op.cosignWithdrawal(p.opRecord, req.message as never, p.d.opCtx);
    expect(cos.record.statement.status).toBe('withdrawn');
    // B prints the pair's signed withdrawal; kept, it is printed again the same (statechain-withdraw --coin ID alone).
    refusal(() => send.storedJointWithdrawal(bNonce.record), 'E_NOT_SIGNED', 5);
    const signA = await send.jointWithdrawSignA(req.record, cos.message as never, p.alice);
    const fin = await send.jointWithdrawFinish(bNonce.record, signA.message as never, p.bob);
    expect(send.storedJointWithdrawal(fin.record)).toEqual(fin.signed);
    expect((await send.jointWithdrawFinish(fin.record, signA.message as never, p.bob)).signed).toEqual(fin.signed);
  });

  it('A alone cannot have the operator co-sign a transfer of the pair\'s coin (E_PAIR_CONSENT); with B\'s consent it can', async () => {
    const p = await pairOwned();
    const carol = party('pair-carol');
    const req = tr.startReceive(p.coinId, p.d.operator.auth.publicKey, carol);
    // A acting as a single owner would: the backup, A's nonce, A's signature — no B.
    const asOne = { ...p.recA, signing: null, transfer: null, status: 'active' as const };
    const alone = await tr.transferSign(asOne, req.message as never, 200, p.alice);
    await refusalAsync(op.cosignTransfer(p.opRecord, alone.message as never, p.d.opCtx), 'E_PAIR_CONSENT', 4);
    const nonce = await send.jointNonce(p.recB, req.message as never, 200, p.bob);
    const sign = await send.jointTransferSign(p.recA, nonce.message as never, 200, p.alice);
    expect((await op.cosignTransfer(p.opRecord, sign.message as never, p.d.opCtx)).record.statement.status).toBe('transferring');
  });

  it('each part refuses a transfer to the pair that the operator does not bind to both parts (E_WRONG_RECEIVER)', async () => {
    const s = await towards('pair-verify');
    const bob = party('pair-verify-b');
    const b = joint.startPart(s.d.ownerRecord.coin_id, s.d.operator.auth.publicKey, bob);
    const a = joint.startJointReceive(s.d.ownerRecord.coin_id, s.d.operator.auth.publicKey, b.message as never, party('pair-verify-a'));
    const { operator_sig: _sig, ...body } = structuredClone(s.inner.statement);
    body.transfer = { ...body.transfer!, receiver_auth: a.pending.parts[0]!.auth, receiver_share: a.pending.share };
    const inner = { ...s.inner, statement: signStatement(body, s.d.operator.auth, s.d.operator.random) };
    const expected = {
      coinId: s.d.ownerRecord.coin_id, transferId: body.transfer.transfer_id, receiverShare: a.pending.share, receiverAuth: a.pending.parts[0]!.auth,
      receiverAuthB: a.pending.parts[1]!.auth, operatorAuth: s.d.operator.auth.publicKey,
    };
    const e = refusal(() => verifyTransfer(inner, expected, { tipHeight: 200, deposit: s.chain.deposit! }), 'E_WRONG_RECEIVER', 4);
    expect(e.message).toContain('both parts');
  });
});
