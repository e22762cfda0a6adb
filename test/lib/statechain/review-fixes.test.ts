/**
 * The refusals the issue 22 review's fixes added, each with its code and exit class and
 * with nothing consumed (library level: the record passed in is what stays on disk).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import * as op from '../../../src/lib/statechain/operator.ts';
import * as own from '../../../src/lib/statechain/owner.ts';
import * as dep from '../../../src/lib/statechain/deposit.ts';
import * as send from '../../../src/lib/statechain/joint-send.ts';
import { signStatement } from '../../../src/lib/statechain/statement.ts';
import { DEFAULT_FLOOR } from '../../../src/lib/statechain/floor.ts';
import { refusalAsync } from '../../setup/refusal.ts';
import { TERMS, chainStub, cleanup, deposit, depositRequested, pairOwned } from './harness.ts';

afterAll(cleanup);

const TO = Uint8Array.from([0x00, 0x14, ...new Uint8Array(20).fill(9)]);

describe('a withdrawal waiting for the operator (finding A)', () => {
  // Issue 22 refused another withdrawal while one waited (E_WITHDRAWAL_PENDING), so the first's answer could not be
  // lost; issue 37's review keeps the first answerable instead (a refused one was a dead end): withdraw-review.test.ts.
  it('a single owner asking for another withdrawal keeps the first: the same --to/--fee-rate prints the first request again, nothing written', async () => {
    const d = await deposit(chainStub(200));
    const w1 = await own.withdrawRequest(d.ownerRecord, TO, 2, d.owner);
    const w2 = await own.withdrawRequest(w1.record, TO, 5, d.owner);
    const again = await own.withdrawRequest(w2.record, TO, 2, d.owner);
    expect(again.message).toEqual(w1.message);
    expect(again.record).toBe(w2.record);
  });

  it('a pair: B asking for another withdrawal, or A answering another B nonce, keeps the first: the first input prints its stored message again', async () => {
    const p = await pairOwned();
    const b1 = await send.jointWithdrawNonce(p.recB, TO, 2, p.bob);
    const b2 = await send.jointWithdrawNonce(b1.record, TO, 5, p.bob);
    expect((await send.jointWithdrawNonce(b2.record, TO, 2, p.bob)).message).toEqual(b1.message);
    const a1 = await send.jointWithdrawRequest(p.recA, b1.message as never, TO, 2, p.alice);
    const a2 = await send.jointWithdrawRequest(a1.record, b2.message as never, TO, 5, p.alice);
    const again = await send.jointWithdrawRequest(a2.record, b1.message as never, TO, 2, p.alice);
    expect(again.message).toEqual(a1.message);
    expect(again.record).toBe(a2.record);
  });
});

describe('the depositor\'s own checks (findings D, H)', () => {
  it('a deposit-cosigned naming a second part (owner_auth_b) is refused E_BAD_STATEMENT before anything is signed', async () => {
    const chain = chainStub(200);
    const r = await depositRequested(chain);
    const backup = await dep.depositBackup(r.start.pending, r.offer.message as never, r.funding, chain.height, DEFAULT_FLOOR, r.owner);
    const cosigned = await op.cosignDepositBackup(r.offer.record, backup.message as never, r.opCtx);
    const m = cosigned.message as { statement: Record<string, unknown> };
    const { operator_sig: _sig, ...body } = m.statement;
    const stranger = Buffer.from(secp256k1.getPublicKey(Uint8Array.from({ length: 32 }, (_, i) => 100 + i), true)).toString('hex');
    const lied = { ...m, statement: signStatement({ ...body, owner_auth_b: stranger } as never, r.opCtx.operator, r.operator.random) };
    await refusalAsync(dep.depositFinish(backup.record, lied as never, r.owner), 'E_BAD_STATEMENT', 4);
    // The true answer still finishes (no nonce was consumed by the refusal).
    expect((await dep.depositFinish(backup.record, cosigned.message as never, r.owner)).status).toBe('active');
  });

  it('--max-initial-lock: 25,920 blocks is taken by default, 25,921 refused E_BELOW_FLOOR; a lower floor refuses the default 12,960', async () => {
    const chain = chainStub(200);
    const ok = await depositRequested(chain, 100_000n, { ...TERMS, initial_lock: 25_920 });
    await dep.depositBackup(ok.start.pending, ok.offer.message as never, ok.funding, chain.height, DEFAULT_FLOOR, ok.owner);
    const over = await depositRequested(chain, 100_000n, { ...TERMS, initial_lock: 25_921 });
    await refusalAsync(dep.depositBackup(over.start.pending, over.offer.message as never, over.funding, chain.height, DEFAULT_FLOOR, over.owner), 'E_BELOW_FLOOR', 4);
    const dflt = await depositRequested(chain, 100_000n, { ...TERMS, initial_lock: 12_960 });
    await refusalAsync(dep.depositBackup(dflt.start.pending, dflt.offer.message as never, dflt.funding, chain.height, { ...DEFAULT_FLOOR, maxInitialLock: 1_000 }, dflt.owner), 'E_BELOW_FLOOR', 4);
  });
});
