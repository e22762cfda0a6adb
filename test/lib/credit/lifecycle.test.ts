/**
 * The whole life of a credit contract in process: open (refund before funding), several
 * payments, a retried request, rollover into a new contract, payments there, close.
 * Every signed transaction is checked by the independent verifier (test/independent/):
 * its own transaction parser and BIP-341 sighash, BIP-340 on an implementation the
 * product is not using, and the contract's output key derived there from the two secret
 * keys (KeyAgg of the sorted public keys, TapTweak) — never from src/lib/credit or
 * src/lib/musig.
 */
import { describe, it, expect, afterAll } from 'vitest';
import { Transaction } from '@scure/btc-signer';
import * as mint from '../../../src/lib/credit/mint.ts';
import { applyClosed, closeRequest } from '../../../src/lib/credit/user-close.ts';
import { openFinish, openRequest } from '../../../src/lib/credit/user-open.ts';
import { applyRolloverAccept, rolloverRequest, rolloverSign } from '../../../src/lib/credit/user-rollover.ts';
import { applyReceipt, updateRequest } from '../../../src/lib/credit/user-update.ts';
import { termsFromJson } from '../../../src/lib/credit/codec.ts';
import { musigTaprootOutput, publicKeyOf } from '../../independent/keys.ts';
import { bytesOf, hexOf, psbtUnsignedTx } from '../../independent/tx.ts';
import { verifyKeyPathSpend, type VerifiedSpend } from '../../independent/verify.ts';
import { world, fundingPsbt, offer, REFUND, CHANGE } from './world.ts';

const w = world();
afterAll(() => w.dir.cleanup());

/** The contract output, from world.ts's two secret keys (mint a1…, user b2…), in test code. */
const CONTRACT = musigTaprootOutput([publicKeyOf(bytesOf('b2'.repeat(32))), publicKeyOf(bytesOf('a1'.repeat(32)))]);
const FUNDING = fundingPsbt(100_000n);

/** A single-input key-path spend of the contract output `txid:vout` holding `amount`. */
function verifySpend(txHex: string, txid: string, vout: number, amount: bigint): VerifiedSpend {
  return verifyKeyPathSpend(txHex, [{ txid, vout, amount, script: CONTRACT.script }], CONTRACT.outputKey);
}

