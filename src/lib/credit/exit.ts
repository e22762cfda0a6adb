/**
 * The mint's unilateral exit (BRIEF §3.1): its latest fully signed state, which must be
 * mined by block `expiry` (the refund is final from expiry + 1), and a CPFP child that
 * spends the mint's payout to pay for both. States are TRUC (v3), so the child is v3
 * too and at most 1000 vB (a v2 state of an older record gets a v2 child); the pair
 * goes to Core's `submitpackage`. The mint pays this
 * child's fee out of its own payout. The child is built, sized and checked by the one
 * CPFP builder, ../truc/child.ts (`own`: no wallet, the mint's key signs); a payout to the
 * mint's wallet leaves it unsigned for `walletprocesspsbt` (then --child, ./exit-child.ts).
 *
 * A device channel's gateway (the mint of a credit contract whose states may hold one
 * HTLC, ../device/channel.ts) exits the same way with `claim`: the same child also takes
 * the state's HTLC output through its claim leaf with the preimage (`gateway claim`), so
 * one TRUC package confirms the state and pays the gateway the HTLC — and it works when
 * nothing is settled yet (no payout output: the HTLC alone carries the child).
 */
import { Transaction } from '@scure/btc-signer';
import { base64 } from '@scure/base';
import { equalBytes, fromHex, toHex } from '../bytes.ts';
import { OffchainError, RefusedError } from '../errors.ts';
import type { KeyPair } from '../keys/keys.ts';
import { taprootOutput } from '../taproot/taproot.ts';
import { DEFAULT_FEE_LIMITS, type FeeLimits } from '../tx/fee-guard.ts';
import { checkTrucPackage, CORE_POLICY, type Prevout } from '../truc/check.ts';
import { buildChild } from '../truc/child.ts';
import type { HtlcOutput } from '../htlc/htlc.ts';
import { plannedWitness, taprootLeafWitness } from '../htlc/spend.ts';
import { termsFromJson } from './codec.ts';
import type { MintContractRecord } from './ports.ts';
import type { ChainSource } from '../chain/types.ts';

/** The state's one input, the contract's funding output: what the package checker needs to know the state's fee. */
export function exitPrevouts(record: MintContractRecord): Prevout[] {
  if (!record.latest) return [];
  const c = termsFromJson(record.contract, record.network);
  const state = Transaction.fromRaw(fromHex(record.latest.hex, 'state'), { allowUnknownOutputs: true });
  const input = state.getInput(0);
  return [{ txid: toHex(input.txid!), vout: input.index!, amount: c.capacity, script: c.script }];
}

export type ExitOptions = { feeRate: number; /** The fee guard (default: Core's maxfeerate, half the payout). */ feeLimits?: FeeLimits; to?: Uint8Array; /** BIP-340 aux_rand for the child's signature (from the random source, so the test seed makes it reproducible). */ auxRand: Uint8Array;
  /** A device channel: the child also claims this HTLC output of the state with its preimage (the gateway's key signs the claim leaf). */
  claim?: { htlc: HtlcOutput; preimage: Uint8Array };
  /** A child of the state already in the mempool that this one replaces (TRUC sibling eviction): its fee and chunk set the least this child pays (Core's rules 3, 4 and the feerate diagram). */
  replaces?: { txid: string; fee: bigint; chunk?: { fee: bigint; weight: number; withParent: boolean } };
};

