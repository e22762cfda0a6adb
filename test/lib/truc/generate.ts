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
 *
 * Review of issue 37 added shapes the first generator did not reach: parents spending
 * sigop-heavy coins (P2WSH, P2SH with 15 sigops, P2SH-P2WSH: a parent Core sizes by its
 * sigops, at and over 10,000 vB and 16,000 sigop cost), children with a second confirmed
 * coin of those kinds, outputs with legacy sigops (P2PK, bare multisig: counted ×4, a bare
 * CHECKMULTISIG as 20) in the parent and the child, legacy outputs at their dust threshold
 * and one under, two anchors, and no maxfeerate at all (0).
 */
import type { Prevout } from '../../../src/lib/truc/check.ts';
import { hash160, sha256 } from '../../independent/base58check.ts';
import { concat } from '../../independent/tx.ts';
import { ANYONE, OP_TRUE_SCRIPT, P2A, buildTx, opReturn, p2wshOf, sigopScript, spendAnchor, spendAnyone, type BuildInput, type Built } from './build.ts';

export { seeded } from '../../helpers.ts';

type Out = { amount: bigint; script: Uint8Array };
/**
 * What a confirmed test coin pays: P2WSH(OP_TRUE); P2WSH of a witness script with N sigops (never executed);
 * P2SH of a redeem script with 15 (the most Core relays); P2SH-P2WSH of N.
 */
export type CoinKind = 'anyone' | `wsh:${number}` | 'p2sh15' | `p2shwsh:${number}`;
export type Coin = { txid: string; vout: number; amount: bigint; kind?: CoinKind };

const push = (b: Uint8Array) => concat(Uint8Array.of(b.length), b);
const p2sh = (redeem: Uint8Array) => concat(Uint8Array.of(0xa9, 0x14), hash160(redeem), Uint8Array.of(0x87));
const witnessScriptOf = (kind: CoinKind) => (kind === 'anyone' ? OP_TRUE_SCRIPT : sigopScript(kind === 'p2sh15' ? 15 : Number(kind.split(':')[1])));
const nestedRedeem = (ws: Uint8Array) => concat(Uint8Array.of(0x00, 0x20), sha256(ws));

/** The output script a coin of `kind` pays. */
export function coinScript(kind: CoinKind = 'anyone'): Uint8Array {
  const ws = witnessScriptOf(kind);
  if (kind === 'p2sh15') return p2sh(ws);
  if (kind.startsWith('p2shwsh:')) return p2sh(nestedRedeem(ws));
  return p2wshOf(ws);
}

/** The input spending `coin` (no signature: the scripts end in OP_1). */
export function spendCoin(coin: Coin): BuildInput {
  const kind = coin.kind ?? 'anyone';
  const ws = witnessScriptOf(kind);
  if (kind === 'p2sh15') return { txid: coin.txid, vout: coin.vout, witness: [], scriptSig: push(ws) };
  if (kind.startsWith('p2shwsh:')) return { txid: coin.txid, vout: coin.vout, witness: [ws], scriptSig: push(nestedRedeem(ws)) };
  return spendAnyone(coin.txid, coin.vout, ws);
}

/** Core's sigop cost of spending a coin of `kind` (test code's count: a P2SH redeem script ×4, a witness script ×1). */
export function coinSigops(kind: CoinKind = 'anyone'): number {
  if (kind === 'anyone') return 0;
  if (kind === 'p2sh15') return 15 * 4;
  return Number(kind.split(':')[1]);
}

/** The coins a case draws, before the fan-out that makes them: one the parent spends, one the child may add. */
export function drawCoinKinds(r: () => number): { parent: CoinKind; child: CoinKind } {
  const pick = <T extends string>(weights: [T, number][]): T => {
    let x = r() * weights.reduce((a, [, w]) => a + w, 0);
    for (const [k, w] of weights) if ((x -= w) < 0) return k;
    return weights[weights.length - 1]![0];
  };
  return {
    parent: pick<CoinKind>([['anyone', 74], ['wsh:2000', 5], ['wsh:2001', 5], ['wsh:16001', 3], ['p2sh15', 6], ['p2shwsh:1999', 4], ['p2shwsh:400', 3]]),
    child: pick<CoinKind>([['anyone', 55], ['wsh:120', 8], ['wsh:200', 9], ['wsh:201', 9], ['p2sh15', 10], ['p2shwsh:200', 9]]),
  };
}

