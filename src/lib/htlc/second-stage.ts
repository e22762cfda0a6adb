/**
 * BOLT 3's second stage for a standalone HTLC output: the commitment holder's own paths
 * go through a transaction both HTLC keys sign — HTLC-timeout for an offered HTLC
 * (nLockTime = cltv_expiry), HTLC-success for a received one (with the preimage) —
 * paying into the holder's delayed, revocable output, so that a revoked commitment's
 * HTLC stays punishable after the second stage too.
 *
 * Two signers, one PSBT (BIP-174 partial signatures): whoever runs first builds the
 * transaction and adds its signature; the other rebuilds it from the same HTLC, checks
 * the PSBT is exactly that transaction, adds its own and, once both signatures (and for
 * HTLC-success the preimage) are there, finalizes the witness
 * `0 <remotehtlcsig> <localhtlcsig> <preimage or empty>`.
 *
 * The anchors format's HTLC transactions carry no fee of their own: the remote signs
 * SIGHASH_SINGLE|ANYONECANPAY (its signature covers only input 0 and output 0), and the
 * holder — who signs SIGHASH_ALL — first adds a wallet's coins and change from a funded
 * PSBT (`walletcreatefundedpsbt`, ../tx/wallet-psbt.ts) so the whole transaction pays
 * `feeRate`: the fee is taken from the wallet's largest change output. The wallet signs
 * its own inputs last (`walletprocesspsbt`).
 *
 * Invariants (the holder's SIGHASH_ALL signature commits to the whole transaction, and
 * the runbook's next step has the holder's wallet sign every input it recognises):
 * - the holder never signs a zero-fee anchors HTLC transaction (E_ANCHORS_FEE_INPUT);
 * - every input and output beyond input 0 / output 0 comes from the holder's own
 *   --fee-psbt, and every such output is that wallet's change (BIP-32-marked,
 *   E_FEE_PSBT_OUTPUT); a PSBT received from the other party that already carries more
 *   than the HTLC's input and output is refused (E_FOREIGN_INPUT / E_FEE_PSBT_OUTPUT),
 *   with or without --fee-psbt — the remote could have slipped in one of the holder's
 *   own coins and an output paying itself;
 * - the remote's SIGHASH_SINGLE|ANYONECANPAY signature covers input 0 and output 0 only,
 *   so whatever the holder adds leaves it valid;
 * - input 0 / output 0 are exactly this HTLC's second stage (E_PSBT_MISMATCH).
 */
import { Transaction } from '@scure/btc-signer';
import { equalBytes, toHex } from '../bytes.ts';
import { RefusedError, UsageError } from '../errors.ts';
import type { KeyPair } from '../keys/keys.ts';
import { compactFromDer, derFromCompact, nobleEcdsa } from '../bolt3/ecdsa.ts';
import type { CommitmentFormat } from '../bolt3/channel.ts';
import { ANCHORS, LEGACY } from '../bolt3/formats.ts';
import { p2wsh } from '../bolt3/script.ts';
import { SIGHASH_ALL } from '../bolt3/sighash.ts';
import { compactSizeLength, outputVsize, txOverheadVsize } from '../tx/policy.ts';
import { DEFAULT_FEE_LIMITS, type FeeLimits } from '../tx/fee-guard.ts';
import { planFeeInput } from '../truc/fee-input.ts';
import { psbtInputOf, txidOnceSigned, walletCoins, walletInputVbytes, type WalletCoins, type WalletPsbtRole } from '../tx/wallet-psbt.ts';
import { secondStageScript, type HtlcOutput, type HtlcSpec } from './htlc.ts';
import { checkPreimage, type OutPoint } from './spend.ts';

type Bolt3Spec = Extract<HtlcSpec, { kind: 'offered' | 'received' }>;

export type SecondStageRequest = {
  htlc: HtlcOutput;
  outpoint: OutPoint;
  amountSat: bigint;
  signer: KeyPair;
  /** HTLC-success: the payment preimage (needed only to finalize). */
  preimage?: Uint8Array;
  /** The PSBT the other signer produced, if it went first. */
  psbt?: Transaction;
  /** Anchors, the holder: a wallet's funded PSBT whose coins pay the fee. */
  feeWallet?: Transaction;
  /** Anchors: the fee rate (sat/vB) the whole transaction pays once the wallet's coins are in. */
  feeRate?: number;
  /** The fee guard on the wallet's fee input (default: Core's maxfeerate, half what the wallet moves). */
  feeLimits?: FeeLimits;
};

