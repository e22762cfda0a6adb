/**
 * The mint's transaction rules called directly (src/lib/credit/rules.ts), pinned where
 * `npm run mutate` found a planted change passing every test: each refusal's code and the
 * facts its message names, each bound at its edge. Transactions are built here by hand
 * (btc-signer), one rule broken at a time; sizes are derived in the comments from the
 * BIP-341 key-path spend and P2TR output sizes, not from the product.
 */
import { describe, expect, it } from 'vitest';
import { Transaction } from '@scure/btc-signer';
import { fromHex, toHex } from '../../../src/lib/bytes.ts';
import { keyPair } from '../../../src/lib/keys/keys.ts';
import { taprootOutput } from '../../../src/lib/taproot/taproot.ts';
import { makeContract, type CreditContract } from '../../../src/lib/credit/terms.ts';
import { checkClose, checkFunding, checkRefund, checkRollover, checkState } from '../../../src/lib/credit/rules.ts';
import { rolloverTxid } from '../../../src/lib/credit/transactions.ts';
import { refusal } from '../../setup/refusal.ts';
import { MINT, USER } from './world.ts';

const PAYOUT = taprootOutput(keyPair(fromHex('c3'.repeat(32))).xOnly).script;
const CHANGE = taprootOutput(USER.xOnly).script;
const STRANGER = taprootOutput(keyPair(fromHex('e6'.repeat(32))).xOnly).script;
const FUNDING = { txid: 'f0'.repeat(32), vout: 1 };
const C: CreditContract = makeContract({
  network: 'regtest', userPubkey: USER.publicKey, mintPubkey: MINT.publicKey, capacity: 100_000n, funding: FUNDING,
  expiryHeight: 10_000, refundScript: CHANGE, changeScript: CHANGE, payoutScript: PAYOUT, feeRate: 2,
});
/**
 * One key-path input and two P2TR outputs: 10.5 (version, locktime, counts, segwit marker)
 * + 57.5 (41 bytes of input, a 66-byte witness / 4) + 2 × 43 = 154 vB.
 */
const VSIZE_2 = 154;

type Spec = { version?: number; lockTime?: number; sequence?: number; inputs?: { txid: string; index: number; amount?: bigint; script?: Uint8Array }[]; outputs: [Uint8Array, bigint][] };
function tx(s: Spec): Transaction {
  const t = new Transaction({ version: s.version ?? 3, lockTime: s.lockTime ?? 0, allowUnknownOutputs: true });
  for (const i of s.inputs ?? [{ txid: FUNDING.txid, index: FUNDING.vout }]) {
    t.addInput({ txid: i.txid, index: i.index, sequence: s.sequence ?? 0xfffffffd, witnessUtxo: { script: i.script ?? C.script, amount: i.amount ?? C.capacity } });
  }
  for (const [script, amount] of s.outputs) t.addOutput({ script, amount });
  return t;
}
/** A state paying the mint `mint` and the change the rest less `fee`. */
const state = (mint: bigint, fee: bigint, o: Partial<Spec> = {}) => tx({ outputs: [[PAYOUT, mint], [CHANGE, C.capacity - mint - fee]], ...o });
const FLOOR = 2;
const ok = (t: Transaction, cumulative = 6_000n) => checkState(t, C, cumulative, FLOOR);
const refused = (f: () => unknown, code: string) => refusal(f, code, 4).message;

