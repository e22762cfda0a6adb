/**
 * The credit contract's transactions, built the same way by both parties from the
 * terms (so each can check the other's byte for byte):
 *
 *   refund   v2, nLockTime = expiry, funding → user's refund script (user pays the fee)
 *   state n  v3 (TRUC), nLockTime 0, funding → mint: cumulative, user: change − fee
 *   close    v2, funding → mint: cumulative, user: the rest − fee
 *   rollover v2, funding (+ user's extra segwit inputs) → mint: cumulative, new contract
 *
 * Every spend of the funding output has the one input with nSequence 0xfffffffd: no
 * BIP-68 relative lock (the disable bit is set) so nothing can make the refund win a
 * race it should lose, yet nLockTime is enforced on the refund.
 *
 * Update states are TRUC (BIP-431, version 3) so the user cannot pin the mint's exit
 * with a large low-fee child of its change: a TRUC parent has at most one unconfirmed
 * child of at most 1000 vB, and the mint's CPFP child from its payout can evict the
 * user's by sibling replacement.
 */
import { Transaction } from '@scure/btc-signer';
import { RefusedError, UsageError } from '../errors.ts';
import { toHex } from '../bytes.ts';
import { setMusigParticipants } from '../musig/psbt-keypath.ts';
import { TAPROOT_KEYPATH_INPUT_VBYTES, dustThreshold, feeFor, inputVsize, keyPathTxVsize } from '../tx/policy.ts';
import type { CreditContract } from './terms.ts';

export const CONTRACT_SEQUENCE = 0xfffffffd;
export const STATE_VERSION = 3;
export const SETTLEMENT_VERSION = 2;

function fundingInput(c: CreditContract) {
  return {
    txid: c.funding.txid,
    index: c.funding.vout,
    sequence: CONTRACT_SEQUENCE,
    witnessUtxo: { script: c.script, amount: c.capacity },
  };
}

function newTx(version: number, lockTime: number): Transaction {
  return new Transaction({ version, lockTime, allowUnknownOutputs: false });
}

export function refundFee(c: CreditContract): bigint {
  return feeFor(keyPathTxVsize(1, [c.refundScript]), c.feeRate);
}

/** The refund: the user's exit once the expiry height has passed. */
export function buildRefund(c: CreditContract): Transaction {
  const amount = c.capacity - refundFee(c);
  if (amount < dustThreshold(c.refundScript)) {
    throw new RefusedError('E_CAPACITY_TOO_SMALL', `capacity ${c.capacity} sat cannot pay the refund fee and stay above dust`);
  }
  const tx = newTx(SETTLEMENT_VERSION, c.expiryHeight);
  tx.addInput(fundingInput(c));
  tx.addOutput({ script: c.refundScript, amount });
  setMusigParticipants(tx, 0, [c.userPubkey, c.mintPubkey]);
  return tx;
}

export type SplitAmounts = { mint: bigint; change: bigint; fee: bigint };

/**
 * How `capacity` splits between mint (exactly `cumulative`), fee (`feeRate` on the
 * real size) and user change — dropped into the fee when under the dust threshold.
 */
export function split(c: CreditContract, cumulative: bigint, feeRate: number, available = c.capacity): SplitAmounts {
  if (cumulative === 0n) {
    // Nothing owed (a close before any payment): everything but the fee goes back.
    const fee = feeFor(keyPathTxVsize(1, [c.changeScript]), feeRate);
    return { mint: 0n, change: available - fee, fee };
  }
  const withChange = feeFor(keyPathTxVsize(1, [c.payoutScript, c.changeScript]), feeRate);
  const withoutChange = feeFor(keyPathTxVsize(1, [c.payoutScript]), feeRate);
  if (cumulative < dustThreshold(c.payoutScript)) {
    throw new RefusedError('E_DUST', `the mint's cumulative amount ${cumulative} sat is under the dust threshold of its payout script (${dustThreshold(c.payoutScript)} sat)`);
  }
  if (cumulative + withoutChange > available) {
    throw new RefusedError(
      'E_OVER_CAPACITY',
      `paying the mint ${cumulative} sat plus a ${withoutChange} sat fee exceeds the ${available} sat available; at most ${available - withoutChange} sat can go to the mint`,
    );
  }
  const change = available - cumulative - withChange;
  if (change >= dustThreshold(c.changeScript)) return { mint: cumulative, change, fee: withChange };
  return { mint: cumulative, change: 0n, fee: available - cumulative };
}

