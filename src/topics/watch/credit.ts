/**
 * The credit contract's kinds in a watcher's round (docs/watch.md): the chain's facts asked of
 * the node, the decision taken by src/lib/watch/credit.ts, and the action run by the one-shot
 * step's own code — the mint's exit is `credit exit`'s (ExitSteps.creditExit: the freeze
 * committed, then the package submitted), the user's refund is `refund-credit`'s message sent
 * with sendrawtransaction.
 */
import type { ChainSource } from '../../lib/chain/types.ts';
import type { UserContractRecord } from '../../lib/credit/ports.ts';
import { OffchainError, UsageError } from '../../lib/errors.ts';
import type { ExitRequest } from '../credit/exit.ts';
import { decideMint, decideUser, exitBudgetRate, type ExitPackage, type MintDecision, type MintFacts, type MintRow } from '../../lib/watch/credit.ts';
import { FINAL_DEPTH, SENDING, heldRate } from '../../lib/watch/decision.ts';
import { RawTx, Transaction } from '@scure/btc-signer';
import { base64 } from '@scure/base';
import { fromHex, toHex } from '../../lib/bytes.ts';
import { dustThreshold } from '../../lib/tx/policy.ts';
import type { Decision } from '../../lib/watch/decision.ts';
import type { Due } from '../../lib/watch/ports.ts';
import type { WatchRecords } from './state.ts';

/** A node as a watcher needs it: the chain source with the calls a watcher makes. */
export type WatchChain = ChainSource & Required<Pick<ChainSource, 'txConfirmations' | 'estimateFeeRate' | 'mempoolPolicy' | 'blockHeader' | 'mempoolSpender' | 'mempoolEviction' | 'mempoolEntry'>>;

/** One round: the tip (its block hash; '' offline), whether it acts, and whether a node is there at all (offline: a dry run at --tip-height). */
export type Round = {
  tip: number; block: string; dryRun: boolean; offline: boolean; chain: WatchChain; records: WatchRecords;
  /** The blocks new to the watcher's view this round, lowest first (a first view: the tip alone): where an output that disappeared was spent. */
  connected?: string[];
  /**
   * The contracts this round left unread (src/lib/watch/ports.ts: none can need anything at its tip) and the lowest
   * watch height among them (their nearest expiry), each kind adding its own (countIdle): the report's summary.
   */
  idle?: { count: number; next?: number };
};

/** What a kind's read of its store left unread, counted into the round's idle contracts. */
export function countIdle(r: Round, unread: Omit<Due<unknown>, 'records'>): void {
  if (!r.idle) return;
  r.idle.count += unread.others;
  if (unread.next !== undefined) r.idle.next = Math.min(r.idle.next ?? unread.next, unread.next);
}

/** The mint's side, as the watch command gives it (its store, its key, its fee guard). */
export type MintHost = {
  /** `credit list`'s rows. */
  rows(): Promise<MintRow[]>;
  exit(req: ExitRequest): Promise<Record<string, unknown>>;
  /** A child of the contract's state in the node's mempool that is not the mint's (src/lib/credit/exit.ts exitPin). */
  pin(contract: string): Promise<{ txid: string; fee: bigint } | undefined>;
  /** --max-fee-rate and --max-fee-share. */
  limits: { maxFeeRate: number; maxFeeShare: number };
};

/** The user's side: its contracts due at a tip (src/lib/watch/ports.ts), how many others it holds, and the refund step. */
export type UserHost = {
  contracts(tip: number): Promise<Due<UserContractRecord>>;
  refund(id: string): Promise<{ hex: string; txid: string }>;
};


/**
 * A node whose transaction index is on (getrawtransaction finds a mined transaction), as a watcher and the list views
 * read it — `without` says what could not be seen otherwise (E_CHAIN_NO_TXINDEX, exit 2).
 */
export async function withTxIndex(chain: ChainSource, without: string): Promise<WatchChain> {
  if (chain.txIndex && !(await chain.txIndex())) {
    throw new UsageError('E_CHAIN_NO_TXINDEX', `the node keeps no transaction index: ${without}; restart bitcoind with -txindex=1 (it builds the index once)`);
  }
  return chain as WatchChain;
}

/** Where a deadline's schedule starts: the node's estimate for the blocks left, at least what its mempool takes now — each asked once a round. */
export type StartRate = (blocksLeft: number) => Promise<{ start: number; incremental: number; floor: number }>;

