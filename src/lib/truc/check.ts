/**
 * The rule checker for a one-parent-one-child TRUC package (BIP-431 "Topologically
 * Restricted Until Confirmation", version-3 transactions, with BIP-433 pay-to-anchor
 * and Bitcoin Core's ephemeral dust): Bitcoin Core's verdict on `submitpackage`, with
 * Core's strings (core-accept.ts walks AcceptPackage step by step: each transaction
 * alone first, then the package for what failed alone only for its fee), then our own
 * rule (both version 3). Pure: bytes and numbers in, a verdict or one coded refusal out.
 *
 * Invariants (each refusal: RefusedError, exit 4, its code, Core's reject reason and whole
 * error string, and Core's whole answer in `detail.core`):
 *
 *   rule (code)                         what must hold                                    Core's reject reason
 *   E_TRUC_NOT_CHILD                    the child spends an output of the parent          package topology disallowed… (RPC error -25)
 *   E_TRUC_CONFLICT                     the child spends nothing the parent spends        conflict-in-package (package_msg)
 *   E_TRUC_DUPLICATE_INPUT              no transaction spends one outpoint twice           bad-txns-inputs-duplicate
 *   E_TRUC_VERSION                      version 1 to 3 (Core), both 3 (ours: a v2         version; (ours)
 *                                       package can be pinned)
 *   E_TRUC_DUST                         at most one dust output per transaction            dust
 *   E_TRUC_TOO_SMALL                    65 bytes or more without witnesses                 tx-size-small
 *   E_TRUC_NO_SUCH_OUTPUT               the child's parent outputs exist                   bad-txns-inputs-missingorspent
 *   E_TRUC_INPUTS_BELOW_OUTPUTS         each pays out no more than it spends               bad-txns-in-belowout
 *   E_TRUC_ANCHOR_WITNESS               a P2A (OP_1 <4e73>) is spent with empty witness    bad-witness-nonstandard
 *   E_TRUC_DUST_FEE                     a transaction with a dust output pays zero fee     dust
 *   E_TRUC_FEE_TOO_LOW                  a non-TRUC parent pays the relay floor alone;      min relay fee not met /
 *                                       a parent paying it alone enters alone, and its     mempool min fee not met
 *                                       child then pays ⌈floor × its own vsize⌉; else the
 *                                       package pays ⌈floor × package vsize⌉
 *   E_TRUC_INHERITANCE                  no v3 child of a non-v3 parent, nor the reverse    TRUC-violation
 *   E_TRUC_PARENT_TOO_BIG               parent ≤ 10,000 vB (sigop-adjusted)                TRUC-violation (tx-size, too-many-sigops)
 *   E_TRUC_CHILD_TOO_BIG                child ≤ 1,000 vB (sigop-adjusted)                  TRUC-violation
 *   E_FEE_TOO_HIGH (the fee guard's)    each transaction's own feerate ≤ maxfeerate        max feerate exceeded
 *   E_TRUC_EPHEMERAL_UNSPENT            the child spends the parent's dust output         missing-ephemeral-spends (unspent-dust)
 *
 * When several break, the refusal names the one Core decides on (the first in Core's
 * order that a package cannot cure) — test/regtest/truc-differential.test.ts requires
 * Core's answer, string for string, on generated packages.
 *
 * Sizes are Core's sigop-adjusted virtual sizes (transaction.ts), exact for standard
 * scripts. Feerates are compared as Core does, in integers: floors rounded up (GetFee),
 * ceilings exactly (fee × 1000 against rate × vsize); dust thresholds rounded up. The
 * child's inputs other than the parent's outputs, and the parent's inputs, are taken as
 * confirmed — their values and scripts are given by the caller; whether they exist unspent
 * on chain is the node's to say (a child with a second unconfirmed parent is refused by
 * Core, not here). Nor does the checker know the node's mempool: a conflicting TRUC
 * sibling already there is evicted or not by Core's rules (sibling eviction), which this
 * module does not predict. core-accept.ts lists what else is not modelled.
 */
import { RefusedError, UsageError } from '../errors.ts';
import { equalBytes, toHex } from '../bytes.ts';
import { MESSAGE_VERSION } from '../envelope.ts';
import { CORE_MAX_FEE_RATE } from '../tx/fee-guard.ts';
import { dustThreshold, isP2a, measureTx, sigOpCost, sigopAdjustedVsize, type MeasuredTx } from './transaction.ts';
import { acceptPackage, formatMoney, packageShape, shapeAnswer, TOPOLOGY_ERROR, type Coin, type CoreAnswer, type CoreFailure, type CoreRule, type TxFacts } from './core-accept.ts';

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

export type TrucRule = CoreRule;