describe('checkState', () => {
  it('at the floor exactly (308 sat for 154 vB at 2 sat/vB) it is signed; 1 sat less is E_FEE_TOO_LOW naming the rate and the floor', () => {
    ok(state(6_000n, BigInt(VSIZE_2 * FLOOR)));
    expect(refused(() => ok(state(6_000n, BigInt(VSIZE_2 * FLOOR) - 1n)), 'E_FEE_TOO_LOW')).toBe(
      'the update state pays 1.99 sat/vB, under the mint\'s floor of 2 sat/vB; it might not get mined in time');
  });
  it('paying out more than the funding holds is E_OVERSPEND; paying no fee at all is E_FEE_TOO_LOW', () => {
    expect(refused(() => checkState(state(6_000n, -1n), C, 6_000n, 0), 'E_OVERSPEND')).toBe('the update state pays out more than it spends');
    checkState(state(6_000n, 0n), C, 6_000n, 0);
    refused(() => ok(state(6_000n, 0n)), 'E_FEE_TOO_LOW');
  });
  it('version 2, a locktime: E_BAD_VERSION, E_LOCKTIME, naming them', () => {
    expect(refused(() => ok(state(6_000n, 400n, { version: 2 })), 'E_BAD_VERSION')).toBe(
      'the update state has version 2; states must be TRUC (version 3) so the mint can bump its exit by CPFP');
    expect(refused(() => ok(state(6_000n, 400n, { lockTime: 5 })), 'E_LOCKTIME')).toBe(
      'the update state has nLockTime 5; it must be 0 so the mint can broadcast it at once');
  });
  it('inputs: only the funding outpoint, described exactly, with no relative lock', () => {
    const second = { txid: 'aa'.repeat(32), index: 0 };
    expect(refused(() => ok(state(6_000n, 400n, { inputs: [{ txid: FUNDING.txid, index: 1 }, second] })), 'E_BAD_INPUTS')).toBe(
      'the update state must spend only the funding outpoint, it has 2 inputs');
    expect(refused(() => ok(state(6_000n, 400n, { inputs: [{ txid: FUNDING.txid, index: 0 }] })), 'E_BAD_INPUTS')).toBe(
      `the update state input 0 is not the funding outpoint ${FUNDING.txid}:1`);
    expect(refused(() => ok(state(6_000n, 400n, { inputs: [{ txid: 'aa'.repeat(32), index: 1 }] })), 'E_BAD_INPUTS')).toContain('is not the funding outpoint');
    for (const input of [{ ...FUNDING, index: 1, amount: C.capacity - 1n }, { ...FUNDING, index: 1, script: STRANGER }]) {
      expect(refused(() => ok(state(6_000n, 400n, { inputs: [input] })), 'E_BAD_INPUTS')).toBe(
        'the update state input 0 must describe the funding output exactly: 100000 sat to the contract address');
    }
    expect(refused(() => ok(state(6_000n, 400n, { sequence: 0xfffffffe })), 'E_BAD_SEQUENCE')).toBe(
      'the update state nSequence 0xfffffffe is not 0xfffffffd or 0xffffffff (a relative lock would let the refund win)');
    ok(state(6_000n, 400n, { sequence: 0xffffffff }));
  });
  it('outputs: the mint exactly its cumulative amount in one output, at most one change, nothing else', () => {
    expect(refused(() => ok(state(5_999n, 400n)), 'E_BAD_PAYOUT')).toBe('the update state pays the mint 5999 sat, not the cumulative 6000 sat');
    expect(refused(() => ok(tx({ outputs: [[PAYOUT, 3_000n], [PAYOUT, 3_000n], [CHANGE, 93_600n]] })), 'E_BAD_PAYOUT')).toBe(
      'the update state must have exactly one output to the mint\'s payout address, it has 2');
    expect(refused(() => ok(tx({ outputs: [[PAYOUT, 6_000n], [CHANGE, 46_000n], [CHANGE, 47_600n]] })), 'E_BAD_OUTPUTS')).toBe(
      'the update state may only pay the mint and the user\'s change address');
    refused(() => ok(tx({ outputs: [[PAYOUT, 6_000n], [CHANGE, 93_000n], [STRANGER, 600n]] })), 'E_BAD_OUTPUTS');
    ok(tx({ outputs: [[PAYOUT, 6_000n], [CHANGE, 93_600n]] }));
    ok(tx({ outputs: [[PAYOUT, 99_000n]] }), 99_000n);
    checkState(tx({ outputs: [[CHANGE, 99_000n]] }), C, 0n, FLOOR); // nothing owed: no payout output
    refused(() => checkState(tx({ outputs: [[CHANGE, 99_000n]] }), C, 1n, FLOOR), 'E_BAD_PAYOUT');
  });
  it('dust: an output 1 sat under its script\'s threshold (330 sat for P2TR) is E_DUST naming it; at the threshold it is signed', () => {
    expect(refused(() => ok(tx({ outputs: [[PAYOUT, 6_000n], [CHANGE, 329n]] })), 'E_DUST')).toBe(
      'the update state output 1 pays 329 sat, under the 330 sat dust threshold of its script');
    checkState(tx({ outputs: [[PAYOUT, 6_000n], [CHANGE, 330n]] }), C, 6_000n, 0);
  });
  it('a non-standard or OP_RETURN output script: E_NONSTANDARD_SCRIPT naming it', () => {
    for (const odd of [Uint8Array.of(0x51), Uint8Array.of(0x6a, 0x01, 0x00)]) {
      const c = makeContract({ ...C, changeScript: odd });
      expect(refusal(() => checkState(tx({ inputs: [{ ...FUNDING, index: 1, script: c.script }], outputs: [[PAYOUT, 6_000n], [odd, 93_600n]] }), c, 6_000n, FLOOR), 'E_NONSTANDARD_SCRIPT', 4).message).toBe(
        `the update state output 1 has a non-standard script ${toHex(odd)}`);
    }
  });
});

