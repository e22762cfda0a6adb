/**
 * The mint's unilateral exit (BRIEF §3.1): its latest fully signed state, which must be
 * mined by block `expiry` (the refund is final from expiry + 1), and a CPFP child that
 * spends the mint's payout to pay for both. States are TRUC (v3), so the child is v3
 * too and at most 1000 vB (a v2 state of an older record gets a v2 child); the pair
 * goes to Core's `submitpackage`. The mint pays this
 * child's fee out of its own payout.
 */
import { Transaction } from '@scure/btc-signer';
import { base64 } from '@scure/base';
import { equalBytes, fromHex, toHex } from '../bytes.ts';
import { RefusedError } from '../errors.ts';
import type { KeyPair } from '../keys/keys.ts';
import { taprootOutput } from '../taproot/taproot.ts';
import { checkFee, DEFAULT_FEE_LIMITS, type FeeLimits } from '../tx/fee-guard.ts';
import { checkTrucPackage, CORE_POLICY, type Prevout } from '../truc/check.ts';
import { dustThreshold, feeFor, inputVsize, outputVsize, txOverheadVsize } from '../tx/policy.ts';
import { termsFromJson } from './codec.ts';
import type { MintContractRecord } from './ports.ts';
import { CONTRACT_SEQUENCE } from './transactions.ts';

/** The state's one input, the contract's funding output: what the package checker needs to know the state's fee. */
export function exitPrevouts(record: MintContractRecord): Prevout[] {
  if (!record.latest) return [];
  const c = termsFromJson(record.contract, record.network);
  const state = Transaction.fromRaw(fromHex(record.latest.hex, 'state'), { allowUnknownOutputs: true });
  const input = state.getInput(0);
  return [{ txid: toHex(input.txid!), vout: input.index!, amount: c.capacity, script: c.script }];
}

export type ExitOptions = { feeRate: number; /** The fee guard (default: Core's maxfeerate, half the payout). */ feeLimits?: FeeLimits; to?: Uint8Array; /** BIP-340 aux_rand for the child's signature (from the random source, so the test seed makes it reproducible). */ auxRand: Uint8Array };

export function buildExit(record: MintContractRecord, mint: KeyPair, opts: ExitOptions): Record<string, unknown> {
  if (!record.latest) {
    throw new RefusedError('E_NO_STATE', `contract ${record.contract_id} has no signed state yet: there is nothing for the mint to claim`);
  }
  const c = termsFromJson(record.contract, record.network);
  const parent = Transaction.fromRaw(fromHex(record.latest.hex, 'state'), { allowUnknownOutputs: true });
  let vout = -1;
  let spent = 0n;
  for (let i = 0; i < parent.outputsLength; i++) {
    const o = parent.getOutput(i);
    spent += o.amount!;
    if (equalBytes(o.script!, c.payoutScript)) vout = i;
  }
  if (vout < 0) {
    // A device channel's state holding an HTLC while nothing is settled (docs/device-gateway.md): no payout output to bump.
    throw new RefusedError('E_NO_PAYOUT', `the latest state of contract ${record.contract_id} pays the mint nothing yet (state ${record.latest.state}): there is no payout for a CPFP child to spend`);
  }
  const payout = parent.getOutput(vout).amount!;
  const parentFee = c.capacity - spent;
  const to = opts.to ?? c.payoutScript;
  const ownKey = taprootOutput(mint.xOnly);
  const mintSigns = equalBytes(c.payoutScript, ownKey.script);
  const spendVbytes = inputVsize(c.payoutScript);
  if (spendVbytes === undefined) throw new RefusedError('E_EXIT_PAYOUT', 'the payout script type cannot be fee-estimated for a CPFP child');
  const childVsize = Math.ceil(txOverheadVsize(1, 1) + spendVbytes + outputVsize(to));
  const packageFee = feeFor(parent.vsize + childVsize, opts.feeRate);
  const childFee = packageFee > parentFee ? packageFee - parentFee : feeFor(childVsize, opts.feeRate);
  // The fee guard on the package as a whole: the mint pays the child's fee out of its payout.
  checkFee({ what: 'the exit package (state + CPFP child)', feeSat: parentFee + childFee, vsize: parent.vsize + childVsize, amountSat: payout, payerFeeSat: childFee }, opts.feeLimits);
  const amount = payout - childFee;
  if (amount < dustThreshold(to)) {
    throw new RefusedError('E_EXIT_UNECONOMICAL', `at ${opts.feeRate} sat/vB the CPFP child would cost ${childFee} sat of the mint's ${payout} sat payout`);
  }
  // A TRUC (v3) child may only spend a v3 parent, and a v3 parent's child must be v3
  // (BIP-431). States are v3 (the mint refuses any other); a state stored before that
  // rule may be v2, and then only a v2 child can bump it.
  const child = new Transaction({ version: parent.version === 3 ? 3 : 2 });
  child.addInput({
    txid: parent.id, index: vout, sequence: CONTRACT_SEQUENCE, witnessUtxo: { script: c.payoutScript, amount: payout },
    ...(mintSigns ? { tapInternalKey: mint.xOnly } : {}),
  });
  child.addOutput({ script: to, amount });
  let hex: string | undefined;
  if (mintSigns) {
    child.signIdx(mint.secretKey, 0, undefined, opts.auxRand);
    child.finalizeIdx(0);
    hex = toHex(child.extract());
    // The package through the one TRUC checker (src/lib/truc/check.ts) before it is printed
    // (a v2 state of an older record makes a v2 package, which the checker does not judge).
    if (parent.version === 3) checkTrucPackage(fromHex(record.latest.hex, 'state'), fromHex(hex, 'child'), exitPrevouts(record), { ...CORE_POLICY, maxFeeRate: Math.round((opts.feeLimits ?? DEFAULT_FEE_LIMITS).maxFeeRate * 1000) });
  }
  return {
    type: 'credit/exit',
    version: 1,
    network: record.network,
    contract_id: record.contract_id,
    state: record.latest.state,
    cumulative_sat: record.latest.cumulative_sat,
    deadline_height: c.expiryHeight,
    state_tx: { txid: parent.id, hex: record.latest.hex, vsize: parent.vsize, fee_sat: Number(parentFee) },
    child: { txid: child.id, complete: mintSigns, psbt: base64.encode(child.toPSBT()), hex, package_fee_rate: Number(((Number(parentFee + childFee)) / (parent.vsize + childVsize)).toFixed(2)) },
  };
}
