/**
 * The whole life of a credit contract in process: open (refund before funding), several
 * payments, a retried request, rollover into a new contract, payments there, close.
 * Every signed transaction is checked with noble's BIP-340 verifier against the
 * contract's output key, computed separately from the signing path.
 */
import { describe, it, expect, afterAll } from 'vitest';
import { Transaction } from '@scure/btc-signer';
import { schnorr } from '@noble/curves/secp256k1.js';
import { hex } from '@scure/base';
import * as mint from '../../../src/lib/credit/mint.ts';
import * as user from '../../../src/lib/credit/user.ts';
import { termsFromJson } from '../../../src/lib/credit/codec.ts';
import { musigKey } from '../../../src/lib/musig/keyagg.ts';
import { world, fundingPsbt, offer, MINT, USER, REFUND, CHANGE } from './world.ts';

const w = world();
afterAll(() => w.dir.cleanup());

function verifySpend(txHex: string, prevScript: Uint8Array, prevAmount: bigint): Transaction {
  const tx = Transaction.fromRaw(hex.decode(txHex), { allowUnknownOutputs: true });
  const sig = tx.getInput(0).finalScriptWitness![0]!;
  const msg = tx.preimageWitnessV1(0, [prevScript], 0, [prevAmount]);
  // Independent: the output key from KeyAgg of the two public keys, not from the contract code.
  const outputKey = musigKey([USER.publicKey, MINT.publicKey]).output.outputKey;
  expect(schnorr.verify(sig, msg, outputKey)).toBe(true);
  return tx;
}

describe('credit contract lifecycle (library)', () => {
  let id = '';
  let script: Uint8Array;

  it('opens: the user holds a verified refund before anything says to fund', async () => {
    const req = await user.openRequest(w.user, { offer: offer(), fundingPsbt: fundingPsbt(100_000n), expiryHeight: 1000 + 4320, refundAddress: REFUND, changeAddress: CHANGE, feeRate: 2 });
    id = req.contract_id as string;
    const accept = await mint.acceptOpen(w.mint, req as any);
    const opened = await user.openFinish(w.user, accept as any);
    const c = termsFromJson((req as any).contract, 'regtest');
    script = c.script;
    const refund = verifySpend((opened.refund as any).hex, c.script, c.capacity);
    expect(refund.lockTime).toBe(5320);
    expect(refund.getInput(0).sequence).toBe(0xfffffffd);
    expect(refund.getOutput(0).amount).toBe(100_000n - 2n * 111n);
    w.chain.confirm(c.funding.txid, c.funding.vout, c.capacity, c.script, 3);
  });

  it('pays three times; the mint stores each state fully signed and never returns a signature', async () => {
    let cumulative = 0;
    for (const amount of [1_000, 2_500, 700]) {
      const req = await user.updateRequest(w.user, id, BigInt(amount));
      const receipt = await mint.acceptUpdate(w.mint, req as any);
      expect(JSON.stringify(receipt)).not.toMatch(/psbt|hex|sig/i);
      cumulative += amount;
      expect(receipt.cumulative_sat).toBe(cumulative);
      const balance = await user.applyReceipt(w.user, receipt as any);
      expect(balance.cumulative_sat).toBe(cumulative);
    }
    const record = await w.mintBook.get(id);
    const state = verifySpend(record!.latest!.hex, script, 100_000n);
    expect(state.version).toBe(3);
    expect(state.lockTime).toBe(0);
    expect(state.getOutput(0).amount).toBe(4_200n);
  });

  it('answers a retried request with the stored receipt', async () => {
    const req = await user.updateRequest(w.user, id, 300n);
    const first = await mint.acceptUpdate(w.mint, req as any);
    const again = await mint.acceptUpdate(w.mint, req as any);
    expect(again).toEqual(first);
    // The user also re-sends the same request until it has the receipt.
    expect(await user.updateRequest(w.user, id, 300n)).toEqual(req);
    await user.applyReceipt(w.user, first as any);
  });

  it('rolls over into a new contract, refund first, then pays and closes it', async () => {
    const req = await user.rolloverRequest(w.user, id, { expiryHeight: 1100 + 4320, feeRate: 2, topUp: [] });
    w.chain.height = 1100;
    const refundRound = await mint.proposeRollover(w.mint, req as any);
    // The user has signed nothing that moves its funds until its new refund verifies.
    const proposed = Transaction.fromPSBT(Buffer.from((req as any).rollover_psbt, 'base64'));
    expect(proposed.getInput(0).musig2PartialSig ?? []).toHaveLength(0);
    const sign = await user.rolloverSign(w.user, refundRound as any);
    const accept = await mint.acceptRollover(w.mint, sign as any);
    const rolled = await user.applyRolloverAccept(w.user, accept as any);
    expect((rolled.rollover as any).complete).toBe(true);
    const rollover = verifySpend((rolled.rollover as any).hex, script, 100_000n);
    expect(rollover.getOutput(0).amount).toBe(4_500n);
    // Frozen: the old contract takes no more payments.
    await expect(user.updateRequest(w.user, id, 1n)).rejects.toMatchObject({ code: 'E_CONTRACT_FROZEN' });
    const next = rolled.new_contract_id as string;
    const nextTerms = termsFromJson((req as any).new_contract, 'regtest');
    verifySpend((rolled.refund as any).hex, nextTerms.script, nextTerms.capacity);
    w.chain.confirm(nextTerms.funding.txid, 1, nextTerms.capacity, nextTerms.script, 1);
    const pay = await user.updateRequest(w.user, next, 5_000n);
    await user.applyReceipt(w.user, (await mint.acceptUpdate(w.mint, pay as any)) as any);
    const close = await user.closeRequest(w.user, next, 3);
    const closed = await mint.acceptClose(w.mint, close as any);
    await user.applyClosed(w.user, closed as any);
    const tx = verifySpend(closed.hex as string, nextTerms.script, nextTerms.capacity);
    expect(tx.getOutput(0).amount).toBe(5_000n);
  });
});
