/**
 * What the mint checks in every transaction it co-signs (BRIEF §3.1 "Mint-side rules"),
 * one function per transaction kind, each rule refusing with its own stable code. All
 * of these run before the mint touches its secret nonce, so a refusal never burns one.
 *
 * Deliberately not here: chain facts (funding confirmations, tip vs expiry), which the
 * mint's steps fetch from the chain source and check in mint.ts.
 */
import type { Transaction } from '@scure/btc-signer';
import { equalBytes, toHex } from '../bytes.ts';
import { RefusedError } from '../errors.ts';
import { dustThreshold, keyPathTxVsize, standardScriptType } from '../tx/policy.ts';
import type { CreditContract } from './terms.ts';
import { inputView, outputView } from '../psbt/views.ts';
import { buildRefund, extraInputVbytes, isNestedP2wpkh, rolloverTxid, type StateHtlc } from './transactions.ts';

const SEQUENCE_FINAL = 0xffffffff;
const SEQUENCE_RBF_NO_LOCK = 0xfffffffd;

function refuse(code: string, message: string): never {
  throw new RefusedError(code, message);
}

/** Exactly one input, the funding outpoint, with no relative lock (BIP-68 would let the refund win). */
export function checkSpendsFundingOnly(tx: Transaction, c: CreditContract, what: string): void {
  if (tx.inputsLength !== 1) refuse('E_BAD_INPUTS', `${what} must spend only the funding outpoint, it has ${tx.inputsLength} inputs`);
  checkFundingInput(tx, 0, c, what);
}

function checkFundingInput(tx: Transaction, index: number, c: CreditContract, what: string): void {
  const input = inputView(tx, index);
  if (!input.txid || toHex(input.txid) !== c.funding.txid || input.index !== c.funding.vout) {
    refuse('E_BAD_INPUTS', `${what} input ${index} is not the funding outpoint ${c.funding.txid}:${c.funding.vout}`);
  }
  // The signature commits to the spent output's script and amount (BIP-341): a PSBT that
  // misstates them yields a validly signed transaction that can never be mined.
  if (!input.witnessUtxo || !equalBytes(input.witnessUtxo.script, c.script) || input.witnessUtxo.amount !== c.capacity) {
    refuse('E_BAD_INPUTS', `${what} input ${index} must describe the funding output exactly: ${c.capacity} sat to the contract address`);
  }
  const sequence = input.sequence ?? SEQUENCE_FINAL;
  if (sequence !== SEQUENCE_RBF_NO_LOCK && sequence !== SEQUENCE_FINAL) {
    refuse('E_BAD_SEQUENCE', `${what} nSequence 0x${sequence.toString(16)} is not 0xfffffffd or 0xffffffff (a relative lock would let the refund win)`);
  }
}

/** Total of the outputs paying `script`, and whether any output pays something else. */
function outputsTo(tx: Transaction, script: Uint8Array) {
  let total = 0n;
  let count = 0;
  for (let i = 0; i < tx.outputsLength; i++) {
    const o = outputView(tx, i);
    if (o.script && equalBytes(o.script, script)) {
      total += o.amount ?? 0n;
      count++;
    }
  }
  return { total, count };
}

function checkStandardAndAboveDust(tx: Transaction, what: string): bigint {
  let sum = 0n;
  for (let i = 0; i < tx.outputsLength; i++) {
    const o = outputView(tx, i);
    const script = o.script!;
    const type = standardScriptType(script);
    if (!type || type === 'op_return') refuse('E_NONSTANDARD_SCRIPT', `${what} output ${i} has a non-standard script ${toHex(script)}`);
    if ((o.amount ?? 0n) < dustThreshold(script)) {
      refuse('E_DUST', `${what} output ${i} pays ${o.amount} sat, under the ${dustThreshold(script)} sat dust threshold of its script`);
    }
    sum += o.amount ?? 0n;
  }
  return sum;
}

