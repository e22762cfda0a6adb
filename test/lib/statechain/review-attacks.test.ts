/**
 * Review of issue 22 as an attacker (a malicious operator, a sender, a receiver, a pair's
 * part). Each `it` here is a finding: it fails on the code as reviewed and states the
 * invariant the fix must restore. Library level, milliseconds.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { verifyKeyPathSpend } from '../../independent/verify.ts';
import { parseTx } from '../../independent/tx.ts';
import * as op from '../../../src/lib/statechain/operator.ts';
import * as own from '../../../src/lib/statechain/owner.ts';
import * as dep from '../../../src/lib/statechain/deposit.ts';
import * as tr from '../../../src/lib/statechain/transfer.ts';
import { ownerScript } from '../../../src/lib/statechain/coin.ts';
import { signStatement } from '../../../src/lib/statechain/statement.ts';
import { OffchainError } from '../../../src/lib/errors.ts';
import { refusal } from '../../setup/refusal.ts';
import { TERMS, chainStub, cleanup, depositRequested, pairOwned, party, transfer, confirmedCoin } from './harness.ts';
import { DEFAULT_FLOOR } from '../../../src/lib/statechain/floor.ts';
import * as send from '../../../src/lib/statechain/joint-send.ts';

afterAll(cleanup);

const TO = Uint8Array.from([0x00, 0x14, ...new Uint8Array(20).fill(9)]);


describe('finding A: a withdrawal asked again with another --fee-rate after its answer was lost', () => {
  it('never loses the withdrawal the operator already co-signed (the owner ends with a valid signed withdrawal)', async () => {
    const { d, prevout, coinOutputKey } = await confirmedCoin();
    // Step 1; the operator co-signs it (and closes the coin); its answer never reaches the owner.
    const w1 = await own.withdrawRequest(d.ownerRecord, TO, 2, d.owner);
    const lost = op.cosignWithdrawal(d.opRecord, w1.message as never, d.opCtx);
    // The owner, seeing no answer, asks again at a higher fee rate — as the docs allow for any --to/--fee-rate.
    let record = w1.record;
    let opRecord = lost.record;
    let answer: Record<string, unknown> = lost.message;
    try {
      const w2 = await own.withdrawRequest(w1.record, TO, 5, d.owner);
      record = w2.record;
      // The operator answers the new request if it can; else the lost answer is what it replays.
      try {
        const cos2 = op.cosignWithdrawal(opRecord, w2.message as never, d.opCtx);
        opRecord = cos2.record;
        answer = cos2.message;
      } catch (e) {
        if (!(e instanceof OffchainError)) throw e;
      }
    } catch (e) {
      // A fix may refuse the second request while the first waits (as a sender's E_TRANSFER_PENDING).
      if (!(e instanceof OffchainError) || e.exitCode !== 5) throw e;
    }
    // Whatever the owner now holds, some answer the operator gave must finish it.
    const fin = await own.withdrawFinish(record, answer as never, d.owner);
    verifyKeyPathSpend(fin.signed.hex, [prevout], coinOutputKey);
  });
});

describe('finding B: the receiver takes the operator\'s transfer-done statement unchecked', () => {
  async function receivedCoin() {
    const { chain, d } = await confirmedCoin();
    const t = await transfer(chain, { opRecord: d.opRecord, opCtx: d.opCtx, sender: d.owner, senderRecord: d.ownerRecord }, 'bob');
    const accepted = t.steps.accepted.record;
    const done = t.steps.done.message as { statement: Record<string, unknown> };
    const { operator_sig: _sig, ...body } = done.statement as never as Record<string, unknown>;
    const lie = (change: Record<string, unknown>) => ({ ...done, statement: signStatement({ ...body, ...change } as never, d.opCtx.operator, d.operator.random) });
    return { d, accepted, done, body, lie, t };
  }

  it('refuses a transfer-done whose statement changes the coin\'s amount (E_BAD_STATEMENT), as a sender or withdrawing owner does', async () => {
    const { accepted, body, lie } = await receivedCoin();
    refusal(() => tr.finishReceive(accepted, lie({ amount_sat: (body.amount_sat as number) - 1 }) as never), 'E_BAD_STATEMENT', 4);
  });

  it('refuses a transfer-done whose new operator share does not complete P with our share', async () => {
    const { accepted, lie } = await receivedCoin();
    const bogus = toHexKey(secp256k1.getPublicKey(Uint8Array.from({ length: 32 }, (_, i) => i + 1), true));
    const e = (() => {
      try {
        tr.finishReceive(accepted, lie({ operator_share: bogus }) as never);
      } catch (x) {
        return x;
      }
      return undefined;
    })();
    expect(e, 'a statement with S₂ + O₂ ≠ P was taken as the coin').toBeInstanceOf(OffchainError);
    expect((e as OffchainError).exitCode).toBe(4);
  });

  it('a transfer-done whose backup records swap owners never makes the receiver\'s backup step pick the previous owner\'s backup', async () => {
    const { accepted, body, lie } = await receivedCoin();
    const records = body.backups as { owner_share: string }[];
    const swapped = records.map((r, i) => ({ ...r, owner_share: records[records.length - 1 - i]!.owner_share }));
    let record: own.OwnerRecord;
    try {
      record = tr.finishReceive(accepted, lie({ backups: swapped }) as never);
    } catch (e) {
      if (!(e instanceof OffchainError)) throw e;
      return; // refused: what the fix does
    }
    // Taken: `statechain-backup --coin ID` (no --to) prints, and with --broadcast sends, this backup as ours.
    const ours = own.backupWithChild(record, undefined, new Uint8Array(32));
    const pays = toHexKey(parseTx(ours.hex).outputs[0]!.script);
    const mine = toHexKey(ownerScript(Buffer.from(accepted.share, 'hex')));
    expect(pays, 'the backup the receiver would broadcast pays the previous owner').toBe(mine);
  });
});

function toHexKey(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

describe('finding C: a pair\'s withdrawal step whose answer was lost cannot be asked again', () => {
  it('B\'s joint-withdraw-nonce lost: B asking again with the same --to and --fee-rate prints it again, and the withdrawal completes', async () => {
    const p = await pairOwned();
    const b1 = await send.jointWithdrawNonce(p.recB, TO, 2, p.bob);
    // The message never reached A; B runs the same step again, on the record it wrote.
    const b2 = await send.jointWithdrawNonce(b1.record, TO, 2, p.bob);
    expect(b2.message).toEqual(b1.message);
    const a = await send.jointWithdrawRequest(p.recA, b2.message as never, TO, 2, p.alice);
    const cos = op.cosignWithdrawal(p.opRecord, a.message as never, p.d.opCtx);
    const sa = await send.jointWithdrawSignA(a.record, cos.message as never, p.alice);
    const fin = await send.jointWithdrawFinish(b2.record, sa.message as never, p.bob);
    expect(fin.signed.hex).toMatch(/^[0-9a-f]+$/);
  });

  it('A\'s withdraw-request lost: A reading B\'s same joint-withdraw-nonce again prints the same request, and the withdrawal completes', async () => {
    const p = await pairOwned();
    const b = await send.jointWithdrawNonce(p.recB, TO, 2, p.bob);
    const a1 = await send.jointWithdrawRequest(p.recA, b.message as never, TO, 2, p.alice);
    // The request never reached the operator; A runs the same step again, on the record it wrote.
    const a2 = await send.jointWithdrawRequest(a1.record, b.message as never, TO, 2, p.alice);
    expect(a2.message).toEqual(a1.message);
    const cos = op.cosignWithdrawal(p.opRecord, a2.message as never, p.d.opCtx);
    const sa = await send.jointWithdrawSignA(a2.record, cos.message as never, p.alice);
    const fin = await send.jointWithdrawFinish(b.record, sa.message as never, p.bob);
    expect(fin.signed.hex).toMatch(/^[0-9a-f]+$/);
  });
});

describe('finding D: the depositor\'s floor does not bound how long its refund is locked', () => {
  it('with no flag, a depositor refuses an offer whose backup 1 is final only 100,000 blocks (~1.9 years) after funding', async () => {
    const chain = chainStub(200);
    // The operator's own default is 12,960 blocks (90 days); this one offers the schema's maximum.
    const r = await depositRequested(chain, 100_000n, { ...TERMS, initial_lock: 100_000 });
    let backupLocktime: number | undefined;
    try {
      const backup = await dep.depositBackup(r.start.pending, r.offer.message as never, r.funding, chain.height, DEFAULT_FLOOR, r.owner);
      backupLocktime = parseTx(backup.message.backup_tx as string).lockTime;
    } catch (e) {
      if (!(e instanceof OffchainError) || e.exitCode !== 4) throw e;
      return; // refused below the owner's floor: what the fix does
    }
    expect(backupLocktime, 'the depositor asks for backup 1 locked 100,000 blocks past the tip, under the default floor').toBeUndefined();
  });
});

describe('finding H: the depositor does not check the statement\'s owner_auth_b', () => {
  it('refuses an offer (and a deposit-cosigned) whose statement binds the new coin to a second part the depositor never named', async () => {
    const chain = chainStub(200);
    const r = await depositRequested(chain);
    const offer = r.offer.message as { statement: Record<string, unknown> };
    const { operator_sig: _sig, ...body } = offer.statement;
    const stranger = toHexKey(secp256k1.getPublicKey(Uint8Array.from({ length: 32 }, (_, i) => 200 - i), true));
    const lied = { ...offer, statement: signStatement({ ...body, owner_auth_b: stranger } as never, r.opCtx.operator, r.operator.random) };
    let requested = false;
    try {
      await dep.depositBackup(r.start.pending, lied as never, r.funding, chain.height, DEFAULT_FLOOR, r.owner);
      requested = true;
    } catch (e) {
      if (!(e instanceof OffchainError) || e.exitCode !== 4) throw e;
    }
    // Taken, an operator that records it refuses every transfer and withdrawal without that stranger's consent (E_PAIR_CONSENT),
    // and depositFinish does not compare owner_auth_b either.
    expect(requested, 'the depositor asked for backup 1 of a coin the operator binds to a stranger').toBe(false);
  });
});

describe('finding I: the sender\'s step 2 rerun after its package left starts a second transfer to the same receiver', () => {
  it('the same receiver\'s request again, once the package is out (\'sent\'), prints the stored answer or is refused — never a new backup and transfer', async () => {
    const { chain, d } = await confirmedCoin();
    const receiver = party('rerun-bob');
    const req = tr.startReceive(d.ownerRecord.coin_id, d.operator.auth.publicKey, receiver);
    const sign = await tr.transferSign(d.ownerRecord, req.message as never, chain.height, d.owner);
    const cos = await op.cosignTransfer(d.opRecord, sign.message as never, d.opCtx);
    const pkg = await tr.transferPackage(sign.record, cos.message as never, d.owner);
    // The receiver accepts package 1 (and may pay on it); then the sender's pipeline is rerun from step 2 with the same request.
    const accepted = tr.acceptPackage(pkg.message as never, req.pending, { tipHeight: chain.height, deposit: chain.deposit ?? null }, receiver);
    let again: { message: Record<string, unknown> } | undefined;
    try {
      again = await tr.transferSign(pkg.record, req.message as never, chain.height, d.owner);
    } catch (e) {
      if (!(e instanceof OffchainError) || e.exitCode !== 5) throw e;
    }
    let opRecord = cos.record;
    if (again !== undefined) opRecord = (await op.cosignTransfer(opRecord, again.message as never, d.opCtx)).record; // the pipeline goes on to the operator
    // The receiver's acceptance of package 1 must still complete (before: E_STALE_TRANSFER — its transfer replaced by a second
    // one to the same share, whose package it cannot take: its receive- record is gone, E_NOT_RECEIVING).
    expect(op.completeTransfer(opRecord, accepted.message as never, d.opCtx).record.statement.owner_share).toBe(req.pending.share);
  });
});

describe('finding J: a pair whose receiver takes the package and vanishes cannot pre-empt the receiver\'s backup', () => {
  it('after the pair\'s package left (\'sent\'), the pair can still withdraw cooperatively — as a single sender can from \'sent\'', async () => {
    const p = await pairOwned();
    const mallory = party('vanishing-mallory');
    const req = tr.startReceive(p.coinId, p.d.operator.auth.publicKey, mallory);
    const nonce = await send.jointNonce(p.recB, req.message as never, 200, p.bob);
    const sign = await send.jointTransferSign(p.recA, nonce.message as never, 200, p.alice);
    const cos = await op.cosignTransfer(p.opRecord, sign.message as never, p.d.opCtx);
    const signA = await send.jointSignA(sign.record, cos.message as never, p.alice);
    const pkg = await send.jointPackage(nonce.record, signA.message as never, p.bob);
    // Mallory now holds a fully signed backup one interval below the pair's, and never accepts (never pays).
    const inner = tr.openPackage(pkg.message as never, req.pending, mallory.auth.secretKey);
    expect(inner.backups).toHaveLength(3);
    // The pair withdraws before Mallory's backup is final (the operator, still 'transferring', co-signs its owner's withdrawal).
    const b = await send.jointWithdrawNonce(pkg.record, TO, 2, p.bob);
    const a = await send.jointWithdrawRequest(signA.record, b.message as never, TO, 2, p.alice);
    const wcos = op.cosignWithdrawal(cos.record, a.message as never, p.d.opCtx);
    const sa = await send.jointWithdrawSignA(a.record, wcos.message as never, p.alice);
    const fin = await send.jointWithdrawFinish(b.record, sa.message as never, p.bob);
    expect(fin.signed.hex).toMatch(/^[0-9a-f]+$/);
  });
});