export function buildExit(record: MintContractRecord, mint: KeyPair, opts: ExitOptions): Record<string, unknown> {
  if (!record.latest) {
    throw new RefusedError('E_NO_PAYOUT', `contract ${record.contract_id} has no signed state yet: there is nothing for the mint to claim until the user's first payment is co-signed`);
  }
  const c = termsFromJson(record.contract, record.network);
  const stateRaw = fromHex(record.latest.hex, 'state');
  const parent = Transaction.fromRaw(stateRaw, { allowUnknownOutputs: true });
  let vout = -1;
  for (let i = 0; i < parent.outputsLength; i++) if (equalBytes(parent.getOutput(i).script!, c.payoutScript)) vout = i;
  let htlcVout = -1;
  if (opts.claim) for (let i = 0; i < parent.outputsLength; i++) if (equalBytes(parent.getOutput(i).script!, opts.claim.htlc.scriptPubKey)) htlcVout = i;
  if (opts.claim && htlcVout < 0) throw new RefusedError('E_NO_HTLC', `the latest state of contract ${record.contract_id} (state ${record.latest.state}) has no output to this HTLC`);
  if (vout < 0 && !opts.claim) {
    // A device channel's state holding an HTLC while nothing is settled (docs/device-gateway.md): no payout output to bump.
    throw new RefusedError('E_NO_PAYOUT', `the latest state of contract ${record.contract_id} pays the mint nothing yet (state ${record.latest.state}): there is no payout for a CPFP child to spend`);
  }
  const to = opts.to ?? c.payoutScript;
  const ownKey = taprootOutput(mint.xOnly);
  // With a claim the child spends the payout too only when the mint's key can sign it (else the HTLC alone).
  const payoutOwn = vout >= 0 && equalBytes(c.payoutScript, ownKey.script);
  const mintSigns = opts.claim ? true : payoutOwn;
  const spend = opts.claim ? [...(payoutOwn ? [vout] : []), htlcVout] : [vout];
  const claimWitness = opts.claim ? new Map([[htlcVout, plannedWitness(opts.claim.htlc, 'claim', opts.claim.preimage)]]) : undefined;
  // The one child builder (src/lib/truc/child.ts): sized, fee, the fee guard (the mint pays the
  // child's fee out of its payout) and the package through check.ts, the child at its largest.
  // A state stored before states were TRUC may be v2: then only a v2 child can bump it.
  // The fee guard is the package's (buildChild's check: its rate, and the child's fee as a share of
  // the payout), not each transaction's: the child carries the state, so alone it pays more than the
  // package — and must, to replace a large sibling the user hung on the state to pin it (a child of
  // its own on its change output). Each transaction alone is held to Core's maxfeerate only.
  const feeLimits = opts.feeLimits ?? DEFAULT_FEE_LIMITS;
  const policy = CORE_POLICY;
  const prevouts = exitPrevouts(record);
  let built;
  try {
    built = buildChild({
      parent: stateRaw, parentPrevouts: prevouts, own: { to, shortCode: 'E_EXIT_UNECONOMICAL' }, spend, ...(claimWitness ? { scriptPathWitness: claimWitness } : {}), ...(opts.replaces ? { replaces: opts.replaces } : {}),
      feeRate: opts.feeRate, feeLimits, policy, packageGuard: true, allowV2: true,
    });
  } catch (e) {
    if (e instanceof RefusedError && e.code === 'E_TRUC_CHILD_INPUT') throw new RefusedError('E_EXIT_PAYOUT', `the payout script type cannot be fee-estimated for a CPFP child: ${e.message}`);
    throw e;
  }
  const child = built.psbt;
  let parentFee = c.capacity;
  for (let i = 0; i < parent.outputsLength; i++) parentFee -= parent.getOutput(i).amount!;
  const payoutIdx = payoutOwn || !opts.claim ? spend.indexOf(vout) : -1;
  if (mintSigns && payoutIdx >= 0) child.updateInput(payoutIdx, { tapInternalKey: mint.xOnly });
  let hex: string | undefined;
  if (mintSigns) {
    if (payoutIdx >= 0) {
      child.signIdx(mint.secretKey, payoutIdx, undefined, opts.auxRand);
      child.finalizeIdx(payoutIdx);
    }
    if (opts.claim) {
      const idx = spend.indexOf(htlcVout);
      const spent = spend.map((v) => ({ script: parent.getOutput(v).script!, amount: parent.getOutput(v).amount! }));
      child.updateInput(idx, { finalScriptWitness: taprootLeafWitness(child, idx, spent, opts.claim.htlc, 'claim', mint, opts.claim.preimage, opts.auxRand) }, true);
    }
    hex = toHex(child.extract());
    // The signed package through the checker once more, on its real bytes.
    if (parent.version === 3) checkTrucPackage(stateRaw, fromHex(hex, 'child'), prevouts, policy);
  }
  const childVsize = built.vsize;
  const childFee = built.childFee;
  return {
    type: 'credit/exit',
    version: 1,
    network: record.network,
    contract_id: record.contract_id,
    state: record.latest.state,
    cumulative_sat: record.latest.cumulative_sat,
    deadline_height: c.expiryHeight,
    state_tx: { txid: parent.id, hex: record.latest.hex, vsize: parent.vsize, fee_sat: Number(parentFee) },
    ...(opts.claim ? { htlc_claim: { payment_hash: toHex(opts.claim.htlc.spec.paymentHash), vout: htlcVout, amount_sat: Number(parent.getOutput(htlcVout).amount!) } } : {}),
    child: { txid: child.id, complete: mintSigns, psbt: base64.encode(child.toPSBT()), hex, vsize: childVsize, fee_sat: Number(childFee), ...(built.replaces ? { replaces: { txid: built.replaces.txid, fee_sat: Number(built.replaces.fee) } } : {}), package_fee_rate: Number(((Number(parentFee + childFee)) / (parent.vsize + childVsize)).toFixed(2)) },
  };
}

