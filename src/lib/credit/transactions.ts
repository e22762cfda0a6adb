/**
 * The credit contract's transactions, built the same way by both parties from the
 * terms (so each can check the other's byte for byte):
 *
 *   refund   v2, nLockTime = expiry, funding → user's refund script (user pays the fee)
 *   state n  v3 (TRUC), nLockTime 0, funding → mint: cumulative, user: change − fee
 *   close    v2, funding → mint: cumulative, user: the rest − fee
 *   rollover v2, funding (+ wallet's segwit inputs) → mint: cumulative, new contract (+ wallet change)
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
import { concatBytes, equalBytes, toHex } from '../bytes.ts';
import { setMusigParticipants } from '../musig/psbt-keypath.ts';
import { TAPROOT_KEYPATH_INPUT_VBYTES, dustThreshold, feeFor, keyPathTxVsize } from '../tx/policy.ts';
import {
  isNestedP2wpkh, psbtInputOf, txidOnceSigned, walletChangeAmount, walletCoins, walletInputVbytes, walletInputsAmount,
  type WalletCoins, type WalletInput, type WalletOutput, type WalletPsbtRole,
} from '../tx/wallet-psbt.ts';
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

/**
 * A spend of the funding output. With `fundingOnly` (the refund, a state, the close: the funding
 * output is the one input) btc-signer's own input checks are left out: the input's witness_utxo
 * is the contract's script, and `setMusigParticipants` checks that script against the P2TR output
 * of the MuSig2 key it records as tap_internal_key (../musig/psbt-keypath.ts checkSpentScript, on
 * the selected secp256k1 backend) — the commitment btc-signer would check again, in pure JS, at
 * every update of the input and at every serialisation (the key lifted, the tweak multiplied:
 * ~30 ms of a `device pay --peer`'s CPU, bench/device-serve.ts). A rollover's wallet inputs keep them.
 */
