/**
 * The rule checker for a one-parent-one-child TRUC package (BIP-431 "Topologically
 * Restricted Until Confirmation", version-3 transactions, with BIP-433 pay-to-anchor
 * and Bitcoin Core's ephemeral dust), as Bitcoin Core's `submitpackage` judges it
 * (policy/truc_policy.cpp, policy/ephemeral_policy.cpp, policy/policy.cpp,
 * validation.cpp). Pure: bytes and numbers in, a verdict or one coded refusal out.
 *
 * Invariants (each refusal: RefusedError, exit 4, its code, and Core's reject reason —
 * the token that opens `tx-results[wtxid].error` / `package_msg` / `reject-reason`):
 *
 *   rule (code)                         what must hold                                    Core's reject reason
 *   E_TRUC_NOT_CHILD                    the child spends an output of the parent          package topology disallowed… (RPC error -25)
 *   E_TRUC_DUPLICATE_INPUT              no transaction spends one outpoint twice           bad-txns-inputs-duplicate
 *   E_TRUC_CONFLICT                     the child spends nothing the parent spends        conflict-in-package (package_msg)
 *   E_TRUC_VERSION                      parent and child are both version 3               (ours: Core accepts a v2 1p1c package)
 *   E_TRUC_INHERITANCE                  no v3 child of a non-v3 parent, nor the reverse   TRUC-violation
 *   E_TRUC_PARENT_TOO_BIG               parent ≤ 10,000 vB (sigop-adjusted)                TRUC-violation
 *   E_TRUC_CHILD_TOO_BIG                child ≤ 1,000 vB (sigop-adjusted)                  TRUC-violation
 *   E_TRUC_INPUTS_BELOW_OUTPUTS         each pays out no more than it spends               bad-txns-in-belowout
 *   E_TRUC_DUST                         at most one dust output per transaction            dust
 *   E_TRUC_DUST_FEE                     a transaction with a dust output pays zero fee     dust
 *   E_TRUC_EPHEMERAL_UNSPENT            the child spends the parent's dust output         missing-ephemeral-spends
 *   E_TRUC_ANCHOR_WITNESS               a P2A (OP_1 <4e73>) is spent with empty witness    bad-witness-nonstandard
 *   E_TRUC_FEE_TOO_LOW                  package fee ≥ mempoolminfee × package vsize       mempool min fee not met
 *                                       package fee ≥ minrelaytxfee × package vsize       min relay fee not met
 *   E_FEE_TOO_HIGH (the fee guard's)    each transaction's own feerate ≤ maxfeerate        max feerate exceeded
 *
 * Sizes are Core's sigop-adjusted virtual sizes (transaction.ts), exact for standard
 * scripts. Feerates are compared as Core does, in integers: fee × 1000 against
 * rate (sat/kvB) × vsize. The child's inputs other than the parent's outputs, and the
 * parent's inputs, are taken as confirmed — their values and scripts are given by the
 * caller; whether they exist unspent on chain is the node's to say (a child with a
 * second unconfirmed parent is refused by Core, not here). Nor does the checker know
 * the node's mempool: a conflicting TRUC sibling already there is evicted or not by
 * Core's rules (sibling eviction), which this module does not predict.
 */
import { RefusedError, UsageError } from '../errors.ts';
import { equalBytes, toHex } from '../bytes.ts';
import { MESSAGE_VERSION } from '../envelope.ts';
import { CORE_MAX_FEE_RATE } from '../tx/fee-guard.ts';
import { dustThreshold, isP2a, measureTx, sigOpCost, sigopAdjustedVsize, type MeasuredTx } from './transaction.ts';

/** Core's TRUC_MAX_VSIZE and TRUC_CHILD_MAX_VSIZE. */
export const TRUC_MAX_VSIZE = 10_000;
export const TRUC_CHILD_MAX_VSIZE = 1_000;
export const TRUC_VERSION = 3;

/** The node's numbers, in Core's units (sat per 1,000 vB). */
export type TrucPolicy = {
  /** -minrelaytxfee; Core ≥ 30: 100 (0.1 sat/vB). */
  minRelayFeeRate: number;
  /** getmempoolinfo's mempoolminfee when it is above minrelaytxfee (a full mempool); 0 otherwise. */
  mempoolMinFeeRate: number;
  /** submitpackage's maxfeerate; Core's default 0.10 BTC/kvB = 10,000,000. 0 disables it, as in Core. */
  maxFeeRate: number;
  /** -dustrelayfee; Core's default 3,000 (3 sat/vB). */
  dustRelayFeeRate: number;
};