/** The generator point, compressed: the key of the P2PK and bare-multisig outputs (never spent). */
const G = Uint8Array.from(Buffer.from('0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798', 'hex'));
/** P2PK `<G> OP_CHECKSIG`: one legacy sigop (×4). */
const P2PK = concat(push(G), Uint8Array.of(0xac));
/** Bare 1-of-1 multisig `OP_1 <G> OP_1 OP_CHECKMULTISIG`: counted as 20 legacy sigops (×4: 80), inaccurately, as Core counts outputs. */
const BARE_MULTISIG = concat(Uint8Array.of(0x51), push(G), Uint8Array.of(0x51, 0xae));
const legacySigops = (script: Uint8Array) => (script === P2PK ? 1 : script === BARE_MULTISIG ? 20 : 0);
/** The node's numbers the edges aim at, sat/kvB. */
export type Aim = { minRelayFeeRate: number; dustRelayFeeRate: number };
export type GeneratedCase = { name: string; parent: Built; child: Built; prevouts: Prevout[]; maxFeeRate: number; knobs: Record<string, string> };

const feeAt = (rate: number, vsize: number) => BigInt(Math.ceil((rate * vsize) / 1000));
/** One sat under a threshold, where there is one (nothing is under 0: at -dustrelayfee=0 nothing is dust). */
const under = (threshold: bigint) => (threshold > 0n ? threshold - 1n : 0n);
/** GetDustThreshold in test code: (output size + 67 for a witness program) × rate, rounded up. */
const dustOf = (script: Uint8Array, rate: number) => BigInt(Math.ceil(((8 + 1 + script.length + 67) * rate) / 1000));
/** The same for an output that is no witness program: + 148. */
const legacyDustOf = (script: Uint8Array, rate: number) => BigInt(Math.ceil(((8 + 1 + script.length + 148) * rate) / 1000));
/** Core's vsize: weight, or sigop cost × 20, whichever is more, / 4 rounded up. */
const coreVsize = (b: Built, sigopCost: number) => Math.ceil(Math.max(b.parsed.weight, sigopCost * 20) / 4);

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
 * One case from `r`, the parent spending `coin` (of its kind; default an anyone-can-spend P2WSH(OP_TRUE)
 * output), the child maybe adding `extraCoin`. `maxFeeRate` is Core's default (0.1 BTC/kvB) unless the
 * case draws an odd one to aim at, or none (0).
 */