describe('checkClose', () => {
  it('at least the latest cumulative amount (more is fine, 1 sat less is E_UNDERPAYS_MINT naming both); version 2 or 3 only', () => {
    expect(checkClose(state(6_001n, 400n, { version: 2 }), C, 6_000n, FLOOR)).toBe(6_001n);
    expect(checkClose(state(6_000n, 400n), C, 6_000n, FLOOR)).toBe(6_000n);
    expect(refused(() => checkClose(state(5_999n, 400n, { version: 2 }), C, 6_000n, FLOOR), 'E_UNDERPAYS_MINT')).toBe(
      'the close pays the mint 5999 sat, less than its latest cumulative amount 6000 sat');
    for (const version of [1]) {
      expect(refused(() => checkClose(state(6_000n, 400n, { version }), C, 6_000n, FLOOR), 'E_BAD_VERSION')).toBe(
        `the close has version ${version}; only 2 or 3 (TRUC) are standard`);
    }
    expect(refused(() => checkClose(state(6_000n, 400n, { lockTime: 1 }), C, 6_000n, FLOOR), 'E_LOCKTIME')).toContain('the close has nLockTime 1');
    expect(refused(() => checkClose(tx({ version: 2, outputs: [[CHANGE, 99_000n]] }), C, 6_000n, FLOOR), 'E_BAD_PAYOUT')).toBe(
      'the close must have exactly one output to the mint\'s payout address, it has 0');
    expect(checkClose(state(1_000n, 400n, { version: 2 }), C, 0n, FLOOR)).toBe(1_000n); // owed nothing, paid anyway: fine
    expect(checkClose(tx({ version: 2, outputs: [[CHANGE, 99_000n]] }), C, 0n, FLOOR)).toBe(0n);
    expect(refused(() => checkClose(state(6_000n, BigInt(VSIZE_2 * FLOOR) - 1n, { version: 2 }), C, 6_000n, FLOOR), 'E_FEE_TOO_LOW')).toBe(
      'the close pays 1.99 sat/vB, under the mint\'s floor of 2 sat/vB; it might not get mined in time');
  });
});