export const CORE_POLICY: TrucPolicy = { minRelayFeeRate: 100, mempoolMinFeeRate: 0, maxFeeRate: CORE_MAX_FEE_RATE * 1000, dustRelayFeeRate: 3_000 };

/** A previous output the caller vouches for: an input of the parent, or a child's input that is not the parent's. */
export type Prevout = { txid: string; vout: number; amount: bigint; script: Uint8Array };

export type TrucRule =
  | 'E_TRUC_NOT_CHILD' | 'E_TRUC_VERSION' | 'E_TRUC_INHERITANCE' | 'E_TRUC_PARENT_TOO_BIG' | 'E_TRUC_CHILD_TOO_BIG'
  | 'E_TRUC_INPUTS_BELOW_OUTPUTS' | 'E_TRUC_DUST' | 'E_TRUC_DUST_FEE' | 'E_TRUC_EPHEMERAL_UNSPENT' | 'E_TRUC_ANCHOR_WITNESS'
  | 'E_TRUC_FEE_TOO_LOW' | 'E_FEE_TOO_HIGH' | 'E_TRUC_DUPLICATE_INPUT' | 'E_TRUC_CONFLICT';

/** Core's reject reason for each rule (undefined: a rule of ours that Core does not have). */
export const CORE_REJECT_REASON: Readonly<Record<TrucRule, string | undefined>> = {
  E_TRUC_NOT_CHILD: 'package topology disallowed. not child-with-parents or parents depend on each other.',
  E_TRUC_VERSION: undefined,
  E_TRUC_INHERITANCE: 'TRUC-violation',
  E_TRUC_PARENT_TOO_BIG: 'TRUC-violation',
  E_TRUC_CHILD_TOO_BIG: 'TRUC-violation',
  E_TRUC_INPUTS_BELOW_OUTPUTS: 'bad-txns-in-belowout',
  E_TRUC_DUST: 'dust',
  E_TRUC_DUST_FEE: 'dust',
  E_TRUC_EPHEMERAL_UNSPENT: 'missing-ephemeral-spends',
  E_TRUC_ANCHOR_WITNESS: 'bad-witness-nonstandard',
  E_TRUC_FEE_TOO_LOW: 'min relay fee not met',
  E_FEE_TOO_HIGH: 'max feerate exceeded',
  E_TRUC_DUPLICATE_INPUT: 'bad-txns-inputs-duplicate',
  E_TRUC_CONFLICT: 'conflict-in-package',
};

/**
 * A refusal: the rule, which transaction broke it, and what Core says — its reject
 * reason, and its whole error string (`reason, debug message`, ValidationState::ToString)
 * as Core prints it in `tx-results[wtxid].error` or `package_msg`.
 */
export class TrucRefusal extends RefusedError {
  readonly rule: TrucRule;
  readonly coreReason: string | undefined;
  readonly coreError: string | undefined;
  constructor(rule: TrucRule, tx: 'parent' | 'child' | 'package', message: string, coreDebug?: string, extra: Record<string, unknown> = {}, reason = CORE_REJECT_REASON[rule]) {
    const coreError = reason === undefined ? undefined : coreDebug === undefined ? reason : `${reason}, ${coreDebug}`;
    super(rule, `${tx}: ${message} (${coreError === undefined ? 'a rule of ours, not Core\'s' : `Bitcoin Core: "${coreError}"`})`, { rule, tx, core_reject_reason: reason ?? null, core_error: coreError ?? null, ...extra });
    this.rule = rule;
    this.coreReason = reason;
    this.coreError = coreError;
  }
}

export type TxVerdict = { txid: string; wtxid: string; version: number; vsize: number; sigop_cost: number; fee: bigint; dust_outputs: number[]; p2a_outputs: number[] };

export type PackageVerdict = {
  parent: TxVerdict;
  child: TxVerdict;
  /** Package fee and sigop-adjusted vsize (parent + child), and its feerate in sat/kvB, rounded down. */
  package: { fee: bigint; vsize: number; feerate_sat_per_kvb: bigint };
  /** The parent outputs the child spends. */
  spent_parent_outputs: number[];
};