/**
 * The state's child in the node's mempool when it is not the mint's: a child the user hung on its
 * own (change) output of a v3 state, which evicted the mint's (TRUC: one child) and pins the
 * state. The next child must replace it (sibling eviction): its fee and chunk, as buildChild's
 * `replaces` takes them. Undefined: none, a v2 state, or a node that cannot say (gettxspendingprevout is Core 24+).
 */
export async function exitPin(chain: ChainSource, record: MintContractRecord): Promise<ExitOptions['replaces']> {
  // Best effort: a node that cannot say (too old, unreachable, a proxy answering nonsense) knows no pin, and the
  // package goes out as without one — what the node then answers is the exit's to judge (broadcastProof).
  try {
    return await findPin(chain, record);
  } catch (e) {
    // Not a node that cannot say but the wrong node, or no way in: refused here, before anything is frozen or sent.
    if (WRONG_NODE.has(String((e as { code?: unknown }).code))) throw e;
    return undefined;
  }
}
const WRONG_NODE = new Set(['E_NETWORK_MISMATCH', 'E_RPC_AUTH', 'E_RPC_COOKIE']);

async function findPin(chain: ChainSource, record: MintContractRecord): Promise<ExitOptions['replaces']> {
  if (!record.latest || !chain.mempoolSpender || !chain.mempoolEntry || !chain.mempoolEviction) return undefined;
  const c = termsFromJson(record.contract, record.network);
  const state = Transaction.fromRaw(fromHex(record.latest.hex, 'state'), { allowUnknownOutputs: true });
  if (state.version !== 3) return undefined;
  for (let v = 0; v < state.outputsLength; v++) {
    if (!equalBytes(state.getOutput(v).script!, c.changeScript)) continue;
    const child = await chain.mempoolSpender(state.id, v);
    if (child === undefined) return undefined;
    const [entry, chunk] = [await chain.mempoolEntry(child), await chain.mempoolEviction(child)];
    if (!entry) return undefined;
    // The chunk holds the state too when it weighs more than the child alone (Core 30's cluster mempool; none before it).
    return { txid: child, fee: entry.fee, ...(chunk ? { chunk: { fee: chunk.chunkFee, weight: chunk.chunkWeight, withParent: chunk.chunkWeight > 4 * entry.vsize } } : {}) };
  }
  return undefined;
}

/**
 * Submit an exit's state + child as one package (Core's submitpackage, its maxfeerate Core's own
 * on each transaction: the fee guard was the package's, checked when it was built); throws
 * E_BROADCAST_REJECTED unless the node accepted it (what then becomes of the freeze:
 * `releaseAttempt`). Returns what the node answered (Core's names, fees in sat). Shared by
 * exit-credit and gateway claim.
 */
export async function submitExit(chain: ChainSource, message: Record<string, unknown>): Promise<Record<string, unknown>> {
  const child = message.child as { hex?: string };
  if (!child.hex) throw new Error('internal: an unsigned child cannot be submitted');
  const state = message.state_tx as { hex: string };
  // Core's maxfeerate on each transaction (the fee guard was the package's, checked when it was built).
  const result = await chain.submitPackage!([fromHex(state.hex), fromHex(child.hex)], CORE_POLICY.maxFeeRate);
  // Since Core 28, a rejected package is reported in the result, not as an RPC error.
  if (result.packageMsg !== 'success') {
    const why = result.txResults.filter((t) => t.error).map((t) => `${t.txid}: ${t.error}`).join('; ');
    throw new RefusedError('E_BROADCAST_REJECTED', `the node did not accept the exit package: ${result.packageMsg}${why ? ` (${why})` : ''}`);
  }
  return {
    package_msg: result.packageMsg,
    tx_results: result.txResults.map((t) => ({
      txid: t.txid,
      wtxid: t.wtxid,
      ...(t.vsize === undefined ? {} : { vsize: t.vsize }),
      ...(t.fees === undefined ? {} : { fees_sat: Number(t.fees) }),
      ...(t.error === undefined ? {} : { error: t.error }),
    })),
  };
}

