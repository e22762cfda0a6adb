/**
 * The one way we bump a transaction: a TRUC (v3) child, paid for by the caller's own
 * wallet, that brings the 1-parent-1-child PACKAGE to a fee rate. The parent is any
 * signed v3 transaction — ours (a credit exit's state, a statechain backup, a zero-fee
 * commitment or HTLC transaction) or anyone's — with a keyless pay-to-anchor output
 * (`OP_1 <0x4e73>`, spent with an empty witness) or an output the caller's wallet can
 * sign. The wallet's coins come as a `walletcreatefundedpsbt` answer used as is
 * (../tx/wallet-psbt.ts): its inputs, and its outputs, every one of which must be the
 * wallet's own (BIP-32-marked). The child is returned unsigned, as a PSBT for
 * `bitcoin-cli walletprocesspsbt`; nothing here signs.
 *
 * Invariants (who can take what):
 * - the child pays nobody but the caller's wallet: every output comes from the wallet's
 *   PSBT and carries a BIP-32 derivation whose key makes its script (../tx/wallet-output.ts;
 *   E_WALLET_PSBT_OUTPUT); a child paying a stranger is refused;
 *   with `own` (no wallet: the credit exit's mint key, a statechain owner's share signs),
 *   its one output is the caller's `to` and its inputs only the parent's outputs named;
 * - the child spends only the parent's outputs named (default: its P2A anchors) and the
 *   wallet's inputs, never an outpoint the parent spends (E_TRUC_CONFLICT) or one twice;
 * - its whole value, less the fee, goes back to the wallet's largest change output; the
 *   package fee reaches --fee-rate on the child's largest possible size (72-byte ECDSA
 *   signatures), so the signed child never pays less;
 * - before the PSBT is printed, the package (parent + a stand-in child of that largest
 *   size) passes every rule of check.ts (each refusal exit 4 with its code and Core's
 *   string), and the fee guard: the package's rate ≤ --max-fee-rate (also each
 *   transaction's own, as submitpackage's maxfeerate), the child's fee ≤ --max-fee-share
 *   of what the wallet moves;
 * - replacing an earlier child (TRUC sibling eviction, or an RBF of the same coins): the
 *   new child pays at least the earlier child's fee plus the node's incremental relay fee
 *   (-incrementalrelayfee, getmempoolinfo; Core's default 0.1 sat/vB) on its own size, so
 *   the node takes it (BIP-125 rules 3 and 4).
 *
 * A keyless anchor can be spent by anyone: whoever needs the parent mined can bump it.
 * The parent's value is not at stake (the anchor carries 0 sat), only who pays the fee.
 */
import { RawTx, Transaction } from '@scure/btc-signer';
import { base64 } from '@scure/base';
import { RefusedError, UsageError } from '../errors.ts';
import { toHex } from '../bytes.ts';
import { checkFee, checkFeeRate, type FeeLimits } from '../tx/fee-guard.ts';
import { dustThreshold, feeFor, INCREMENTAL_RELAY_FEE_RATE, standardScriptType } from '../tx/policy.ts';
import { derivationMakesScript } from '../tx/wallet-output.ts';
import { isNestedP2wpkh, psbtInputOf, txidOnceSigned, walletCoins, walletInputVbytes, walletInputsAmount, type WalletPsbtRole } from '../tx/wallet-psbt.ts';
import { checkTrucPackage, TRUC_VERSION, type PackageVerdict, type Prevout, type TrucPolicy } from './check.ts';
import { measureTx, sigOpCost, sigopAdjustedVsize } from './transaction.ts';
import type { Conflict } from './standing.ts';

export const WALLET_PSBT: WalletPsbtRole = { flag: '--wallet-psbt', code: 'E_WALLET_PSBT', purpose: 'a child pays only back to the wallet that funds it' };

const SEQUENCE = 0xffff_fffd;

