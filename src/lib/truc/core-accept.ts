/**
 * Bitcoin Core's `submitpackage` on a one-parent-one-child package, step by step in the
 * order validation.cpp takes them (Core v30.99, commit 6356041e58d1: the RPC, then
 * AcceptPackage → AcceptSubPackage → AcceptSingleTransactionInternal or
 * AcceptMultipleTransactionsInternal, each through PreChecks), for a node whose mempool
 * holds neither transaction nor anything either conflicts with, and whose UTXO set holds
 * every input that is not an output of the parent. Pure: facts in, Core's answer out.
 *
 *   step                                     Core                                              answer when it fails
 *   1 RPC IsChildWithParentsTree             the child spends the parent                       RPC error -25 (topology)
 *   2 IsWellFormedPackage                    no outpoint spent by both                         package_msg conflict-in-package, no tx results
 *   3 the parent ALONE                       PreChecks at its own feerate, maxfeerate,         accepted: 4 · fee-only failure: 5 ·
 *                                            ephemeral spends                                  anything else: "transaction failed" (quit)
 *   4 the child ALONE, parent in mempool     the same, with its parent's TRUC rules and dust   "transaction failed", the child's error
 *   5 the child alone, parent not in         missing inputs (→ 6), or an earlier failure       "transaction failed" (quit)
 *   6 both as a package                      PreChecks without feerates + maxfeerate, each;   "transaction failed" · "TRUC-violation, …" ·
 *                                            PackageTRUCChecks; the package feerate;           "transaction failed" · "unspent-dust"
 *                                            ephemeral spends
 *
 * A transaction whose answer comes from an earlier step keeps it (AcceptPackage's
 * individual_results_nonfinal): a parent refused alone for its fee and then refused in a
 * package for the child's sake is reported with its own "min relay fee not met".
 *
 * Invariants:
 * - a parent that pays the floor on its own enters ALONE, and its child is then judged
 *   ALONE: it pays ⌈floor × its own vsize⌉, whatever the package's rate (issue 37 finding 4);
 * - only a version-3 transaction may be below the relay floor alone (a non-TRUC one fails
 *   for good, TX_MEMPOOL_POLICY, and its child is never judged with it);
 * - every fee floor and dust threshold rounds up (CFeeRate::GetFee), every feerate ceiling
 *   compares exactly (fee × 1000 against rate × vsize).
 *
 * Not modelled — the node's to say: script validity, output-script standardness (Solver),
 * scriptSig size and push-only, P2WSH/tapscript witness limits, non-final locktimes and
 * BIP-68 sequence locks, coinbase maturity, amounts over 21 million BTC, the mempool's own
 * contents (conflicts, RBF, an existing child of the parent: sibling eviction, cluster limits).
 */
import { toHex } from '../bytes.ts';
import { isP2a, type MeasuredTx } from './transaction.ts';

/** A previous output: its value and script. */
export type Coin = { amount: bigint; script: Uint8Array };

/** The rules, each with its code (the TrucRule of check.ts). */
export type CoreRule =
  | 'E_TRUC_NOT_CHILD' | 'E_TRUC_VERSION' | 'E_TRUC_INHERITANCE' | 'E_TRUC_PARENT_TOO_BIG' | 'E_TRUC_CHILD_TOO_BIG'
  | 'E_TRUC_INPUTS_BELOW_OUTPUTS' | 'E_TRUC_DUST' | 'E_TRUC_DUST_FEE' | 'E_TRUC_EPHEMERAL_UNSPENT' | 'E_TRUC_ANCHOR_WITNESS'
  | 'E_TRUC_FEE_TOO_LOW' | 'E_FEE_TOO_HIGH' | 'E_TRUC_DUPLICATE_INPUT' | 'E_TRUC_CONFLICT' | 'E_TRUC_NO_SUCH_OUTPUT' | 'E_TRUC_TOO_SMALL';

/** TxValidationResult, as far as AcceptPackage reads it: only a fee failure or missing inputs let a package be tried. */
type Kind = 'consensus' | 'standard' | 'missing-inputs' | 'reconsiderable' | 'policy' | 'witness';