export type SecondStage = {
  kind: 'htlc-timeout' | 'htlc-success';
  tx: Transaction;
  complete: boolean;
  /** What is still missing: HTLC signatures, the preimage, (anchors) the fee input or the wallet's signatures on it. */
  missing: ('local_htlc' | 'remote_htlc' | 'preimage' | 'fee_input' | 'wallet_signatures')[];
  txid: string;
  /** Set once complete. */
  hex?: string;
  feeSat: bigint;
  lockTime: number;
};

const FEE_PSBT: WalletPsbtRole = { flag: '--fee-psbt', code: 'E_FEE_PSBT', purpose: 'an anchors HTLC transaction pays only its second-stage output and the wallet\'s change' };

function bolt3Spec(htlc: HtlcOutput): Bolt3Spec {
  const { spec } = htlc;
  if (spec.kind !== 'offered' && spec.kind !== 'received') {
    throw new RefusedError('E_NO_SECOND_STAGE', `a ${spec.kind} HTLC has no second-stage transaction`);
  }
  return spec;
}

const formatOf = (spec: Bolt3Spec): CommitmentFormat => (spec.anchors ? ANCHORS : LEGACY);

/** The second-stage transaction as BOLT 3 fixes it: one input (the HTLC), one output (the revocable delayed script). */
export function secondStageTransaction(htlc: HtlcOutput, outpoint: OutPoint, amountSat: bigint): { tx: Transaction; kind: SecondStage['kind']; feeSat: bigint } {
  const spec = bolt3Spec(htlc);
  const format = formatOf(spec);
  const kind = spec.kind === 'offered' ? 'htlc-timeout' : 'htlc-success';
  const feeSat = format.htlcTxFee(kind, spec.secondStage.feeratePerKw);
  if (amountSat - feeSat <= 0n) throw new RefusedError('E_DUST_OUTPUT', `the ${amountSat} sat HTLC does not cover its ${kind} fee of ${feeSat} sat`);
  const tx = new Transaction({ version: format.htlcTxVersion, lockTime: kind === 'htlc-timeout' ? spec.cltvExpiry : 0, allowUnknownOutputs: true });
  tx.addInput({
    txid: outpoint.txid,
    index: outpoint.vout,
    sequence: format.htlcCsv,
    witnessUtxo: { script: htlc.scriptPubKey, amount: amountSat },
    witnessScript: htlc.witnessScript!,
  });
  tx.addOutput({ script: p2wsh(secondStageScript(spec)), amount: amountSat - feeSat });
  return { tx, kind, feeSat };
}

/** The PSBT is this HTLC's second stage: the same version, locktime, input 0 and output 0 (anchors: other inputs and outputs are the fee's). */
function sameSecondStage(psbt: Transaction, built: Transaction, anchors: boolean): boolean {
  if (!anchors) return equalBytes(psbt.unsignedTx, built.unsignedTx);
  if (psbt.version !== built.version || psbt.lockTime !== built.lockTime || psbt.inputsLength < 1 || psbt.outputsLength < 1) return false;
  const [a, b] = [psbt.getInput(0), built.getInput(0)];
  const [x, y] = [psbt.getOutput(0), built.getOutput(0)];
  return equalBytes(a.txid!, b.txid!) && a.index === b.index && a.sequence === b.sequence
    && equalBytes(x.script!, y.script!) && x.amount === y.amount;
}

/** vsize of input 0 spending the HTLC script with two signatures (≤ 73 bytes each) and the preimage or an empty push. */
function htlcInputVsize(witnessScript: Uint8Array, kind: SecondStage['kind']): number {
  const witness = 1 + 1 + 2 * (1 + 73) + (kind === 'htlc-success' ? 1 + 32 : 1) + compactSizeLength(witnessScript.length) + witnessScript.length;
  return 41 + witness / 4;
}

/**
 * The wallet's coins and change joined after input 0 / output 0, the fee exactly
 * `feeRate` × vsize taken from the largest change output.
 */