export type ChildRequest = {
  /** The parent, signed (network serialization). */
  parent: Uint8Array;
  /** Every input of the parent, described (amount, script). */
  parentPrevouts: Prevout[];
  /** The wallet's walletcreatefundedpsbt answer (or `own`). */
  wallet?: Transaction;
  /**
   * No wallet: a child the caller signs with its own key (a credit exit's payout, a
   * statechain owner's share), spending only the parent's outputs named and paying what
   * is left after the fee to `to`; `shortCode` names the refusal when that is dust.
   */
  own?: { to: Uint8Array; shortCode: string };
  /** Parent outputs the child spends (default: every P2A output of the parent). */
  spend?: number[];
  /**
   * Parent outputs of `spend` the caller spends by a taproot script path (a device
   * channel's HTLC claim leaf): the byte lengths of that witness's items, so the child is
   * sized (and the package checked) at its real size, not a key path's 64 bytes.
   */
  scriptPathWitness?: ReadonlyMap<number, readonly number[]>;
  /** Target package fee rate, sat/vB. */
  feeRate: number;
  feeLimits: FeeLimits;
  /**
   * What --max-fee-share is a share of, when the wallet's coins only pay for bumping a coin they do not protect (a
   * watcher's child for a pair's or a tower's backup): that coin's value, as the watcher's deadline schedule measures
   * its budget. Default: what the child moves (its wallet coins and the parent outputs it spends) — a small fee coin
   * would otherwise refuse the schedule's last bids near the deadline.
   */
  shareOfSat?: bigint;
  /** The node's numbers; maxFeeRate is set from feeLimits, unless `packageGuard`. */
  policy: TrucPolicy;
  /**
   * The fee guard holds the package as a whole (its rate, the child's share), and each
   * transaction alone only to `policy.maxFeeRate` (Core's maxfeerate): a child carrying its
   * parent pays more alone than the package — and must, to replace a large sibling that pins
   * the parent (the credit exit's: the user's child on its own output of the state).
   */
  packageGuard?: boolean;
  /**
   * An earlier child of this parent that this one must replace: its fee as the node's mempool holds it, or (signed)
   * its bytes and inputs, from which the fee is computed.
   */
  replaces?: { txid: string; fee: bigint; chunk?: { fee: bigint; weight: number; withParent: boolean } } | { raw: Uint8Array; prevouts: Prevout[] };
  /** The node's -incrementalrelayfee, sat/kvB: what a replacement pays on top, per vB of its own (default Core's, 100). */
  incrementalRelayFeeRate?: number;
  /**
   * Mempool transactions the parent conflicts with (standing.ts): the package replaces them (package RBF) only if it
   * pays what they and their descendants pay plus the incremental fee on its own size, at a feerate above theirs.
   */
  conflicts?: readonly Conflict[];
};

export type BuiltChild = {
  psbt: Transaction;
  /** The child's txid once the wallet has signed (known now: every input is segwit). */
  txid: string;
  /** The package as checked, with the child at its largest signed size (none for a v2 parent, `allowV2`). */
  verdict: PackageVerdict;
  /** The child's vsize at its largest signed size. */
  vsize: number;
  childFee: bigint;
  /** Fee floor set by the replaced child, when one is given. */
  replaces?: { txid: string; fee: bigint };
};

/** Bytes of an input's witness at its largest (ECDSA: 72-byte signature), for the stand-in. */
function standInWitness(script: Uint8Array, redeemScript: Uint8Array | undefined): { witness: Uint8Array[]; scriptSig: Uint8Array } {
  const type = standardScriptType(script);
  if (type === 'p2a') return { witness: [], scriptSig: new Uint8Array() };
  if (type === 'p2tr') return { witness: [new Uint8Array(64)], scriptSig: new Uint8Array() };
  if (type === 'p2wpkh') return { witness: [new Uint8Array(72), new Uint8Array(33)], scriptSig: new Uint8Array() };
  if (isNestedP2wpkh(script, redeemScript)) return { witness: [new Uint8Array(72), new Uint8Array(33)], scriptSig: Uint8Array.of(redeemScript!.length, ...redeemScript!) };
  throw new RefusedError('E_TRUC_CHILD_INPUT', `a child input paying ${toHex(script)} cannot be sized before it is signed: the child spends P2A anchors and P2TR, P2WPKH or P2SH-P2WPKH outputs`);
}

/** The child unsigned, and the same child with witnesses of the largest size it will have once signed. */
function assemble(tx: Transaction, redeem: (Uint8Array | undefined)[], scriptPath: (readonly number[] | undefined)[] = []): Uint8Array {
  const inputs: { txid: Uint8Array; index: number; finalScriptSig: Uint8Array; sequence: number }[] = [];
  const witnesses: Uint8Array[][] = [];
  for (let i = 0; i < tx.inputsLength; i++) {
    const input = tx.getInput(i);
    const items = scriptPath[i];
    const w = items ? { witness: items.map((n) => new Uint8Array(n)), scriptSig: new Uint8Array() } : standInWitness(input.witnessUtxo!.script, redeem[i]);
    inputs.push({ txid: input.txid!, index: input.index!, finalScriptSig: w.scriptSig, sequence: input.sequence! });
    witnesses.push(w.witness);
  }
  const outputs = Array.from({ length: tx.outputsLength }, (_, i) => ({ amount: tx.getOutput(i).amount!, script: tx.getOutput(i).script! }));
  return RawTx.encode({ version: tx.version, segwitFlag: true, inputs, outputs, witnesses, lockTime: tx.lockTime });
}