/** One failure: the rule, whom Core blames, Core's reason and debug message, and ours in words. */
export type CoreFailure = { rule: CoreRule; tx: 'parent' | 'child' | 'package'; kind: Kind; reason: string; debug?: string; message: string; extra?: Record<string, unknown> };

/** ValidationState::ToString: "reason, debug" (the reason alone when there is no debug message). */
export const coreString = (f: Pick<CoreFailure, 'reason' | 'debug'>): string => (f.debug === undefined ? f.reason : `${f.reason}, ${f.debug}`);

/**
 * What submitpackage answers: the RPC error that refuses the whole call, or its package_msg
 * and each transaction's result — "accepted", or its `tx-results[wtxid].error` string.
 */
export type CoreAnswer = { rpc_error: string } | { package_msg: string; parent: string; child: string };

/** One transaction with everything PreChecks reads. */
export type TxFacts = {
  name: 'parent' | 'child';
  m: MeasuredTx;
  /** Each input's previous output; undefined: an output of the parent that does not exist. */
  prev: (Coin | undefined)[];
  /** Inputs spending an output of the parent (the child's). */
  fromParent: boolean[];
  /** Sigop-adjusted vsize and sigop cost (valid once every input exists). */
  vsize: number;
  sigops: number;
  valueIn: bigint;
  valueOut: bigint;
  fee: bigint;
  dust: number[];
};

/** Core's node numbers, sat per 1,000 vB. */
export type CorePolicy = { minRelayFeeRate: number; mempoolMinFeeRate: number; maxFeeRate: number; dustRelayFeeRate: number };

export type CoreEvaluation = {
  answer: CoreAnswer;
  /** The failure that decides the answer (the first in Core's order that a package cannot cure); none when both are accepted. */
  decisive?: CoreFailure;
  /** Whether Core takes the parent on its own (step 3). */
  parentAlone: boolean;
};

const TRUC = 3;
const TRUC_MAX_VSIZE = 10_000;
const TRUC_CHILD_MAX_VSIZE = 1_000;
const MAX_STANDARD_TX_WEIGHT = 400_000;
const MIN_STANDARD_TX_NONWITNESS_SIZE = 65;
const MAX_STANDARD_TX_SIGOPS_COST = 16_000;

export const TOPOLOGY_ERROR = 'package topology disallowed. not child-with-parents or parents depend on each other.';

/** CFeeRate(rate).GetFee(vsize): rounded up; 0 at rate 0. */
export function feeAt(rateKvb: number, vsize: number): bigint {
  return (BigInt(rateKvb) * BigInt(vsize) + 999n) / 1000n;
}

const named = (f: TxFacts) => `tx ${f.m.txid} (wtxid=${f.m.wtxid})`;
const ids = (f: TxFacts) => ({ txid: f.m.txid, wtxid: f.m.wtxid });

type Context = {
  /** Package evaluation (m_package_feerates): the feerate floor is the package's, checked later. */
  packageFeerates: boolean;
  /** The parent's outputs exist for the child (the parent in the mempool, or in the package). */
  parentHere: boolean;
  /** The parent, when it is in the mempool (the child judged alone after the parent entered alone). */
  mempoolParent?: TxFacts;
};

