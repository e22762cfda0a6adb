/**
 * The gateway's last-minute claim against the device's refund already in the node's mempool
 * (issue 37, finding 7; `gateway claim` with a node).
 *
 * At the HTLC's expiry L the device's refund (version 3, nLockTime L, nSequence 0xfffffffd,
 * one input: the HTLC output through the refund leaf; one output to the device; fee at the
 * device's --fee-rate) is accepted into the mempool once the tip is L, to be mined in block
 * L + 1. The claim leaf has no lock: the gateway can still claim while no block spends the
 * output. Both spend the same output — a direct conflict, so the claim must REPLACE the
 * refund under Bitcoin Core's replacement rules (doc/policy/mempool-replacements.md). It is
 * neither a package nor TRUC sibling eviction (that is for a second child spending ANOTHER
 * output of an unconfirmed TRUC parent): with the state unconfirmed, the refund is the state's
 * one TRUC child and the claim takes its place as that child. TRUC transactions always signal
 * replaceability. What Core needs of the claim:
 *
 *   - a fee at least the fees of everything it evicts (the refund and its descendants: a
 *     device's CPFP of its refund), and above them by the node's incremental relay fee rate
 *     times the claim's own vsize;
 *   - a fee rate above the refund's: Core 28–30 compare each directly conflicting
 *     transaction's rate in whole sat/kvB of vsize (CFeeRate, truncated); cluster mempool
 *     (Core 31) asks that the mempool's feerate diagram improve, which for a claim replacing
 *     a refund whose parent is confirmed means a fee per WEIGHT unit above the refund's
 *     (and above that of the refund with its descendants, when a child of the refund pays
 *     for it). Both are asked here. The claim (143 vB) is 17 vB larger than the refund
 *     (126 vB: its leaf checks a hash, its witness carries the preimage), so it pays more than
 *     the refund's rate × its own size; with the state unconfirmed, cluster mempool compares
 *     the state with its child, so this is a little more than that node needs.
 *
 * The claim pays that out of the HTLC (its only input), within the command's fee guard
 * (--max-fee-rate, --max-fee-share). A refund that pays nearly the whole HTLC as fee cannot be
 * outbid from the HTLC alone, nor one with descendants paying more than the HTLC: with the
 * state mined the device's refund need not be TRUC, and a 90 kvB child at 1.3 sat/vB asked a
 * claim of 120 167 sat for a 30 061-sat HTLC on regtest (review of issue 37) — Core's rule 3
 * pinning, which no claim from the HTLC alone can beat. The claim margin (the gateway's terms)
 * exists so that the gateway claims before L, when no refund can compete.
 */
import { Transaction } from '@scure/btc-signer';
import { equalBytes, toHex } from '../bytes.ts';
import { RefusedError } from '../errors.ts';
import type { HtlcOutput } from '../htlc/htlc.ts';
import { btcToSats } from '../chain/amount.ts';
import { protocolError, RpcError, RPC_INVALID_ADDRESS_OR_KEY } from '../chain/rpc-client.ts';
import type { ChainSource } from '../chain/types.ts';
import type { RpcChainSource } from '../chain/rpc.ts';
import type { KeyPair } from '../keys/keys.ts';
import type { Network } from '../network.ts';
import { CORE_MAX_FEE_RATE, checkFee, type FeeLimits } from '../tx/fee-guard.ts';
import type { MintContractRecord } from '../credit/ports.ts';
import { termsFromJson } from '../credit/codec.ts';
import { claimPreimage, gatewayClaim, gatewayExitClaim, htlcOf } from './onchain.ts';

/** A transaction in the mempool spending the HTLC output, and what replacing it evicts. */
export type MempoolConflict = {
  txid: string;
  feeSat: bigint;
  vsize: number;
  weight: number;
  /** The conflict and its in-mempool descendants: their fees, total vsize and number. */
  evictedFeeSat: bigint;
  evictedVsize: number;
  evictedCount: number;
  /** Its unconfirmed parents (getmempoolentry `depends`): the state, when the state is not mined. */
  depends: string[];
};