export function startRates(chain: WatchChain): StartRate {
  let policy: ReturnType<WatchChain['mempoolPolicy']> | undefined;
  const estimates = new Map<number, Promise<number | null>>();
  return async (blocksLeft) => {
    const target = Math.max(1, blocksLeft);
    const p = await (policy ??= chain.mempoolPolicy());
    let estimate = estimates.get(target);
    if (estimate === undefined) estimates.set(target, (estimate = chain.estimateFeeRate(target)));
    const floor = Math.max(p.minRelayFeeRate, p.mempoolMinFeeRate);
    return { start: Math.max(floor, (await estimate) ?? 0), incremental: p.incrementalRelayFeeRate, floor };
  };
}

export const satVb = (rate: number) => (rate / 1000).toFixed(3);

/** The rate the package's sizes are taken at: any rate gives the same sizes, and the floor is one no fee guard refuses. */
export const SIZING_RATE = '0.1';

/**
 * Every contract's turn, one after another: a turn that fails is that contract's decision —
 * `failed`, with the error — and the others go on (a watcher that stops keeps no deadline).
 */
export async function turns<T>(items: readonly T[], turn: (item: T) => Promise<Decision>, failed: (item: T) => Omit<Decision, 'reason' | 'error'>): Promise<Decision[]> {
  const out: Decision[] = [];
  for (const item of items) {
    try {
      out.push(await turn(item));
    } catch (e) {
      out.push({ ...failed(item), reason: 'this contract\'s turn failed: taken again at the next round', error: errorText(e) });
    }
  }
  return out;
}

/** The mint's decisions this round, each acted on unless a dry run. */
export async function mintRound(host: MintHost, r: Round): Promise<Decision[]> {
  const start = startRates(r.chain);
  return turns(await host.rows(), (row) => mintTurn(host, r, row, start), (row) => ({ kind: 'credit-mint', contract: row.contract_id, deadline: row.expiry_height, blocks_left: row.expiry_height - r.tip, action: 'hold' }));
}

async function mintTurn(host: MintHost, r: Round, row: MintRow, startRate: StartRate): Promise<MintDecision> {
  const active = (row.must_exit || row.status === 'exiting') && !(row.exit?.confirmations && row.exit.confirmations >= 1) && !(row.refund && row.refund.confirmations >= 1);
  // Only a contract the mint must act on has a bid worth reading (a lookup per contract per block is most of a round's cost at 100,000).
  const bid = active ? await r.records.bid(row.contract_id) : undefined;
  let facts: MintFacts = { tip: r.tip, startRate: 0, budgetRate: Math.floor(host.limits.maxFeeRate * 1000), incrementalRate: 0, ...(bid ? { bid } : {}) };
  if (active) facts = { ...facts, ...await exitFacts(host, r, row, startRate) };
  const d = decideMint(row, facts);
  // A hold over a package someone else sent (the operator's exit-credit, a store that lost its bids) starts the schedule here: the next block's bid rises from it.
  if (!r.dryRun && active && bid === undefined && d.action === 'hold') await r.records.setBid(row.contract_id, { start_tip: r.tip, rate: 0, tip: r.tip, block: r.block });
  if (r.dryRun || d.rate === undefined || !SENDING.has(d.action)) return d;
  try {
    await r.records.setBid(row.contract_id, { start_tip: bid?.start_tip ?? r.tip, rate: d.rate, tip: r.tip, block: r.block });
    const sent = await host.exit({ feeRate: satVb(d.rate), broadcast: true, dryRun: false, contract: row.contract_id });
    d.txid = (sent.child as { txid: string }).txid;
  } catch (e) {
    d.error = errorText(e);
  }
  return d;
}

/**
 * What the node says of a contract the mint must exit: where the schedule starts, the budget,
 * what holds the funding now — and, when the exit's state is in the mempool with a child that
 * is not the mint's (the user's, on its own output of the state, to pin it), that child, which
 * the next one must replace (TRUC sibling eviction: its fee and chunk set the least it pays).
 */