/** MemPoolAccept::PreChecks, the steps a 1p1c package can fail, in Core's order. */
function preChecks(f: TxFacts, ctx: Context, policy: CorePolicy): CoreFailure | undefined {
  const fail = (rule: CoreRule, kind: Kind, reason: string, message: string, debug?: string, extra: Record<string, unknown> = {}): CoreFailure =>
    ({ rule, tx: f.name, kind, reason, ...(debug === undefined ? {} : { debug }), message, extra: { ...ids(f), ...extra } });
  const tooBig: CoreRule = f.name === 'parent' ? 'E_TRUC_PARENT_TOO_BIG' : 'E_TRUC_CHILD_TOO_BIG';
  const { tx } = f.m;

  // CheckTransaction: no outpoint twice (its value would be counted twice).
  const seen = new Set<string>();
  for (const [i, input] of tx.inputs.entries()) {
    const k = `${toHex(input.txid)}:${input.index}`;
    if (seen.has(k)) return fail('E_TRUC_DUPLICATE_INPUT', 'consensus', 'bad-txns-inputs-duplicate', `input ${i} spends ${k} a second time`);
    seen.add(k);
  }
  // IsStandardTx: version, weight, at most one dust output.
  if (tx.version < 1 || tx.version > TRUC) return fail('E_TRUC_VERSION', 'standard', 'version', `version ${tx.version} is not standard (Core relays 1 to 3)`);
  if (f.m.weight > MAX_STANDARD_TX_WEIGHT) return fail(tooBig, 'standard', 'tx-size', `weight ${f.m.weight} is over ${MAX_STANDARD_TX_WEIGHT}`);
  if (f.dust.length > 1) return fail('E_TRUC_DUST', 'standard', 'dust', `${f.dust.length} dust outputs (${f.dust.join(', ')}); at most one, and only in a zero-fee transaction`);
  // CVE-2017-12842: nothing under 65 bytes without witnesses.
  if (f.m.baseSize < MIN_STANDARD_TX_NONWITNESS_SIZE) {
    return fail('E_TRUC_TOO_SMALL', 'standard', 'tx-size-small', `${f.m.baseSize} bytes without its witnesses, under ${MIN_STANDARD_TX_NONWITNESS_SIZE} (Core relays nothing smaller: CVE-2017-12842)`);
  }
  // Every input exists (in the UTXO set, the mempool, or the package).
  for (const [i, input] of tx.inputs.entries()) {
    if (f.prev[i] === undefined) return fail('E_TRUC_NO_SUCH_OUTPUT', 'missing-inputs', 'bad-txns-inputs-missingorspent', `input ${i} spends output ${input.index} of the parent, which does not have it`);
    if (f.fromParent[i] && !ctx.parentHere) return fail('E_TRUC_NO_SUCH_OUTPUT', 'missing-inputs', 'bad-txns-inputs-missingorspent', `input ${i} spends the parent, which is neither in the mempool nor in the package`);
  }
  // CheckTxInputs.
  if (f.fee < 0n) {
    return fail('E_TRUC_INPUTS_BELOW_OUTPUTS', 'consensus', 'bad-txns-in-belowout', `pays out ${-f.fee} sat more than it spends`, `value in (${formatMoney(f.valueIn)}) < value out (${formatMoney(f.valueOut)})`);
  }
  // IsWitnessStandard: a pay-to-anchor is spent with an empty witness.
  for (const [i, p] of f.prev.entries()) {
    const items = tx.witnesses?.[i]?.length ?? 0;
    if (items > 0 && isP2a(p!.script)) return fail('E_TRUC_ANCHOR_WITNESS', 'witness', 'bad-witness-nonstandard', `input ${i} spends a pay-to-anchor output with a ${items}-item witness; it must be empty`);
  }
  // PreCheckEphemeralTx: dust only in a zero-fee transaction.
  if (f.dust.length > 0 && f.fee !== 0n) {
    return fail('E_TRUC_DUST_FEE', 'standard', 'dust', `pays ${f.fee} sat and has a dust output (${f.dust[0]}): dust only in a zero-fee transaction`, 'tx with dust output must be 0-fee');
  }
  if (f.sigops > MAX_STANDARD_TX_SIGOPS_COST) return fail(tooBig, 'standard', 'bad-txns-too-many-sigops', `sigop cost ${f.sigops} is over ${MAX_STANDARD_TX_SIGOPS_COST}`, `${f.sigops}`);
  // Only a TRUC transaction may be below the relay floor on its own (and then only in a package).
  const relay = feeAt(policy.minRelayFeeRate, f.vsize);
  if (tx.version !== TRUC && f.fee < relay) {
    return fail('E_TRUC_FEE_TOO_LOW', 'policy', 'min relay fee not met',
      `a version-${tx.version} transaction pays ${f.fee} sat for ${f.vsize} vB, below ${policy.minRelayFeeRate} sat/kvB (needs ${relay} sat): only a version-3 transaction may pay less than the relay floor alone and be bumped by its child`,
      `${f.fee} < ${relay}`, { fee: Number(f.fee), needed: Number(relay) });
  }
  // CheckFeeRate at its own feerate, unless judged as a package.
  if (!ctx.packageFeerates) {
    const low = feeFloor(f.fee, f.vsize, policy);
    if (low) {
      const why = ctx.mempoolParent ? `: its parent pays its own way (${ctx.mempoolParent.fee} sat for ${ctx.mempoolParent.vsize} vB), so Core takes the parent alone and then judges the child alone` : '';
      return fail('E_TRUC_FEE_TOO_LOW', 'reconsiderable', low.reason, `pays ${f.fee} sat for ${f.vsize} vB, below ${low.rate} sat/kvB (needs ${low.needed} sat)${why}`, `${f.fee} < ${low.needed}`, { fee: Number(f.fee), needed: Number(low.needed) });
    }
  }
  // SingleTRUCChecks, with the parent when it is in the mempool.
  const p = ctx.mempoolParent;
  if (p && tx.version !== TRUC && p.m.tx.version === TRUC) {
    return fail('E_TRUC_INHERITANCE', 'policy', 'TRUC-violation', `a version-${tx.version} child cannot spend a version-3 parent`, `non-version=3 ${named(f)} cannot spend from version=3 ${named(p)}`);
  }
  if (p && tx.version === TRUC && p.m.tx.version !== TRUC) {
    return fail('E_TRUC_INHERITANCE', 'policy', 'TRUC-violation', `a version-3 child cannot spend a version-${p.m.tx.version} parent`, `version=3 ${named(f)} cannot spend from non-version=3 ${named(p)}`);
  }
  if (tx.version !== TRUC) return undefined;
  if (f.vsize > TRUC_MAX_VSIZE) return fail(tooBig, 'policy', 'TRUC-violation', `${f.vsize} vB (sigop cost ${f.sigops}) is over ${TRUC_MAX_VSIZE}`, `version=3 ${named(f)} is too big: ${f.vsize} > ${TRUC_MAX_VSIZE} virtual bytes`);
  if (p && f.vsize > TRUC_CHILD_MAX_VSIZE) return childTooBig(f);
  return undefined;
}