describe('checkFunding', () => {
  const funding = (o: { amount?: bigint; script?: Uint8Array; inputs?: { script: Uint8Array; scriptSig?: boolean }[] } = {}) => {
    const t = new Transaction({ version: 2, allowUnknownOutputs: true, allowUnknownInputs: true });
    t.addOutput({ script: CHANGE, amount: 1_000n });
    t.addOutput({ script: o.script ?? C.script, amount: o.amount ?? C.capacity });
    for (const [i, input] of (o.inputs ?? [{ script: fromHex('0014' + '99'.repeat(20)) }]).entries()) {
      t.addInput({ txid: 'ab'.repeat(32), index: i, witnessUtxo: { script: input.script, amount: 200_000n }, ...(input.scriptSig ? { finalScriptSig: Uint8Array.of(0x51) } : {}) });
    }
    return t;
  };
  const contractOf = (t: Transaction) => makeContract({ ...C, funding: { txid: t.id, vout: 1 } });
  it('the contract\'s txid, its output paying exactly the capacity, every input native segwit', () => {
    const good = funding();
    checkFunding(good, contractOf(good));
    expect(refused(() => checkFunding(good, C), 'E_FUNDING_MISMATCH')).toBe(`the funding PSBT's txid ${good.id} is not the contract's funding txid ${FUNDING.txid}`);
    for (const bad of [funding({ amount: C.capacity - 1n }), funding({ script: STRANGER })]) {
      expect(refused(() => checkFunding(bad, contractOf(bad)), 'E_FUNDING_MISMATCH')).toBe('funding output 1 must pay the contract address exactly 100000 sat');
    }
    const beyond = funding();
    refused(() => checkFunding(beyond, makeContract({ ...C, funding: { txid: beyond.id, vout: 2 } })), 'E_FUNDING_MISMATCH');
    for (const script of [fromHex('0014' + '99'.repeat(20)), fromHex('0020' + '99'.repeat(32)), C.script]) {
      const t = funding({ inputs: [{ script }] });
      checkFunding(t, contractOf(t));
    }
    for (const input of [{ script: fromHex('a914' + '99'.repeat(20) + '87') }, { script: fromHex('76a914' + '99'.repeat(20) + '88ac') }, { script: fromHex('0014' + '99'.repeat(20)), scriptSig: true }]) {
      const t = funding({ inputs: [{ script: fromHex('0014' + '98'.repeat(20)) }, input] });
      expect(refused(() => checkFunding(t, contractOf(t)), 'E_NOT_SEGWIT')).toMatch(/^funding input 1 is not native segwit/);
    }
  });
});

describe('checkRefund', () => {
  it('locktime, version, sequence and output are the terms\' exactly, each refusal naming what it expected', () => {
    const fee = 2n * 111n; // one key-path input, one P2TR output: 10.5 + 57.5 + 43 = 111 vB at 2 sat/vB
    const refund = (o: Partial<Spec> = {}) => tx({ version: 2, lockTime: 10_000, outputs: [[CHANGE, C.capacity - fee]], ...o });
    checkRefund(refund(), C);
    expect(refused(() => checkRefund(refund({ lockTime: 9_999 }), C), 'E_REFUND_LOCKTIME')).toBe('the refund\'s nLockTime is 9999, not the agreed expiry height 10000');
    expect(refused(() => checkRefund(refund({ version: 3 }), C), 'E_REFUND_MISMATCH')).toBe('the refund has version 3, expected 2');
    expect(refused(() => checkRefund(refund({ sequence: 0xffffffff }), C), 'E_BAD_SEQUENCE')).toBe('the refund must use nSequence 0xfffffffd so its nLockTime is enforced');
    expect(refused(() => checkRefund(refund({ inputs: [{ txid: FUNDING.txid, index: 1 }, { txid: 'aa'.repeat(32), index: 0 }] }), C), 'E_BAD_INPUTS')).toBe(
      'the refund must spend only the funding outpoint, it has 2 inputs');
    for (const outputs of [[[CHANGE, C.capacity - fee], [CHANGE, 330n]], [[CHANGE, C.capacity - fee - 1n]], [[STRANGER, C.capacity - fee]], [[CHANGE, C.capacity - fee - 400n], [CHANGE, 400n]]] as [Uint8Array, bigint][][]) {
      expect(refused(() => checkRefund(refund({ outputs }), C), 'E_REFUND_OUTPUTS')).toBe(`the refund must have one output paying the user's refund address ${C.capacity - fee} sat (capacity less the fee)`);
    }
  });
});

