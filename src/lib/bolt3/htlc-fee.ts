/**
 * The fee-input path of an anchors / zero-fee HTLC transaction (issue 24): it carries no
 * fee of its own, the peer signed it SIGHASH_SINGLE|ANYONECANPAY (input 0 and output 0
 * only), so the holder adds a wallet's coins and change — `walletcreatefundedpsbt`'s
 * answer, read by the same reader as `package child` and the credit top-up
 * (../tx/wallet-psbt.ts) — and only then signs SIGHASH_ALL over the whole. The wallet signs
 * its own inputs last (`walletprocesspsbt`); the funded transaction's output 0 is swept by
 * `commitment sweep --htlc-tx` (./funded-htlc.ts).
 *
 * Invariants: every added output is the wallet's own (BIP-32-marked, E_FEE_PSBT_OUTPUT),
 * every added input the wallet's; the fee is `feeRate` on the transaction's largest signed
 * size (72-byte ECDSA signatures), taken from the largest change output, and passes the fee
 * guard; input 0 / output 0 are BOLT 3's, so the peer's signature stays valid. Nothing is
 * signed at zero fee.
 */
import { Transaction } from '@scure/btc-signer';
import { base64 } from '@scure/base';
import type { FeeLimits } from '../tx/fee-guard.ts';
import { planFeeInput } from '../truc/fee-input.ts';
import { isNestedP2wpkh, psbtInputOf, txidOnceSigned, walletCoins, type WalletPsbtRole } from '../tx/wallet-psbt.ts';
import { finalizeHtlcTransaction, signHtlcTransaction } from './sign.ts';
import { p2wsh } from './script.ts';
import { weight, type Tx } from './tx.ts';
import type { HtlcTransaction } from './htlc-tx.ts';

export const FEE_PSBT: WalletPsbtRole = { flag: '--fee-psbt', code: 'E_FEE_PSBT', purpose: 'an HTLC transaction\'s fee input pays only its second-stage output and the wallet\'s change' };

export type FundedHtlc = { psbt: string; txid: string; feeSat: bigint; vsize: number };

/** The largest witness each wallet input will carry once signed. */
export function walletWitness(script: Uint8Array, redeemScript: Uint8Array | undefined): { witness: Uint8Array[]; scriptSig?: Uint8Array } {
  if (script.length === 34 && script[0] === 0x51) return { witness: [new Uint8Array(64)] };
  if (isNestedP2wpkh(script, redeemScript)) return { witness: [new Uint8Array(72), new Uint8Array(33)], scriptSig: Uint8Array.of(redeemScript!.length, ...redeemScript!) };
  return { witness: [new Uint8Array(72), new Uint8Array(33)] };
}

export function fundHtlcTransaction(
  h: HtlcTransaction, wallet: Transaction, feeRate: number, limits: FeeLimits,
  localPrivkey: Uint8Array, remoteSignature: Uint8Array, preimage?: Uint8Array,
): FundedHtlc {
  const coins = walletCoins(wallet, FEE_PSBT);
  const [htlcIn, htlcOut] = [h.tx.inputs[0]!, h.tx.outputs[0]!];
  // The funded transaction at its largest signed size (amounts do not change the size).
  const htlcWitness = [new Uint8Array(0), new Uint8Array(73), new Uint8Array(73), h.kind === 'htlc-success' ? new Uint8Array(32) : new Uint8Array(0), h.spentWitnessScript];
  const build = (change: bigint[]): Tx => ({
    ...h.tx,
    inputs: [{ ...htlcIn, witness: htlcWitness }, ...coins.inputs.map((i) => {
      const w = walletWitness(i.script, i.redeemScript);
      return { txid: i.txid, vout: i.vout, sequence: i.sequence ?? 0xffff_fffd, witness: w.witness, ...(w.scriptSig ? { scriptSig: w.scriptSig } : {}) };
    })],
    outputs: [htlcOut, ...coins.change.map((o, k) => ({ amount: change[k]!, script: o.script }))],
  });
  // The fee, change, and the fee guard: the one fee-input rule (../truc/fee-input.ts).
  const { fee, vsize, amounts } = planFeeInput({
    role: FEE_PSBT, coins, spent: { txid: htlcIn.txid, vout: htlcIn.vout }, feeRate, limits, what: `the ${h.kind} transaction`,
    vsize: () => Math.ceil(weight(build(coins.change.map((o) => o.amount))) / 4),
  });
  const unsigned = build(amounts);
  const tx: Tx = { ...unsigned, inputs: unsigned.inputs.map(({ witness: _w, scriptSig: _s, ...i }) => i) };
  // SIGHASH_ALL over everything; the peer's SINGLE|ANYONECANPAY signature still covers input 0 / output 0.
  const funded = { ...h, tx };
  const local = signHtlcTransaction(funded, localPrivkey, 'local');
  const input0 = finalizeHtlcTransaction(funded, local, remoteSignature, preimage).tx.inputs[0]!;
  const psbt = new Transaction({ version: tx.version, lockTime: tx.lockTime, allowUnknownOutputs: true });
  psbt.addInput({ txid: htlcIn.txid, index: htlcIn.vout, sequence: htlcIn.sequence, witnessUtxo: { script: p2wsh(h.spentWitnessScript), amount: h.spentAmountSat } });
  for (const i of coins.inputs) psbt.addInput(psbtInputOf(i, 0xffff_fffd));
  psbt.addOutput({ script: htlcOut.script, amount: htlcOut.amount });
  coins.change.forEach((o, i) => psbt.addOutput({ ...o, amount: amounts[i]! }));
  psbt.updateInput(0, { finalScriptWitness: input0.witness! }, true);
  return { psbt: base64.encode(psbt.toPSBT()), txid: txidOnceSigned(psbt), feeSat: fee, vsize };
}