async function exitFacts(host: MintHost, r: Round, row: MintRow, startRate: StartRate): Promise<Partial<MintFacts>> {
  const { start, incremental } = await startRate(row.expiry_height - r.tip);
  let sizes: Sizes;
  try {
    sizes = exitSizes(await host.exit({ feeRate: SIZING_RATE, broadcast: false, dryRun: true, contract: row.contract_id, pin: false }));
  } catch (e) {
    return { startRate: start, incrementalRate: incremental, unbuildable: errorText(e) };
  }
  const facts: Partial<MintFacts> = { startRate: start, incrementalRate: incremental, budgetRate: exitBudgetRate(sizes, host.limits) };
  if (r.offline) return facts;
  // Who holds the funding now: the exit's state (then the package there is what a bid outbids), the user's refund (replaced), or something this store does not know.
  const { txid, vout } = sizes.funding;
  const spender = await r.chain.mempoolSpender(txid, vout);
  if (spender === sizes.stateTxid) {
    const held = await r.chain.mempoolEviction(sizes.stateTxid);
    if (!held) return facts;
    const mempoolRate = heldRate(held);
    // A child of the state that is not the mint's (the exit step found it: src/lib/credit/exit.ts exitPin): replacing it
    // takes more absolute fee than it pays (Core's rule 3), whatever the rates — what a bid must reach is that, as a
    // package rate, or the bid holds, saying the budget falls short (never a send bound to be refused).
    const pin = await host.pin(row.contract_id);
    if (!pin) return { ...facts, mempoolRate };
    const least = Math.ceil((1000 * (sizes.stateFee + Number(pin.fee)) + incremental * sizes.childVsize) / (sizes.stateVsize + sizes.childVsize));
    return { ...facts, mempoolRate: Math.max(mempoolRate, least - incremental), foreignChild: pin.txid };
  }
  if (spender !== undefined && spender !== row.refund?.txid) return { ...facts, foreignSpend: { where: 'mempool', txid: spender } };
  if (spender === undefined && (await r.chain.utxo(txid, vout)) === null) return { ...facts, foreignSpend: { where: 'block' } };
  return facts;
}

export function errorText(e: unknown): string {
  return e instanceof OffchainError ? `${e.code}: ${e.message}` : `E_INTERNAL: ${(e as Error)?.message ?? String(e)}`;
}

type Sizes = ExitPackage & { stateTxid: string; funding: { txid: string; vout: number } };

function exitSizes(message: Record<string, unknown>): Sizes {
  const state = message.state_tx as { txid: string; hex: string; vsize: number; fee_sat: number };
  const child = message.child as { txid: string; vsize: number };
  const tx = RawTx.decode(fromHex(state.hex));
  const input = tx.inputs[0]!;
  const payout = message.cumulative_sat as number;
  // The output the child spends is the payout (the child's one input from the state, or its first: a device channel's claim spends the HTLC too).
  const payoutVout = Transaction.fromPSBT(base64.decode((message.child as { psbt: string }).psbt), { allowUnknownOutputs: true }).getInput(0).index!;
  const payoutDust = Number(dustThreshold(tx.outputs[payoutVout]?.script ?? new Uint8Array(34)));
  return { stateVsize: state.vsize, stateFee: state.fee_sat, childVsize: child.vsize, payout, payoutDust, stateTxid: state.txid, funding: { txid: toHex(input.txid), vout: input.index } };
}

/** The user's decisions this round, each refund sent unless a dry run. */
export async function userRound(host: UserHost, r: Round): Promise<Decision[]> {
  const failed = (c: UserContractRecord) => ({ kind: 'credit-user' as const, contract: c.contract_id, deadline: c.contract.expiry_height, blocks_left: c.contract.expiry_height - r.tip, action: 'none' as const });
  const due = await host.contracts(r.tip);
  countIdle(r, due);
  return turns(due.records, (c) => userTurn(host, r, c), failed);
}

async function userTurn(host: UserHost, r: Round, record: UserContractRecord): Promise<Decision> {
  const { expiry_height: expiry, funding } = record.contract;
  const refundTxid = record.refund?.txid;
  // The node is asked only where its answer can change the decision: a refund final by now (offline, nothing is known spent).
  const ask = refundTxid !== undefined && r.tip >= expiry && record.status !== 'closed' && record.status !== 'rolled-over' && !r.offline;
  const unspent = !ask || (await r.chain.utxo(funding.txid, funding.vout)) !== null;
  const d = decideUser({
    contract: record.contract_id,
    status: record.status,
    expiry,
    tip: r.tip,
    ...(refundTxid ? { refundTxid } : {}),
    refundConfirmations: ask ? await r.chain.txConfirmations(refundTxid) : null,
    fundingUnspent: unspent,
    fundingSpentInMempool: !unspent && (await r.chain.mempoolSpender(funding.txid, funding.vout)) !== undefined,
    minConfirmations: FINAL_DEPTH,
  });
  if (r.dryRun || d.action !== 'refund') return d;
  try {
    d.txid = await r.chain.broadcast(fromHex((await host.refund(record.contract_id)).hex));
  } catch (e) {
    d.error = errorText(e);
  }
  return d;
}