/** What a JSON-RPC client offers (chain/rpc-client.ts RpcClient). */
export type RpcCaller = { call<T = unknown>(method: string, params?: readonly unknown[]): Promise<T>; config?: { url: string } };

const TXID_RE = /^[0-9a-f]{64}$/;

/** Reads one RPC answer, refusing a shape Core does not give (E_RPC_PROTOCOL naming the node). */
function reader(rpc: RpcCaller, method: string) {
  const bad = (what: string) => protocolError(method, rpc.config?.url ?? 'the node', what);
  const field = (o: unknown, key: string): unknown => {
    if (typeof o !== 'object' || o === null || !(key in o)) throw bad(`an answer without ${key}`);
    return (o as Record<string, unknown>)[key];
  };
  return {
    bad,
    field,
    positiveInt(o: unknown, key: string): number {
      const v = field(o, key);
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) throw bad(`a ${key} that is not a positive integer`);
      return v;
    },
    sats(o: unknown, key: string): bigint {
      const v = field(o, key);
      if (typeof v !== 'number' && typeof v !== 'string') throw bad(`a ${key} that is not an amount`);
      return btcToSats(v, `${method} ${key}`);
    },
  };
}

/**
 * The mempool transaction spending `outpoint` (gettxspendingprevout, Core 24+), with its fee
 * and what replacing it evicts (getmempoolentry); null when nothing in the mempool spends it
 * (also when the spender left the mempool between the two calls).
 */
export async function mempoolConflict(rpc: RpcCaller, outpoint: { txid: string; vout: number }): Promise<MempoolConflict | null> {
  const r = reader(rpc, 'gettxspendingprevout');
  const answer = await rpc.call<unknown>('gettxspendingprevout', [[{ txid: outpoint.txid, vout: outpoint.vout }]]);
  if (!Array.isArray(answer) || answer.length !== 1 || typeof answer[0] !== 'object' || answer[0] === null) throw r.bad('an answer that is not one entry for the one output asked');
  const spending = (answer[0] as Record<string, unknown>)['spendingtxid'];
  if (spending === undefined) return null;
  if (typeof spending !== 'string' || !TXID_RE.test(spending)) throw r.bad('a spendingtxid that is not a txid');
  let entry: unknown;
  try {
    entry = await rpc.call<unknown>('getmempoolentry', [spending]);
  } catch (e) {
    if (e instanceof RpcError && e.rpcCode === RPC_INVALID_ADDRESS_OR_KEY) return null;
    throw e;
  }
  const e = reader(rpc, 'getmempoolentry');
  const fees = e.field(entry, 'fees');
  const depends = e.field(entry, 'depends');
  if (!Array.isArray(depends) || !depends.every((t) => typeof t === 'string' && TXID_RE.test(t))) throw e.bad('a depends that is not a list of txids');
  return {
    txid: spending,
    feeSat: e.sats(fees, 'base'),
    vsize: e.positiveInt(entry, 'vsize'),
    weight: e.positiveInt(entry, 'weight'),
    evictedFeeSat: e.sats(fees, 'descendant'),
    evictedVsize: e.positiveInt(entry, 'descendantsize'),
    evictedCount: e.positiveInt(entry, 'descendantcount'),
    depends: depends as string[],
  };
}

/** The node's incremental relay fee rate (getmempoolinfo), sat/kvB. */
export async function incrementalRelayFee(rpc: RpcCaller): Promise<bigint> {
  return reader(rpc, 'getmempoolinfo').sats(await rpc.call<unknown>('getmempoolinfo'), 'incrementalrelayfee');
}

/**
 * Which leaf of the HTLC the mempool transaction `raw` spends `outpoint` by: 'claim' (the
 * gateway's own earlier claim: only its key signs that leaf), 'refund' (the device's), or
 * 'other' (the key path, or not that output at all).
 */
