/**
 * src/lib/bolt3/tower-ladder.ts through src/lib/bolt3/tower-justice.ts justiceLadders: Alice's fee
 * ladders for Bob's revoked commitment 0, over random plans (rates, share, rungs). Each rung is
 * read by test code (test/independent/tx.ts): its fee is the output's value (read from Bob's own
 * commitment and HTLC transactions) less what it pays; its size the signed bytes'. The invariants:
 * monotone and RBF-valid (each rung outbids the one below by the incremental relay fee on its own
 * size, at a higher rate); never a rung above the cap (--max-fee-rate on its real size,
 * --max-fee-share of its output, dust left) nor below --min-fee-rate; every rung of a ladder spends the same output and pays
 * only the party.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { justiceLadders } from '../../../src/lib/bolt3/tower-justice.ts';
import { nominalRates, type LadderPlan } from '../../../src/lib/bolt3/tower-ladder.ts';
import { parseTx, type ParsedTx, type TxOutput } from '../../independent/tx.ts';
import { A } from './two-parties.ts';
import { DEST, DEST_DUST, breached, type Breached } from './tower-breach.ts';

const INCREMENTAL = 100;
const planArb = fc.record({
  minRate: fc.integer({ min: 100, max: 20_000 }),
  spread: fc.integer({ min: 0, max: 400_000 }),
  maxFeeShare: fc.double({ min: 0.001, max: 1, noNaN: true }),
  rungs: fc.integer({ min: 1, max: 12 }),
}).map(({ minRate, spread, ...rest }): LadderPlan => ({ destinationScript: DEST, minRate, maxRate: minRate + spread, incrementalRate: INCREMENTAL, ...rest }));

/** What a rung spends, read from Bob's transactions as broadcast: the commitment's output, or his HTLC transaction's. */
function prevout(b: Breached, tx: ParsedTx): TxOutput {
  const input = tx.inputs[0]!;
  if (input.txid === b.commitment.txid) return b.commitment.outputs[input.vout]!;
  const htlc = [...b.htlcTxs.values()].find((h) => h.txid === input.txid);
  expect(htlc, `rung spends ${input.txid}, neither the commitment nor an HTLC transaction of Bob's`).toBeDefined();
  return htlc!.outputs[input.vout]!;
}

function checkLadder(b: Breached, plan: LadderPlan, hexes: readonly string[]): void {
  let below: { fee: bigint; vsize: number } | undefined;
  const outpoints = new Set<string>();
  for (const hex of hexes) {
    const tx = parseTx(hex);
    expect([tx.inputs.length, tx.outputs.length]).toEqual([1, 1]);
    expect(Buffer.from(tx.outputs[0]!.script).equals(Buffer.from(DEST))).toBe(true);
    outpoints.add(`${tx.inputs[0]!.txid}:${tx.inputs[0]!.vout}`);
    const value = prevout(b, tx).amount;
    const fee = value - tx.outputs[0]!.amount;
    // The cap: the rate on its real size, the share of the output, dust left.
    expect(fee).toBeGreaterThan(0n);
    expect(Number(fee) * 1000, `rate cap: ${fee} sat on ${tx.vsize} vB`).toBeLessThanOrEqual(plan.maxRate * tx.vsize);
    expect(Number(fee)).toBeLessThanOrEqual(plan.maxFeeShare * Number(value));
    expect(tx.outputs[0]!.amount).toBeGreaterThanOrEqual(BigInt(DEST_DUST));
    expect(Number(fee) * 1000, 'no rung below --min-fee-rate').toBeGreaterThanOrEqual(plan.minRate * tx.vsize);
    if (below) {
      // BIP 125 rules 3 and 4 (and a higher rate, as Core 28+ asks), on the replacement's real size.
      expect(fee).toBeGreaterThanOrEqual(below.fee + BigInt(Math.ceil((INCREMENTAL * tx.vsize) / 1000)));
      expect(Number(fee) / tx.vsize).toBeGreaterThan(Number(below.fee) / below.vsize);
    }
    below = { fee, vsize: tx.vsize };
  }
  expect(outpoints.size).toBe(1);
}