describe('checkState with an HTLC', () => {
  const HTLC = { script: taprootOutput(keyPair(fromHex('f7'.repeat(32))).xOnly).script, amount: 2_000n };
  it('the mint its settled amount, one output of exactly the HTLC amount to its script, the change: signed; the HTLC missing is E_BAD_HTLC_OUTPUT', () => {
    checkState(tx({ outputs: [[PAYOUT, 6_000n], [HTLC.script, 2_000n], [CHANGE, 91_500n]] }), C, 6_000n, FLOOR, HTLC);
    expect(refused(() => checkState(tx({ outputs: [[PAYOUT, 6_000n], [CHANGE, 93_500n]] }), C, 6_000n, FLOOR, HTLC), 'E_BAD_HTLC_OUTPUT')).toBe(
      'the update state must have exactly one output to the HTLC\'s script of 2000 sat, it has 0 paying 0 sat');
    const h = (outputs: [Uint8Array, bigint][], cumulative = 6_000n, o: Partial<Spec> = {}) => () => checkState(tx({ outputs, ...o }), C, cumulative, FLOOR, HTLC);
    checkState(tx({ outputs: [[HTLC.script, 2_000n], [CHANGE, 97_500n]] }), C, 0n, FLOOR, HTLC); // nothing settled yet: no payout output
    expect(refused(h([[PAYOUT, 6_000n], [HTLC.script, 2_000n], [CHANGE, 91_500n]], 6_000n, { version: 2 }), 'E_BAD_VERSION')).toContain('the update state has version 2');
    expect(refused(h([[PAYOUT, 5_999n], [HTLC.script, 2_000n], [CHANGE, 91_500n]]), 'E_BAD_PAYOUT')).toBe('the update state pays the mint 5999 sat in 1 outputs, not its settled 6000 sat in 1');
    expect(refused(h([[PAYOUT, 1_000n], [HTLC.script, 2_000n], [CHANGE, 96_500n]], 0n), 'E_BAD_PAYOUT')).toBe('the update state pays the mint 1000 sat in 1 outputs, not its settled 0 sat in 0');
    expect(refused(h([[PAYOUT, 3_000n], [PAYOUT, 3_000n], [HTLC.script, 2_000n], [CHANGE, 91_500n]]), 'E_BAD_PAYOUT')).toBe('the update state pays the mint 6000 sat in 2 outputs, not its settled 6000 sat in 1');
    expect(refused(h([[PAYOUT, 6_000n], [HTLC.script, 1_000n], [HTLC.script, 1_000n], [CHANGE, 91_500n]]), 'E_BAD_HTLC_OUTPUT')).toContain('it has 2 paying 2000 sat');
    expect(refused(h([[PAYOUT, 6_000n], [HTLC.script, 2_001n], [CHANGE, 91_499n]]), 'E_BAD_HTLC_OUTPUT')).toContain('it has 1 paying 2001 sat');
    expect(refused(h([[PAYOUT, 6_000n], [HTLC.script, 2_000n], [CHANGE, 45_000n], [CHANGE, 46_500n]]), 'E_BAD_OUTPUTS')).toBe('the update state may only pay the mint, the HTLC and the user\'s change address');
    refused(h([[PAYOUT, 6_000n], [HTLC.script, 2_000n], [CHANGE, 91_000n], [STRANGER, 500n]]), 'E_BAD_OUTPUTS');
    // three P2TR outputs: 10.5 + 57.5 + 3 × 43 = 197 vB; 393 sat is under 2 sat/vB
    expect(refused(h([[PAYOUT, 6_000n], [HTLC.script, 2_000n], [CHANGE, 100_000n - 8_000n - 393n]]), 'E_FEE_TOO_LOW')).toContain('pays 1.99 sat/vB');
    checkState(tx({ outputs: [[PAYOUT, 6_000n], [HTLC.script, 2_000n], [CHANGE, 100_000n - 8_000n - 394n]] }), C, 6_000n, FLOOR, HTLC);
  });
});

