/**
 * The device ↔ gateway channel's HTLC kinds in a watcher's round (docs/watch.md): the chain's
 * facts asked of the node, the decision taken by src/lib/watch/device.ts, and the action run by
 * the one-shot step's own code — the gateway's claim is `gateway claim`'s (DeviceCommand.gatewayClaim:
 * the contract frozen as by exit-credit, then the state and its claim child as a package, or the
 * claim alone once the state is mined or replacing the device's refund), the device's refund is
 * `device refund-htlc`'s (HtlcRefundSteps.htlcRefund, sent with sendrawtransaction: self-paying,
 * signed by the device alone, so a rebid is a plain replacement of its own last refund), bid on
 * the deadline's schedule toward block L + REFUND_BLOCKS within the fee guard, its bid stored
 * (`device-<contract>:<payment hash>`) before it is sent.
 *
 * A channel whose gateway holds the preimage of its latest state's HTLC is this kind's, not the
 * credit mint's: the claim is that contract's exit (its child claims the HTLC), and two exits of
 * one contract would only replace each other.
 */
import type { DeviceChannel, GatewayChannel, MintContractRecord, UserContractRecord } from '../../lib/credit/ports.ts';
import { OffchainError } from '../../lib/errors.ts';
import type { HtlcOutput } from '../../lib/htlc/htlc.ts';
import { SENDING, FINAL_DEPTH, type Decision, heldRate } from '../../lib/watch/decision.ts';
import { decideDevice, decideGateway, refundDeadline, type DeviceFacts, type GatewayFacts, type GatewayRow, type HtlcSpend } from '../../lib/watch/device.ts';
import { guardedRateCap, type FeeLimits } from '../../lib/tx/fee-guard.ts';
import { errorText, SIZING_RATE, satVb, startRates, turns, type Round } from './credit.ts';
import type { HtlcRefundRequest } from '../device/htlc-refund.ts';

/**
 * A gateway's channel this kind keeps: its latest state holds an HTLC whose preimage the gateway
 * holds (gateway settle stored it), and no close or rollover is signed (that settlement is the
 * credit mint's to see confirmed).
 */
export function gatewayKeeps(r: MintContractRecord): boolean {
  const g = r.gateway;
  const h = g?.latest?.htlc;
  if (!g || !h || r.settlement) return false;
  return g.in_flight?.payment_hash === h.payment_hash && typeof g.in_flight.preimage === 'string';
}

/**
 * Blocks before an HTLC's expiry from which the gateway claims it (at most the mint's safety
 * margin): LND's incoming broadcast delta (contractcourt DefaultIncomingBroadcastDelta, 10). The
 * mint's margin (144 by default) is as long as a device's whole HTLC (144 by default): claiming
 * from it would put every paid HTLC on chain before the device could settle it (review of issue 71).
 */
export const CLAIM_BLOCKS = 10;

/** The gateway's side: its kept channels (records of the mint's store), its claim step, its fee guard. */
export type GatewayHost = {
  channels: MintContractRecord[];
  /** Blocks before an HTLC's expiry from which the gateway claims (the mint's safety margin). */
  margin: number;
  claim(req: { feeRate: string; broadcast: boolean; dryRun: boolean; contract: string; lookup?: false }): Promise<Record<string, unknown>>;
  limits: { maxFeeRate: number; maxFeeShare: number };
  /** A channel whose claim is done for good: not asked again (until a deep reorganisation). */
  settled(contract: string): void;
};

/** The device's side: its channels (the user's records with a device channel, due at the tip), the refund step, its fee guard. */
export type DeviceHost = {
  contracts(tip: number): Promise<UserContractRecord[]>;
  refund(req: HtlcRefundRequest & { contract: string }): Promise<Record<string, unknown>>;
  /** --max-fee-rate and --max-fee-share: the refund's budget. */
  limits: FeeLimits;
};

/**
 * The HTLC's output of a state: the first after the gateway's payout (index 1 when something was
 * settled, else 0), as the device's refund takes it (lib/device/onchain.ts deviceRefund) — a view
 * of the mint's store reads the signed state sealed, so its outputs are not read here.
 */