export function spendingLeaf(raw: Uint8Array, outpoint: { txid: string; vout: number }, htlc: HtlcOutput): 'claim' | 'refund' | 'other' {
  const tx = Transaction.fromRaw(raw, { allowUnknownInputs: true, allowUnknownOutputs: true, disableScriptCheck: true });
  for (let i = 0; i < tx.inputsLength; i++) {
    const input = tx.getInput(i);
    if (toHex(input.txid!) !== outpoint.txid || input.index !== outpoint.vout) continue;
    // A script-path witness ends with the leaf script and its control block.
    const w = input.finalScriptWitness ?? [];
    const leaf = w.length >= 2 ? w[w.length - 2]! : undefined;
    if (leaf && htlc.taproot && equalBytes(leaf, htlc.taproot.claimLeaf)) return 'claim';
    if (leaf && htlc.taproot && equalBytes(leaf, htlc.taproot.refundLeaf)) return 'refund';
  }
  return 'other';
}

/** The smallest fee at which a transaction of this size replaces `conflict` (the rules above). */
export function replacementFee(conflict: MempoolConflict, claim: { vsize: number; weight: number }, incrementalSatPerKvb: bigint): bigint {
  const v = BigInt(claim.vsize);
  const w = BigInt(claim.weight);
  const ceilDiv = (a: bigint, b: bigint) => (a + b - 1n) / b;
  // Absolute: the evicted fees plus the incremental relay fee on the replacement's own vsize.
  const absolute = conflict.evictedFeeSat + ceilDiv(incrementalSatPerKvb * v, 1000n);
  // Core 28–30: one whole sat/kvB above the direct conflict's rate (CFeeRate, truncated).
  const perKvb = ceilDiv(((conflict.feeSat * 1000n) / BigInt(conflict.vsize) + 1n) * v, 1000n);
  // Cluster mempool: per weight unit strictly above the conflict's, and above the conflict's with
  // its descendants (their weight at its least: 4 per vB, less 3 per transaction for the rounding).
  const perWeight = (fee: bigint, weight: bigint) => (fee * w) / weight + 1n;
  const evictedWeight = BigInt(4 * conflict.evictedVsize - 3 * conflict.evictedCount);
  return [absolute, perKvb, perWeight(conflict.feeSat, BigInt(conflict.weight)), perWeight(conflict.evictedFeeSat, evictedWeight)].reduce((a, b) => (a > b ? a : b));
}

/**
 * Builds the claim at `feeRate`, then again at the rate replacing `conflict` needs when that
 * is more; a refusal (the fee guard, dust) says what the replacement needed.
 */
export function replacing<S extends { feeSat: bigint; vsize: number; tx: { weight: number } }>(conflict: MempoolConflict, incrementalSatPerKvb: bigint, feeRate: number, build: (feeRate: number) => S): { spend: S; needed: bigint } {
  const first = build(feeRate);
  const needed = replacementFee(conflict, { vsize: first.vsize, weight: first.tx.weight }, incrementalSatPerKvb);
  if (first.feeSat >= needed) return { spend: first, needed };
  let spend: S;
  try {
    spend = build(Number(needed) / first.vsize);
  } catch (e) {
    if (e instanceof RefusedError) {
      throw new RefusedError(e.code, `replacing ${conflict.txid}, which spends the HTLC in the mempool (${conflict.feeSat} sat, ${conflict.vsize} vB: the device's refund, or an earlier claim${conflict.evictedCount > 1 ? `; with its ${conflict.evictedCount - 1} descendant(s) ${conflict.evictedFeeSat} sat, ${conflict.evictedVsize} vB, all evicted` : ''}), needs a claim fee of ${needed} sat: ${e.message}`, e.detail ? { ...e.detail } : undefined);
    }
    throw e;
  }
  if (spend.feeSat < needed || spend.vsize !== first.vsize || spend.tx.weight !== first.tx.weight) throw new Error(`internal: the replacing claim pays ${spend.feeSat} sat for ${spend.vsize} vB, ${needed} sat needed`);
  return { spend, needed };
}