// ——— The freeze: no later state is signed while an exit's package may be in a mempool ———
//
// The freeze is committed before the package goes out, each run that sends adding its attempt.
// It is taken back only when every such run proved the node did not take its package: never
// asked, or an answer of no after which the node says the exit's state is not in its mempool
// (Core may take the state and refuse only its child). A lost answer, a run still sending, or
// a node that cannot say leaves it frozen.

/** A freeze from before attempts were kept: nobody's to take back. */
const EARLIER_FREEZE = 'earlier';
/** Kept when the node, after an answer of no, held the state in its mempool or could not say. */
const UNCONFIRMED_FREEZE = 'unconfirmed';

/** The state an exit of `record` sends: the one it is frozen with, or its latest. */
function exitTarget(record: MintContractRecord): { state: number; txid: string } {
  return record.exiting ?? record.latest!;
}

/** `record` frozen for an exit, `attempt` added to the runs that may send its package. */
export function frozenForExit(record: MintContractRecord, attempt: string): MintContractRecord {
  const { state, txid } = exitTarget(record);
  const attempts = [...(record.exiting ? record.exiting.attempts ?? [EARLIER_FREEZE] : []), attempt];
  return { ...record, exiting: { state, txid, attempts } };
}

/**
 * What a broadcast's failure proves of the package. `never-sent`: the node was never asked (the
 * connection never made: no node there, no address for it, a port fetch refuses; no
 * credentials or wrong ones, no node configured, a node on another chain). `answered-no`:
 * the node's answer was a refusal (an RPC error, a rejection) — but Core may accept the state
 * and refuse only its child, and an error object may come from a proxy that sent the request
 * on: the node is asked again (`stateNotInMempool`). `undefined`: a lost answer (a timeout, a
 * connection reset after the request went out, a redirect) proves nothing.
 */
export function broadcastProof(e: unknown): 'never-sent' | 'answered-no' | undefined {
  const code = (e as { code?: unknown }).code;
  if (code === 'E_RPC_UNREACHABLE') return NEVER_SENT.has(String((e as { detail?: { reason?: unknown } }).detail?.reason)) ? 'never-sent' : undefined;
  // No credentials, no node configured; a 401 (Core checks them before it reads the call); another chain (asked before the package is sent).
  if (code === 'E_RPC_COOKIE' || code === 'E_CHAIN_OFFLINE' || code === 'E_USAGE' || code === 'E_RPC_AUTH' || code === 'E_NETWORK_MISMATCH') return 'never-sent';
  if (code === 'E_RPC_ERROR' || code === 'E_BROADCAST_REJECTED') return 'answered-no';
  return undefined;
}
const NEVER_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'bad port']);

/** The node's word that `record`'s exit state is not in its mempool: its funding output unspent, or the state not a mempool transaction (false when it cannot say). */
export async function stateNotInMempool(chain: ChainSource, record: MintContractRecord): Promise<boolean> {
  const { funding } = record.contract;
  try {
    if (await chain.utxo(funding.txid, funding.vout) !== null) return true;
    if (!chain.txConfirmations) return false;
    return await chain.txConfirmations(exitTarget(record).txid) !== 0;
  } catch {
    return false;
  }
}

/**
 * After run `attempt`'s package provably did not reach a mempool (`notInMempool`, the node's
 * word where it answered): the record to store (its attempt gone; the freeze too when it was
 * the last and the node so said), or undefined when the attempt is not there (nothing to do).
 */
export function releaseAttempt(now: MintContractRecord | undefined, attempt: string, notInMempool: boolean): { record: MintContractRecord; unfrozen: boolean } | undefined {
  const attempts = now?.exiting?.attempts;
  if (!now?.exiting || !attempts?.includes(attempt)) return undefined;
  const rest = attempts.filter((a) => a !== attempt);
  if (rest.length > 0 || !notInMempool) return { record: { ...now, exiting: { ...now.exiting, attempts: rest.length > 0 ? rest : [UNCONFIRMED_FREEZE] } }, unfrozen: false };
  const { exiting: _e, ...open } = now;
  return { record: open as MintContractRecord, unfrozen: true };
}

/** `e` said again with the freeze's outcome: `contract` stays frozen, and why. */
export function stillFrozen(e: unknown, contract: string, why: string): unknown {
  if (!(e instanceof OffchainError)) return e;
  return new OffchainError(e.code, `${e.message} — ${why}: contract ${contract} stays frozen (exiting); run the exit again to send it again`, e.exitCode, e.detail);
}
