/**
 * A part of a pair never signs a withdrawal's child with its part secret (src/lib/statechain/owner.ts
 * withdrawalWithChild; the watcher bumps a pair's withdrawal only through it, reading it where part B
 * keeps it, src/topics/watch/statechain.ts ownerView): its record's
 * share_secret is its own part b of O = A + B, not O's, so a withdrawal paying the pair's share
 * has no key here — E_NO_CHILD, nothing built — while one paying the part's own key is bumped
 * with that key (the child's signature checked by the independent verifier).
 */
import { afterAll, describe, expect, it } from 'vitest';
import * as op from '../../../src/lib/statechain/operator.ts';
import * as own from '../../../src/lib/statechain/owner.ts';
import * as send from '../../../src/lib/statechain/joint-send.ts';
import { ownerScript } from '../../../src/lib/statechain/coin.ts';
import { bytesOf, parseTx } from '../../independent/tx.ts';
import { publicKeyOf } from '../../independent/secp256k1.ts';
import { singleKeyTaprootOutput } from '../../independent/keys.ts';
import { verifyKeyPathSpend } from '../../independent/verify.ts';
import { refusal } from '../../setup/refusal.ts';
import { ownerView } from '../../../src/topics/watch/statechain.ts';
import { cleanup, pairOwned } from './harness.ts';

afterAll(cleanup);

/** A pair's coin withdrawn to `dest(pair)` at 2 sat/vB (B's nonce, A's request, the operator, A's and B's signatures): B's record. */
async function withdrawn(dest: (p: Awaited<ReturnType<typeof pairOwned>>) => Uint8Array) {
  const p = await pairOwned();
  const to = dest(p);
  const bNonce = await send.jointWithdrawNonce(p.recB, to, 2, p.bob);
  const req = await send.jointWithdrawRequest(p.recA, bNonce.message as never, to, 2, p.alice);
  const cos = op.cosignWithdrawal(p.opRecord, req.message as never, p.d.opCtx);
  const signA = await send.jointWithdrawSignA(req.record, cos.message as never, p.alice);
  const fin = await send.jointWithdrawFinish(bNonce.record, signA.message as never, p.bob);
  // As the watcher reads it: the pair's signed withdrawal, where B keeps it.
  const record = ownerView(fin.record as own.OwnerRecord);
  expect(record.status).toBe('withdrawn');
  expect(record.withdrawal?.txid).toBe(fin.signed.txid);
  return { p, record };
}

const child = (to: Uint8Array) => ({ destination: to, feeRate: 3, feeLimits: { maxFeeRate: 50, maxFeeShare: 0.5 }, packageGuard: true });

describe('a part bumps the pair\'s signed withdrawal only with a key it holds', () => {
  it('paying the pair\'s share O = A + B: E_NO_CHILD — B\'s part secret is not O\'s, nothing is signed with it', async () => {
    const { p, record } = await withdrawn((q) => ownerScript(bytesOf(q.recB.share)));
    const e = refusal(() => own.withdrawalWithChild(record, p.bob.auth, child(ownerScript(p.bob.auth.publicKey)), new Uint8Array(32)), 'E_NO_CHILD', 4);
    expect(e.message).toMatch(/not this owner's key nor its share/);
  });

  it('paying B\'s own key: the child spends the payout and the anchor, signed by that key', async () => {
    const { p, record } = await withdrawn((q) => ownerScript(q.bob.auth.publicKey));
    const out = own.withdrawalWithChild(record, p.bob.auth, child(ownerScript(p.bob.auth.publicKey)), new Uint8Array(32));
    const w = parseTx(out.hex);
    const key = singleKeyTaprootOutput(publicKeyOf(p.bob.auth.secretKey)).outputKey;
    verifyKeyPathSpend(out.childHex, [{ ...w.outputs[0]!, txid: w.txid, vout: 0 }, { ...w.outputs[1]!, txid: w.txid, vout: 1 }], [key, null]);
  });
});
