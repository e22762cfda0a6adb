/**
 * Issue 37, finding 5: a withdrawal below the node's relay floor froze the coin.
 * `statechain-withdraw --fee-rate 0.5` with a node at 1 sat/vB was co-signed (the operator
 * closed the coin), the node refused it, it was version 2 with one output (no child could
 * bump it: `package child` E_TRUC_VERSION, and Core takes a below-floor parent in a package
 * only under TRUC), and a new withdrawal was E_ALREADY_WITHDRAWN: the coin waited for backup 1.
 *
 * Now:
 * - the withdrawal is TRUC (version 3) with a 240-sat pay-to-anchor beside the payment, so
 *   anyone holding it — the owner, either part of a pair, the payee — bumps it with a child
 *   from its own wallet (`package child`), whatever the floor is by then;
 * - with a node named (the command's --rpc-url), a rate under its floor
 *   (max(minrelaytxfee, mempoolminfee)) is refused before anything is signed, issued or
 *   written (E_FEE_TOO_LOW): single owner, part B starting, part A answering;
 * - the operator co-signs, as the step that ends its role, only a withdrawal that can be
 *   bumped that way (E_WITHDRAWAL_UNBUMPABLE otherwise).
 * Every size and fee here is read by test code from the bytes (test/independent/tx.ts).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Transaction } from '@scure/btc-signer';
import { fromHex, toHex } from '../../../src/lib/bytes.ts';
import * as op from '../../../src/lib/statechain/operator.ts';
import * as own from '../../../src/lib/statechain/owner.ts';
import * as send from '../../../src/lib/statechain/joint-send.ts';
import { hexOf, parseTx } from '../../independent/tx.ts';
import { verifyKeyPathSpend } from '../../independent/verify.ts';
import { refusal, refusalAsync } from '../../setup/refusal.ts';
import { stateDigest } from '../../state.ts';
import { cleanup, confirmedCoin, pairOwned, type Party } from './harness.ts';

afterAll(cleanup);

const DEST = Uint8Array.from([0x00, 0x14, ...new Uint8Array(20).fill(4)]);
const P2A = '51024e73';
/** A node's getmempoolinfo, sat/kvB, as the command asks it (only when a new withdrawal is to be requested). */
const node = (minRelay: number, mempoolMin = minRelay) => async () => ({ minRelayFeeRate: minRelay, mempoolMinFeeRate: mempoolMin });
/** A party's state (its nonces, in its state.sqlite) as one digest of every row: absent, undefined. */
const nonceState = (p: Party) => stateDigest(p.dir);