/**
 * The fee of a child of `vsize` that brings the package to `feeRate`: with its parent (the
 * state) unconfirmed, the two together — --fee-rate is the rate of state + claim, as for the
 * exit package — else its own size; never less than the rate on its own size.
 */
export function childFee(feeRate: number, vsize: number, unconfirmedParent?: { feeSat: bigint; vsize: number }): bigint {
  const own = BigInt(Math.ceil(feeRate * vsize));
  if (!unconfirmedParent) return own;
  const together = BigInt(Math.ceil(feeRate * (unconfirmedParent.vsize + vsize))) - unconfirmedParent.feeSat;
  return together > own ? together : own;
}

/**
 * The claim alone against `conflict`, the mempool transaction spending the HTLC (`leaf`: what
 * spendingLeaf read in it). --fee-rate is the rate of the state and the claim together: with the
 * state unconfirmed (`state`, its txid among the conflict's unconfirmed parents) the claim pays
 * for both. The gateway's own earlier claim is replaced only when it leaves that package below
 * --fee-rate (E_ALREADY_CLAIMED otherwise: a rerun never raises the fee by itself); anything else
 * at the fee the replacement needs, or the --fee-rate package when that is more.
 */
export function claimReplacing<S extends { feeSat: bigint; vsize: number; tx: { weight: number } }>(
  conflict: MempoolConflict, leaf: 'claim' | 'refund' | 'other', incrementalSatPerKvb: bigint, feeRate: number, build: (feeRate: number) => S,
  state?: { txid: string; feeSat: bigint; vsize: number },
): S {
  const parent = state && conflict.depends.includes(state.txid) ? state : undefined;
  const rateWith = (fee: bigint, vsize: number) => (Number(fee + (parent?.feeSat ?? 0n)) / (vsize + (parent?.vsize ?? 0))).toFixed(2);
  if (leaf === 'claim' && conflict.feeSat >= childFee(feeRate, conflict.vsize, parent)) {
    throw new RefusedError('E_ALREADY_CLAIMED', `this gateway's claim ${conflict.txid} of the HTLC is in the mempool already, paying ${conflict.feeSat} sat (${rateWith(conflict.feeSat, conflict.vsize)} sat/vB${parent ? ' with the unconfirmed state' : ''}); to bump it, run again with a higher --fee-rate`);
  }
  const first = build(feeRate);
  const target = childFee(feeRate, first.vsize, parent);
  return replacing(conflict, incrementalSatPerKvb, target > first.feeSat ? Number(target) / first.vsize : feeRate, build).spend;
}

/**
 * `gateway claim`'s package, as the chain it is given shows the HTLC: the exit (the latest
 * state and one TRUC child claiming the HTLC, gatewayExitClaim: credit/exit with htlc_claim),
 * or — with a node, the state already mined (an earlier exit-credit), or a transaction in the
 * mempool spending the HTLC (the device's refund from the HTLC's expiry on, the state mined or
 * not) — the claim alone (htlc/spend), replacing that spender at the fee Core's replacement
 * rules need (claimReplacing). `alone`: the claim's bytes, when it goes by itself; else the
 * message is a package for submitpackage. Nothing is broadcast or written here.
 *
 * (The mempool is read through the node's client here, not RpcChainSource's mempoolSpender /
 * mempoolEviction / mempoolEntry: the replacement fee needs the spender's weight, its
 * `depends` and its descendant count, which they do not return.)
 */