function addFeeInput(tx: Transaction, wallet: WalletCoins, witnessScript: Uint8Array, kind: SecondStage['kind'], feeRate: number, limits: FeeLimits): void {
  const htlcInput = tx.getInput(0);
  // The fee, change, and the fee guard: the one fee-input rule (../truc/fee-input.ts), as commitment finalize --fee-psbt.
  const { amounts } = planFeeInput({
    role: FEE_PSBT, coins: wallet, spent: { txid: toHex(htlcInput.txid!), vout: htlcInput.index! }, feeRate, limits, what: `the ${kind} transaction`,
    vsize: () => Math.ceil(
      txOverheadVsize(1 + wallet.inputs.length, 1 + wallet.change.length)
      + htlcInputVsize(witnessScript, kind) + outputVsize(tx.getOutput(0).script!)
      + wallet.inputs.reduce((a, i) => a + walletInputVbytes(i.script, i.redeemScript, FEE_PSBT), 0)
      + wallet.change.reduce((a, o) => a + outputVsize(o.script), 0),
    ),
  });
  for (const i of wallet.inputs) tx.addInput(psbtInputOf(i));
  wallet.change.forEach((o, i) => tx.addOutput({ ...o, amount: amounts[i]! }));
}

export function signSecondStage(req: SecondStageRequest): SecondStage {
  const spec = bolt3Spec(req.htlc);
  const format = formatOf(spec);
  const built = secondStageTransaction(req.htlc, req.outpoint, req.amountSat);
  const tx = req.psbt ?? built.tx;
  if (req.psbt && !sameSecondStage(req.psbt, built.tx, spec.anchors)) {
    throw new RefusedError('E_PSBT_MISMATCH', `the PSBT is not this HTLC's ${built.kind} transaction (${built.tx.id})`);
  }
  const role = equalBytes(req.signer.publicKey, spec.localHtlcPubkey)
    ? 'local_htlc'
    : equalBytes(req.signer.publicKey, spec.remoteHtlcPubkey)
      ? 'remote_htlc'
      : undefined;
  if (!role) throw new RefusedError('E_KEY_MISMATCH', `this key (${toHex(req.signer.publicKey)}) is neither HTLC key of the channel`);
  const hashTypeOf = (who: 'local_htlc' | 'remote_htlc') => (who === 'local_htlc' ? SIGHASH_ALL : format.remoteHtlcSighash);

  // Anchors, the holder: SIGHASH_ALL commits to every input and output, so whatever the
  // other party's PSBT carries beyond input 0 / output 0 would be signed for too (a coin of
  // the holder's own wallet slipped in, an output paying the remote). Only the holder's own
  // --fee-psbt may add inputs and outputs.
  if (spec.anchors && role === 'local_htlc' && req.psbt) foreignParts(req.psbt);
  // Anchors: the holder adds the wallet's coins before signing SIGHASH_ALL over them.
  if (req.feeWallet) {
    if (!spec.anchors) throw new UsageError('E_USAGE', '--fee-psbt is for anchors HTLC transactions only: a legacy one pays its fee out of the HTLC');
    if (role !== 'local_htlc') throw new UsageError('E_USAGE', '--fee-psbt is the holder\'s (local HTLC key): the remote signs SIGHASH_SINGLE|ANYONECANPAY and adds nothing');
    if (req.feeRate === undefined) throw new UsageError('E_USAGE', 'adding a fee input needs --fee-rate');
    addFeeInput(tx, walletCoins(req.feeWallet, FEE_PSBT), req.htlc.witnessScript!, built.kind, req.feeRate, req.feeLimits ?? DEFAULT_FEE_LIMITS);
  }
  const funded = tx.inputsLength > 1;
  const feeSat = funded ? walletFee(tx) : built.feeSat;
  if (spec.anchors && role === 'local_htlc' && !funded) {
    throw new RefusedError('E_ANCHORS_FEE_INPUT', 'an anchors HTLC transaction carries no fee: the holder signs it only with a wallet\'s coins added (--fee-psbt, a PSBT from walletcreatefundedpsbt, with --fee-rate)');
  }
  const digest = (hashType: number) => tx.preimageWitnessV0(0, req.htlc.witnessScript!, hashType, req.amountSat);

  const sigs = new Map<string, Uint8Array>();
  for (const [pubkey, sig] of tx.getInput(0).partialSig ?? []) {
    const who = equalBytes(pubkey, spec.localHtlcPubkey) ? 'local_htlc' : equalBytes(pubkey, spec.remoteHtlcPubkey) ? 'remote_htlc' : undefined;
    if (!who) throw new RefusedError('E_BAD_SIGNATURE', `the PSBT carries a signature by ${toHex(pubkey)}, not an HTLC key of the channel`);
    const hashType = hashTypeOf(who);
    if (sig[sig.length - 1] !== hashType || !nobleEcdsa.verifyCompact(compactFromDer(sig.subarray(0, -1)), digest(hashType), pubkey)) {
      throw new RefusedError('E_BAD_SIGNATURE', `the ${who} signature in the PSBT does not verify for this ${built.kind} transaction`);
    }
    sigs.set(who, sig);
  }
  const mine = Uint8Array.from([...derFromCompact(nobleEcdsa.signCompact(digest(hashTypeOf(role)), req.signer.secretKey)), hashTypeOf(role)]);
  sigs.set(role, mine);
  tx.updateInput(0, { partialSig: [[req.signer.publicKey, mine]] }, true);

  const missing: SecondStage['missing'] = [];
  if (!sigs.has('local_htlc')) missing.push('local_htlc');
  if (!sigs.has('remote_htlc')) missing.push('remote_htlc');
  let preimage: Uint8Array | undefined;
  if (built.kind === 'htlc-success') {
    if (req.preimage) preimage = checkPreimage(req.htlc, req.preimage);
    else missing.push('preimage');
  }
  if (spec.anchors && !funded) missing.push('fee_input');
  const htlcDone = missing.length === 0;
  if (funded) missing.push('wallet_signatures');
  const out: SecondStage = { kind: built.kind, tx, complete: missing.length === 0, missing, txid: txidOnceSigned(tx), feeSat, lockTime: tx.lockTime };
  if (htlcDone) {
    const EMPTY = new Uint8Array(0);
    const final = Transaction.fromPSBT(tx.toPSBT(), { allowUnknownOutputs: true });
    final.updateInput(0, { finalScriptWitness: [EMPTY, sigs.get('remote_htlc')!, sigs.get('local_htlc')!, preimage ?? EMPTY, req.htlc.witnessScript!] }, true);
    out.tx = final;
    if (out.complete) out.hex = toHex(final.extract());
  }
  return out;
}