describe('finding 5: no withdrawal strands a coin', () => {
  it('a single owner\'s withdrawal is TRUC with a 240-sat pay-to-anchor; it pays the rate on its signed size and verifies', async () => {
    const { d, prevout, coinOutputKey } = await confirmedCoin();
    const req = await own.withdrawRequest(d.ownerRecord, DEST, 2, d.owner);
    const cos = op.cosignWithdrawal(d.opRecord, req.message as never, d.opCtx);
    const fin = await own.withdrawFinish(req.record, cos.message as never, d.owner);
    const tx = verifyKeyPathSpend(fin.signed.hex, [prevout], coinOutputKey);
    expect(tx.version).toBe(3);
    const fee = 100_000n - tx.outputs.reduce((s, o) => s + o.amount, 0n);
    expect(tx.outputs.map((o) => [hexOf(o.script), o.amount])).toEqual([[hexOf(DEST), 100_000n - fee - 240n], [P2A, 240n]]);
    // The rate asked, on the size the node measures (BIP-141 weight of the signed bytes), rounded up: no more.
    expect(fee).toBe(BigInt(Math.ceil(tx.vsize * 2)));
    expect(tx.vsize).toBe(112);
  });

  it('a pair\'s withdrawal is the same template (B builds it, A rebuilds it byte for byte)', async () => {
    const p = await pairOwned();
    const b = await send.jointWithdrawNonce(p.recB, DEST, 3, p.bob);
    const tx = parseTx((b.message as { tx: string }).tx);
    expect([tx.version, tx.outputs.length, hexOf(tx.outputs[1]!.script), tx.outputs[1]!.amount]).toEqual([3, 2, P2A, 240n]);
    await send.jointWithdrawRequest(p.recA, b.message as never, DEST, 3, p.alice);
  });

  it('with a node whose floor is above the rate asked, nothing is signed, issued or written (E_FEE_TOO_LOW, 4): single owner, B starting, A answering', async () => {
    const { d } = await confirmedCoin();
    const before = nonceState(d.owner);
    // The finding's case: 0.5 sat/vB asked of a node at 1 sat/vB.
    const e = await refusalAsync(own.withdrawRequest(d.ownerRecord, DEST, 0.5, d.owner, node(1000)), 'E_FEE_TOO_LOW', 4);
    expect(e.message).toContain('1 sat/vB');
    // A full mempool's floor counts as much as the relay floor.
    await refusalAsync(own.withdrawRequest(d.ownerRecord, DEST, 2, d.owner, node(100, 2_500)), 'E_FEE_TOO_LOW', 4);
    expect(nonceState(d.owner)).toEqual(before);
    // At the floor exactly (112 vB at 1 sat/vB: 112 sat) it is asked.
    const ok = await own.withdrawRequest(d.ownerRecord, DEST, 1, d.owner, node(1000));
    expect(parseTx((ok.message as { tx: string }).tx).outputs[0]!.amount).toBe(100_000n - 112n - 240n);
    // A floor that is not a whole number of sats on its size: Core rounds the fee it needs up
    // (CFeeRate::GetFee, CeilDiv), so 112 vB at 1.001 sat/vB needs 113 sat — 112 is 1 sat under it.
    const beforeUnder = nonceState(d.owner);
    const under = await refusalAsync(own.withdrawRequest(d.ownerRecord, DEST, 1, d.owner, node(1001)), 'E_FEE_TOO_LOW', 4);
    expect(under.message).toContain('pays 112 sat for 112 vB');
    expect(under.message).toContain('1.001 sat/vB: 113 sat');
    expect(nonceState(d.owner)).toEqual(beforeUnder);

    const p = await pairOwned();
    const [beforeA, beforeB] = [nonceState(p.alice), nonceState(p.bob)];
    await refusalAsync(send.jointWithdrawNonce(p.recB, DEST, 0.5, p.bob, node(1000)), 'E_FEE_TOO_LOW', 4);
    // B (offline, no floor known) consents at 0.5; A, whose node says 1 sat/vB, refuses to ask the operator for it.
    const b = await send.jointWithdrawNonce(p.recB, DEST, 0.5, p.bob);
    await refusalAsync(send.jointWithdrawRequest(p.recA, b.message as never, DEST, 0.5, p.alice, node(1000)), 'E_FEE_TOO_LOW', 4);
    expect(nonceState(p.alice)).toEqual(beforeA);
    expect(nonceState(p.bob)).not.toEqual(beforeB); // B's own nonce for the offline consent, only
  });

  it('the operator co-signs only a withdrawal a child can bump: version 3, a P2A of at least 240 sat, standard outputs above dust, no more out than the coin (E_WITHDRAWAL_UNBUMPABLE, 4)', async () => {
    const { d } = await confirmedCoin();
    const honest = await own.withdrawRequest(d.ownerRecord, DEST, 2, d.owner);
    const template = Transaction.fromRaw(fromHex((honest.message as { tx: string }).tx), { allowUnknownOutputs: true });
    const payment = template.getOutput(0).amount!;
    const variant = (version: number, outputs: [string, bigint][]) => {
      const tx = new Transaction({ version, allowUnknownOutputs: true });
      tx.addInput({ ...template.getInput(0) });
      for (const [script, amount] of outputs) tx.addOutput({ script: fromHex(script), amount });
      const { owner_sig: _sig, ...body } = honest.message as Record<string, unknown>;
      return own.sign('statechain/withdraw-request', { ...body, tx: toHex(tx.unsignedTx) }, 'owner_sig', d.owner);
    };
    const dest = hexOf(DEST);
    const unbumpable: [number, [string, bigint][], string][] = [
      [2, [[dest, payment + 240n]], 'version 2'], // the old template: the finding's
      [3, [[dest, payment + 240n]], 'no pay-to-anchor'], // TRUC, but nothing a stranger's child can spend
      [2, [[dest, payment], [P2A, 240n]], 'version 2'], // an anchor, but not TRUC: Core takes no below-floor v2 parent
      [3, [[dest, payment + 240n], [P2A, 0n]], 'output 1 (0 sat) is dust'], // a 0-sat anchor in a fee-paying transaction: "dust, tx with dust output must be 0-fee"
      [3, [[dest, payment - 1_000n], [P2A, 240n], [dest, 293n]], 'output 2 (293 sat) is dust'], // P2WPKH's threshold is 294
      [3, [['51', payment], [P2A, 240n]], 'output 0 pays a script Core does not relay'], // a bare OP_1
      [3, [[dest, 100_000n], [P2A, 240n]], 'pays out 100240 sat'], // more out than the coin holds: never valid
    ];
    for (const [version, outputs, why] of unbumpable) {
      const e = refusal(() => op.cosignWithdrawal(d.opRecord, variant(version, outputs) as never, d.opCtx), 'E_WITHDRAWAL_UNBUMPABLE', 4);
      expect(e.message).toContain(why);
    }
    expect(op.cosignWithdrawal(d.opRecord, variant(3, [[dest, payment], [P2A, 240n]]) as never, d.opCtx).record.statement.status).toBe('withdrawn');
  });
});
