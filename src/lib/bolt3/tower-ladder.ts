/**
 * The fee ladder a channel party pre-signs for a keyless tower (docs/watch.md "The tower", the
 * channel half): per revocable output of a revoked peer commitment, the justice transaction of
 * `commitment penalty` (./penalty.ts penaltyTransaction, one per output, to the party's
 * --sweep-to) signed at several fees, lowest first, so that a tower holding no key can bid it up
 * block by block — each rung a valid replacement (BIP 125 rules 3, 4 and 6) of the one below.
 *
 * INVARIANTS (test/lib/bolt3/tower-ladder.test.ts, property tests):
 * - Monotone and RBF-valid: each rung pays more than the one below by at least the incremental
 *   relay fee on its own size (fee_{k+1} ≥ fee_k + ⌈incremental × vsize_{k+1} / 1000⌉, real sizes
 *   of the signed transactions) and a strictly higher rate. A rung that cannot is not made: the
 *   ladder ends below it.
 * - Never a rung above the cap: every rung's fee is at most --max-fee-rate × its real vsize and at
 *   most --max-fee-share of the output it takes, and leaves that output's value at or above the
 *   destination's dust threshold; and none below --min-fee-rate. An output whose lowest rung is
 *   over the cap has no ladder.
 * - Every rung spends the same one output through the revocation key and pays only
 *   `destinationScript` (one input, one output: ./penalty.ts's justice transaction).
 *
 * Not here: which rung a tower sends when (src/lib/watch/tower-channel.ts), the appointment that
 * carries the ladders (./tower-justice.ts).
 */
import { dustThreshold } from '../tx/policy.ts';
import { weight, type Tx } from './tx.ts';

export type LadderPlan = {
  destinationScript: Uint8Array;
  /** The lowest rung's rate and the cap on every rung's, sat/kvB. */
  minRate: number;
  maxRate: number;
  /** The most a rung pays of the output it takes, 0 < share ≤ 1. */
  maxFeeShare: number;
  /** How many rates the ladder is built on (a rung the cap or the replacement rule refuses is left out). */
  rungs: number;
  /** The incremental relay fee each rung outbids the one below by, sat/kvB (Core's default: 100). */
  incrementalRate: number;
};

/** A justice transaction signed at one feerate_per_kw: what ./penalty.ts returns, as a ladder needs it. */
export type Signed = { txid: string; hex: string; tx: Tx; feeSat: bigint; weight: number };

/** A rung: a signed justice transaction, its fee and its real vsize (the signatures as signed). */
export type Rung = { txid: string; hex: string; fee: number; vsize: number };

/** The ladder's nominal rates, sat/kvB: geometric from minRate to maxRate (integers, strictly rising; fewer when they would repeat). */
export function nominalRates(plan: Pick<LadderPlan, 'minRate' | 'maxRate' | 'rungs'>): number[] {
  const { minRate, maxRate, rungs } = plan;
  if (!(Number.isSafeInteger(minRate) && Number.isSafeInteger(maxRate) && minRate > 0 && maxRate >= minRate && Number.isSafeInteger(rungs) && rungs >= 1)) {
    throw new RangeError(`a ladder needs 0 < minRate ≤ maxRate and at least one rung, got ${minRate}, ${maxRate}, ${rungs}`);
  }
  const out: number[] = [];
  for (let k = 0; k < rungs; k++) {
    const r = k === rungs - 1 ? maxRate : Math.round(minRate * (maxRate / minRate) ** (k / Math.max(1, rungs - 1)));
    if (out.length === 0 || r > out.at(-1)!) out.push(r);
  }
  return out;
}

const realVsize = (s: Signed) => Math.ceil(weight(s.tx) / 4);

/**
 * One output's ladder. `sign(perKw)`: its justice transaction at BOLT 3's feerate_per_kw (fee =
 * ⌊perKw × counted weight / 1000⌋; ./penalty.ts); undefined where it would pay less than dust.
 * `valueSat`: what the output holds.
 */
export function ladder(valueSat: bigint, sign: (perKw: number) => Signed | undefined, plan: LadderPlan): Rung[] {
  const dust = dustThreshold(plan.destinationScript);
  const cap = (vsize: number) => {
    const byRate = BigInt(Math.floor((plan.maxRate * vsize) / 1000));
    const byShare = BigInt(Math.floor(plan.maxFeeShare * Number(valueSat)));
    const byDust = valueSat - dust;
    return [byRate, byShare, byDust].reduce((a, b) => (b < a ? b : a));
  };
  const incremental = (vsize: number) => BigInt(Math.ceil((plan.incrementalRate * vsize) / 1000));
  // The counted weight (73-byte signatures) is the same at every fee: one probe gives it.
  const probe = sign(0);
  if (probe === undefined) return [];
  const counted = probe.weight;
  const countedVsize = Math.ceil(counted / 4);
  /** The lowest perKw whose fee reaches `fee`, and the highest whose fee stays within it. */
  const perKwAtLeast = (fee: bigint) => Number((fee * 1000n + BigInt(counted) - 1n) / BigInt(counted));
  const perKwAtMost = (fee: bigint) => Number((fee * 1000n) / BigInt(counted));
  const out: Rung[] = [];
  let previous: { fee: bigint; rate: number } | undefined;
  for (const rate of nominalRates(plan)) {
    // What this rung must pay: its rate on its counted size (an upper bound of the real one), and
    // the replacement rule over the rung below, also on the counted size.
    let target = BigInt(Math.ceil((rate * countedVsize) / 1000));
    if (previous) {
      const least = previous.fee + incremental(countedVsize);
      if (least > target) target = least;
    }
    let s = sign(perKwAtLeast(target));
    // Over the cap on its real size: signed again at the cap (a signature a byte shorter shrinks the cap: once more).
    for (let tries = 0; s !== undefined && s.feeSat > cap(realVsize(s)) && tries < 3; tries++) {
      const limit = cap(realVsize(s));
      s = limit > 0n ? sign(perKwAtMost(limit)) : undefined;
    }
    if (s === undefined) break;
    const vsize = realVsize(s);
    const fee = s.feeSat;
    const rungRate = Number(fee) / vsize;
    // Capped below the lowest rate asked for: no rung (a rung under --min-fee-rate would not relay, or not be worth sending).
    if (fee <= 0n || fee > cap(vsize) || Number(fee) * 1000 < plan.minRate * vsize) break;
    if (previous && (fee < previous.fee + incremental(vsize) || rungRate <= previous.rate)) break;
    out.push({ txid: s.txid, hex: s.hex, fee: Number(fee), vsize });
    previous = { fee, rate: rungRate };
  }
  return out;
}
