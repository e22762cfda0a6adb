/**
 * Random payment sequences through both parties' library steps (BRIEF §3.1): amounts
 * of every size (zero, dust, ordinary, more than is left), requests lost on the way,
 * delivered twice, receipts lost, and a mint that now and then lies in its receipt.
 * After every step:
 *
 * - the mint's stored cumulative amount never decreases and never exceeds the capacity
 *   less the fee of a state without change (transactions.ts maxCumulative);
 * - every state the mint stores spends exactly the capacity: its outputs are the split
 *   of the terms (mint payout = cumulative, change unless dust) and outputs + fee =
 *   capacity, at a fee rate at or above the contract's; its signature verifies for the
 *   real funding outpoint and amount, checked by the independent verifier
 *   (test/independent/: its own sighash, a secp256k1 the product is not using, and the
 *   output key derived there from the two secret keys, not by src/lib/musig);
 * - once a receipt is applied, the user's confirmed amount equals the mint's latest;
 *   a receipt the mint forged for more (or less) is refused and changes nothing;
 * - every state the user signs pays the mint exactly its own previous amount plus the
 *   amount requested — never the mint's idea of "previous".
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { OffchainError } from '../../../src/lib/errors.ts';
import { dustThreshold } from '../../../src/lib/tx/policy.ts';
import * as mint from '../../../src/lib/credit/mint.ts';
import * as user from '../../../src/lib/credit/user-update.ts';
import type { ReceiptJson } from '../../../src/lib/credit/ports.ts';
import type { CreditContract } from '../../../src/lib/credit/terms.ts';
import { maxCumulative, split } from '../../../src/lib/credit/transactions.ts';
import { fundingPsbt, world } from './world.ts';
import { asMint, openContract, psbtOf, snapshot, userRecord, type World } from './tamper.ts';
import { musigTaprootOutput, publicKeyOf } from '../../independent/keys.ts';
import { bytesOf, hexOf, psbtUnsignedTx } from '../../independent/tx.ts';
import { verifyKeyPathSpend } from '../../independent/verify.ts';

/** The contract output from world.ts's two secret keys (mint a1…, user b2…), derived in test code. */
const CONTRACT = musigTaprootOutput([publicKeyOf(bytesOf('a1'.repeat(32))), publicKeyOf(bytesOf('b2'.repeat(32)))]);
/** openContract's default funding: 100 000 sat to the contract, output 0 of this transaction. */
const CAPACITY = 100_000n;
const FUNDING = psbtUnsignedTx(fundingPsbt(CAPACITY));

/** One payment attempt: how much, and what the network and the mint do with it. */
type Step = {
  /** 'rest±d': whatever is left to the maximum, plus d (so the edge is hit often). */
  amount: bigint | { rest: number };
  /** 0: the request is lost; 2: it arrives twice (a retry). */
  deliveries: 0 | 1 | 2;
  receiptLost: boolean;
  /** The mint first sends a receipt claiming this much more (or less) than was signed. */
  lie: number;
};

const stepArb: fc.Arbitrary<Step> = fc.record({
  amount: fc.oneof(
    { weight: 1, arbitrary: fc.constant(0n) },
    { weight: 1, arbitrary: fc.bigInt(1n, 400n) },
    { weight: 6, arbitrary: fc.bigInt(1n, 25_000n) },
    { weight: 1, arbitrary: fc.bigInt(90_000n, 200_000n) },
    { weight: 2, arbitrary: fc.integer({ min: -2, max: 2 }).map((rest) => ({ rest })) },
  ),
  deliveries: fc.constantFrom(0 as const, 1 as const, 1 as const, 2 as const),
  receiptLost: fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  lie: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -500, max: 500 }).filter((d) => d !== 0) }),
});

/** The mint's stored state: what it pays, that it sums to the capacity, that it is signed for the real prevout. */
function checkStoredState(c: CreditContract, hex: string, cumulative: bigint): void {
  const tx = verifyKeyPathSpend(hex, [{ txid: FUNDING.txid, vout: 0, amount: CAPACITY, script: CONTRACT.script }], CONTRACT.outputKey);
  const expected = split(c, cumulative, c.feeRate);
  const outputs = tx.outputs;
  const sum = outputs.reduce((a, o) => a + o.amount, 0n);
  expect(sum + expected.fee).toBe(CAPACITY);
  expect(outputs[0]).toMatchObject({ script: c.payoutScript, amount: cumulative });
  if (expected.change > 0n) expect(outputs[1]).toMatchObject({ script: c.changeScript, amount: expected.change });
  expect(outputs.length).toBe(expected.change > 0n ? 2 : 1);
  expect(Number(expected.fee) / tx.vsize).toBeGreaterThanOrEqual(c.feeRate);
}