describe('credit contract lifecycle (library)', () => {
  let id = '';
  let fundingTxid = '';

  it('opens: the user holds a verified refund before anything says to fund', async () => {
    const req = await openRequest(w.user, { offer: offer(), fundingPsbt: FUNDING, expiryHeight: 1000 + 4320, refundAddress: REFUND, changeAddress: CHANGE, feeRate: 2 });
    id = req.contract_id as string;
    const accept = await mint.acceptOpen(w.mint, req as any);
    const opened = await openFinish(w.user, accept as any);
    const c = termsFromJson((req as any).contract, 'regtest');
    // The wallet's funding pays the output derived here, and the terms name that outpoint.
    const funding = psbtUnsignedTx(FUNDING);
    expect(hexOf(funding.outputs[0]!.script)).toBe(hexOf(CONTRACT.script));
    expect(hexOf(c.script)).toBe(hexOf(CONTRACT.script));
    expect(c.funding).toMatchObject({ txid: funding.txid, vout: 0 });
    fundingTxid = funding.txid;
    const refund = verifySpend((opened.refund as any).hex, fundingTxid, 0, 100_000n);
    expect(refund.lockTime).toBe(5320);
    expect(refund.inputs[0]!.sequence).toBe(0xfffffffd);
    expect(refund.outputs[0]!.amount).toBe(100_000n - 2n * 111n);
    w.chain.confirm(c.funding.txid, c.funding.vout, c.capacity, c.script, 3);
  });

  it('pays three times; the mint stores each state fully signed and never returns a signature', async () => {
    let cumulative = 0;
    for (const amount of [1_000, 2_500, 700]) {
      const req = await updateRequest(w.user, id, BigInt(amount));
      const receipt = await mint.acceptUpdate(w.mint, req as any);
      const { mint_signature: answerSig, ...members } = receipt;
      expect(JSON.stringify(members)).not.toMatch(/psbt|hex|sig/i);
      // Its one signature is on the answer, not on the state: as the state's witness it does not verify under the contract key.
      const stateHex = (await w.mintBook.get(id))!.latest!.hex;
      const stateSig = stateHex.slice(-8 - 128, -8);
      expect(verifySpend(stateHex, fundingTxid, 0, 100_000n).txid).toBe(receipt.txid);
      expect(answerSig).toMatch(/^[0-9a-f]{128}$/);
      expect(answerSig).not.toBe(stateSig);
      expect(() => verifySpend(stateHex.replace(stateSig, answerSig!), fundingTxid, 0, 100_000n)).toThrow(/signature/i);
      cumulative += amount;
      expect(receipt.cumulative_sat).toBe(cumulative);
      const balance = await applyReceipt(w.user, receipt as any);
      expect(balance.cumulative_sat).toBe(cumulative);
    }
    const record = await w.mintBook.get(id);
    const state = verifySpend(record!.latest!.hex, fundingTxid, 0, 100_000n);
    expect(state.version).toBe(3);
    expect(state.lockTime).toBe(0);
    expect(state.outputs[0]!.amount).toBe(4_200n);
  });

  it('answers a retried request with the stored receipt', async () => {
    const req = await updateRequest(w.user, id, 300n);
    const first = await mint.acceptUpdate(w.mint, req as any);
    const again = await mint.acceptUpdate(w.mint, req as any);
    expect(again).toEqual(first);
    // The user also re-sends the same request until it has the receipt.
    expect(await updateRequest(w.user, id, 300n)).toEqual(req);
    await applyReceipt(w.user, first as any);
  });

  it('rolls over into a new contract, refund first, then pays and closes it', async () => {
    const req = await rolloverRequest(w.user, id, { expiryHeight: 1100 + 4320, feeRate: 2 });
    w.chain.height = 1100;
    const refundRound = await mint.proposeRollover(w.mint, req as any);
    // The user has signed nothing that moves its funds until its new refund verifies.
    const proposed = Transaction.fromPSBT(Buffer.from((req as any).rollover_psbt, 'base64'));
    expect(proposed.getInput(0).musig2PartialSig ?? []).toHaveLength(0);
    const sign = await rolloverSign(w.user, refundRound as any);
    const accept = await mint.acceptRollover(w.mint, sign as any);
    const rolled = await applyRolloverAccept(w.user, accept as any);
    expect((rolled.rollover as any).complete).toBe(true);
    const rollover = verifySpend((rolled.rollover as any).hex, fundingTxid, 0, 100_000n);
    expect(rollover.outputs[0]!.amount).toBe(4_500n);
    // Frozen: the old contract takes no more payments.
    await expect(updateRequest(w.user, id, 1n)).rejects.toMatchObject({ code: 'E_CONTRACT_FROZEN' });
    const next = rolled.new_contract_id as string;
    const nextTerms = termsFromJson((req as any).new_contract, 'regtest');
    // The new contract is the rollover's output 1, to the same two keys.
    expect(hexOf(rollover.outputs[1]!.script)).toBe(hexOf(CONTRACT.script));
    expect(nextTerms.funding).toMatchObject({ txid: rollover.txid, vout: 1 });
    expect(nextTerms.capacity).toBe(rollover.outputs[1]!.amount);
    verifySpend((rolled.refund as any).hex, rollover.txid, 1, rollover.outputs[1]!.amount);
    w.chain.confirm(nextTerms.funding.txid, 1, nextTerms.capacity, nextTerms.script, 1);
    const pay = await updateRequest(w.user, next, 5_000n);
    await applyReceipt(w.user, (await mint.acceptUpdate(w.mint, pay as any)) as any);
    const close = await closeRequest(w.user, next, 3);
    const closed = await mint.acceptClose(w.mint, close as any);
    await applyClosed(w.user, closed as any);
    const tx = verifySpend(closed.hex as string, rollover.txid, 1, rollover.outputs[1]!.amount);
    expect(tx.outputs[0]!.amount).toBe(5_000n);
  });
});