function htlcVout(settledSat: number): number {
  return settledSat > 0 ? 1 : 0;
}

/**
 * Who spends an HTLC output, as the node says: nobody (or its state is not out), a transaction
 * in its mempool (by which leaf, and what a replacement must outbid), or one in a block.
 */
async function htlcSpend(r: Round, outpoint: { txid: string; vout: number }, htlc: HtlcOutput, stateConfirmations: number | null): Promise<HtlcSpend> {
  if (r.offline || stateConfirmations === null) return { where: 'none' };
  if ((await r.chain.utxo(outpoint.txid, outpoint.vout)) !== null) return { where: 'none' };
  const spender = await r.chain.mempoolSpender(outpoint.txid, outpoint.vout);
  if (spender === undefined) return stateConfirmations >= 1 ? { where: 'block' } : { where: 'none' };
  const { spendingLeaf } = await import('../../lib/device/replace.ts');
  const leaf = spendingLeaf(await r.chain.rawTransaction(spender), outpoint, htlc);
  // What holds the output now: with the state unconfirmed the state and its child, else the spender and its descendants.
  const held = await r.chain.mempoolEviction(stateConfirmations === 0 ? outpoint.txid : spender);
  const rate = held ? heldRate(held) : 0;
  return { where: 'mempool', txid: spender, leaf, rate };
}

/**
 * The claim's budget as a rate of what it sends (sat/kvB): --max-fee-rate, and --max-fee-share of
 * the HTLC, taken on the exit package (state + claim child): the claim alone, once the state is
 * mined, is smaller, so the share's rate is the lower bound of what it could pay.
 */
function claimBudgetRate(sized: Record<string, unknown>, amount: number, limits: GatewayHost['limits']): number {
  // The sizing build is always the exit package (lookup: false): the state and its claim child.
  const state = sized.state_tx as { vsize: number; fee_sat: number };
  const vsize = state.vsize + (sized.child as { vsize: number }).vsize;
  const rateCap = Math.floor((Math.floor(limits.maxFeeRate * vsize) * 1000) / vsize);
  return Math.min(rateCap, Math.floor((1000 * (Math.floor(amount * limits.maxFeeShare) + state.fee_sat)) / vsize));
}

/**
 * The claim a bid record names, as the node shows it: only a transaction that spends this HTLC
 * through the claim leaf counts (a record is advice — a forged or stale txid claims nothing).
 */
async function recordedClaim(r: Round, txid: string, outpoint: { txid: string; vout: number }, htlc: HtlcOutput): Promise<{ claim?: { txid: string; confirmations: number | null } }> {
  const confirmations = await r.chain.txConfirmations(txid);
  if (confirmations === null) return {};
  const { spendingLeaf } = await import('../../lib/device/replace.ts');
  return spendingLeaf(await r.chain.rawTransaction(txid), outpoint, htlc) === 'claim' ? { claim: { txid, confirmations } } : {};
}

/** The transaction a claim step sent: the package's child, or the claim alone. */
function claimTxid(message: Record<string, unknown>): string {
  return message.type === 'credit/exit' ? (message.child as { txid: string }).txid : message.txid as string;
}

/** The gateway's decisions this round, each claim sent unless a dry run. */
export async function gatewayRound(host: GatewayHost, r: Round): Promise<Decision[]> {
  const start = startRates(r.chain);
  const failed = (c: MintContractRecord) => {
    const expiry = c.gateway!.latest!.htlc!.expiry_height;
    return { kind: 'gateway' as const, contract: c.contract_id, deadline: expiry, blocks_left: expiry - r.tip, action: 'hold' as const };
  };
  return turns(host.channels, (c) => gatewayTurn(host, r, c, start), failed);
}