function checkFeeRate(fee: bigint, vsize: number, floor: number, what: string): void {
  if (fee < 0n) refuse('E_OVERSPEND', `${what} pays out more than it spends`);
  const rate = Number(fee) / vsize;
  if (rate < floor) refuse('E_FEE_TOO_LOW', `${what} pays ${rate.toFixed(2)} sat/vB, under the mint's floor of ${floor} sat/vB; it might not get mined in time`);
}

function checkNoTimelock(tx: Transaction, what: string): void {
  if (tx.version !== 2 && tx.version !== 3) refuse('E_BAD_VERSION', `${what} has version ${tx.version}; only 2 or 3 (TRUC) are standard`);
  checkMinableNow(tx, what);
}

function checkMinableNow(tx: Transaction, what: string): void {
  if (tx.lockTime !== 0) refuse('E_LOCKTIME', `${what} has nLockTime ${tx.lockTime}; it must be 0 so the mint can broadcast it at once`);
}

/**
 * Update state: mint payout exactly `cumulative`, at most one more output (the user's
 * change), nothing under dust, minable now (version 3 — TRUC —, nLockTime 0, no
 * relative lock), fee rate above the floor.
 */
export function checkState(tx: Transaction, c: CreditContract, cumulative: bigint, feeFloor: number, htlc?: StateHtlc): void {
  const what = 'the update state';
  if (htlc) return checkHtlcState(tx, c, cumulative, feeFloor, htlc);
  // TRUC (BIP-431) only: a v2 state could be pinned by the user, and the mint's v3 CPFP
  // child cannot spend a v2 parent, so the mint could not bump its exit before expiry.
  if (tx.version !== 3) refuse('E_BAD_VERSION', `${what} has version ${tx.version}; states must be TRUC (version 3) so the mint can bump its exit by CPFP`);
  checkMinableNow(tx, what);
  checkSpendsFundingOnly(tx, c, what);
  checkPayoutAndChange(tx, c, cumulative, what, 'exact');
  const out = checkStandardAndAboveDust(tx, what);
  checkFeeRate(c.capacity - out, keyPathTxVsize(1, outputScripts(tx)), feeFloor, what);
}

/**
 * A state carrying one HTLC (src/lib/device/): like a state, but its outputs are exactly
 * the mint's payout of `cumulative` (none when 0), ONE output to the HTLC's script of
 * exactly its amount, and at most the user's change — nothing else can take a sat.
 */
function checkHtlcState(tx: Transaction, c: CreditContract, cumulative: bigint, feeFloor: number, htlc: StateHtlc): void {
  const what = 'the update state';
  if (tx.version !== 3) refuse('E_BAD_VERSION', `${what} has version ${tx.version}; states must be TRUC (version 3) so the mint can bump its exit by CPFP`);
  checkMinableNow(tx, what);
  checkSpendsFundingOnly(tx, c, what);
  const payout = outputsTo(tx, c.payoutScript);
  const wantPayout = cumulative > 0n ? 1 : 0;
  if (payout.count !== wantPayout || payout.total !== cumulative) {
    refuse('E_BAD_PAYOUT', `${what} pays the mint ${payout.total} sat in ${payout.count} outputs, not its settled ${cumulative} sat in ${wantPayout}`);
  }
  const h = outputsTo(tx, htlc.script);
  if (h.count !== 1 || h.total !== htlc.amount) {
    refuse('E_BAD_HTLC_OUTPUT', `${what} must have exactly one output to the HTLC's script of ${htlc.amount} sat, it has ${h.count} paying ${h.total} sat`);
  }
  const change = outputsTo(tx, c.changeScript);
  if (change.count > 1 || tx.outputsLength !== wantPayout + 1 + change.count) {
    refuse('E_BAD_OUTPUTS', `${what} may only pay the mint, the HTLC and the user's change address`);
  }
  const out = checkStandardAndAboveDust(tx, what);
  checkFeeRate(c.capacity - out, keyPathTxVsize(1, outputScripts(tx)), feeFloor, what);
}