export function generateCase(r: () => number, coin: Coin, aim: Aim, extraCoin?: Coin): GeneratedCase {
  const pick = <T extends string>(weights: Record<T, number>): T => {
    const entries = Object.entries(weights) as [T, number][];
    let x = r() * entries.reduce((a, [, w]) => a + w, 0);
    for (const [k, w] of entries) if ((x -= w) < 0) return k;
    return entries[entries.length - 1]![0];
  };
  const knobs: Record<string, string> = {};
  const k = <T extends string>(name: string, weights: Record<T, number>): T => (knobs[name] = pick(weights));

  const maxKnob = k('max', { default: 77, odd: 15, none: 8 });
  const maxFeeRate = maxKnob === 'odd' ? 7_777 : maxKnob === 'none' ? 0 : 10_000_000;
  const oddMax = maxKnob === 'odd';
  // The parent: version, anchor, a second (dust?) output, a sigop-heavy output for the child, padding.
  const pv = { v3: 3, v2: 2, v1: 1, v4: 4 }[k('pv', { v3: 82, v2: 10, v1: 3, v4: 2 })];
  const anchor = k('anchor', { p2a0: 60, none: 22, valuedUnder: 9, valuedAt: 9 });
  const extra = k('extra', { none: 80, dustUnder: 10, dustAt: 10 });
  const heavy = k('heavy', { none: 92, s200: 4, s201: 4 });
  const ppadKnob = k('ppad', { none: 92, at10000: 4, over10000: 4 });
  const anchor2 = k('anchor2', { none: 84, p2a0: 8, valued: 8 });
  const pout = k('pout', { none: 86, p2pk: 4, p2pkUnder: 2, bare: 6, bareUnder: 2 });
  // Broken parents: one spending its coin twice; one under 65 bytes without witnesses (its only output an anchor,
  // the whole coin its fee).
  const pshape = k('pshape', { normal: 94, duplicate: 3, tiny: 3 });
  const coinKind = coin.kind ?? 'anyone';
  const ppad = coinKind === 'anyone' && pshape !== 'tiny' ? ppadKnob : 'none'; // a sigop-heavy parent's size is its sigops'
  const parentOuts: Out[] = [];
  if (anchor !== 'none') parentOuts.push({ amount: anchor === 'p2a0' ? 0n : anchor === 'valuedUnder' ? under(dustOf(P2A, aim.dustRelayFeeRate)) : dustOf(P2A, aim.dustRelayFeeRate), script: P2A });
  if (extra !== 'none') parentOuts.push({ amount: extra === 'dustUnder' ? under(dustOf(ANYONE, aim.dustRelayFeeRate)) : dustOf(ANYONE, aim.dustRelayFeeRate), script: ANYONE });
  const heavyScript = heavy === 'none' ? undefined : sigopScript(heavy === 's200' ? 200 : 201);
  if (heavyScript) parentOuts.push({ amount: 5_000n, script: p2wshOf(heavyScript) });
  const heavyVout = heavyScript ? parentOuts.length : -1; // the last of parentOuts so far, after the coin's output 0
  const anchor2Vout = anchor2 === 'none' ? -1 : parentOuts.length + 1;
  if (anchor2 !== 'none') parentOuts.push({ amount: anchor2 === 'p2a0' ? 0n : dustOf(P2A, aim.dustRelayFeeRate), script: P2A });
  if (pout !== 'none') {
    const script = pout.startsWith('p2pk') ? P2PK : BARE_MULTISIG;
    parentOuts.push({ amount: pout.endsWith('Under') ? under(legacyDustOf(script, aim.dustRelayFeeRate)) : legacyDustOf(script, aim.dustRelayFeeRate), script });
  }
  const parentSigops = coinSigops(coinKind) + parentOuts.reduce((a, o) => a + legacySigops(o.script) * 4, 0);
  const parentWith = (fee: bigint, pad?: number) => (pshape === 'tiny'
    ? buildTx(pv, [spendCoin(coin)], [{ amount: 0n, script: P2A }])
    : buildTx(pv, pshape === 'duplicate' ? [spendCoin(coin), spendCoin(coin)] : [spendCoin(coin)],
      [{ amount: coin.amount - fee - parentOuts.reduce((a, o) => a + o.amount, 0n), script: ANYONE }, ...parentOuts, ...(pad === undefined ? [] : [opReturn(pad)])]));
  const shaped = (fee: bigint) => (ppad === 'none' ? parentWith(fee) : padTo(ppad === 'at10000' ? 10_000 : 10_001, 9_600, (pad) => parentWith(fee, pad)));
  const pvsize = coreVsize(shaped(0n), parentSigops);
  const aloneFloor = feeAt(aim.minRelayFeeRate, pvsize);
  // A parent with an anchor mostly pays nothing (dust only at zero fee); one without, mostly its own way.
  const dusty = anchor === 'p2a0' || anchor === 'valuedUnder' || extra === 'dustUnder';
  const pfeeKnob = k('pfee', { zero: dusty ? 75 : 30, underAlone: 8, atAlone: dusty ? 5 : 20, above: dusty ? 6 : 30, overMax: oddMax ? 6 : 0 });
  const parentFee = { zero: 0n, underAlone: aloneFloor > 0n ? aloneFloor - 1n : 0n, atAlone: aloneFloor, above: aloneFloor + BigInt(1 + Math.floor(r() * 2_000)), overMax: BigInt(Math.floor((maxFeeRate * pvsize) / 1000)) + 1n }[pfeeKnob];
  const parent = shaped(parentFee);
  const ptx = parent.parsed.txid;
  const anchorVout = anchor === 'none' ? -1 : 1;
  const extraVout = extra === 'none' ? -1 : 1 + (anchor === 'none' ? 0 : 1);

  // The child: which of the parent's outputs it spends, how, and what else.
  const cv = k('cv', { v3: 86, v2: 14 }) === 'v3' ? 3 : 2;
  const inputs: BuildInput[] = [];
  let valueIn = 0n;
  let childSigops = 0;
  let usedExtra = false;
  const take = (vout: number, input: BuildInput) => {
    inputs.push(input);
    valueIn += parent.parsed.outputs[vout]?.amount ?? 0n;
  };
  const shape = k('shape', { normal: 88, notChild: 3, tiny: 4, missing: 5 });
  if (shape === 'notChild') {
    inputs.push(spendCoin(coin)); // spends only what the parent spends
    valueIn += coin.amount;
    childSigops += coinSigops(coinKind);
  } else {
    if (anchorVout >= 0 && k('spendAnchor', { yes: 85, no: 15 }) === 'yes') take(anchorVout, spendAnchor(ptx, anchorVout, k('anchorWitness', { empty: 92, item: 8 }) === 'item' ? [Uint8Array.of(1)] : []));
    if (shape !== 'tiny') {
      if (k('spendMain', { yes: 88, no: 12 }) === 'yes' || inputs.length === 0) take(0, spendAnyone(ptx, 0));
      if (extraVout >= 0 && k('spendExtra', { yes: 50, no: 50 }) === 'yes') take(extraVout, spendAnyone(ptx, extraVout));
      if (heavyScript && k('spendHeavy', { yes: 85, no: 15 }) === 'yes') {
        take(heavyVout, spendAnyone(ptx, heavyVout, heavyScript));
        childSigops += heavy === 's200' ? 200 : 201;
      }
      if (anchor2Vout >= 0 && k('spendAnchor2', { yes: 70, no: 30 }) === 'yes') take(anchor2Vout, spendAnchor(ptx, anchor2Vout));
      if (k('duplicate', { no: 95, yes: 5 }) === 'yes') take(0, spendAnyone(ptx, 0));
      if (k('conflict', { no: 95, yes: 5 }) === 'yes') {
        inputs.push(spendCoin(coin));
        valueIn += coin.amount;
        childSigops += coinSigops(coinKind);
      }
      if (extraCoin && k('extraCoin', { no: 78, yes: 22 }) === 'yes') {
        inputs.push(spendCoin(extraCoin));
        valueIn += extraCoin.amount;
        childSigops += coinSigops(extraCoin.kind);
        usedExtra = true;
      }
    } else if (inputs.length === 0) take(0, spendAnyone(ptx, 0));
    if (shape === 'missing') inputs.push(spendAnyone(ptx, 50));
  }
  const cdust = k('childDust', { no: 94, yes: 6 }) === 'yes';
  const cout = shape === 'tiny' ? 'none' : k('cout', { none: 84, p2pk: 5, bare1: 6, bare3: 5 });
  const legacyOuts: Out[] = cout === 'none' ? [] : Array.from({ length: cout === 'bare3' ? 3 : 1 }, () => {
    const script = cout === 'p2pk' ? P2PK : BARE_MULTISIG;
    return { amount: legacyDustOf(script, aim.dustRelayFeeRate), script };
  });
  childSigops += legacyOuts.reduce((a, o) => a + legacySigops(o.script) * 4, 0);
  const cpad = shape === 'tiny' ? 'none' : k('cpad', { none: 90, at1000: 5, over1000: 5 });
  const childWith = (fee: bigint, pad?: number) => {
    if (shape === 'tiny') return buildTx(cv, inputs, [opReturn(0)]); // all it spends is fee (or nothing)
    const outs: Out[] = [...(cdust ? [{ amount: 0n, script: P2A }] : []), ...legacyOuts];
    const change = valueIn - fee - legacyOuts.reduce((a, o) => a + o.amount, 0n);
    return buildTx(cv, inputs, [{ amount: change < 0n ? 0n : change, script: ANYONE }, ...outs, ...(pad === undefined ? [] : [opReturn(pad)])]);
  };
  const sized = (fee: bigint) => (cpad === 'none' ? childWith(fee) : padTo(cpad === 'at1000' ? 1_000 : 1_001, 700, (pad) => childWith(fee, pad)));
  // The child's Core vsize: weight, or its sigop cost × 20 (test code's count), whichever is more.
  const cvsize = coreVsize(sized(0n), childSigops);
  const childAlone = feeAt(aim.minRelayFeeRate, cvsize);
  const packageFloor = feeAt(aim.minRelayFeeRate, pvsize + cvsize) - parentFee;
  const maxBound = BigInt(Math.floor((maxFeeRate * cvsize) / 1000));
  const cfee = k('cfee', { zero: 8, underAlone: 10, atAlone: 10, underPackage: 12, atPackage: 12, large: 30, atMax: oddMax ? 8 : 0, overMax: oddMax ? 8 : 0, negative: 4 });
  const childFee = { zero: 0n, underAlone: childAlone - 1n, atAlone: childAlone, underPackage: packageFloor - 1n, atPackage: packageFloor, large: BigInt(500 + Math.floor(r() * 20_000)), atMax: maxBound, overMax: maxBound + 1n, negative: -1n }[cfee];
  const child = sized(childFee < 0n && cfee !== 'negative' ? 0n : childFee);
  knobs['coin'] = coinKind;
  if (usedExtra) knobs['extraKind'] = extraCoin!.kind ?? 'anyone';
  const prevouts: Prevout[] = [{ txid: coin.txid, vout: coin.vout, amount: coin.amount, script: coinScript(coinKind) }];
  if (usedExtra) prevouts.push({ txid: extraCoin!.txid, vout: extraCoin!.vout, amount: extraCoin!.amount, script: coinScript(extraCoin!.kind) });
  return { name: Object.entries(knobs).map(([a, b]) => `${a}=${b}`).join(' '), parent, child, prevouts, maxFeeRate, knobs };
}