async function gatewayTurn(host: GatewayHost, r: Round, record: MintContractRecord, startRate: ReturnType<typeof startRates>): Promise<Decision> {
  const { htlcOf } = await import('../../lib/device/onchain.ts');
  const g = record.gateway as GatewayChannel & { latest: NonNullable<GatewayChannel['latest']> };
  const h = g.latest.htlc!;
  const row: GatewayRow = { contract_id: record.contract_id, payment_hash: h.payment_hash, htlc_expiry: h.expiry_height, margin: Math.min(host.margin, CLAIM_BLOCKS) };
  const htlc = htlcOf(g);
  const outpoint = { txid: g.latest.txid, vout: htlcVout(g.latest.settled_sat) };
  // A bid is this payment's, in this state (a record left by an earlier payment's claim, never sent, steers nothing).
  const payment = `${h.payment_hash}:${g.latest.txid}`;
  const stored = await r.records.bid(record.contract_id, 'claim');
  const bid = stored?.payment === payment ? stored : undefined;
  const stateConfirmations = r.offline ? null : await r.chain.txConfirmations(g.latest.txid);
  const spend = await htlcSpend(r, outpoint, htlc, stateConfirmations);
  let facts: GatewayFacts = {
    tip: r.tip, startRate: 0, budgetRate: 0, incrementalRate: 0, stateConfirmations, minConfirmations: FINAL_DEPTH, htlc: spend,
    ...(bid ? { bid } : {}),
    ...(bid?.txid && !r.offline ? await recordedClaim(r, bid.txid, outpoint, htlc) : {}),
  };
  // The state in the mempool with a child that is not a claim (the mint's exit child, sent before the preimage came): a claim package must outbid it.
  if (stateConfirmations === 0 && spend.where === 'none') {
    const held = await r.chain.mempoolEviction(g.latest.txid);
    if (held) facts.packageRate = heldRate(held);
  }
  let d = decideGateway(row, facts);
  // Only a claim of its own, deep: a spend found in a block without its depth is asked about again each round (a reorganisation may undo it).
  if (d.action === 'done' && facts.claim) host.settled(record.contract_id);
  // Only a claim due is priced: its sizes from the step's own build (a dry run: nothing frozen), the schedule from the node's estimate.
  if (!SENDING.has(d.action) && d.action !== 'hold') return d;
  const { start, incremental } = await startRate(h.expiry_height - r.tip);
  try {
    const sized = await host.claim({ feeRate: SIZING_RATE, broadcast: false, dryRun: true, contract: record.contract_id, lookup: false });
    facts = { ...facts, startRate: start, incrementalRate: incremental, budgetRate: claimBudgetRate(sized, h.amount_sat, host.limits) };
  } catch (e) {
    facts = { ...facts, startRate: start, incrementalRate: incremental, unbuildable: errorText(e) };
  }
  d = decideGateway(row, facts);
  if (r.dryRun || d.rate === undefined || !SENDING.has(d.action)) return d;
  const next = { start_tip: bid?.start_tip ?? r.tip, rate: d.rate, tip: r.tip, block: r.block, payment };
  try {
    // Stored before it is sent: the schedule's start survives a crash; the claim's txid once the node took it.
    await r.records.setBid(record.contract_id, { ...next, ...(bid?.txid ? { txid: bid.txid } : {}) }, 'claim');
    const sent = await host.claim({ feeRate: satVb(d.rate), broadcast: true, dryRun: false, contract: record.contract_id });
    d.txid = claimTxid(sent);
    await r.records.setBid(record.contract_id, { ...next, txid: d.txid }, 'claim');
  } catch (e) {
    // The step's own judgement of the mempool (lib/device/replace.ts claimReplacing): its claim there pays the rate already.
    if (e instanceof OffchainError && e.code === 'E_ALREADY_CLAIMED') return { ...d, action: 'hold', reason: `the claim in the node's mempool already pays ${satVb(d.rate!)} sat/vB: it stands` };
    d.error = errorText(e);
  }
  return d;
}

