/**
 * A wallet's coins joined to one of our transactions to pay its fee — the fee input of an
 * anchors / zero-fee HTLC transaction (`commitment finalize --fee-psbt`, `htlc claim|refund
 * --fee-psbt`). The same rules as the CPFP child of ./child.ts, which pays a parent's fee
 * from the same kind of wallet PSBT; this is the part that is not a package: the fee goes
 * into the transaction itself.
 *
 * Invariants (who can take what):
 * - the coins and change come from the caller's `walletcreatefundedpsbt` answer, read by
 *   ../tx/wallet-psbt.ts (every change output the wallet's own, BIP-32-marked); at least
 *   one input, one change output, and no input that is the spent output itself;
 * - the fee is `feeRate` on the transaction's largest signed size (the caller sizes it),
 *   taken whole from the largest change output; change left below dust is refused
 *   (<code>_SHORT);
 * - the fee guard (../tx/fee-guard.ts): the requested rate ≤ --max-fee-rate before
 *   anything is built, then the fee ≤ --max-fee-rate × vsize and ≤ --max-fee-share of what
 *   the wallet's coins move (E_FEE_TOO_HIGH, exit 4).
 * Pure: amounts in sat, bigint; nothing signs.
 */
import { RefusedError } from '../errors.ts';
import { checkFee, checkFeeRate, type FeeLimits } from '../tx/fee-guard.ts';
import { dustThreshold, feeFor } from '../tx/policy.ts';
import { walletInputsAmount, type WalletCoins, type WalletPsbtRole } from '../tx/wallet-psbt.ts';

export type FeeInputRequest = {
  role: WalletPsbtRole;
  coins: WalletCoins;
  /** The outpoint the transaction spends that the wallet must not (the HTLC output). */
  spent: { txid: string; vout: number };
  /** sat/vB */
  feeRate: number;
  limits: FeeLimits;
  /** The transaction with the coins in, at its largest signed size (amounts do not change it). */
  vsize: () => number;
  /** For the messages: "the htlc-success transaction". */
  what: string;
};

/** The wallet's change amounts once the fee is taken (in the coins' change order), and the fee. */
export function planFeeInput(req: FeeInputRequest): { fee: bigint; vsize: number; amounts: bigint[] } {
  const { role, coins } = req;
  checkFeeRate(req.feeRate, req.limits);
  if (coins.inputs.length === 0) throw new RefusedError(`${role.code}_INPUT`, `${role.flag} has no inputs: the wallet's coins pay the fee`);
  for (const i of coins.inputs) {
    if (i.txid === req.spent.txid && i.vout === req.spent.vout) throw new RefusedError(`${role.code}_INPUT`, `${role.flag} spends ${i.txid}:${i.vout}, the HTLC output itself`);
  }
  if (coins.change.length === 0) throw new RefusedError(`${role.code}_OUTPUT`, `${role.flag} has no output back to the wallet to take the fee from (make it with walletcreatefundedpsbt paying one of the wallet's own addresses)`);
  const vsize = req.vsize();
  const fee = feeFor(vsize, req.feeRate);
  const largest = coins.change.reduce((best, o, i) => (o.amount > coins.change[best]!.amount ? i : best), 0);
  const others = coins.change.reduce((a, o, i) => (i === largest ? a : a + o.amount), 0n);
  const moved = walletInputsAmount(coins);
  const rest = moved - others - fee;
  const change = coins.change[largest]!;
  if (rest < dustThreshold(change.script)) {
    throw new RefusedError(`${role.code}_SHORT`, `the wallet's coins in ${role.flag} leave ${rest} sat of change after the ${fee} sat fee (${vsize} vB at ${req.feeRate} sat/vB): fund it with at least ${dustThreshold(change.script) - rest} sat more`);
  }
  checkFee({ what: req.what, feeSat: fee, vsize, amountSat: moved }, req.limits);
  return { fee, vsize, amounts: coins.change.map((o, i) => (i === largest ? rest : o.amount)) };
}