/** The most the mint can be paid: everything but the fee of a state without change. */
export function maxCumulative(c: CreditContract): bigint {
  return c.capacity - feeFor(keyPathTxVsize(1, [c.payoutScript]), c.feeRate);
}

function addSplitOutputs(tx: Transaction, c: CreditContract, s: SplitAmounts): void {
  if (s.mint > 0n) tx.addOutput({ script: c.payoutScript, amount: s.mint });
  if (s.change > 0n) tx.addOutput({ script: c.changeScript, amount: s.change });
}

/** Update state: what the mint can broadcast to collect `cumulative`. */
export function buildState(c: CreditContract, cumulative: bigint): Transaction {
  const tx = newTx(STATE_VERSION, 0);
  tx.addInput(fundingInput(c));
  addSplitOutputs(tx, c, split(c, cumulative, c.feeRate));
  setMusigParticipants(tx, 0, [c.userPubkey, c.mintPubkey]);
  return tx;
}

/** Cooperative close at `feeRate` (the user may pick a current rate). */
export function buildClose(c: CreditContract, cumulative: bigint, feeRate: number): Transaction {
  const tx = newTx(SETTLEMENT_VERSION, 0);
  tx.addInput(fundingInput(c));
  addSplitOutputs(tx, c, split(c, cumulative, feeRate));
  setMusigParticipants(tx, 0, [c.userPubkey, c.mintPubkey]);
  return tx;
}

export type TopUpInput = { txid: string; vout: number; amount: bigint; script: Uint8Array; sequence?: number };

/** The inputs of a wallet's PSBT, as extra rollover inputs (each must carry its witness_utxo). */
export function topUpInputs(wallet: Transaction): TopUpInput[] {
  return Array.from({ length: wallet.inputsLength }, (_, i) => {
    const input = wallet.getInput(i);
    if (!input.witnessUtxo || !input.txid || input.index === undefined) throw new UsageError('E_TOPUP_INPUT', `--top-up input ${i} has no witness_utxo`);
    return { txid: toHex(input.txid), vout: input.index, amount: input.witnessUtxo.amount, script: input.witnessUtxo.script, sequence: input.sequence };
  });
}

/** vbytes an extra wallet input adds beyond a taproot key-path input. */
export function extraInputVbytes(script: Uint8Array): number {
  const v = inputVsize(script);
  if (v === undefined) {
    throw new RefusedError('E_TOPUP_INPUT', 'extra rollover inputs must be taproot or P2WPKH (segwit, so the txid is stable and the fee can be estimated)');
  }
  return v - TAPROOT_KEYPATH_INPUT_VBYTES;
}

/**
 * Rollover: pays the mint `cumulative` (output 0; no such output when nothing is owed)
 * and funds the next contract (the last output) with what remains plus the user's extra
 * inputs, less the fee. Extra inputs are signed by the user's wallet afterwards.
 */
export function buildRollover(c: CreditContract, cumulative: bigint, newContractScript: Uint8Array, feeRate: number, topUp: readonly TopUpInput[] = []): { tx: Transaction; newCapacity: bigint; vout: number } {
  const extra = topUp.reduce((a, i) => a + i.amount, 0n);
  const extraVbytes = topUp.reduce((a, i) => a + extraInputVbytes(i.script), 0);
  const outputs = cumulative > 0n ? [c.payoutScript, newContractScript] : [newContractScript];
  const fee = feeFor(keyPathTxVsize(1 + topUp.length, outputs) + Math.ceil(extraVbytes), feeRate);
  const newCapacity = c.capacity + extra - cumulative - fee;
  if (newCapacity < dustThreshold(newContractScript)) {
    throw new RefusedError('E_OVER_CAPACITY', `nothing would be left for the new contract (${newCapacity} sat)`);
  }
  const tx = newTx(SETTLEMENT_VERSION, 0);
  tx.addInput(fundingInput(c));
  for (const i of topUp) tx.addInput({ txid: i.txid, index: i.vout, sequence: i.sequence ?? CONTRACT_SEQUENCE, witnessUtxo: { script: i.script, amount: i.amount } });
  if (cumulative > 0n) tx.addOutput({ script: c.payoutScript, amount: cumulative });
  tx.addOutput({ script: newContractScript, amount: newCapacity });
  setMusigParticipants(tx, 0, [c.userPubkey, c.mintPubkey]);
  return { tx, newCapacity, vout: outputs.length - 1 };
}