/**
 * The other party's PSBT for an anchors HTLC transaction the holder is to sign: input 0 and
 * output 0 only (the remote signs SIGHASH_SINGLE|ANYONECANPAY and adds nothing). Anything
 * more is refused whatever flags are given: the holder's fee coins come from its own
 * --fee-psbt, never from the PSBT it receives.
 */
function foreignParts(psbt: Transaction): void {
  if (psbt.inputsLength > 1) {
    const extra = Array.from({ length: psbt.inputsLength - 1 }, (_, i) => {
      const input = psbt.getInput(i + 1);
      return `${input.txid ? toHex(input.txid) : '?'}:${input.index ?? '?'}`;
    });
    throw new RefusedError('E_FOREIGN_INPUT', `the PSBT received for this anchors HTLC transaction already spends ${extra.join(', ')} beside the HTLC; the holder signs SIGHASH_ALL only over fee coins from its own --fee-psbt: refusing`);
  }
  if (psbt.outputsLength > 1) {
    const extra = Array.from({ length: psbt.outputsLength - 1 }, (_, i) => toHex(psbt.getOutput(i + 1).script ?? new Uint8Array()));
    throw new RefusedError('E_FEE_PSBT_OUTPUT', `the PSBT received for this anchors HTLC transaction already pays ${extra.join(', ')} beside the second-stage output; only the change of the holder's own --fee-psbt may be added: refusing`);
  }
}

/** The fee of a funded anchors HTLC transaction: the HTLC's amount passes to output 0 whole, so it is the wallet's inputs less every other output. */
function walletFee(tx: Transaction): bigint {
  let fee = 0n;
  for (let i = 1; i < tx.inputsLength; i++) {
    const utxo = tx.getInput(i).witnessUtxo;
    if (!utxo) throw new RefusedError('E_FEE_PSBT_INPUT', `input ${i} (a fee input) has no witness_utxo: its amount, hence the fee, is unknown`);
    fee += utxo.amount;
  }
  for (let i = 1; i < tx.outputsLength; i++) fee -= tx.getOutput(i).amount!;
  return fee;
}
