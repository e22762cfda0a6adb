/**
 * What the TRUC checker's refusals and verdict say (src/lib/truc/check.ts), pinned where
 * `npm run mutate` found a planted change passing every test: the rule of ours is named as
 * ours, Core's reason and whole error travel in the detail, each usage error names the
 * outpoint, input or number at fault, and `package/checked` carries every verdict field.
 * Expected values come from the transactions test code builds (build.ts) and Core's
 * documented reasons, never from the checker.
 */
import { describe, expect, it } from 'vitest';
import { checkTrucPackage, checkedMessage, CORE_POLICY, TrucRefusal, type Prevout } from '../../../src/lib/truc/check.ts';
import { refusal } from '../../setup/refusal.ts';
import { ANYONE, P2A, buildTx, spendAnchor, spendAnyone, type Built } from './build.ts';

const COIN = { txid: 'aa'.repeat(32), vout: 0, amount: 1_000_000n };
const PREVOUTS: Prevout[] = [{ ...COIN, script: ANYONE }];
const out = (amount: bigint, script: Uint8Array = ANYONE) => ({ amount, script });
const zeroFeeParent = (): Built => buildTx(3, [spendAnyone(COIN.txid, COIN.vout)], [out(COIN.amount), out(0n, P2A)]);
const childOf = (parent: Built, fee: bigint, version = 3, inputs = [spendAnchor(parent.parsed.txid, 1), spendAnyone(parent.parsed.txid, 0)]) =>
  buildTx(version, inputs, [out(parent.parsed.outputs[0]!.amount - fee)]);