function childTooBig(f: TxFacts): CoreFailure {
  return {
    rule: 'E_TRUC_CHILD_TOO_BIG', tx: 'child', kind: 'policy', reason: 'TRUC-violation', extra: ids(f),
    message: `${f.vsize} vB (sigop cost ${f.sigops}) is over ${TRUC_CHILD_MAX_VSIZE}`,
    debug: `version=3 child ${named(f)} is too big: ${f.vsize} > ${TRUC_CHILD_MAX_VSIZE} virtual bytes`,
  };
}

/** CheckFeeRate: the mempool's floor first (when it has one), then the relay floor. */
function feeFloor(fee: bigint, vsize: number, policy: CorePolicy): { reason: string; rate: number; needed: bigint } | undefined {
  const mempool = feeAt(policy.mempoolMinFeeRate, vsize);
  if (mempool > 0n && fee < mempool) return { reason: 'mempool min fee not met', rate: policy.mempoolMinFeeRate, needed: mempool };
  const relay = feeAt(policy.minRelayFeeRate, vsize);
  if (fee < relay) return { reason: 'min relay fee not met', rate: policy.minRelayFeeRate, needed: relay };
  return undefined;
}

/** The client's maxfeerate (submitpackage's), on one transaction's own feerate. */
function maxFeeRate(f: TxFacts, policy: CorePolicy): CoreFailure | undefined {
  if (policy.maxFeeRate > 0 && f.fee * 1000n > BigInt(policy.maxFeeRate) * BigInt(f.vsize)) {
    return { rule: 'E_FEE_TOO_HIGH', tx: f.name, kind: 'policy', reason: 'max feerate exceeded', message: `pays ${f.fee} sat for ${f.vsize} vB, above maxfeerate ${policy.maxFeeRate} sat/kvB`, extra: ids(f) };
  }
  return undefined;
}

