/**
 * The TRUC package checker (src/lib/truc/check.ts), one test per rule, on both sides of
 * every limit. Transactions are built by test code (build.ts); their sizes come from the
 * independent reader (test/independent/tx.ts), dust thresholds and sigop counts from
 * Core's documented numbers (546 P2PKH, 294 P2WPKH, 330 P2WSH/P2TR, 240 P2A at
 * 3 sat/vB; CHECKMULTISIG after OP_n counts n in a witness script, 20 in an output),
 * never from the product. The differential test against Core is test/regtest/truc.test.ts.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { checkTrucPackage, CORE_POLICY, formatMoney, TrucRefusal, type Prevout, type TrucPolicy } from '../../../src/lib/truc/check.ts';
import { dustThreshold } from '../../../src/lib/truc/transaction.ts';
import { refusal } from '../../setup/refusal.ts';
import { ANYONE, P2A, buildTx, opReturn, p2wshOf, padTo, sigopScript, spendAnchor, spendAnyone, type Built } from './build.ts';
import { concat } from '../../independent/tx.ts';

const COIN = { txid: 'aa'.repeat(32), vout: 0, amount: 1_000_000n };
const PREVOUTS: Prevout[] = [{ ...COIN, script: ANYONE }];
const out = (amount: bigint, script: Uint8Array = ANYONE) => ({ amount, script });

function zeroFeeParent(extra: { amount: bigint; script: Uint8Array }[] = [], version = 3): Built {
  const sum = extra.reduce((a, o) => a + o.amount, 0n);
  return buildTx(version, [spendAnyone(COIN.txid, COIN.vout)], [out(COIN.amount - sum), out(0n, P2A), ...extra]);
}
const child = (parent: Built, fee: bigint, extra: { amount: bigint; script: Uint8Array }[] = [], version = 3, inputs = [spendAnchor(parent.parsed.txid, 1), spendAnyone(parent.parsed.txid, 0)]) =>
  buildTx(version, inputs, [out(parent.parsed.outputs[0]!.amount - fee - extra.reduce((a, o) => a + o.amount, 0n)), ...extra]);
const check = (parent: Built, c: Built, policy: Partial<TrucPolicy> = {}, prevouts = PREVOUTS) => checkTrucPackage(parent.raw, c.raw, prevouts, { ...CORE_POLICY, ...policy });
const rule = (fn: () => unknown, code: string) => refusal(fn, code, 4) as TrucRefusal;

describe('a valid package: zero-fee v3 parent with a P2A, child spending it', () => {
  it('is accepted, with sizes and fees as test code measures them', () => {
    const parent = zeroFeeParent();
    const c = child(parent, 1_000n);
    const v = check(parent, c);
    expect(v.parent).toMatchObject({ txid: parent.parsed.txid, wtxid: parent.parsed.wtxid, vsize: parent.parsed.vsize, fee: 0n, sigop_cost: 0, dust_outputs: [1], p2a_outputs: [1] });
    expect(v.child).toMatchObject({ txid: c.parsed.txid, vsize: c.parsed.vsize, fee: 1_000n, dust_outputs: [] });
    expect(v.package).toEqual({ fee: 1_000n, vsize: parent.parsed.vsize + c.parsed.vsize, feerate_sat_per_kvb: (1_000_000n / BigInt(parent.parsed.vsize + c.parsed.vsize)) });
    expect(v.spent_parent_outputs).toEqual([1, 0]);
  });
});

describe('version: both 3, and the inheritance rule both ways', () => {
  // A parent paying 500 sat enters the mempool alone; the child is then judged against it (SingleTRUCChecks).
  const feePaying = (version: number) => buildTx(version, [spendAnyone(COIN.txid, COIN.vout)], [out(COIN.amount - 500n)]);
  const childOf = (parent: Built, version: number) => buildTx(version, [spendAnyone(parent.parsed.txid, 0)], [out(parent.parsed.outputs[0]!.amount - 1_000n)]);
  it.each([
    [3, 2, 'E_TRUC_INHERITANCE', 'TRUC-violation'],
    [2, 3, 'E_TRUC_INHERITANCE', 'TRUC-violation'],
    [2, 2, 'E_TRUC_VERSION', undefined],
    [1, 1, 'E_TRUC_VERSION', undefined],
  ] as const)('parent v%i, child v%i: %s', (pv, cv, code, reason) => {
    const parent = feePaying(pv);
    const e = rule(() => check(parent, childOf(parent, cv)), code);
    expect(e.coreReason).toBe(reason);
  });
  it('the inheritance refusal carries Core\'s whole string', () => {
    const parent = zeroFeeParent();
    const c = child(parent, 1_000n, [], 2);
    expect(rule(() => check(parent, c), 'E_TRUC_INHERITANCE').coreError).toBe(
      `TRUC-violation, non-version=3 tx ${c.parsed.txid} (wtxid=${c.parsed.wtxid}) cannot spend from version=3 tx ${parent.parsed.txid} (wtxid=${parent.parsed.wtxid})`);
    const v2 = feePaying(2);
    const c3 = childOf(v2, 3);
    expect(rule(() => check(v2, c3), 'E_TRUC_INHERITANCE').coreError).toBe(
      `TRUC-violation, version=3 tx ${c3.parsed.txid} (wtxid=${c3.parsed.wtxid}) cannot spend from non-version=3 tx ${v2.parsed.txid} (wtxid=${v2.parsed.wtxid})`);
  });
  it('a zero-fee non-TRUC parent fails alone for good (its fee, not the child\'s version): Core never judges the child with it', () => {
    for (const [pv, cv] of [[2, 3], [2, 2], [1, 1]] as const) {
      const parent = zeroFeeParent([], pv);
      const needed = Math.ceil((100 * parent.parsed.vsize) / 1000);
      const e = rule(() => check(parent, child(parent, 1_000n, [], cv)), 'E_TRUC_FEE_TOO_LOW');
      expect(e.detail?.core).toEqual({ package_msg: 'transaction failed', parent: `min relay fee not met, 0 < ${needed}`, child: 'bad-txns-inputs-missingorspent' });
    }
  });
});

describe('one parent, one child: the child spends the parent', () => {
  it('a child spending none of the parent\'s outputs is refused', () => {
    const parent = zeroFeeParent();
    const c = buildTx(3, [spendAnyone('bb'.repeat(32), 0)], [out(1_000n)]);
    rule(() => check(parent, c, {}, [...PREVOUTS, { txid: 'bb'.repeat(32), vout: 0, amount: 2_000n, script: ANYONE }]), 'E_TRUC_NOT_CHILD');
  });
  it('a child input that is not the parent\'s and has no given prevout is a usage error', () => {
    const parent = zeroFeeParent();
    const c = child(parent, 1_000n, [], 3, [spendAnchor(parent.parsed.txid, 1), spendAnyone(parent.parsed.txid, 0), spendAnyone('cc'.repeat(32), 3)]);
    refusal(() => check(parent, c), 'E_TRUC_PREVOUT', 2);
  });
  it('a child spending a parent output that does not exist is refused', () => {
    const parent = zeroFeeParent();
    refusal(() => check(parent, child(parent, 0n, [], 3, [spendAnchor(parent.parsed.txid, 1), spendAnyone(parent.parsed.txid, 7)])), 'E_TRUC_NO_SUCH_OUTPUT', 4);
  });
  it('bytes that are not a transaction are malformed input', () => {
    const parent = zeroFeeParent();
    refusal(() => checkTrucPackage(parent.raw.subarray(0, 20), parent.raw, PREVOUTS), 'E_TRUC_BAD_TX', 3);
  });
});

describe('sizes: parent ≤ 10,000 vB, child ≤ 1,000 vB', () => {
  it('parent at 10,000 vB accepted, at 10,001 refused (TRUC-violation, Core\'s string)', () => {
    const at = padTo(10_000, (pad) => zeroFeeParent([opReturn(9_000 + pad)]));
    expect(check(at, child(at, 2_000n)).parent.vsize).toBe(10_000);
    const over = padTo(10_001, (pad) => zeroFeeParent([opReturn(9_000 + pad)]));
    expect(rule(() => check(over, child(over, 2_000n)), 'E_TRUC_PARENT_TOO_BIG').coreError)
      .toBe(`TRUC-violation, version=3 tx ${over.parsed.txid} (wtxid=${over.parsed.wtxid}) is too big: 10001 > 10000 virtual bytes`);
  });
  it('child at 1,000 vB accepted, at 1,001 refused', () => {
    const parent = zeroFeeParent();
    const at = padTo(1_000, (pad) => child(parent, 2_000n, [opReturn(700 + pad)]));
    expect(check(parent, at).child.vsize).toBe(1_000);
    const over = padTo(1_001, (pad) => child(parent, 2_000n, [opReturn(700 + pad)]));
    expect(rule(() => check(parent, over), 'E_TRUC_CHILD_TOO_BIG').coreError)
      .toBe(`TRUC-violation, version=3 child tx ${over.parsed.txid} (wtxid=${over.parsed.wtxid}) is too big: 1001 > 1000 virtual bytes`);
  });

  it.each([
    [200, 1_000, undefined],
    [201, 1_005, 'E_TRUC_CHILD_TOO_BIG'],
  ] as const)('a small child with %i witness sigops is %i vB sigop-adjusted (20 vbytes… per sigop ÷ 4)', (sigops, vsize, code) => {
    const script = sigopScript(sigops);
    const parent = zeroFeeParent([out(10_000n, p2wshOf(script))]);
    const c = child(parent, 3_000n, [], 3, [spendAnchor(parent.parsed.txid, 1), spendAnyone(parent.parsed.txid, 0), spendAnyone(parent.parsed.txid, 2, script)]);
    expect(c.parsed.vsize).toBeLessThan(400); // by weight alone it is far under the limit
    if (code) expect(rule(() => check(parent, c), code).detail).toMatchObject({ tx: 'child' });
    else expect(check(parent, c).child).toMatchObject({ sigop_cost: sigops, vsize });
  });
  it('an output\'s bare CHECKMULTISIG counts 20 legacy sigops (× 4), a P2WPKH spend 1', () => {
    const bare = Uint8Array.of(0x51, 0x21, ...new Uint8Array(33).fill(2), 0x51, 0xae); // OP_1 <key> OP_1 OP_CHECKMULTISIG
    const p2wpkh = Uint8Array.of(0x00, 0x14, ...new Uint8Array(20).fill(9));
    const parent = zeroFeeParent([out(1_000n, bare)]);
    const c = child(parent, 1_000n, [], 3, [spendAnchor(parent.parsed.txid, 1), spendAnyone(parent.parsed.txid, 0), { txid: 'dd'.repeat(32), vout: 1, witness: [new Uint8Array(72), new Uint8Array(33)] }]);
    const v = check(parent, c, {}, [...PREVOUTS, { txid: 'dd'.repeat(32), vout: 1, amount: 5_000n, script: p2wpkh }]);
    expect({ parent: v.parent.sigop_cost, child: v.child.sigop_cost }).toEqual({ parent: 80, child: 1 });
  });
});

describe('dust: at most one output, only in a zero-fee transaction, spent by the child', () => {
  it('Core\'s thresholds at 3 sat/vB: P2PKH 546, P2WPKH 294, P2WSH and P2TR 330, P2A 240, OP_RETURN 0', () => {
    const p2pkh = Uint8Array.of(0x76, 0xa9, 0x14, ...new Uint8Array(20), 0x88, 0xac);
    const p2wpkh = Uint8Array.of(0x00, 0x14, ...new Uint8Array(20));
    const p2tr = Uint8Array.of(0x51, 0x20, ...new Uint8Array(32));
    expect([p2pkh, p2wpkh, ANYONE, p2tr, P2A, Uint8Array.of(0x6a)].map((s) => dustThreshold(s, 3_000))).toEqual([546n, 294n, 330n, 330n, 240n, 0n]);
  });
  it('a 239-sat P2A is dust (must be spent), a 240-sat one is not', () => {
    const parentWith = (anchor: bigint) => buildTx(3, [spendAnyone(COIN.txid, 0)], [out(COIN.amount - anchor), out(anchor, P2A)]);
    const notSpending = (p: Built) => buildTx(3, [spendAnyone(p.parsed.txid, 0)], [out(p.parsed.outputs[0]!.amount - 1_000n)]);
    const at = parentWith(240n);
    expect(check(at, notSpending(at)).parent.dust_outputs).toEqual([]);
    const under = parentWith(239n);
    const c = notSpending(under);
    expect(rule(() => check(under, c), 'E_TRUC_EPHEMERAL_UNSPENT').coreError)
      .toBe(`missing-ephemeral-spends, tx ${c.parsed.txid} (wtxid=${c.parsed.wtxid}) did not spend parent's ephemeral dust`);
  });
  it('one dust output in a zero-fee parent is fine; a second is refused (dust)', () => {
    const one = zeroFeeParent();
    expect(check(one, child(one, 1_000n)).parent.dust_outputs).toEqual([1]);
    const two = zeroFeeParent([out(329n)]);
    const c = child(two, 1_000n, [], 3, [spendAnchor(two.parsed.txid, 1), spendAnyone(two.parsed.txid, 0), spendAnyone(two.parsed.txid, 2)]);
    expect(rule(() => check(two, c), 'E_TRUC_DUST').coreError).toBe('dust');
  });
  it('dust in a parent paying 1 sat is refused; at 0 sat it is not', () => {
    const feePaying = buildTx(3, [spendAnyone(COIN.txid, 0)], [out(COIN.amount - 1n), out(0n, P2A)]);
    expect(rule(() => check(feePaying, child(feePaying, 1_000n)), 'E_TRUC_DUST_FEE').coreError).toBe('dust, tx with dust output must be 0-fee');
  });
  it('dust in the (fee-paying) child is refused', () => {
    const parent = zeroFeeParent();
    expect(rule(() => check(parent, child(parent, 1_000n, [out(0n, P2A)])), 'E_TRUC_DUST_FEE').detail).toMatchObject({ tx: 'child' });
  });
  it('a non-anchor dust output in a zero-fee parent must be spent too', () => {
    const parent = buildTx(3, [spendAnyone(COIN.txid, 0)], [out(COIN.amount - 100n), out(100n)]);
    rule(() => check(parent, buildTx(3, [spendAnyone(parent.parsed.txid, 0)], [out(COIN.amount - 1_100n)])), 'E_TRUC_EPHEMERAL_UNSPENT');
    expect(check(parent, buildTx(3, [spendAnyone(parent.parsed.txid, 0), spendAnyone(parent.parsed.txid, 1)], [out(COIN.amount - 1_000n)])).child.fee).toBe(1_000n);
  });
});

describe('P2A is spent with an empty witness', () => {
  it.each([[1], [2]])('a %i-item witness on the anchor is refused (bad-witness-nonstandard)', (items) => {
    const parent = zeroFeeParent();
    const c = child(parent, 1_000n, [], 3, [spendAnchor(parent.parsed.txid, 1, Array.from({ length: items }, () => Uint8Array.of(1))), spendAnyone(parent.parsed.txid, 0)]);
    expect(rule(() => check(parent, c), 'E_TRUC_ANCHOR_WITNESS').coreError).toBe('bad-witness-nonstandard');
  });
});

describe('fees: package feerate ≥ the node\'s floor, each feerate ≤ maxfeerate, no negative fee', () => {
  it('property: refused exactly when fee × 1000 < rate × package vsize (both floors, with Core\'s reason and "fee < needed")', () => {
    const parent = zeroFeeParent();
    fc.assert(fc.property(fc.integer({ min: 0, max: 3_000 }), fc.integer({ min: 1, max: 10_000 }), fc.boolean(), (fee, rate, mempool) => {
      const c = child(parent, BigInt(fee));
      const vsize = parent.parsed.vsize + c.parsed.vsize;
      const needed = Math.ceil((rate * vsize) / 1000);
      const policy = mempool ? { mempoolMinFeeRate: rate, minRelayFeeRate: 1 } : { minRelayFeeRate: rate };
      if (fee >= needed && (!mempool || fee >= Math.ceil(vsize / 1000))) {
        expect(check(parent, c, policy).package.fee).toBe(BigInt(fee));
      } else {
        const e = rule(() => check(parent, c, policy), 'E_TRUC_FEE_TOO_LOW');
        expect(e.coreError).toBe(`${mempool ? 'mempool min fee not met' : 'min relay fee not met'}, ${fee} < ${needed}`);
      }
    }), { numRuns: 300 });
  });
  it('property: a child\'s own feerate above maxfeerate is refused exactly when fee × 1000 > maxfeerate × its vsize', () => {
    const parent = zeroFeeParent();
    fc.assert(fc.property(fc.integer({ min: 100, max: 200_000 }), fc.integer({ min: 1_000, max: 2_000_000 }), (fee, max) => {
      const c = child(parent, BigInt(fee));
      if (fee * 1000 > max * c.parsed.vsize) expect(rule(() => check(parent, c, { maxFeeRate: max }), 'E_FEE_TOO_HIGH').coreError).toBe('max feerate exceeded');
      else expect(check(parent, c, { maxFeeRate: max }).child.fee).toBe(BigInt(fee));
    }), { numRuns: 300 });
  });
  it('maxfeerate 0 disables the check, as in Core', () => {
    const parent = zeroFeeParent();
    expect(check(parent, child(parent, 500_000n), { maxFeeRate: 0 }).child.fee).toBe(500_000n);
  });
  it('a child paying out 1 sat more than it spends is refused with Core\'s FormatMoney amounts', () => {
    const parent = zeroFeeParent();
    expect(rule(() => check(parent, child(parent, -1n)), 'E_TRUC_INPUTS_BELOW_OUTPUTS').coreError).toBe('bad-txns-in-belowout, value in (0.01) < value out (0.01000001)');
    expect([formatMoney(100_000_000n), formatMoney(1n), formatMoney(123_450_000n)]).toEqual(['1.00', '0.00000001', '1.2345']);
  });
});

describe('property: the size limits hold on both sides for any padding', () => {
  it('a child is refused exactly when its independently measured vsize is over 1,000', () => {
    const parent = zeroFeeParent();
    fc.assert(fc.property(fc.integer({ min: 500, max: 1_200 }), (pad) => {
      const c = child(parent, 2_000n, [opReturn(pad)]);
      if (c.parsed.vsize > 1_000) expect(rule(() => check(parent, c), 'E_TRUC_CHILD_TOO_BIG').detail).toMatchObject({ tx: 'child' });
      else expect(check(parent, c).child.vsize).toBe(c.parsed.vsize);
    }), { numRuns: 100 });
  });

  it('a parent is refused exactly when its independently measured vsize is over 10,000 (padding around the limit)', () => {
    fc.assert(fc.property(fc.integer({ min: 9_850, max: 10_100 }), (pad) => {
      const parent = zeroFeeParent([opReturn(pad)]);
      const c = child(parent, 2_000n);
      if (parent.parsed.vsize > 10_000) expect(rule(() => check(parent, c), 'E_TRUC_PARENT_TOO_BIG').detail).toMatchObject({ tx: 'parent' });
      else expect(check(parent, c).parent.vsize).toBe(parent.parsed.vsize);
    }), { numRuns: 60 });
  });
});

describe('found in review: what the caller says cannot change what the bytes fix', () => {
  it('a child spending the parent\'s coin twice is refused (bad-txns-inputs-duplicate), not credited twice', () => {
    const parent = zeroFeeParent();
    const twice = buildTx(3, [spendAnchor(parent.parsed.txid, 1), spendAnyone(parent.parsed.txid, 0), spendAnyone(parent.parsed.txid, 0)], [out(COIN.amount + 50_000n)]);
    expect(rule(() => check(parent, twice), 'E_TRUC_DUPLICATE_INPUT').coreError).toBe('bad-txns-inputs-duplicate');
  });
  it('a child spending the coin the parent spends is refused (conflict-in-package)', () => {
    const parent = zeroFeeParent();
    const c = buildTx(3, [spendAnchor(parent.parsed.txid, 1), spendAnyone(COIN.txid, COIN.vout)], [out(COIN.amount - 1_000n)]);
    expect(rule(() => check(parent, c), 'E_TRUC_CONFLICT').coreError).toBe('conflict-in-package');
  });
  it('one outpoint described twice, differently — or a parent output described otherwise than the parent says — is a usage error', () => {
    const parent = zeroFeeParent();
    const c = child(parent, 1_000n);
    refusal(() => check(parent, c, {}, [...PREVOUTS, { ...PREVOUTS[0]!, amount: COIN.amount + 1n }]), 'E_TRUC_PREVOUT_CONFLICT', 2);
    refusal(() => check(parent, c, {}, [...PREVOUTS, { txid: parent.parsed.txid, vout: 0, amount: COIN.amount + 10_000n, script: ANYONE }]), 'E_TRUC_PREVOUT_CONFLICT', 2);
    expect(check(parent, c, {}, [...PREVOUTS, { ...PREVOUTS[0]! }, { txid: parent.parsed.txid, vout: 1, amount: 0n, script: P2A }]).child.fee).toBe(1_000n);
  });
});

describe('sigop cost of the other standard input types (Core\'s GetTransactionSigOpCost)', () => {
  const key = (b: number) => new Uint8Array(33).fill(b);
  const push = (b: Uint8Array) => Uint8Array.from([b.length, ...b]);
  const hash160Script = (h: number) => Uint8Array.of(0xa9, 0x14, ...new Uint8Array(20).fill(h), 0x87);
  /** The child spends the anchor, the parent's coin and one input of `script` with `scriptSig` and `witness`. */
  const childCost = (script: Uint8Array, scriptSig: Uint8Array, witness: Uint8Array[]) => {
    const parent = zeroFeeParent();
    const c = child(parent, 1_000n, [], 3, [spendAnchor(parent.parsed.txid, 1), spendAnyone(parent.parsed.txid, 0), { txid: 'ee'.repeat(32), vout: 0, scriptSig, witness }]);
    return check(parent, c, {}, [...PREVOUTS, { txid: 'ee'.repeat(32), vout: 0, amount: 10_000n, script }]).child.sigop_cost;
  };
  it('P2SH 2-of-3 multisig: its redeem script counted accurately (3) × 4 = 12', () => {
    const redeem = Uint8Array.of(0x52, ...push(key(2)), ...push(key(3)), ...push(key(4)), 0x53, 0xae);
    expect(childCost(hash160Script(1), Uint8Array.of(0x00, ...push(new Uint8Array(72)), ...push(new Uint8Array(72)), 0x4c, redeem.length, ...redeem), [])).toBe(12);
  });
  it('P2SH-P2WPKH: 1 (the witness program, not × 4)', () => {
    const redeem = Uint8Array.of(0x00, 0x14, ...new Uint8Array(20).fill(5));
    expect(childCost(hash160Script(2), push(redeem), [new Uint8Array(72), key(2)])).toBe(1);
  });
  it('P2SH-P2WSH: the witness script counted accurately (OP_2 … OP_3 CHECKMULTISIG: 3)', () => {
    const ws = Uint8Array.of(0x52, ...push(key(2)), ...push(key(3)), ...push(key(4)), 0x53, 0xae);
    const redeem = concat(Uint8Array.of(0x00, 0x20), new Uint8Array(32).fill(6));
    expect(childCost(hash160Script(3), push(redeem), [new Uint8Array(0), new Uint8Array(72), new Uint8Array(72), ws])).toBe(3);
  });
  it('P2PKH: 0 — a scriptSig of pushes carries none, and the spent output script is not counted', () => {
    const p2pkh = Uint8Array.of(0x76, 0xa9, 0x14, ...new Uint8Array(20), 0x88, 0xac);
    expect(childCost(p2pkh, concat(push(new Uint8Array(72)), push(key(2))), [])).toBe(0);
  });
  it('P2TR key path: 0', () => {
    expect(childCost(Uint8Array.of(0x51, 0x20, ...new Uint8Array(32).fill(7)), new Uint8Array(), [new Uint8Array(64)])).toBe(0);
  });
});