export async function gatewayClaimPackage(
  chain: ChainSource, record: MintContractRecord, gateway: KeyPair,
  opts: { network: Network; feeRate: number; feeLimits: FeeLimits; to?: Uint8Array; preimage?: Uint8Array; auxRand: Uint8Array; /** false: the package, whatever the node holds (a watcher's sizing build). */ lookup?: false },
): Promise<{ message: Record<string, unknown>; alone?: () => Uint8Array }> {
  const { network, feeRate, feeLimits, to, preimage } = opts;
  const message = gatewayExitClaim(record, gateway, { feeRate, feeLimits, ...(to ? { to } : {}), auxRand: opts.auxRand, ...(preimage ? { preimage } : {}) });
  const claim = message.htlc_claim as { vout: number; amount_sat: number };
  const stateTx = message.state_tx as { txid: string; vsize: number; fee_sat: number };
  const stateTxid = stateTx.txid;
  // With a node: a state already mined (an earlier exit-credit) is not resubmitted, and its
  // payout may be spent already: the HTLC is claimed alone (htlc/spend), fee for its own size.
  // And when a transaction in the mempool spends the HTLC (the device's refund, from the
  // HTLC's expiry on; the state mined or not), the claim alone REPLACES it: a direct
  // conflict, at the fee Core's replacement rules need (above).
  if (opts.lookup === false) return { message };
  const out = chain.kind === 'rpc' ? await chain.utxo(stateTxid, claim.vout) : null;
  const rpc = chain.kind === 'rpc' ? (chain as RpcChainSource).client : undefined;
  const conflict = rpc && !out ? await mempoolConflict(rpc, { txid: stateTxid, vout: claim.vout }) : null;
  if (!((out && out.confirmations > 0) || conflict)) return { message };
  // The preimage was checked by gatewayExitClaim above; build runs up to three times when replacing.
  const held = claimPreimage(record.gateway!, preimage);
  // With the state unconfirmed the claim carries it: the fee guard is the package's (its rate, the claim's share of the
  // HTLC), as for the exit package — the claim alone pays more than the package's rate, held only to Core's maxfeerate.
  const carries = conflict !== null && conflict.depends.includes(stateTxid);
  const ownLimits = carries ? { ...feeLimits, maxFeeRate: Math.max(feeLimits.maxFeeRate, CORE_MAX_FEE_RATE) } : feeLimits;
  const build = (rate: number) => {
    const spend = gatewayClaim(record.gateway!, gateway, held, to ?? termsFromJson(record.contract, network).payoutScript, rate, ownLimits);
    if (carries) checkFee({ what: 'the claim with its unconfirmed state', feeSat: spend.feeSat + BigInt(stateTx.fee_sat), vsize: spend.vsize + stateTx.vsize, amountSat: BigInt(claim.amount_sat), payerFeeSat: spend.feeSat }, feeLimits);
    return spend;
  };
  // The gateway's own earlier claim in the mempool is bumped only when asked for more than it pays
  // (a rerun at the same rate would otherwise raise the fee each time); with the state unconfirmed,
  // --fee-rate is the rate of state + claim, as for the exit package.
  const leaf = conflict ? spendingLeaf(await chain.rawTransaction(conflict.txid), { txid: stateTxid, vout: claim.vout }, htlcOf(record.gateway!)) : undefined;
  const spend = conflict ? claimReplacing(conflict, leaf!, await incrementalRelayFee(rpc!), feeRate, build, { txid: stateTxid, feeSat: BigInt(stateTx.fee_sat), vsize: stateTx.vsize }) : build(feeRate);
  return {
    message: {
      type: 'htlc/spend', version: 1, network, kind: 'taproot', path: 'claim', complete: true, txid: spend.txid, outpoint: { txid: stateTxid, vout: claim.vout },
      amount_sat: claim.amount_sat, fee_sat: Number(spend.feeSat), locktime: spend.lockTime, sequence: spend.sequence, hex: spend.hex,
      ...(conflict ? { replaces: { txid: conflict.txid, fee_sat: Number(conflict.feeSat), path: leaf } } : {}),
    },
    alone: () => spend.tx.extract(),
  };
}