/** Close: like a state, but the mint must get at least its latest cumulative amount. */
export function checkClose(tx: Transaction, c: CreditContract, latestCumulative: bigint, feeFloor: number): bigint {
  const what = 'the close';
  checkNoTimelock(tx, what);
  checkSpendsFundingOnly(tx, c, what);
  const paid = checkPayoutAndChange(tx, c, latestCumulative, what, 'at-least');
  const out = checkStandardAndAboveDust(tx, what);
  checkFeeRate(c.capacity - out, keyPathTxVsize(1, outputScripts(tx)), feeFloor, what);
  return paid;
}

function outputScripts(tx: Transaction): Uint8Array[] {
  return Array.from({ length: tx.outputsLength }, (_, i) => outputView(tx, i).script!);
}

function checkPayoutAndChange(tx: Transaction, c: CreditContract, cumulative: bigint, what: string, rule: 'exact' | 'at-least'): bigint {
  const payout = outputsTo(tx, c.payoutScript);
  const change = outputsTo(tx, c.changeScript);
  // A close owing nothing may leave the mint out. So may a state of cumulative 0: the
  // credit mint never sees one (each update pays more than the last), but the device's
  // fail state before any settled payment is one (src/lib/device/).
  const payoutOutputs = cumulative === 0n && payout.count === 0 ? 0 : 1;
  if (payout.count !== payoutOutputs) refuse('E_BAD_PAYOUT', `${what} must have exactly one output to the mint's payout address, it has ${payout.count}`);
  if (rule === 'exact' && payout.total !== cumulative) {
    refuse('E_BAD_PAYOUT', `${what} pays the mint ${payout.total} sat, not the cumulative ${cumulative} sat`);
  }
  if (rule === 'at-least' && payout.total < cumulative) {
    refuse('E_UNDERPAYS_MINT', `${what} pays the mint ${payout.total} sat, less than its latest cumulative amount ${cumulative} sat`);
  }
  if (tx.outputsLength !== payoutOutputs + change.count || change.count > 1) {
    refuse('E_BAD_OUTPUTS', `${what} may only pay the mint and the user's change address`);
  }
  return payout.total;
}

/**
 * Rollover: input 0 is the funding outpoint, further inputs are the user's wallet's
 * (P2TR, P2WPKH or P2SH-P2WPKH with its redeem script, each with its witness_utxo, so
 * the txid is stable and the fee estimable); outputs are the mint's payout (at least its
 * cumulative amount; absent when nothing is owed), then the next contract's funding
 * output, then — only when the wallet added coins — its change, which may return no more
 * than the wallet put in: every sat of the old contract goes to the mint, the next
 * contract or the fee.
 */
export function checkRollover(tx: Transaction, c: CreditContract, latestCumulative: bigint, next: CreditContract, feeFloor: number): void {
  const what = 'the rollover';
  checkNoTimelock(tx, what);
  checkFundingInput(tx, 0, c, what);
  let wallet = 0n;
  let extraVbytes = 0;
  for (let i = 1; i < tx.inputsLength; i++) {
    const input = inputView(tx, i);
    const utxo = input.witnessUtxo;
    const type = utxo ? standardScriptType(utxo.script) : undefined;
    if (!utxo || !(type === 'p2tr' || type === 'p2wpkh' || isNestedP2wpkh(utxo.script, input.redeemScript))) {
      refuse('E_NOT_SEGWIT', `${what} input ${i} is not a P2TR, P2WPKH or P2SH-P2WPKH input with its witness_utxo (and redeem script): the txid must be stable, the fee estimable`);
    }
    wallet += utxo.amount;
    extraVbytes += extraInputVbytes(utxo.script, input.redeemScript);
  }
  const payout = outputsTo(tx, c.payoutScript);
  const payoutOutputs = latestCumulative === 0n && payout.count === 0 ? 0 : 1;
  if (payout.count > 1) refuse('E_BAD_OUTPUTS', `${what} pays the mint's payout address in ${payout.count} outputs; it must be one`);
  if (payout.count !== payoutOutputs || payout.total < latestCumulative) {
    refuse('E_UNDERPAYS_MINT', `${what} pays the mint ${payout.total} sat, less than its latest cumulative amount ${latestCumulative} sat`);
  }
  if (payoutOutputs === 1 && !equalBytes(outputView(tx, 0).script!, c.payoutScript)) refuse('E_BAD_OUTPUTS', `${what} must pay the mint in output 0`);
  const vout = next.funding.vout;
  const o = vout < tx.outputsLength ? outputView(tx, vout) : undefined;
  if (vout !== payoutOutputs || !o?.script || !equalBytes(o.script, next.script) || o.amount !== next.capacity || next.funding.txid !== rolloverTxid(tx)) {
    refuse('E_BAD_OUTPUTS', `${what} output ${payoutOutputs} must fund the next contract with exactly ${next.capacity} sat`);
  }
  let change = 0n;
  for (let i = vout + 1; i < tx.outputsLength; i++) {
    const out = outputView(tx, i);
    if (equalBytes(out.script!, next.script)) refuse('E_BAD_OUTPUTS', `${what} output ${i} pays the contract key a second time`);
    change += out.amount ?? 0n;
  }
  if (change > 0n && tx.inputsLength === 1) refuse('E_BAD_OUTPUTS', `${what} may only pay the mint and the next contract: change outputs come with the wallet's inputs`);
  if (change > wallet) refuse('E_BAD_OUTPUTS', `${what}'s change outputs take ${change} sat, more than the ${wallet} sat the wallet's inputs bring: the old contract's funds go to the mint, the next contract and the fee only`);
  const out = checkStandardAndAboveDust(tx, what);
  checkFeeRate(c.capacity + wallet - out, keyPathTxVsize(tx.inputsLength, outputScripts(tx)) + Math.ceil(extraVbytes), feeFloor, what);
}