const key = (txid: string, vout: number) => `${txid}:${vout}`;

/**
 * Check `parent` + `child` (raw transactions) as one 1p1c TRUC package. `prevouts` gives
 * every input of the parent and every child input that is not the parent's (amount and
 * script); a missing one is a usage error (E_TRUC_PREVOUT, exit 2): the fee and sigops
 * cannot be known without it.
 */
export function checkTrucPackage(parentRaw: Uint8Array, childRaw: Uint8Array, prevouts: readonly Prevout[], policy: TrucPolicy = CORE_POLICY): PackageVerdict {
  for (const [name, value] of Object.entries(policy)) {
    if (!Number.isSafeInteger(value) || value < 0) throw new UsageError('E_USAGE', `policy ${name} must be a whole number of sat/kvB, at least 0; got ${value}`);
  }
  const parent = measureTx(parentRaw, 'the parent');
  const child = measureTx(childRaw, 'the child');
  // Each outpoint described once, and the parent's outputs by the parent itself: a second,
  // different description would let the caller's word change a fee the bytes fix.
  const given = new Map<string, Prevout>();
  for (const p of prevouts) {
    const k = key(p.txid, p.vout);
    const actual = p.txid === parent.txid ? parent.tx.outputs[p.vout] : given.get(k);
    if (actual && (actual.amount !== p.amount || !equalBytes(actual.script, p.script))) {
      throw new UsageError('E_TRUC_PREVOUT_CONFLICT', `${k} is described twice, differently (${actual.amount} sat, ${p.amount} sat): check --prevout and the PSBTs' witness_utxo`);
    }
    given.set(k, p);
  }
  const prevoutOf = (m: MeasuredTx, name: 'parent' | 'child', i: number) => {
    const input = m.tx.inputs[i]!;
    const txid = toHex(input.txid);
    if (name === 'child' && txid === parent.txid) {
      const out = parent.tx.outputs[input.index];
      if (!out) throw new RefusedError('E_TRUC_NO_SUCH_OUTPUT', `child input ${i} spends output ${input.index} of the parent, which has ${parent.tx.outputs.length} (Bitcoin Core: bad-txns-inputs-missingorspent)`);
      return { amount: out.amount, script: out.script };
    }
    const p = given.get(key(txid, input.index));
    if (!p) throw new UsageError('E_TRUC_PREVOUT', `${name} input ${i} spends ${txid}:${input.index}: give its amount and script (--prevout, or a PSBT with witness_utxo)`);
    return p;
  };

  // Topology: the child must spend the parent (Core's IsChildWithParents; the RPC checks it first).
  const spent = child.tx.inputs.flatMap((input) => (toHex(input.txid) === parent.txid ? [input.index] : []));
  if (spent.length === 0) throw new TrucRefusal('E_TRUC_NOT_CHILD', 'package', `the child ${child.txid} spends no output of the parent ${parent.txid}`);

  // CheckTransaction: no outpoint twice in one transaction (its value would be counted twice).
  for (const [name, m] of [['parent', parent], ['child', child]] as const) {
    const seen = new Set<string>();
    m.tx.inputs.forEach((input, i) => {
      const k = key(toHex(input.txid), input.index);
      if (seen.has(k)) throw new TrucRefusal('E_TRUC_DUPLICATE_INPUT', name, `input ${i} spends ${k} a second time`, undefined, { txid: m.txid, wtxid: m.wtxid });
      seen.add(k);
    });
  }
  // IsConsistentPackage: the child does not spend what the parent spends.
  const parentSpends = new Set(parent.tx.inputs.map((input) => key(toHex(input.txid), input.index)));
  child.tx.inputs.forEach((input, i) => {
    const k = key(toHex(input.txid), input.index);
    if (parentSpends.has(k)) throw new TrucRefusal('E_TRUC_CONFLICT', 'package', `child input ${i} spends ${k}, which the parent spends too`);
  });

  const parentPrev = parent.tx.inputs.map((_, i) => prevoutOf(parent, 'parent', i));
  const childPrev = child.tx.inputs.map((_, i) => prevoutOf(child, 'child', i));
  const verdictOf = (m: MeasuredTx, prev: { amount: bigint; script: Uint8Array }[]): TxVerdict => {
    const sigops = sigOpCost(m.tx, (i) => prev[i]!.script);
    const fee = prev.reduce((a, p) => a + p.amount, 0n) - m.tx.outputs.reduce((a, o) => a + o.amount, 0n);
    return {
      txid: m.txid, wtxid: m.wtxid, version: m.tx.version, vsize: sigopAdjustedVsize(m.weight, sigops), sigop_cost: sigops, fee,
      dust_outputs: m.tx.outputs.flatMap((o, i) => (o.amount < dustThreshold(o.script, policy.dustRelayFeeRate) ? [i] : [])),
      p2a_outputs: m.tx.outputs.flatMap((o, i) => (isP2a(o.script) ? [i] : [])),
    };
  };
  const p = verdictOf(parent, parentPrev);
  const c = verdictOf(child, childPrev);
  const ids = (v: TxVerdict) => ({ txid: v.txid, wtxid: v.wtxid });
  const named = (v: TxVerdict) => `tx ${v.txid} (wtxid=${v.wtxid})`;

  // Version: both TRUC (ours), and Core's inheritance both ways (SingleTRUCChecks / PackageTRUCChecks).
  if (p.version === TRUC_VERSION && c.version !== TRUC_VERSION) {
    throw new TrucRefusal('E_TRUC_INHERITANCE', 'child', `a version-${c.version} child cannot spend a version-3 parent`, `non-version=3 ${named(c)} cannot spend from version=3 ${named(p)}`, ids(c));
  }
  if (p.version !== TRUC_VERSION && c.version === TRUC_VERSION) {
    throw new TrucRefusal('E_TRUC_INHERITANCE', 'child', `a version-3 child cannot spend a version-${p.version} parent`, `version=3 ${named(c)} cannot spend from non-version=3 ${named(p)}`, ids(c));
  }
  if (p.version !== TRUC_VERSION) throw new TrucRefusal('E_TRUC_VERSION', 'package', `parent and child are version ${p.version} and ${c.version}, not 3 (TRUC): nothing limits their topology, so the package can be pinned`);

  // Sizes (Core's sigop-adjusted vsize).
  if (p.vsize > TRUC_MAX_VSIZE) {
    throw new TrucRefusal('E_TRUC_PARENT_TOO_BIG', 'parent', `${p.vsize} vB (sigop cost ${p.sigop_cost}) is over ${TRUC_MAX_VSIZE}`, `version=3 ${named(p)} is too big: ${p.vsize} > ${TRUC_MAX_VSIZE} virtual bytes`, ids(p));
  }
  if (c.vsize > TRUC_CHILD_MAX_VSIZE) {
    throw new TrucRefusal('E_TRUC_CHILD_TOO_BIG', 'child', `${c.vsize} vB (sigop cost ${c.sigop_cost}) is over ${TRUC_CHILD_MAX_VSIZE}`, `version=3 child ${named(c)} is too big: ${c.vsize} > ${TRUC_CHILD_MAX_VSIZE} virtual bytes`, ids(c));
  }

  for (const [name, v, m, prev] of [['parent', p, parent, parentPrev], ['child', c, child, childPrev]] as const) {
    if (v.fee < 0n) {
      const valueIn = prev.reduce((a, x) => a + x.amount, 0n);
      throw new TrucRefusal('E_TRUC_INPUTS_BELOW_OUTPUTS', name, `pays out ${-v.fee} sat more than it spends`, `value in (${formatMoney(valueIn)}) < value out (${formatMoney(valueIn - v.fee)})`, ids(v));
    }
    // IsStandardTx: at most one dust output (MAX_DUST_OUTPUTS_PER_TX).
    if (v.dust_outputs.length > 1) throw new TrucRefusal('E_TRUC_DUST', name, `${v.dust_outputs.length} dust outputs (${v.dust_outputs.join(', ')}); at most one, and only in a zero-fee transaction`, undefined, ids(v));
    // PreCheckEphemeralTx: dust only in a zero-fee transaction.
    if (v.dust_outputs.length === 1 && v.fee !== 0n) {
      throw new TrucRefusal('E_TRUC_DUST_FEE', name, `pays ${v.fee} sat and has a dust output (${v.dust_outputs[0]}): dust only in a zero-fee transaction`, 'tx with dust output must be 0-fee', ids(v));
    }
    // IsWitnessStandard: a P2A is spent with an empty witness.
    prev.forEach((pv, i) => {
      const items = m.tx.witnesses?.[i]?.length ?? 0;
      if (isP2a(pv.script) && items > 0) {
        throw new TrucRefusal('E_TRUC_ANCHOR_WITNESS', name, `input ${i} spends a pay-to-anchor output with a ${items}-item witness; it must be empty`, undefined, ids(v));
      }
    });
  }

  // CheckEphemeralSpends: the child spends the parent's dust.
  const unspentDust = p.dust_outputs.filter((vout) => !spent.includes(vout));
  if (unspentDust.length > 0) {
    throw new TrucRefusal('E_TRUC_EPHEMERAL_UNSPENT', 'child', `does not spend the parent's dust output ${unspentDust[0]}`, `${named(c)} did not spend parent's ephemeral dust`, ids(c));
  }

  // maxfeerate: each transaction's own (modified) feerate.
  for (const [name, v] of [['parent', p], ['child', c]] as const) {
    if (policy.maxFeeRate > 0 && v.fee * 1000n > BigInt(policy.maxFeeRate) * BigInt(v.vsize)) {
      throw new TrucRefusal('E_FEE_TOO_HIGH', name, `pays ${v.fee} sat for ${v.vsize} vB, above maxfeerate ${policy.maxFeeRate} sat/kvB`, undefined, ids(v));
    }
  }

  // The package feerate against the node's floor (CheckFeeRate on the package: mempool first, then relay).
  const fee = p.fee + c.fee;
  const vsize = p.vsize + c.vsize;
  for (const [rate, reason] of [[policy.mempoolMinFeeRate, 'mempool min fee not met'], [policy.minRelayFeeRate, 'min relay fee not met']] as const) {
    const needed = ceilDiv(BigInt(rate) * BigInt(vsize), 1000n);
    if (rate > 0 && fee < needed) {
      throw new TrucRefusal('E_TRUC_FEE_TOO_LOW', 'package', `pays ${fee} sat for ${vsize} vB, below ${rate} sat/kvB (needs ${needed} sat)`, `${fee} < ${needed}`, { fee: Number(fee), needed: Number(needed) }, reason);
    }
  }
  return { parent: p, child: c, package: { fee, vsize, feerate_sat_per_kvb: (fee * 1000n) / BigInt(vsize) }, spent_parent_outputs: spent };
}

