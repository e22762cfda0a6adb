/**
 * Generated one-parent-one-child packages for the differential test against Bitcoin Core
 * (test/regtest/truc-differential.test.ts): from one seed, each case draws a shape for the
 * parent and the child — versions, fees placed on the edges of each floor (the parent's
 * alone, the child's alone, the package's, maxfeerate), anchors and dust at their
 * thresholds ± 1, padding to the TRUC size limits, sigop-heavy inputs, duplicate,
 * conflicting, missing and non-parent inputs, witnesses on anchors, transactions under 65
 * bytes — each break alone or with others. Nothing here says what the verdict should be:
 * Core's answer is the expected value. Sizes are read by test code (test/independent/tx.ts);
 * the thresholds the edges aim at are Core's formulas written here.
 */
import type { Prevout } from '../../../src/lib/truc/check.ts';
import { ANYONE, P2A, buildTx, opReturn, p2wshOf, sigopScript, spendAnchor, spendAnyone, type BuildInput, type Built } from './build.ts';

/** mulberry32: a small seeded generator, so a failing case replays from its seed. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Out = { amount: bigint; script: Uint8Array };
export type Coin = { txid: string; vout: number; amount: bigint };
/** The node's numbers the edges aim at, sat/kvB. */
export type Aim = { minRelayFeeRate: number; dustRelayFeeRate: number };
export type GeneratedCase = { name: string; parent: Built; child: Built; prevouts: Prevout[]; maxFeeRate: number; knobs: Record<string, string> };

const feeAt = (rate: number, vsize: number) => BigInt(Math.ceil((rate * vsize) / 1000));
/** GetDustThreshold in test code: (output size + 67 for a witness program) × rate, rounded up. */
const dustOf = (script: Uint8Array, rate: number) => BigInt(Math.ceil(((8 + 1 + script.length + 67) * rate) / 1000));

/** The OP_RETURN padding that brings `build(pad)` to exactly `vsize` (test code's reading), searched around a first guess. */
function padTo(vsize: number, guess: number, build: (pad: number) => Built): Built {
  let pad = guess;
  for (let i = 0; i < 40; i++) {
    const b = build(pad);
    if (b.parsed.vsize === vsize) return b;
    pad = Math.max(0, pad + (vsize - b.parsed.vsize) * (i < 20 ? 1 : Math.sign(vsize - b.parsed.vsize)));
  }
  throw new Error(`no padding reaches ${vsize} vB`);
}

/**
 * One case from `r`, spending `coin` (an anyone-can-spend P2WSH(OP_TRUE) output). `maxFeeRate`
 * is Core's default (0.1 BTC/kvB) unless the case draws an odd one to aim at.
 */