describe('checkRollover', () => {
  const P2WPKH = fromHex('0014' + '99'.repeat(20));
  /** The rollover with `outputs` (NEXT marks the next contract's) and `wallet` inputs after the funding; the next contract it funds at `vout`. */
  const NEXT = new Uint8Array(); // placeholder for the next contract's script (the same two keys: the same script)
  function rollover(outputs: [Uint8Array, bigint][], o: { wallet?: { script: Uint8Array; amount: bigint }[]; vout?: number; nextCapacity?: bigint } = {}) {
    const t = tx({ version: 2, inputs: [{ txid: FUNDING.txid, index: 1 }, ...(o.wallet ?? []).map((w, i) => ({ txid: 'cc'.repeat(32), index: i, amount: w.amount, script: w.script }))], outputs: outputs.map(([sc, a]) => [sc === NEXT ? C.script : sc, a]) });
    const vout = o.vout ?? outputs.findIndex(([sc]) => sc === NEXT);
    const next = makeContract({ ...C, capacity: o.nextCapacity ?? outputs[vout]![1], funding: { txid: rolloverTxid(t), vout }, expiryHeight: 20_000 });
    return { t, next };
  }
  const check = (r: { t: Transaction; next: CreditContract }, latest = 6_000n, floor = FLOOR) => checkRollover(r.t, C, latest, r.next, floor);
  const fund = 100_000n - 6_000n - BigInt(VSIZE_2 * FLOOR); // 154 vB at 2 sat/vB

  it('the mint at least its amount in output 0, the next contract exactly its capacity next: signed; each other shape refused, naming it', () => {
    check(rollover([[PAYOUT, 6_000n], [NEXT, fund]]));
    check(rollover([[NEXT, 99_000n]]), 0n); // owed nothing: no payout output
    expect(refused(() => check(rollover([[PAYOUT, 5_999n], [NEXT, fund + 1n]])), 'E_UNDERPAYS_MINT')).toBe(
      'the rollover pays the mint 5999 sat, less than its latest cumulative amount 6000 sat');
    expect(refused(() => check(rollover([[NEXT, 99_000n]])), 'E_UNDERPAYS_MINT')).toBe('the rollover pays the mint 0 sat, less than its latest cumulative amount 6000 sat');
    expect(refused(() => check(rollover([[PAYOUT, 3_000n], [PAYOUT, 3_000n], [NEXT, fund - 400n]])), 'E_BAD_OUTPUTS')).toBe(
      'the rollover pays the mint\'s payout address in 2 outputs; it must be one');
    expect(refused(() => check(rollover([[NEXT, fund], [PAYOUT, 6_000n]]), 6_000n, 0), 'E_BAD_OUTPUTS')).toBe('the rollover must pay the mint in output 0');
    expect(refused(() => check(rollover([[PAYOUT, 6_000n], [NEXT, fund]], { nextCapacity: fund + 1n })), 'E_BAD_OUTPUTS')).toBe(
      `the rollover output 1 must fund the next contract with exactly ${fund + 1n} sat`);
    refused(() => check(rollover([[PAYOUT, 6_000n], [NEXT, fund]], { vout: 2, nextCapacity: fund })), 'E_BAD_OUTPUTS');
    expect(refused(() => check(rollover([[PAYOUT, 6_000n], [NEXT, fund - 1_000n], [CHANGE, 1_000n]]), 6_000n, 0), 'E_BAD_OUTPUTS')).toBe(
      'the rollover may only pay the mint and the next contract: change outputs come with the wallet\'s inputs');
    expect(refused(() => check(rollover([[PAYOUT, 6_000n], [NEXT, fund - 1_000n], [C.script, 1_000n]]), 6_000n, 0), 'E_BAD_OUTPUTS')).toBe(
      'the rollover output 2 pays the contract key a second time');
    expect(refused(() => check(rollover([[PAYOUT, 6_000n], [NEXT, fund + 1n]])), 'E_FEE_TOO_LOW')).toContain('the rollover pays 1.99 sat/vB');
    check(rollover([[PAYOUT, 1_000n], [NEXT, 98_000n]]), 0n); // owed nothing, paid anyway: fine
    expect(refused(() => check(rollover([[CHANGE, 1_000n], [NEXT, 98_000n]]), 0n, 0), 'E_BAD_OUTPUTS')).toBe('the rollover output 0 must fund the next contract with exactly 98000 sat');
    refused(() => check(rollover([[PAYOUT, 99_000n]], { vout: 1, nextCapacity: 1_000n }), 6_000n, 0), 'E_BAD_OUTPUTS'); // no output where the next contract is said to be
    const r = rollover([[PAYOUT, 6_000n], [NEXT, fund]]);
    refused(() => check({ t: r.t, next: makeContract({ ...r.next, funding: { txid: 'ee'.repeat(32), vout: 1 } }) }), 'E_BAD_OUTPUTS'); // another funding txid
  });
  it('wallet inputs: segwit with their witness_utxo; their change no more than they bring; their size in the fee', () => {
    const w = [{ script: P2WPKH, amount: 10_000n }];
    check(rollover([[PAYOUT, 6_000n], [NEXT, 90_000n], [CHANGE, 10_000n]], { wallet: w }), 6_000n, 0);
    check(rollover([[PAYOUT, 6_000n], [NEXT, 90_000n], [CHANGE, 10_000n]], { wallet: [{ script: CHANGE, amount: 10_000n }] }), 6_000n, 0); // a P2TR wallet coin
    expect(refused(() => check(rollover([[PAYOUT, 6_000n], [NEXT, 83_999n], [CHANGE, 10_001n]], { wallet: w }), 6_000n, 0), 'E_BAD_OUTPUTS')).toBe(
      'the rollover\'s change outputs take 10001 sat, more than the 10000 sat the wallet\'s inputs bring: the old contract\'s funds go to the mint, the next contract and the fee only');
    for (const script of [fromHex('76a914' + '99'.repeat(20) + '88ac'), fromHex('0020' + '99'.repeat(32))]) {
      expect(refused(() => check(rollover([[PAYOUT, 6_000n], [NEXT, 90_000n]], { wallet: [{ script, amount: 10_000n }] }), 6_000n, 0), 'E_NOT_SEGWIT')).toMatch(
        /^the rollover input 1 is not a P2TR, P2WPKH or P2SH-P2WPKH input/);
    }
    // 1 funding + 1 P2WPKH input, 3 P2TR outputs: 10.5 + 57.5 + 67.75 + 3 × 43 ≈ 265 vB, of which the wallet's
    // input is 10.25 vB more than a key-path one. 540 sat is over 2 sat/vB; 520 sat is under it — though over it
    // for the 255 vB the transaction would have without the wallet input's extra size.
    check(rollover([[PAYOUT, 6_000n], [NEXT, 110_000n - 6_000n - 1_000n - 540n], [CHANGE, 1_000n]], { wallet: w }));
    refused(() => check(rollover([[PAYOUT, 6_000n], [NEXT, 110_000n - 6_000n - 1_000n - 520n], [CHANGE, 1_000n]], { wallet: w })), 'E_FEE_TOO_LOW');
  });
});