/** Core's FormatMoney: BTC with trailing zeros trimmed to at least two decimals. */
export function formatMoney(sat: bigint): string {
  const neg = sat < 0n;
  const abs = neg ? -sat : sat;
  let frac = (abs % 100_000_000n).toString().padStart(8, '0');
  while (frac.length > 2 && frac.endsWith('0')) frac = frac.slice(0, -1);
  return `${neg ? '-' : ''}${abs / 100_000_000n}.${frac}`;
}

function ceilDiv(a: bigint, b: bigint): bigint {
  return (a + b - 1n) / b;
}

/** The `package/checked` message of a verdict (amounts as JSON integers). */
export function checkedMessage(v: PackageVerdict, policy: TrucPolicy, network: string): Record<string, unknown> {
  const tx = (t: TxVerdict) => ({
    txid: t.txid, wtxid: t.wtxid, version: t.version, vsize: t.vsize, sigop_cost: t.sigop_cost, fee_sat: Number(t.fee), dust_outputs: t.dust_outputs, p2a_outputs: t.p2a_outputs,
  });
  return {
    type: 'package/checked', version: MESSAGE_VERSION, network,
    parent: tx(v.parent), child: tx(v.child),
    package: { fee_sat: Number(v.package.fee), vsize: v.package.vsize, feerate_sat_per_kvb: Number(v.package.feerate_sat_per_kvb) },
    spent_parent_outputs: v.spent_parent_outputs,
    policy: { min_relay_fee_rate: policy.minRelayFeeRate, mempool_min_fee_rate: policy.mempoolMinFeeRate, max_fee_rate: policy.maxFeeRate, dust_relay_fee_rate: policy.dustRelayFeeRate },
  };
}