/** CheckEphemeralSpends for the child: every dust output of its parent is spent by it. */
function ephemeralSpends(parent: TxFacts, child: TxFacts): CoreFailure | undefined {
  const spent = new Set(child.m.tx.inputs.flatMap((input, i) => (child.fromParent[i] ? [input.index] : [])));
  const unspent = parent.dust.filter((vout) => !spent.has(vout));
  if (unspent.length === 0) return undefined;
  return {
    rule: 'E_TRUC_EPHEMERAL_UNSPENT', tx: 'child', kind: 'policy', reason: 'missing-ephemeral-spends', extra: ids(child),
    message: `does not spend the parent's dust output ${unspent[0]}`, debug: `${named(child)} did not spend parent's ephemeral dust`,
  };
}

/** AcceptSingleTransactionInternal (one transaction of a package tried on its own). */
function acceptAlone(f: TxFacts, ctx: Omit<Context, 'packageFeerates'>, policy: CorePolicy): CoreFailure | undefined {
  const pre = preChecks(f, { ...ctx, packageFeerates: false }, policy);
  if (pre) return pre;
  const max = maxFeeRate(f, policy);
  if (max) return max;
  return ctx.mempoolParent ? ephemeralSpends(ctx.mempoolParent, f) : undefined;
}

/**
 * AcceptMultipleTransactionsInternal on [parent, child] with package feerates: the failure,
 * package_msg, and which transaction's result it is reported as (none: both keep their
 * results alone — a TRUC violation aborts with no results).
 */
type PackageFailure = { failure: CoreFailure; packageMsg: string; reportedOn: 'parent' | 'child' | 'none' };
function acceptBoth(parent: TxFacts, child: TxFacts, policy: CorePolicy): PackageFailure | undefined {
  for (const f of [parent, child]) {
    const failure = preChecks(f, { packageFeerates: true, parentHere: true }, policy) ?? maxFeeRate(f, policy);
    if (failure) return { failure, packageMsg: 'transaction failed', reportedOn: f.name };
  }
  // PackageTRUCChecks: the parent has no parent in the package; the child's parent is.
  const truc = packageTruc(parent, child);
  if (truc) return { failure: truc, packageMsg: coreString(truc), reportedOn: 'none' };
  const fee = parent.fee + child.fee;
  const vsize = parent.vsize + child.vsize;
  const low = feeFloor(fee, vsize, policy);
  if (low) {
    return {
      packageMsg: 'transaction failed', reportedOn: 'child', // FeeFailure on the last transaction
      failure: {
        rule: 'E_TRUC_FEE_TOO_LOW', tx: 'package', kind: 'reconsiderable', reason: low.reason, debug: `${fee} < ${low.needed}`,
        message: `pays ${fee} sat for ${vsize} vB, below ${low.rate} sat/kvB (needs ${low.needed} sat)`, extra: { fee: Number(fee), needed: Number(low.needed) },
      },
    };
  }
  const dust = ephemeralSpends(parent, child);
  if (dust) return { failure: dust, packageMsg: 'unspent-dust', reportedOn: 'child' };
  return undefined;
}

function packageTruc(parent: TxFacts, child: TxFacts): CoreFailure | undefined {
  const pv = parent.m.tx.version, cv = child.m.tx.version;
  if (cv === TRUC) {
    if (child.vsize > TRUC_CHILD_MAX_VSIZE) return childTooBig(child);
    if (pv !== TRUC) {
      return { rule: 'E_TRUC_INHERITANCE', tx: 'child', kind: 'policy', reason: 'TRUC-violation', extra: ids(child), message: `a version-3 child cannot spend a version-${pv} parent`, debug: `version=3 ${named(child)} cannot spend from non-version=3 ${named(parent)}` };
    }
  } else if (pv === TRUC) {
    return { rule: 'E_TRUC_INHERITANCE', tx: 'child', kind: 'policy', reason: 'TRUC-violation', extra: ids(child), message: `a version-${cv} child cannot spend a version-3 parent`, debug: `non-version=3 ${named(child)} cannot spend from version=3 ${named(parent)}` };
  }
  return undefined;
}