async function run(steps: Step[]): Promise<void> {
  const w: World = world();
  try {
    const { id, c } = await openContract(w);
    expect(hexOf(c.script)).toBe(hexOf(CONTRACT.script));
    expect(c.capacity).toBe(CAPACITY);
    const max = maxCumulative(c);
    const dust = dustThreshold(c.payoutScript);
    let mintLatest = 0n;
    for (const step of steps) {
      const before = await userRecord(w, id);
      const confirmed = BigInt(before.confirmed.cumulative_sat);
      const amount = typeof step.amount === 'bigint' ? step.amount : max - confirmed + BigInt(step.amount.rest);

      // The user: a new request, the pending one again, or a refusal that writes nothing.
      let request: Record<string, unknown>;
      const snap = snapshot(w.dir.path);
      try {
        request = await user.updateRequest(w.user, id, amount);
      } catch (e) {
        if (!(e instanceof OffchainError)) throw e;
        expect(snapshot(w.dir.path)).toEqual(snap);
        const cumulative = confirmed + amount;
        const pending = before.pending;
        if (amount <= 0n) expect(e.code).toBe('E_BAD_AMOUNT');
        else if (pending && BigInt(pending.cumulative_sat) !== cumulative) expect(e.code).toBe('E_PENDING');
        else if (cumulative > max) expect(e.code).toBe('E_OVER_CAPACITY');
        else if (cumulative < dust) expect(e.code).toBe('E_DUST');
        else throw e;
        if (!pending) continue;
        // Stuck behind an unanswered request: send that one again, unchanged.
        request = await user.updateRequest(w.user, id, BigInt(pending.cumulative_sat) - confirmed);
        expect(request).toEqual(pending.request);
      }
      const cumulative = BigInt(request.cumulative_sat as number);
      // Never more than the user's own previous amount plus what it asked for.
      expect(psbtOf(request.psbt as string).getOutput(0)).toMatchObject({ script: c.payoutScript, amount: cumulative });
      expect(cumulative - confirmed).toBe(BigInt(request.amount_sat as number));
      if (!before.pending) expect(cumulative).toBe(confirmed + amount);
      expect(cumulative).toBeLessThanOrEqual(max);

      // The mint: each delivery answers with the same receipt.
      let receipt: ReceiptJson | undefined;
      for (let i = 0; i < step.deliveries; i++) {
        const r = await mint.acceptUpdate(w.mint, request as never);
        if (receipt) expect(r).toEqual(receipt);
        receipt = r;
      }
      const latest = (await w.mintBook.get(id))!.latest;
      const stored = BigInt(latest?.cumulative_sat ?? 0);
      expect(stored).toBeGreaterThanOrEqual(mintLatest);
      expect(stored).toBeLessThanOrEqual(max);
      if (latest) checkStoredState(c, latest.hex, stored);
      mintLatest = stored;

      if (receipt && step.lie !== 0) {
        // The mint's own lie, signed with its key (a relay's change would be E_RECEIPT_FORGED: answer-signature.test.ts).
        const lie = asMint({ ...receipt, cumulative_sat: receipt.cumulative_sat + step.lie, amount_sat: receipt.amount_sat + step.lie });
        const s = snapshot(w.dir.path);
        await expect(user.applyReceipt(w.user, lie as never)).rejects.toMatchObject({ code: 'E_RECEIPT_MISMATCH', exitCode: 4 });
        expect(snapshot(w.dir.path)).toEqual(s);
      }
      if (receipt && !step.receiptLost) {
        const balance = await user.applyReceipt(w.user, receipt as never);
        expect(BigInt(balance.cumulative_sat as number)).toBe(mintLatest);
      }
      const after = await userRecord(w, id);
      if (!after.pending) expect(BigInt(after.confirmed.cumulative_sat)).toBe(mintLatest);
      // Whatever was lost, the mint is at most the one pending state ahead of the user.
      else expect([BigInt(after.confirmed.cumulative_sat), BigInt(after.pending.cumulative_sat)]).toContain(mintLatest);
    }
  } finally {
    w.dir.cleanup();
  }
}

/**
 * Seeded by test/setup/fast-check.ts (the suite's seed; FC_SEED=<n> or FC_SEED=random to
 * explore); a failure prints fast-check's seed and path to replay it. About 0.25 s a run
 * on the 2-core dev machine; CREDIT_PROPERTY_RUNS=<n> for a deeper run.
 */
const RUNS = Number(process.env.CREDIT_PROPERTY_RUNS ?? 0) || 50;

describe('credit payments (property)', () => {
  it(`random payment sequences keep both parties' records sound (${RUNS} runs)`, async () => {
    await fc.assert(fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 8 }), run), { numRuns: RUNS });
  }, 300_000);

  it('a sequence that fills the contract to the last satoshi, with a lost receipt on the way', async () => {
    await run([
      { amount: 10_000n, deliveries: 1, receiptLost: true, lie: 0 },
      { amount: 5n, deliveries: 2, receiptLost: false, lie: 300 },
      { amount: { rest: 1 }, deliveries: 1, receiptLost: false, lie: 0 },
      { amount: { rest: 0 }, deliveries: 1, receiptLost: false, lie: -1 },
      { amount: 1n, deliveries: 1, receiptLost: false, lie: 0 },
    ]);
  });
});