export function generateCase(r: () => number, coin: Coin, aim: Aim): GeneratedCase {
  const pick = <T extends string>(weights: Record<T, number>): T => {
    const entries = Object.entries(weights) as [T, number][];
    let x = r() * entries.reduce((a, [, w]) => a + w, 0);
    for (const [k, w] of entries) if ((x -= w) < 0) return k;
    return entries[entries.length - 1]![0];
  };
  const knobs: Record<string, string> = {};
  const k = <T extends string>(name: string, weights: Record<T, number>): T => (knobs[name] = pick(weights));

  const maxFeeRate = k('max', { default: 85, odd: 15 }) === 'odd' ? 7_777 : 10_000_000;
  // The parent: version, anchor, a second (dust?) output, a sigop-heavy output for the child, padding.
  const pv = { v3: 3, v2: 2, v1: 1, v4: 4 }[k('pv', { v3: 82, v2: 10, v1: 3, v4: 2 })];
  const anchor = k('anchor', { p2a0: 60, none: 22, valuedUnder: 9, valuedAt: 9 });
  const extra = k('extra', { none: 80, dustUnder: 10, dustAt: 10 });
  const heavy = k('heavy', { none: 92, s200: 4, s201: 4 });
  const ppad = k('ppad', { none: 92, at10000: 4, over10000: 4 });
  const parentOuts: Out[] = [];
  if (anchor !== 'none') parentOuts.push({ amount: anchor === 'p2a0' ? 0n : dustOf(P2A, aim.dustRelayFeeRate) - (anchor === 'valuedUnder' ? 1n : 0n), script: P2A });
  if (extra !== 'none') parentOuts.push({ amount: dustOf(ANYONE, aim.dustRelayFeeRate) - (extra === 'dustUnder' ? 1n : 0n), script: ANYONE });
  const heavyScript = heavy === 'none' ? undefined : sigopScript(heavy === 's200' ? 200 : 201);
  if (heavyScript) parentOuts.push({ amount: 5_000n, script: p2wshOf(heavyScript) });
  const parentWith = (fee: bigint, pad?: number) => buildTx(pv, [spendAnyone(coin.txid, coin.vout)],
    [{ amount: coin.amount - fee - parentOuts.reduce((a, o) => a + o.amount, 0n), script: ANYONE }, ...parentOuts, ...(pad === undefined ? [] : [opReturn(pad)])]);
  const shaped = (fee: bigint) => (ppad === 'none' ? parentWith(fee) : padTo(ppad === 'at10000' ? 10_000 : 10_001, 9_600, (pad) => parentWith(fee, pad)));
  const pvsize = shaped(0n).parsed.vsize;
  const aloneFloor = feeAt(aim.minRelayFeeRate, pvsize);
  // A parent with an anchor mostly pays nothing (dust only at zero fee); one without, mostly its own way.
  const dusty = anchor === 'p2a0' || anchor === 'valuedUnder' || extra === 'dustUnder';
  const pfeeKnob = k('pfee', { zero: dusty ? 75 : 30, underAlone: 8, atAlone: dusty ? 5 : 20, above: dusty ? 6 : 30, overMax: maxFeeRate < 10_000_000 ? 6 : 0 });
  const parentFee = { zero: 0n, underAlone: aloneFloor > 0n ? aloneFloor - 1n : 0n, atAlone: aloneFloor, above: aloneFloor + BigInt(1 + Math.floor(r() * 2_000)), overMax: BigInt(Math.floor((maxFeeRate * pvsize) / 1000)) + 1n }[pfeeKnob];
  const parent = shaped(parentFee);
  const ptx = parent.parsed.txid;
  const anchorVout = anchor === 'none' ? -1 : 1;
  const extraVout = extra === 'none' ? -1 : 1 + (anchor === 'none' ? 0 : 1);
  const heavyVout = heavyScript ? parentOuts.length : -1; // the last of parentOuts, after the coin's output 0

  // The child: which of the parent's outputs it spends, how, and what else.
  const cv = k('cv', { v3: 86, v2: 14 }) === 'v3' ? 3 : 2;
  const inputs: BuildInput[] = [];
  let valueIn = 0n;
  const take = (vout: number, input: BuildInput) => {
    inputs.push(input);
    valueIn += parent.parsed.outputs[vout]?.amount ?? 0n;
  };
  const shape = k('shape', { normal: 88, notChild: 3, tiny: 4, missing: 5 });
  if (shape === 'notChild') {
    inputs.push(spendAnyone(coin.txid, coin.vout)); // spends only what the parent spends
    valueIn += coin.amount;
  } else {
    if (anchorVout >= 0 && k('spendAnchor', { yes: 85, no: 15 }) === 'yes') take(anchorVout, spendAnchor(ptx, anchorVout, k('anchorWitness', { empty: 92, item: 8 }) === 'item' ? [Uint8Array.of(1)] : []));
    if (shape !== 'tiny') {
      if (k('spendMain', { yes: 88, no: 12 }) === 'yes' || inputs.length === 0) take(0, spendAnyone(ptx, 0));
      if (extraVout >= 0 && k('spendExtra', { yes: 50, no: 50 }) === 'yes') take(extraVout, spendAnyone(ptx, extraVout));
      if (heavyScript && k('spendHeavy', { yes: 85, no: 15 }) === 'yes') take(heavyVout, spendAnyone(ptx, heavyVout, heavyScript));
      if (k('duplicate', { no: 95, yes: 5 }) === 'yes') take(0, spendAnyone(ptx, 0));
      if (k('conflict', { no: 95, yes: 5 }) === 'yes') {
        inputs.push(spendAnyone(coin.txid, coin.vout));
        valueIn += coin.amount;
      }
    } else if (inputs.length === 0) take(0, spendAnyone(ptx, 0));
    if (shape === 'missing') inputs.push(spendAnyone(ptx, 50));
  }
  const cdust = k('childDust', { no: 94, yes: 6 }) === 'yes';
  const cpad = shape === 'tiny' ? 'none' : k('cpad', { none: 90, at1000: 5, over1000: 5 });
  const childWith = (fee: bigint, pad?: number) => {
    if (shape === 'tiny') return buildTx(cv, inputs, [opReturn(0)]); // all it spends is fee (or nothing)
    const outs: Out[] = cdust ? [{ amount: 0n, script: P2A }] : [];
    const change = valueIn - fee;
    return buildTx(cv, inputs, [{ amount: change < 0n ? 0n : change, script: ANYONE }, ...outs, ...(pad === undefined ? [] : [opReturn(pad)])]);
  };
  const sized = (fee: bigint) => (cpad === 'none' ? childWith(fee) : padTo(cpad === 'at1000' ? 1_000 : 1_001, 700, (pad) => childWith(fee, pad)));
  // The child's Core vsize: weight, or its witness sigops × 20 (the heavy script's), whichever is more.
  const spentHeavy = heavyScript !== undefined && inputs.some((i) => i.txid === ptx && i.vout === heavyVout);
  const coreVsize = (b: Built) => Math.ceil(Math.max(b.parsed.weight, spentHeavy ? (heavy === 's200' ? 200 : 201) * 20 : 0) / 4);
  const cvsize = coreVsize(sized(0n));
  const childAlone = feeAt(aim.minRelayFeeRate, cvsize);
  const packageFloor = feeAt(aim.minRelayFeeRate, pvsize + cvsize) - parentFee;
  const maxBound = BigInt(Math.floor((maxFeeRate * cvsize) / 1000));
  const cfee = k('cfee', { zero: 8, underAlone: 10, atAlone: 10, underPackage: 12, atPackage: 12, large: 30, atMax: maxFeeRate < 10_000_000 ? 8 : 0, overMax: maxFeeRate < 10_000_000 ? 8 : 0, negative: 4 });
  const childFee = { zero: 0n, underAlone: childAlone - 1n, atAlone: childAlone, underPackage: packageFloor - 1n, atPackage: packageFloor, large: BigInt(500 + Math.floor(r() * 20_000)), atMax: maxBound, overMax: maxBound + 1n, negative: -1n }[cfee];
  const child = sized(childFee < 0n && cfee !== 'negative' ? 0n : childFee);
  const name = Object.entries(knobs).map(([a, b]) => `${a}=${b}`).join(' ');
  return { name, parent, child, prevouts: [{ ...coin, script: ANYONE }], maxFeeRate, knobs };
}