function newTx(version: number, lockTime: number, fundingOnly = false): Transaction {
  return new Transaction({ version, lockTime, allowUnknownOutputs: false, ...(fundingOnly ? { disableScriptCheck: true } : {}) });
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
  const tx = newTx(SETTLEMENT_VERSION, c.expiryHeight, true);
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

/**
 * One HTLC output a state may carry (the IoT device's payment in flight, src/lib/device/):
 * its script and amount. The credit contract's own states carry none.
 */
export type StateHtlc = { script: Uint8Array; amount: bigint };

export type HtlcSplitAmounts = SplitAmounts & { htlc: bigint };

/**
 * How `capacity` splits in a state carrying one HTLC: the mint exactly `cumulative`
 * (no output when 0), the HTLC exactly its amount, the fee on the real size, the user
 * the rest as change (dropped into the fee when under dust).
 */
export function splitWithHtlc(c: CreditContract, cumulative: bigint, htlc: StateHtlc, feeRate: number): HtlcSplitAmounts {
  if (cumulative > 0n && cumulative < dustThreshold(c.payoutScript)) {
    throw new RefusedError('E_DUST', `the mint's cumulative amount ${cumulative} sat is under the dust threshold of its payout script (${dustThreshold(c.payoutScript)} sat)`);
  }
  if (htlc.amount < dustThreshold(htlc.script)) {
    throw new RefusedError('E_DUST', `the HTLC's ${htlc.amount} sat is under the dust threshold of its script (${dustThreshold(htlc.script)} sat)`);
  }
  const base = [...(cumulative > 0n ? [c.payoutScript] : []), htlc.script];
  const withChange = feeFor(keyPathTxVsize(1, [...base, c.changeScript]), feeRate);
  const withoutChange = feeFor(keyPathTxVsize(1, base), feeRate);
  if (cumulative + htlc.amount + withoutChange > c.capacity) {
    throw new RefusedError(
      'E_OVER_CAPACITY',
      `paying the mint ${cumulative} sat, an HTLC of ${htlc.amount} sat and a ${withoutChange} sat fee exceeds the ${c.capacity} sat capacity`,
    );
  }
  const change = c.capacity - cumulative - htlc.amount - withChange;
  if (change >= dustThreshold(c.changeScript)) return { mint: cumulative, htlc: htlc.amount, change, fee: withChange };
  return { mint: cumulative, htlc: htlc.amount, change: 0n, fee: c.capacity - cumulative - htlc.amount };
}

/**
 * Update state: what the mint can broadcast to collect `cumulative` — and, when the
 * state carries an HTLC, the HTLC output after the mint's (the mint's payout first when
 * there is one, then the HTLC, then the user's change).
 */
export function buildState(c: CreditContract, cumulative: bigint, htlc?: StateHtlc): Transaction {
  const tx = newTx(STATE_VERSION, 0, true);
  tx.addInput(fundingInput(c));
  if (htlc) {
    const s = splitWithHtlc(c, cumulative, htlc, c.feeRate);
    if (s.mint > 0n) tx.addOutput({ script: c.payoutScript, amount: s.mint });
    tx.addOutput({ script: htlc.script, amount: s.htlc });
    if (s.change > 0n) tx.addOutput({ script: c.changeScript, amount: s.change });
  } else {
    addSplitOutputs(tx, c, split(c, cumulative, c.feeRate));
  }
  setMusigParticipants(tx, 0, [c.userPubkey, c.mintPubkey]);
  return tx;
}

/** Cooperative close at `feeRate` (the user may pick a current rate). */
export function buildClose(c: CreditContract, cumulative: bigint, feeRate: number): Transaction {
  const tx = newTx(SETTLEMENT_VERSION, 0, true);
  tx.addInput(fundingInput(c));
  addSplitOutputs(tx, c, split(c, cumulative, feeRate));
  setMusigParticipants(tx, 0, [c.userPubkey, c.mintPubkey]);
  return tx;
}

/** What a wallet adds to a rollover: its coins and its change (../tx/wallet-psbt.ts). */
export type TopUpInput = WalletInput;
export type TopUpChange = WalletOutput;

/**
 * What a wallet adds to a rollover: its coins, and its change. The top-up — what joins
 * the next contract — is the coins less the change; the wallet's own fee is not spent
 * as such (the rollover's fee, for its whole size, comes out of the contract).
 */
export type TopUp = WalletCoins;

export const NO_TOP_UP: TopUp = { inputs: [], change: [] };

export function topUpAmount(t: TopUp): bigint {
  return walletInputsAmount(t) - walletChangeAmount(t);
}

const TOP_UP: WalletPsbtRole = { flag: '--top-up', code: 'E_TOPUP', purpose: 'a rollover pays only the mint, the next contract and the wallet\'s change', replacedName: 'the contract' };

/**
 * A wallet's funded PSBT (e.g. `bitcoin-cli walletcreatefundedpsbt`) as a top-up, used
 * as is: its inputs join the rollover; outputs paying the contract address are the
 * wallet's way of saying "this much to the contract" and are replaced by the next
 * contract's output; every other output must be the wallet's change, kept as is.
 */
export function topUpFromPsbt(wallet: Transaction, contractScript: Uint8Array): TopUp {
  const t = walletCoins(wallet, TOP_UP, contractScript);
  if (t.inputs.length > 0 && topUpAmount(t) <= 0n) throw new RefusedError('E_TOPUP_OUTPUT', '--top-up: the change takes back all the wallet\'s coins; nothing would join the contract');
  return t;
}

export { isNestedP2wpkh };

/** The txid a rollover will have once signed (a P2SH-P2WPKH top-up input changes it). */
export const rolloverTxid = txidOnceSigned;

/** vbytes of a top-up input: P2TR key path 57.5, P2WPKH 68, P2SH-P2WPKH 91. */
export function topUpInputVbytes(script: Uint8Array, redeemScript?: Uint8Array): number {
  return walletInputVbytes(script, redeemScript, TOP_UP);
}

/** vbytes an extra wallet input adds beyond a taproot key-path input. */
export function extraInputVbytes(script: Uint8Array, redeemScript?: Uint8Array): number {
  return topUpInputVbytes(script, redeemScript) - TAPROOT_KEYPATH_INPUT_VBYTES;
}

/**
 * Rollover: pays the mint `cumulative` (output 0; no such output when nothing is owed),
 * funds the next contract (the next output) with what remains plus the top-up, less the
 * fee (and `extraFee`, a few sats a caller adds to get another txid), and returns the
 * wallet's change after it, unchanged. The wallet signs its inputs afterwards.
 */
export function buildRollover(c: CreditContract, cumulative: bigint, newContractScript: Uint8Array, feeRate: number, topUp: TopUp = NO_TOP_UP, extraFee = 0n): { tx: Transaction; newCapacity: bigint; vout: number } {
  const extraVbytes = topUp.inputs.reduce((a, i) => a + extraInputVbytes(i.script, i.redeemScript), 0);
  const outputs = [...(cumulative > 0n ? [c.payoutScript] : []), newContractScript, ...topUp.change.map((o) => o.script)];
  const fee = feeFor(keyPathTxVsize(1 + topUp.inputs.length, outputs) + Math.ceil(extraVbytes), feeRate) + extraFee;
  const newCapacity = c.capacity + topUpAmount(topUp) - cumulative - fee;
  if (newCapacity < dustThreshold(newContractScript)) {
    throw new RefusedError('E_OVER_CAPACITY', `nothing would be left for the new contract (${newCapacity} sat)`);
  }
  const tx = newTx(SETTLEMENT_VERSION, 0);
  tx.addInput(fundingInput(c));
  for (const i of topUp.inputs) tx.addInput(psbtInputOf(i, CONTRACT_SEQUENCE));
  if (cumulative > 0n) tx.addOutput({ script: c.payoutScript, amount: cumulative });
  tx.addOutput({ script: newContractScript, amount: newCapacity });
  for (const o of topUp.change) tx.addOutput({ ...o });
  setMusigParticipants(tx, 0, [c.userPubkey, c.mintPubkey]);
  return { tx, newCapacity, vout: cumulative > 0n ? 1 : 0 };
}