describe('a rule of ours is named as ours; Core\'s rules carry Core\'s reason and whole error', () => {
  it('a v2 package (E_TRUC_VERSION): "package:", both versions, "a rule of ours", no Core reason, and Core\'s own answer (it takes the package)', () => {
    const parent = buildTx(2, [spendAnyone(COIN.txid, COIN.vout)], [out(COIN.amount - 500n)]);
    const c = buildTx(2, [spendAnyone(parent.parsed.txid, 0)], [out(parent.parsed.outputs[0]!.amount - 1_000n)]);
    const e = refusal(() => checkTrucPackage(parent.raw, c.raw, PREVOUTS), 'E_TRUC_VERSION', 4) as TrucRefusal;
    expect(e.message).toMatch(/^package: parent and child are version 2 and 2, not 3 \(TRUC\).*\(a rule of ours, not Core's\)$/);
    expect(e.detail).toMatchObject({ rule: 'E_TRUC_VERSION', tx: 'package', core_reject_reason: null, core_error: null });
    expect(e.detail?.core).toEqual({ package_msg: 'success', parent: 'accepted', child: 'accepted' });
  });
  it('a version-0 package: Core\'s own refusal ("version": IsStandardTx keeps 1 ≤ version ≤ 3), never reported as Core-accepted', () => {
    // Bitcoin Core's submitpackage answer for this very shape, on regtest (test/regtest/truc.test.ts runs it against the node).
    const parent = buildTx(0, [spendAnyone(COIN.txid, COIN.vout)], [out(COIN.amount - 500n)]);
    const c = buildTx(0, [spendAnyone(parent.parsed.txid, 0)], [out(parent.parsed.outputs[0]!.amount - 1_000n)]);
    const e = refusal(() => checkTrucPackage(parent.raw, c.raw, PREVOUTS), 'E_TRUC_VERSION', 4) as TrucRefusal;
    expect(e.detail).toMatchObject({ rule: 'E_TRUC_VERSION', tx: 'parent', core_reject_reason: 'version' });
    expect(e.detail?.core).toEqual({ package_msg: 'transaction failed', parent: 'version', child: 'version' });
  });
  it('a Core rule (inheritance): the detail holds Core\'s reject reason and its whole error string', () => {
    const parent = zeroFeeParent();
    const c = childOf(parent, 1_000n, 2);
    const e = refusal(() => checkTrucPackage(parent.raw, c.raw, PREVOUTS), 'E_TRUC_INHERITANCE', 4) as TrucRefusal;
    const whole = `TRUC-violation, non-version=3 tx ${c.parsed.txid} (wtxid=${c.parsed.wtxid}) cannot spend from version=3 tx ${parent.parsed.txid} (wtxid=${parent.parsed.wtxid})`;
    expect(e.detail).toMatchObject({ core_reject_reason: 'TRUC-violation', core_error: whole });
    expect(e.message).toContain(`(Bitcoin Core: "${whole}")`);
  });
  it('a rule without a Core reason has no Core error, whatever debug text it is given', () => {
    const e = new TrucRefusal('E_TRUC_VERSION', 'child', 'versions differ', 'some debug text');
    expect(e.coreError).toBeUndefined();
    expect(e.message).toBe('child: versions differ (a rule of ours, not Core\'s)');
    expect(e.detail).toMatchObject({ core_reject_reason: null, core_error: null });
  });
});

describe('usage errors name what is at fault', () => {
  it('a policy number: its name and value', () => {
    const parent = zeroFeeParent();
    const e = refusal(() => checkTrucPackage(parent.raw, childOf(parent, 1_000n).raw, PREVOUTS, { ...CORE_POLICY, maxFeeRate: -1 }), 'E_USAGE', 2);
    expect(e.message).toContain('policy maxFeeRate must be a whole number of sat/kvB, at least 0; got -1');
  });
  it('bytes that are not a transaction: which one, the parent or the child', () => {
    const parent = zeroFeeParent();
    const c = childOf(parent, 1_000n);
    expect(refusal(() => checkTrucPackage(parent.raw.subarray(0, 20), c.raw, PREVOUTS), 'E_TRUC_BAD_TX', 3).message).toMatch(/^the parent is not a raw transaction/);
    expect(refusal(() => checkTrucPackage(parent.raw, c.raw.subarray(0, 20), PREVOUTS), 'E_TRUC_BAD_TX', 3).message).toMatch(/^the child is not a raw transaction/);
  });
  it('an outpoint described twice: the outpoint and both amounts', () => {
    const parent = zeroFeeParent();
    const e = refusal(() => checkTrucPackage(parent.raw, childOf(parent, 1_000n).raw, [...PREVOUTS, { ...PREVOUTS[0]!, amount: COIN.amount + 1n }]), 'E_TRUC_PREVOUT_CONFLICT', 2);
    expect(e.message).toContain(`${COIN.txid}:0 is described twice, differently (1000000 sat, 1000001 sat)`);
  });
  it('an input without its prevout: the transaction, the input and the outpoint', () => {
    const parent = zeroFeeParent();
    const c = childOf(parent, 1_000n, 3, [spendAnchor(parent.parsed.txid, 1), spendAnyone(parent.parsed.txid, 0), spendAnyone('cc'.repeat(32), 3)]);
    const e = refusal(() => checkTrucPackage(parent.raw, c.raw, PREVOUTS), 'E_TRUC_PREVOUT', 2);
    expect(e.message).toMatch(new RegExp(`^child input 2 spends ${'cc'.repeat(32)}:3: give its amount and script`));
    const e2 = refusal(() => checkTrucPackage(parent.raw, childOf(parent, 1_000n).raw, []), 'E_TRUC_PREVOUT', 2);
    expect(e2.message).toMatch(new RegExp(`^parent input 0 spends ${COIN.txid}:0:`));
  });
});

describe('package/checked: every field of the verdict, amounts as integers', () => {
  it('a valid package as test code measures it', () => {
    const parent = zeroFeeParent();
    const c = childOf(parent, 1_000n);
    const policy = { ...CORE_POLICY, minRelayFeeRate: 100, mempoolMinFeeRate: 0, maxFeeRate: 100_000, dustRelayFeeRate: 3_000 };
    const vsize = parent.parsed.vsize + c.parsed.vsize;
    expect(checkedMessage(checkTrucPackage(parent.raw, c.raw, PREVOUTS, policy), policy, 'regtest')).toEqual({
      type: 'package/checked', version: 1, network: 'regtest',
      parent: { txid: parent.parsed.txid, wtxid: parent.parsed.wtxid, version: 3, vsize: parent.parsed.vsize, sigop_cost: 0, fee_sat: 0, dust_outputs: [1], p2a_outputs: [1] },
      child: { txid: c.parsed.txid, wtxid: c.parsed.wtxid, version: 3, vsize: c.parsed.vsize, sigop_cost: 0, fee_sat: 1_000, dust_outputs: [], p2a_outputs: [] },
      package: { fee_sat: 1_000, vsize, feerate_sat_per_kvb: Math.floor(1_000_000 / vsize) },
      spent_parent_outputs: [1, 0],
      policy: { min_relay_fee_rate: 100, mempool_min_fee_rate: 0, max_fee_rate: 100_000, dust_relay_fee_rate: 3_000 },
    });
  });
});
