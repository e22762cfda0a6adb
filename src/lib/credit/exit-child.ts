/**
 * The mint's exit with a CPFP child its wallet signed: when the payout address belongs
 * to the mint's Core wallet (the usual case) the mint key cannot sign the child, so the
 * operator signs the unsigned child `exit-credit` printed with
 * `bitcoin-cli walletprocesspsbt` (which may add inputs for the fee) and hands the
 * finalized PSBT back with `--child`. Checked before the package goes anywhere:
 *
 * - it spends the exit state's payout output (else it bumps nothing: E_EXIT_CHILD_MISMATCH);
 * - it is finalized (E_EXIT_CHILD_UNSIGNED) and every input's spent output is in the PSBT,
 *   so the package fee rate can be told;
 * - the package (state + child) passes every rule of the one TRUC checker
 *   (src/lib/truc/check.ts, issue 24): a v3 state's child is v3 (E_TRUC_INHERITANCE), at
 *   most 1,000 vB sigop-adjusted (E_TRUC_CHILD_TOO_BIG), the package at least the relay
 *   floor, no transaction above maxfeerate, … — each refusal exit 4 naming Core's string.
 *   (Until issue 24 this was its own version-and-size check, E_EXIT_CHILD_TRUC.)
 *
 * - the fee guard (--max-fee-rate on the package, --max-fee-share of what the child spends),
 *   as on the child exit-credit builds itself (../truc/child.ts): E_FEE_TOO_HIGH, exit 4.
 *
 * The node judges the rest (signatures) when the package is submitted.
 */
import { Transaction } from '@scure/btc-signer';
import { base64 } from '@scure/base';
import { fromHex, toHex } from '../bytes.ts';
import { MalformedInputError, RefusedError } from '../errors.ts';
import { parsePsbt } from '../psbt/parse.ts';
import { checkTrucPackage, CORE_POLICY, type Prevout, type TrucPolicy } from '../truc/check.ts';
import { checkFee, DEFAULT_FEE_LIMITS, type FeeLimits } from '../tx/fee-guard.ts';


type ExitMessage = {
  state_tx: { txid: string; hex: string; vsize: number; fee_sat: number };
  child: { txid: string; complete: boolean; psbt: string; hex?: string; vsize?: number; fee_sat?: number; package_fee_rate: number };
};

export function withWalletChild<M extends ExitMessage>(exit: M, childPsbt: Uint8Array, statePrevouts: Prevout[], policy: TrucPolicy = CORE_POLICY, limits: FeeLimits = DEFAULT_FEE_LIMITS): M {
  let tx: Transaction;
  try {
    tx = parsePsbt(childPsbt);
  } catch (e) {
    throw e instanceof MalformedInputError ? e : new MalformedInputError('E_MALFORMED_PSBT', `--child is not a PSBT: ${(e as Error).message}`);
  }
  const state = Transaction.fromRaw(fromHex(exit.state_tx.hex), { allowUnknownOutputs: true });
  const ours = Transaction.fromPSBT(base64.decode(exit.child.psbt), { allowUnknownOutputs: true });
  const payout = ours.getInput(0);
  let spendsPayout = false;
  let inputsSat = 0n;
  for (let i = 0; i < tx.inputsLength; i++) {
    const input = tx.getInput(i);
    if (toHex(input.txid!) === state.id && input.index === payout.index) spendsPayout = true;
    if (!input.witnessUtxo) throw new RefusedError('E_EXIT_CHILD_UTXO', `--child input ${i} has no witness_utxo: the package fee rate cannot be told`);
    if (!input.finalScriptWitness && !input.finalScriptSig) {
      throw new RefusedError('E_EXIT_CHILD_UNSIGNED', `--child input ${i} is not finalized: sign it with bitcoin-cli walletprocesspsbt (complete: true)`);
    }
    inputsSat += input.witnessUtxo.amount;
  }
  if (!spendsPayout) {
    throw new RefusedError('E_EXIT_CHILD_MISMATCH', `--child does not spend the exit state's payout ${state.id}:${payout.index}: it would bump nothing`);
  }
  let hex: Uint8Array;
  try {
    hex = tx.extract();
  } catch (e) {
    throw new RefusedError('E_EXIT_CHILD_UNSIGNED', `--child cannot be extracted: ${(e as Error).message}`);
  }
  const signed = Transaction.fromRaw(hex, { allowUnknownOutputs: true });
  const childPrevouts: Prevout[] = Array.from({ length: tx.inputsLength }, (_, i) => {
    const input = tx.getInput(i);
    return { txid: toHex(input.txid!), vout: input.index!, amount: input.witnessUtxo!.amount, script: input.witnessUtxo!.script };
  }).filter((p) => p.txid !== state.id);
  // A v3 state: the whole package by the TRUC rules. A v2 state of an older record: its v2 child as before (Core's own rules).
  if (state.version === 3) checkTrucPackage(fromHex(exit.state_tx.hex), hex, [...statePrevouts, ...childPrevouts], policy);
  let outputsSat = 0n;
  for (let i = 0; i < signed.outputsLength; i++) outputsSat += signed.getOutput(i).amount!;
  const childFee = inputsSat - outputsSat;
  // The fee guard, as on the child exit-credit builds: the wallet (walletprocesspsbt may add coins) pays the child's fee out of what it spends.
  checkFee({ what: 'the exit package (state + the wallet\'s child)', feeSat: BigInt(exit.state_tx.fee_sat) + childFee, vsize: exit.state_tx.vsize + signed.vsize, amountSat: inputsSat, payerFeeSat: childFee }, limits);
  const packageFeeRate = Number(((exit.state_tx.fee_sat + Number(childFee)) / (exit.state_tx.vsize + signed.vsize)).toFixed(2));
  return { ...exit, child: { txid: signed.id, complete: true, psbt: base64.encode(childPsbt), hex: toHex(hex), vsize: signed.vsize, fee_sat: Number(childFee), package_fee_rate: packageFeeRate } };
}