describe('the fee ladder', () => {
  for (const format of ['legacy', 'anchors'] as const) {
    it(`${format}: monotone and RBF-valid, never a rung above the cap, one output each, paying only the party (random plans)`, () => {
      const b = breached(format);
      fc.assert(fc.property(planArb, (plan) => {
        const l = justiceLadders(b.record, b.revoked.txid, A.revocation, plan);
        if (l === undefined) return; // nothing within the cap: checked below on a wide plan
        expect(l.to_self_delay).toBe(30); // Bob's commitments carry Alice's 30-block delay (two-parties.ts)
        for (const o of l.outputs) {
          checkLadder(b, plan, o.rungs);
          if (o.second_stage) checkLadder(b, plan, o.second_stage.rungs);
        }
      }), { numRuns: format === 'legacy' ? 25 : 10 });
    });
  }

  it('a wide plan has a ladder on every revocable output (and, legacy only, on each HTLC transaction\'s output) reaching the top rate', () => {
    const plan: LadderPlan = { destinationScript: DEST, minRate: 1000, maxRate: 50_000, maxFeeShare: 0.5, rungs: 8, incrementalRate: INCREMENTAL };
    for (const format of ['legacy', 'anchors'] as const) {
      const b = breached(format);
      const l = justiceLadders(b.record, b.revoked.txid, A.revocation, plan)!;
      const spent = l.outputs.map((o) => parseTx(o.rungs[0]!).inputs[0]!.vout).sort();
      // to_local (200,000 sat) and both HTLCs; never to_remote (Alice's own) or an anchor.
      const revocable = b.commitment.outputs.flatMap((o, i) => ([20_000n, 30_000n, 200_000n].includes(o.amount) ? [i] : []));
      expect(spent).toEqual(revocable);
      expect(l.outputs.filter((o) => o.second_stage).length).toBe(format === 'legacy' ? 2 : 0);
      for (const o of l.outputs) {
        expect(o.rungs).toHaveLength(8);
        const top = parseTx(o.rungs.at(-1)!);
        const fee = Number(prevout(b, top).amount - top.outputs[0]!.amount);
        // The top rung is within a rounding of --max-fee-rate (its fee set on its counted size, at most 73-byte signatures).
        expect(fee / top.vsize).toBeGreaterThan(48);
      }
    }
  });

  it('rates closer than the incremental relay fee: each rung lifted to a valid replacement of the one below, not dropped', () => {
    // 1 → 1.5 sat/vB on 8 rungs: nominal steps of ~0.06 sat/vB, under the incremental relay fee (0.1 sat/vB).
    const plan: LadderPlan = { destinationScript: DEST, minRate: 1000, maxRate: 1500, maxFeeShare: 0.5, rungs: 8, incrementalRate: INCREMENTAL };
    const b = breached('legacy');
    const l = justiceLadders(b.record, b.revoked.txid, A.revocation, plan)!;
    for (const o of l.outputs) {
      checkLadder(b, plan, o.rungs);
      // 1.0, 1.1, … 1.5 sat/vB: six rungs each a replacement of the one below, within the cap.
      expect(o.rungs.length).toBeGreaterThanOrEqual(5);
    }
  });

  it('an output whose lowest rung is over the cap has no ladder; a commitment with none has no appointment', () => {
    // 10 sat/vB at most 0.1 % of each output: 200 sat of Bob's 200,000-sat to_local covers no justice transaction's size.
    const plan: LadderPlan = { destinationScript: DEST, minRate: 10_000, maxRate: 10_000, maxFeeShare: 0.001, rungs: 4, incrementalRate: INCREMENTAL };
    const b = breached('legacy');
    expect(justiceLadders(b.record, b.revoked.txid, A.revocation, plan)).toBeUndefined();
  });

  it('nominal rates rise strictly from --min-fee-rate to --max-fee-rate', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 100_000 }), fc.integer({ min: 0, max: 1_000_000 }), fc.integer({ min: 1, max: 32 }), (min, spread, rungs) => {
      const r = nominalRates({ minRate: min, maxRate: min + spread, rungs });
      expect(r[0]).toBe(rungs === 1 ? min + spread : min); // one rung: the cap itself
      expect(r.at(-1)).toBe(min + spread);
      expect(r.length).toBeLessThanOrEqual(rungs);
      for (let i = 1; i < r.length; i++) expect(r[i]!).toBeGreaterThan(r[i - 1]!);
    }));
  });
});