/** The device's decisions this round: one per payment it may take back, in each state that holds it. */
export async function deviceRound(host: DeviceHost, r: Round): Promise<Decision[]> {
  const { refundable } = await import('../../lib/device/onchain.ts');
  const rows = (await host.contracts(r.tip))
    .filter((c) => c.device && c.status !== 'closed' && c.status !== 'rolled-over')
    .flatMap((c) => refundable(c.device as DeviceChannel).map((p) => ({ c, p })));
  const start = startRates(r.chain);
  const failed = ({ c, p }: (typeof rows)[number]) => {
    const deadline = refundDeadline({ htlc_expiry: p.expiry_height });
    return { kind: 'device' as const, contract: c.contract_id, deadline, blocks_left: deadline - r.tip, action: 'none' as const };
  };
  return turns(rows, ({ c, p }) => deviceTurn(host, r, c, p, start), failed);
}

async function deviceTurn(host: DeviceHost, r: Round, c: UserContractRecord, p: { payment_hash: string; expiry_height: number; txid: string; settled_sat: number }, startRate: ReturnType<typeof startRates>): Promise<Decision> {
  const { paymentHtlc, hexBytes } = await import('../../lib/device/channel.ts');
  const { termsFromJson } = await import('../../lib/credit/codec.ts');
  const htlc = paymentHtlc(termsFromJson(c.contract, c.network), hexBytes(p.payment_hash), p.expiry_height);
  const outpoint = { txid: p.txid, vout: htlcVout(p.settled_sat) };
  const stateConfirmations = r.offline ? null : await r.chain.txConfirmations(p.txid);
  let spend = await htlcSpend(r, outpoint, htlc, stateConfirmations);
  // Its own refund in the mempool: a replacement outbids it and its descendants (the state, even unconfirmed, stays).
  if (spend.where === 'mempool' && spend.leaf === 'refund') {
    const held = await r.chain.mempoolEviction(spend.txid);
    spend = { ...spend, rate: held ? heldRate(held) : 0 };
  }
  const row = { contract_id: c.contract_id, payment_hash: p.payment_hash, state_txid: p.txid, htlc_expiry: p.expiry_height };
  // A bid is this payment's, in this state (one left by another steers nothing).
  const payment = `${p.payment_hash}:${p.txid}`;
  const key = `${c.contract_id}:${p.payment_hash}`;
  const stored = await r.records.bid(key, 'device');
  const bid = stored?.payment === payment ? stored : undefined;
  let facts: DeviceFacts = { tip: r.tip, stateConfirmations, htlc: spend, ...(bid ? { bid } : {}) };
  // Only a refund due (final, the HTLC unspent or held by its own refund) is priced: its size from the step's own
  // build (nothing is written), the schedule from the node's estimate.
  const due = stateConfirmations !== null && r.tip >= p.expiry_height && (spend.where === 'none' || (spend.where === 'mempool' && spend.leaf === 'refund'));
  if (!due) return decideDevice(row, facts);
  const request = { contract: c.contract_id, 'payment-hash': p.payment_hash, 'state-txid': p.txid };
  const { start, incremental } = await startRate(refundDeadline(row) - r.tip);
  try {
    const sized = await host.refund({ ...request, 'fee-rate': SIZING_RATE, broadcast: false });
    facts = { ...facts, startRate: start, incrementalRate: incremental, budgetRate: guardedRateCap(sized.vsize as number, BigInt(sized.amount_sat as number), host.limits) };
  } catch (e) {
    facts = { ...facts, startRate: start, incrementalRate: incremental, unbuildable: errorText(e) };
  }
  const d = decideDevice(row, facts);
  if (r.dryRun || d.rate === undefined || !SENDING.has(d.action)) return d;
  try {
    // Stored before it is sent: only its start_tip steers the next bid (what it replaces is read from the node).
    await r.records.setBid(key, { start_tip: bid?.start_tip ?? r.tip, rate: d.rate, tip: r.tip, block: r.block, payment }, 'device');
    const sent = await host.refund({ ...request, 'fee-rate': satVb(d.rate), broadcast: true });
    d.txid = (sent.broadcast as { txid: string }).txid;
  } catch (e) {
    d.error = errorText(e);
  }
  return d;
}