describe('malformed transactions', () => {
  it('trailing bytes after a transaction are refused (E_TRUC_BAD_TX, exit 3)', () => {
    const parent = zeroFeeParent();
    refusal(() => checkTrucPackage(concat(parent.raw, Uint8Array.of(0)), child(parent, 1_000n).raw, PREVOUTS), 'E_TRUC_BAD_TX', 3);
  });
});

describe('property: dust is exactly "below Core\'s threshold" for each standard output type', () => {
  const TYPES: [string, Uint8Array, bigint][] = [
    ['p2pkh', Uint8Array.of(0x76, 0xa9, 0x14, ...new Uint8Array(20), 0x88, 0xac), 546n],
    ['p2sh', Uint8Array.of(0xa9, 0x14, ...new Uint8Array(20), 0x87), 540n],
    ['p2wpkh', Uint8Array.of(0x00, 0x14, ...new Uint8Array(20)), 294n],
    ['p2wsh', ANYONE, 330n],
    ['p2tr', Uint8Array.of(0x51, 0x20, ...new Uint8Array(32)), 330n],
    ['p2a', P2A, 240n],
  ];
  it('one output of each type at threshold − 1 … threshold + 1 in a fee-paying parent: refused (dust) exactly below', () => {
    let refusedCount = 0, acceptedCount = 0;
    fc.assert(fc.property(fc.constantFrom(...TYPES), fc.integer({ min: -1, max: 1 }), ([, script, threshold], delta) => {
      const amount = threshold + BigInt(delta);
      const parent = buildTx(3, [spendAnyone(COIN.txid, 0)], [out(COIN.amount - amount - 500n), out(amount, script)]);
      const c = buildTx(3, [spendAnyone(parent.parsed.txid, 0)], [out(parent.parsed.outputs[0]!.amount - 1_000n)]);
      if (amount < threshold) {
        rule(() => check(parent, c), 'E_TRUC_DUST_FEE');
        refusedCount++;
      } else {
        expect(check(parent, c).parent.dust_outputs).toEqual([]);
        acceptedCount++;
      }
    }), { numRuns: 60 });
    expect(refusedCount).toBeGreaterThan(0);
    expect(acceptedCount).toBeGreaterThan(0);
  });
});