/** Steps 1 and 2, before any input is looked up: the child spends the parent, and nothing the parent spends. */
export function packageShape(parent: MeasuredTx, child: MeasuredTx): CoreFailure | undefined {
  if (!child.tx.inputs.some((input) => toHex(input.txid) === parent.txid)) {
    return { rule: 'E_TRUC_NOT_CHILD', tx: 'package', kind: 'policy', reason: TOPOLOGY_ERROR, message: `the child ${child.txid} spends no output of the parent ${parent.txid}` };
  }
  const parentSpends = new Set(parent.tx.inputs.map((input) => `${toHex(input.txid)}:${input.index}`));
  for (const [i, input] of child.tx.inputs.entries()) {
    const k = `${toHex(input.txid)}:${input.index}`;
    if (parentSpends.has(k)) return { rule: 'E_TRUC_CONFLICT', tx: 'package', kind: 'policy', reason: 'conflict-in-package', message: `child input ${i} spends ${k}, which the parent spends too` };
  }
  return undefined;
}

/** The answer of steps 1 and 2 when they fail. */
export function shapeAnswer(f: CoreFailure): CoreAnswer {
  return f.rule === 'E_TRUC_NOT_CHILD' ? { rpc_error: f.reason } : { package_msg: coreString(f), parent: 'package-not-validated', child: 'package-not-validated' };
}

/** Steps 3 to 6 (AcceptPackage), on a package whose shape passed. */
export function acceptPackage(parent: TxFacts, child: TxFacts, policy: CorePolicy): CoreEvaluation {
  const failed = (packageMsg: string, parentResult: string, childResult: string, decisive: CoreFailure, parentAlone = false): CoreEvaluation =>
    ({ answer: { package_msg: packageMsg, parent: parentResult, child: childResult }, decisive, parentAlone });
  const reconsiderable = (f: CoreFailure) => f.kind === 'reconsiderable' || f.kind === 'missing-inputs';

  const parentAlone = acceptAlone(parent, { parentHere: false }, policy);
  if (!parentAlone) {
    // The parent is in the mempool; the child is tried alone (and, failing for its fee, alone again).
    const c = acceptAlone(child, { parentHere: true, mempoolParent: parent }, policy);
    if (!c) return { answer: { package_msg: 'success', parent: 'accepted', child: 'accepted' }, parentAlone: true };
    return failed('transaction failed', 'accepted', coreString(c), c, true);
  }
  const childAlone = acceptAlone(child, { parentHere: false }, policy)!; // it spends the parent: at the latest, missing inputs
  if (!reconsiderable(parentAlone)) return failed('transaction failed', coreString(parentAlone), coreString(childAlone), parentAlone);
  if (!reconsiderable(childAlone)) return failed('transaction failed', coreString(parentAlone), coreString(childAlone), childAlone);
  const both = acceptBoth(parent, child, policy);
  if (!both) return { answer: { package_msg: 'success', parent: 'accepted', child: 'accepted' }, parentAlone: false };
  // The transaction the package evaluation reports on takes that result; the other keeps its result alone.
  const { failure, packageMsg, reportedOn } = both;
  return failed(packageMsg, reportedOn === 'parent' ? coreString(failure) : coreString(parentAlone), reportedOn === 'child' ? coreString(failure) : coreString(childAlone), failure);
}

/** Core's FormatMoney: BTC with trailing zeros trimmed to at least two decimals. */
export function formatMoney(sat: bigint): string {
  const neg = sat < 0n;
  const abs = neg ? -sat : sat;
  let frac = (abs % 100_000_000n).toString().padStart(8, '0');
  while (frac.length > 2 && frac.endsWith('0')) frac = frac.slice(0, -1);
  return `${neg ? '-' : ''}${abs / 100_000_000n}.${frac}`;
}