/** Core's reject reason for each rule (undefined: a rule of ours that Core does not have); a refusal may carry another of Core's (tx-size for a too-big transaction). */
export const CORE_REJECT_REASON: Readonly<Record<TrucRule, string | undefined>> = {
  E_TRUC_NOT_CHILD: TOPOLOGY_ERROR,
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
  E_TRUC_NO_SUCH_OUTPUT: 'bad-txns-inputs-missingorspent',
  E_TRUC_TOO_SMALL: 'tx-size-small',
};

/**
 * A refusal: the rule, which transaction broke it, and what Core says — its reject
 * reason, and its whole error string (`reason, debug message`, ValidationState::ToString)
 * as Core prints it in `tx-results[wtxid].error` or `package_msg` — and, in `detail.core`,
 * Core's whole submitpackage answer (package_msg and each transaction's result).
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

const refusalOf = (f: CoreFailure, core: CoreAnswer) => new TrucRefusal(f.rule, f.tx, f.message, f.debug, { ...f.extra, core }, f.reason);

export type TxVerdict = { txid: string; wtxid: string; version: number; vsize: number; sigop_cost: number; fee: bigint; dust_outputs: number[]; p2a_outputs: number[] };

export type PackageVerdict = {
  parent: TxVerdict;
  child: TxVerdict;
  /** Package fee and sigop-adjusted vsize (parent + child), and its feerate in sat/kvB, rounded down. */
  package: { fee: bigint; vsize: number; feerate_sat_per_kvb: bigint };
  /** The parent outputs the child spends. */
  spent_parent_outputs: number[];
  /** Core takes the parent on its own (it pays the floor alone), then the child alone. */
  parent_alone: boolean;
};

const key = (txid: string, vout: number) => `${txid}:${vout}`;

/**
 * Check `parent` + `child` (raw transactions) as one 1p1c TRUC package: Core's verdict
 * (core-accept.ts, submitpackage step by step), then ours (both version 3). `prevouts`
 * gives every input of the parent and every child input that is not the parent's (amount
 * and script); a missing one is a usage error (E_TRUC_PREVOUT, exit 2): the fee and sigops
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
  // The RPC's topology check and IsWellFormedPackage come before any input is looked up.
  const shape = packageShape(parent, child);
  if (shape) throw refusalOf(shape, shapeAnswer(shape));

  const factsOf = (m: MeasuredTx, name: 'parent' | 'child'): TxFacts => {
    const fromParent = m.tx.inputs.map((input) => name === 'child' && toHex(input.txid) === parent.txid);
    const prev = m.tx.inputs.map((input, i): Coin | undefined => {
      const txid = toHex(input.txid);
      if (fromParent[i]) return parent.tx.outputs[input.index];
      const p = given.get(key(txid, input.index));
      if (!p) throw new UsageError('E_TRUC_PREVOUT', `${name} input ${i} spends ${txid}:${input.index}: give its amount and script (--prevout, or a PSBT with witness_utxo)`);
      return p;
    });
    const sigops = sigOpCost(m.tx, (i) => prev[i]?.script ?? new Uint8Array());
    const valueIn = prev.reduce((a, p) => a + (p?.amount ?? 0n), 0n);
    const valueOut = m.tx.outputs.reduce((a, o) => a + o.amount, 0n);
    return {
      name, m, prev, fromParent, sigops, vsize: sigopAdjustedVsize(m.weight, sigops), valueIn, valueOut, fee: valueIn - valueOut,
      dust: m.tx.outputs.flatMap((o, i) => (o.amount < dustThreshold(o.script, policy.dustRelayFeeRate) ? [i] : [])),
    };
  };
  const p = factsOf(parent, 'parent');
  const c = factsOf(child, 'child');
  const core = acceptPackage(p, c, policy);
  if (core.decisive) throw refusalOf(core.decisive, core.answer);
  // Ours: Core takes a v2 package, but nothing then bounds its topology (it can be pinned).
  if (parent.tx.version !== TRUC_VERSION || child.tx.version !== TRUC_VERSION) {
    throw new TrucRefusal('E_TRUC_VERSION', 'package', `parent and child are version ${parent.tx.version} and ${child.tx.version}, not 3 (TRUC): nothing limits their topology, so the package can be pinned`, undefined, { core: core.answer });
  }
  const verdictOf = (f: TxFacts): TxVerdict => ({
    txid: f.m.txid, wtxid: f.m.wtxid, version: f.m.tx.version, vsize: f.vsize, sigop_cost: f.sigops, fee: f.fee, dust_outputs: f.dust,
    p2a_outputs: f.m.tx.outputs.flatMap((o, i) => (isP2a(o.script) ? [i] : [])),
  });
  const fee = p.fee + c.fee;
  const vsize = p.vsize + c.vsize;
  return {
    parent: verdictOf(p), child: verdictOf(c), package: { fee, vsize, feerate_sat_per_kvb: (fee * 1000n) / BigInt(vsize) },
    spent_parent_outputs: child.tx.inputs.flatMap((input, i) => (c.fromParent[i] ? [input.index] : [])), parent_alone: core.parentAlone,
  };
}

export { formatMoney };

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