describe('policy numbers', () => {
  it.each([[{ minRelayFeeRate: 0.5 }], [{ maxFeeRate: -1 }], [{ dustRelayFeeRate: Number.NaN }]])('%o is a usage error, not a crash', (policy) => {
    const parent = zeroFeeParent();
    refusal(() => check(parent, child(parent, 1_000n), policy), 'E_USAGE', 2);
  });
});

describe('issue 37 finding 4: the package as Core evaluates it — each transaction alone first', () => {
  // A v3 parent paying 500 sat: above the 0.1 sat/vB floor on its own size, so Core's AcceptPackage
  // takes it ALONE, and then judges the child alone (validation.cpp: AcceptSubPackage({tx}) first).
  const feePaying = () => buildTx(3, [spendAnyone(COIN.txid, COIN.vout)], [out(COIN.amount - 500n)]);
  const childPaying = (parent: Built, fee: bigint) => buildTx(3, [spendAnyone(parent.parsed.txid, 0)], [out(parent.parsed.outputs[0]!.amount - fee)]);

  it('a child paying nothing behind a parent that pays its own way is refused: Core judges it alone (min relay fee not met, 0 < ⌈100 × its vsize / 1000⌉)', () => {
    const parent = feePaying();
    const c = childPaying(parent, 0n);
    const needed = Math.ceil((100 * c.parsed.vsize) / 1000); // test code's size, Core's 0.1 sat/vB rounded up
    const e = rule(() => check(parent, c), 'E_TRUC_FEE_TOO_LOW');
    expect(e.coreError).toBe(`min relay fee not met, 0 < ${needed}`);
    expect(e.detail).toMatchObject({ tx: 'child' });
    // Core's whole answer: the parent accepted alone, the child refused alone.
    expect(e.detail?.core).toEqual({ package_msg: 'transaction failed', parent: 'accepted', child: `min relay fee not met, 0 < ${needed}` });
  });

  it('property: behind such a parent the child needs ⌈rate × its own vsize⌉ at any relay floor, whatever the package rate', () => {
    const parent = feePaying();
    fc.assert(fc.property(fc.integer({ min: 0, max: 400 }), fc.integer({ min: 1, max: 4_000 }), (fee, rate) => {
      const c = childPaying(parent, BigInt(fee));
      const parentAlone = 500 >= Math.ceil((rate * parent.parsed.vsize) / 1000);
      const childNeeds = Math.ceil((rate * c.parsed.vsize) / 1000);
      const packageNeeds = Math.ceil((rate * (parent.parsed.vsize + c.parsed.vsize)) / 1000);
      const ok = parentAlone ? fee >= childNeeds : 500 + fee >= packageNeeds;
      if (ok) expect(check(parent, c, { minRelayFeeRate: rate }).child.fee).toBe(BigInt(fee));
      else {
        const e = rule(() => check(parent, c, { minRelayFeeRate: rate }), 'E_TRUC_FEE_TOO_LOW');
        expect(e.coreError).toBe(parentAlone ? `min relay fee not met, ${fee} < ${childNeeds}` : `min relay fee not met, ${500 + fee} < ${packageNeeds}`);
      }
    }), { numRuns: 300 });
  });

  it('dust thresholds round UP, as Core\'s CFeeRate::GetFee: at 1.111 sat/vB a P2WSH is dust below 123 sat (110 vB × 1.111 = 122.21), a P2A below 89 (80 vB × 1.111 = 88.88)', () => {
    expect([dustThreshold(ANYONE, 1_111), dustThreshold(P2A, 1_111)]).toEqual([123n, 89n]);
    // Core's sizes: P2WSH output 43 bytes + 67, P2A 13 + 67; a rate that divides evenly stays exact.
    expect([dustThreshold(ANYONE, 1_000), dustThreshold(P2A, 1_000)]).toEqual([110n, 80n]);
    for (const [script, amount] of [[ANYONE, 122n], [P2A, 88n]] as const) {
      const parent = buildTx(3, [spendAnyone(COIN.txid, 0)], [out(COIN.amount - amount - 500n), out(amount, script)]);
      const c = buildTx(3, [spendAnyone(parent.parsed.txid, 0)], [out(parent.parsed.outputs[0]!.amount - 1_000n)]);
      expect(rule(() => check(parent, c, { dustRelayFeeRate: 1_111 }), 'E_TRUC_DUST_FEE').coreError).toBe('dust, tx with dust output must be 0-fee');
    }
  });
});