/**
 * Refund: byte for byte the refund both sides build from the terms — locktime exactly
 * the expiry height, the funding outpoint only, exactly the user's output and amount.
 */
export function checkRefund(tx: Transaction, c: CreditContract): void {
  const expected = buildRefund(c);
  if (tx.lockTime !== expected.lockTime) refuse('E_REFUND_LOCKTIME', `the refund's nLockTime is ${tx.lockTime}, not the agreed expiry height ${expected.lockTime}`);
  if (tx.version !== expected.version) refuse('E_REFUND_MISMATCH', `the refund has version ${tx.version}, expected ${expected.version}`);
  checkSpendsFundingOnly(tx, c, 'the refund');
  if (inputView(tx, 0).sequence !== inputView(expected, 0).sequence) refuse('E_BAD_SEQUENCE', 'the refund must use nSequence 0xfffffffd so its nLockTime is enforced');
  const want = outputView(expected, 0);
  const got = tx.outputsLength === 1 ? outputView(tx, 0) : undefined;
  if (!got?.script || !equalBytes(got.script, want.script!) || got.amount !== want.amount) {
    refuse('E_REFUND_OUTPUTS', `the refund must have one output paying the user's refund address ${want.amount} sat (capacity less the fee)`);
  }
}

/** A funding transaction whose txid cannot change: every input native segwit. */
export function checkFunding(tx: Transaction, c: CreditContract): void {
  if (tx.id !== c.funding.txid) refuse('E_FUNDING_MISMATCH', `the funding PSBT's txid ${tx.id} is not the contract's funding txid ${c.funding.txid}`);
  const o = c.funding.vout < tx.outputsLength ? outputView(tx, c.funding.vout) : undefined;
  if (!o?.script || !equalBytes(o.script, c.script) || o.amount !== c.capacity) {
    refuse('E_FUNDING_MISMATCH', `funding output ${c.funding.vout} must pay the contract address exactly ${c.capacity} sat`);
  }
  for (let i = 0; i < tx.inputsLength; i++) {
    const input = inputView(tx, i);
    const type = input.witnessUtxo ? standardScriptType(input.witnessUtxo.script) : undefined;
    if (!input.witnessUtxo || (type !== 'p2tr' && type !== 'p2wpkh' && type !== 'p2wsh') || input.finalScriptSig?.length) {
      refuse('E_NOT_SEGWIT', `funding input ${i} is not native segwit (with its witness_utxo): a non-segwit input lets the txid change and orphans the refund`);
    }
  }
}