export function buildChild(req: ChildRequest): BuiltChild;
/** `allowV2`: a v2 parent (a credit state stored before states were TRUC) gets a v2 child, which check.ts does not judge (no verdict). */
export function buildChild(req: ChildRequest & { allowV2: true }): Omit<BuiltChild, 'verdict'> & { verdict: PackageVerdict | undefined };
export function buildChild(req: ChildRequest & { allowV2?: boolean }): Omit<BuiltChild, 'verdict'> & { verdict: PackageVerdict | undefined } {
  checkFeeRate(req.feeRate, req.feeLimits);
  const parent = measureTx(req.parent, 'the parent');
  const v2 = req.allowV2 === true && parent.tx.version === 2;
  if (parent.tx.version !== TRUC_VERSION && !v2) {
    throw new RefusedError('E_TRUC_VERSION', `the parent ${parent.txid} is version ${parent.tx.version}, not 3 (TRUC): a package of it can be pinned, and a v3 child cannot spend it (Bitcoin Core: TRUC-violation)`);
  }
  const outs = parent.tx.outputs;
  const spend = req.spend ?? outs.flatMap((o, i) => (standardScriptType(o.script) === 'p2a' ? [i] : []));
  if (spend.length === 0) throw new UsageError('E_TRUC_NO_ANCHOR', `the parent ${parent.txid} has no pay-to-anchor output: name the output of yours the child spends with --spend VOUT`);
  for (const v of spend) {
    if (!Number.isSafeInteger(v) || v < 0 || v >= outs.length) throw new UsageError('E_TRUC_NO_SUCH_OUTPUT', `--spend ${v}: the parent ${parent.txid} has ${outs.length} outputs`);
  }
  if (new Set(spend).size !== spend.length) throw new UsageError('E_USAGE', '--spend names one output twice');

  const wallet = req.own ? { inputs: [], change: [{ script: req.own.to, amount: 0n }] } : walletCoins(req.wallet!, WALLET_PSBT);
  if (!req.own && wallet.inputs.length === 0) throw new RefusedError('E_WALLET_PSBT_INPUT', '--wallet-psbt has no inputs: the wallet\'s coins pay the fee');
  if (!req.own && wallet.change.length === 0) throw new RefusedError('E_WALLET_PSBT_OUTPUT', '--wallet-psbt has no output back to the wallet to take the fee from (make it with walletcreatefundedpsbt paying one of the wallet\'s own addresses)');
  // The mark proves something only if its key makes the script (issue 37 finding 7): a record of any key on a stranger's output is not the wallet's.
  if (!req.own) {
    for (let i = 0; i < req.wallet!.outputsLength; i++) {
      const o = req.wallet!.getOutput(i);
      if (!derivationMakesScript({ ...o, script: o.script! })) {
        throw new RefusedError('E_WALLET_PSBT_OUTPUT', `--wallet-psbt output ${i} pays ${toHex(o.script!)}, which none of its BIP-32 derivation keys makes: marked as the wallet's, it pays someone else (${WALLET_PSBT.purpose})`);
      }
    }
  }

  // Inputs: the parent's outputs (anchors with an empty witness, the caller's own signed by its wallet), then the wallet's.
  const tx = new Transaction({ version: v2 ? 2 : TRUC_VERSION, lockTime: 0, allowUnknownOutputs: true, allowUnknownInputs: true });
  const redeem: (Uint8Array | undefined)[] = [];
  const scriptPath: (readonly number[] | undefined)[] = [];
  let parentValue = 0n;
  for (const v of spend) {
    const o = outs[v]!;
    const type = standardScriptType(o.script);
    if (type !== 'p2a' && type !== 'p2tr' && type !== 'p2wpkh') throw new RefusedError('E_TRUC_CHILD_INPUT', `the parent's output ${v} pays ${toHex(o.script)}: a child spends P2A anchors, or a P2TR or P2WPKH output of the caller's wallet`);
    const items = req.scriptPathWitness?.get(v);
    if (items && type !== 'p2tr') throw new RefusedError('E_TRUC_CHILD_INPUT', `the parent's output ${v} is not taproot: it has no script path`);
    tx.addInput({ txid: parent.txid, index: v, sequence: SEQUENCE, witnessUtxo: { script: o.script, amount: o.amount } });
    redeem.push(undefined);
    scriptPath.push(items);
    parentValue += o.amount;
  }
  for (const i of wallet.inputs) {
    walletInputVbytes(i.script, i.redeemScript, WALLET_PSBT); // refuses an input that cannot be sized
    tx.addInput(psbtInputOf(i, SEQUENCE));
    redeem.push(i.redeemScript);
  }
  for (const o of wallet.change) tx.addOutput(o);
  // The child's size once signed, at its largest: amounts do not change it, so it is measured now.
  const scriptOf = (i: number) => tx.getInput(i).witnessUtxo!.script;
  const measured = measureTx(assemble(tx, redeem, scriptPath), 'the child');
  const childSigops = sigOpCost(measured.tx, scriptOf);
  const childVsize = sigopAdjustedVsize(measured.weight, childSigops);

  // The parent's own fee, from its prevouts (the checker refuses a missing one as E_TRUC_PREVOUT).
  const parentIn = parent.tx.inputs.map((input, i) => {
    const txid = toHex(input.txid);
    const p = req.parentPrevouts.find((x) => x.txid === txid && x.vout === input.index);
    if (!p) throw new UsageError('E_TRUC_PREVOUT', `parent input ${i} spends ${txid}:${input.index}: give its amount and script (--prevout, a PSBT with witness_utxo, or --rpc-url to ask the node)`);
    return p;
  });
  const parentFee = parentIn.reduce((a, p) => a + p.amount, 0n) - outs.reduce((a, o) => a + o.amount, 0n);

  // The replaced child's fee sets a floor (Core's replacement rules 3 and 4).
  let replaces: BuiltChild['replaces'];
  if (req.replaces && 'fee' in req.replaces) replaces = { txid: req.replaces.txid, fee: req.replaces.fee };
  else if (req.replaces) {
    const old = checkTrucPackage(req.parent, req.replaces.raw, [...req.parentPrevouts, ...req.replaces.prevouts], { ...req.policy, maxFeeRate: 0, mempoolMinFeeRate: 0, minRelayFeeRate: 0 });
    replaces = { txid: old.child.txid, fee: old.child.fee };
  }
  const parentSigops = sigOpCost(parent.tx, (i) => parentIn[i]!.script);
  const parentVsize = sigopAdjustedVsize(parent.weight, parentSigops);
  const packageVsize = parentVsize + childVsize; // sigop-adjusted, as the checker and Core measure
  const target = feeFor(packageVsize, req.feeRate) - parentFee;
  // The child pays at least the relay floor on its own size: a parent that pays enough alone is taken
  // alone, and then the child is judged alone (the credit exit paid its own rate here, the statechain child 1 sat/vB).
  const relay = BigInt(Math.ceil((Math.max(req.policy.minRelayFeeRate, req.policy.mempoolMinFeeRate) * childVsize) / 1000));
  const incremental = req.incrementalRelayFeeRate ?? INCREMENTAL_RELAY_FEE_RATE;
  const floor = replaces ? replaces.fee + BigInt(Math.ceil((incremental * childVsize) / 1000)) : relay;
  // Package RBF over the parent's conflicts: Core's PaysForRBF (what they and their descendants pay, plus the incremental
  // fee on the package's size) and a feerate diagram that improves — the package's fee per (sigop-adjusted) weight above
  // each conflict's chunk's, in weight as cluster mempool compares them (per vB, rounded, 45.84 sat/vB beat 45.83 and
  // Core still found the diagram no better: 4,400 sat / 381 WU). Before, a child at --fee-rate: "insufficient anti-DoS fees".
  const packageWeight = Math.max(parent.weight, parentSigops * 20) + Math.max(measured.weight, childSigops * 20);
  const evicted = (req.conflicts ?? []).reduce((a, c) => a + c.descendantFee, 0n);
  const above = (fee: bigint, weight: number) => (fee * BigInt(packageWeight)) / BigInt(weight) + 1n;
  const rbf = (req.conflicts ?? []).reduce((need, c) => (above(c.chunkFee, c.chunkWeight) > need ? above(c.chunkFee, c.chunkWeight) : need),
    req.conflicts?.length ? evicted + BigInt(Math.ceil((incremental * packageVsize) / 1000)) : 0n) - parentFee;
  // Replacing an earlier child that the mempool mines in a chunk: beat that chunk's fee per weight (the package's, when
  // the chunk holds the parent; the child's own otherwise), or the diagram does not improve — a larger child at a lower
  // rate paid the earlier fee plus the incremental fee and was "replacement-failed, … does not improve feerate diagram".
  const chunk = req.replaces && 'chunk' in req.replaces ? req.replaces.chunk : undefined;
  const childWeight = Math.max(measured.weight, childSigops * 20);
  const diagram = !chunk ? 0n : chunk.withParent
    ? (chunk.fee * BigInt(packageWeight)) / BigInt(chunk.weight) + 1n - parentFee
    : (chunk.fee * BigInt(childWeight)) / BigInt(chunk.weight) + 1n;
  const childFee = [target, floor, rbf, diagram].reduce((a, b) => (b > a ? b : a));

  const largest = wallet.change.reduce((best, o, i) => (o.amount > wallet.change[best]!.amount ? i : best), 0);
  const others = wallet.change.reduce((a, o, i) => (i === largest ? a : a + o.amount), 0n);
  const moved = walletInputsAmount(wallet) + parentValue;
  const rest = moved - others - childFee;
  const change = wallet.change[largest]!;
  if (rest < dustThreshold(change.script) && req.own) {
    throw new RefusedError(req.own.shortCode, `at ${req.feeRate} sat/vB the child's ${childFee} sat fee leaves ${rest} sat of the ${moved} sat it spends (package ${packageVsize} vB)`);
  }
  if (rest < dustThreshold(change.script)) {
    throw new RefusedError('E_WALLET_PSBT_SHORT', `the wallet's coins in --wallet-psbt leave ${rest} sat of change after the child's ${childFee} sat fee (package ${packageVsize} vB at ${req.feeRate} sat/vB): fund it with at least ${dustThreshold(change.script) - rest} sat more`);
  }
  checkFee({ what: 'the package (parent + child)', feeSat: parentFee + childFee, vsize: packageVsize, amountSat: req.shareOfSat ?? moved, payerFeeSat: childFee }, req.feeLimits);
  tx.updateOutput(largest, { amount: rest });

  // The whole package through the checker, the child at its largest signed size.
  const standIn = assemble(tx, redeem, scriptPath);
  const childPrevouts: Prevout[] = wallet.inputs.map((i) => ({ txid: i.txid, vout: i.vout, amount: i.amount, script: i.script }));
  const policy = req.packageGuard ? req.policy : { ...req.policy, maxFeeRate: Math.round(req.feeLimits.maxFeeRate * 1000) };
  const verdict = v2 ? undefined : checkTrucPackage(req.parent, standIn, [...req.parentPrevouts, ...childPrevouts], policy);
  return { psbt: tx, txid: txidOnceSigned(tx), verdict, vsize: childVsize, childFee, ...(replaces ? { replaces } : {}) };
}

/**
 * The `package/child` message. `inputsOnTrust`: the parent's inputs (`txid:vout`) whose
 * amounts came from the caller's files, not a node — the parent's fee, and so the child's,
 * is only as true as they are; `walletOnTrust` the same for the wallet PSBT's coins (their
 * amounts set the child's change, so its fee). `parentPrevouts`: every input of the parent as it was taken
 * (`TXID:VOUT:AMOUNT:SCRIPT`, --prevout's form), so the next step — package submit, or a
 * package child --replaces given this message — has them where a node without -txindex
 * cannot show them; there they are a claim again, vouched for by the node as before.
 */
export function childMessage(built: BuiltChild, parentRaw: Uint8Array, feeRate: number, network: string, inputsOnTrust: string[] = [], parentPrevouts: readonly Prevout[] = [], walletOnTrust: string[] = []): Record<string, unknown> {
  const v = built.verdict;
  const parent = measureTx(parentRaw, 'the parent');
  const prevouts = parent.tx.inputs.flatMap((input) => {
    const p = parentPrevouts.find((x) => x.txid === toHex(input.txid) && x.vout === input.index);
    return p ? [`${p.txid}:${p.vout}:${p.amount}:${toHex(p.script)}`] : [];
  });
  return {
    type: 'package/child', version: 1, network,
    parent: { txid: v.parent.txid, wtxid: v.parent.wtxid, hex: toHex(parentRaw), vsize: v.parent.vsize, fee_sat: Number(v.parent.fee), inputs_on_trust: inputsOnTrust, prevouts },
    child: { txid: built.txid, vsize_max: v.child.vsize, fee_sat: Number(built.childFee), spends_parent_outputs: v.spent_parent_outputs, inputs_on_trust: walletOnTrust },
    package: { fee_sat: Number(v.package.fee), vsize_max: v.package.vsize, fee_rate: feeRate },
    ...(built.replaces ? { replaces: { txid: built.replaces.txid, fee_sat: Number(built.replaces.fee) } } : {}),
    psbt: base64.encode(built.psbt.toPSBT()),
    next: 'bitcoin-cli walletprocesspsbt <psbt>, then offchain package submit --parent <this message> --child <its answer>',
  };
}
