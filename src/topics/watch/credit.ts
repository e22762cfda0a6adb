/**
 * The credit contract's kinds in a watcher's round (docs/watch.md): the chain's facts asked of
 * the node, the decision taken by src/lib/watch/credit.ts, and the action run by the one-shot
 * step's own code — the mint's exit is `credit exit`'s (ExitSteps.creditExit: the freeze
 * committed, then the package submitted), the user's refund is `refund-credit`'s message sent
 * with sendrawtransaction.
 */
import type { ChainSource } from '../../lib/chain/types.ts';
import type { UserContractRecord } from '../../lib/credit/ports.ts';
import { OffchainError } from '../../lib/errors.ts';
import type { ExitRequest } from '../credit/exit.ts';
import { decideMint, decideUser, type MintRow } from '../../lib/watch/credit.ts';
import type { Decision } from '../../lib/watch/decision.ts';
import type { WatchRecords } from './state.ts';

/** A node as a watcher needs it: the chain source with the calls a watcher makes. */
export type WatchChain = ChainSource & Required<Pick<ChainSource, 'txConfirmations' | 'estimateFeeRate' | 'mempoolPolicy' | 'blockHeader'>>;

/** One round: the tip (its block hash; '' offline), whether it acts, and whether a node is there at all (offline: a dry run at --tip-height). */
export type Round = { tip: number; block: string; dryRun: boolean; offline: boolean; chain: WatchChain; records: WatchRecords };

/** The mint's side, as the watch command gives it (its store, its key, its fee guard). */
export type MintHost = {
  /** `credit list`'s rows. */
  rows(): Promise<MintRow[]>;
  exit(req: ExitRequest): Promise<Record<string, unknown>>;
  /** --max-fee-rate and --max-fee-share. */
  limits: { maxFeeRate: number; maxFeeShare: number };
};

/** The user's side: its contracts and the refund step. */
export type UserHost = {
  contracts(): Promise<UserContractRecord[]>;
  refund(id: string): Promise<{ hex: string; txid: string }>;
};

/** How many confirmations make a user's refund `done` (deep enough that no reorganisation seen since 2013 undoes it). */
export const USER_SAFE_CONFIRMATIONS = 6;

/** Where a deadline's schedule starts: the node's estimate for the blocks left, at least what its mempool takes now. */
async function startRate(chain: WatchChain, blocksLeft: number): Promise<{ start: number; incremental: number }> {
  const policy = await chain.mempoolPolicy();
  const floor = Math.max(policy.minRelayFeeRate, policy.mempoolMinFeeRate);
  const estimate = await chain.estimateFeeRate(Math.max(1, blocksLeft));
  return { start: Math.max(floor, estimate ?? 0), incremental: policy.incrementalRelayFeeRate };
}

const satVb = (rate: number) => (rate / 1000).toFixed(3);

/** The mint's decisions this round, each acted on unless a dry run. */
export async function mintRound(host: MintHost, r: Round): Promise<Decision[]> {
  const rows = await host.rows();
  const out: Decision[] = [];
  for (const row of rows) {
    const bid = r.records.bid(row.contract_id);
    const active = row.must_exit || row.status === 'exiting';
    let facts = { tip: r.tip, startRate: 0, budgetRate: Math.floor(host.limits.maxFeeRate * 1000), incrementalRate: 0, stateInMempool: false, ...(bid ? { bid } : {}) } as Parameters<typeof decideMint>[1];
    let sizes: { stateVsize: number; stateFee: number; childVsize: number; payout: number } | undefined;
    if (active && !(row.exit?.confirmations && row.exit.confirmations >= 1)) {
      const { start, incremental } = await startRate(r.chain, row.expiry_height - r.tip);
      const stateTxid = row.exit?.txid ?? bid?.state_txid;
      const inMempool = stateTxid !== undefined && (await r.chain.txConfirmations(stateTxid)) === 0;
      // The package's sizes from a build at the start rate (a dry run: nothing frozen or sent): what the payout can pay under --max-fee-share.
      try {
        sizes = exitSizes(await host.exit({ feeRate: satVb(start), broadcast: false, dryRun: true, contract: row.contract_id }));
      } catch (e) {
        if (!(e instanceof OffchainError)) throw e;
      }
      facts = { ...facts, startRate: start, incrementalRate: incremental, stateInMempool: inMempool, ...(sizes ? { budgetRate: budget(sizes, host.limits.maxFeeRate), affordableRate: affordable(sizes, host.limits.maxFeeShare) } : {}) };
    }
    const d = decideMint(row, facts);
    out.push(d);
    if (r.dryRun || d.rate === undefined || !['exit', 'rebid', 'rebroadcast'].includes(d.action)) continue;
    try {
      const planned = exitSizes(await host.exit({ feeRate: satVb(d.rate), broadcast: false, dryRun: true, contract: row.contract_id }));
      await r.records.setBid(row.contract_id, { start_tip: bid?.start_tip ?? r.tip, rate: d.rate, tip: r.tip, block: r.block, state_txid: planned.stateTxid, child_txid: planned.childTxid });
      const sent = await host.exit({ feeRate: satVb(d.rate), broadcast: true, dryRun: false, contract: row.contract_id });
      d.txid = (sent.child as { txid: string }).txid;
    } catch (e) {
      if (!(e instanceof OffchainError)) throw e;
      d.error = `${e.code}: ${e.message}`;
    }
  }
  return out;
}

type Sizes = { stateVsize: number; stateFee: number; childVsize: number; payout: number; stateTxid: string; childTxid: string };

function exitSizes(message: Record<string, unknown>): Sizes {
  const state = message.state_tx as { txid: string; vsize: number; fee_sat: number };
  const child = message.child as { txid: string; vsize: number };
  return { stateVsize: state.vsize, stateFee: state.fee_sat, childVsize: child.vsize, payout: message.cumulative_sat as number, stateTxid: state.txid, childTxid: child.txid };
}

/**
 * The budget as a package rate, sat/kvB: --max-fee-rate bounds each transaction's own rate (as
 * submitpackage's maxfeerate does), and the child pays for the state too — so the package may
 * reach only the rate at which the child alone is at the limit (a sat under it, for rounding).
 */
function budget(s: Pick<Sizes, 'stateVsize' | 'stateFee' | 'childVsize'>, maxFeeRate: number): number {
  const childAtLimit = Math.floor(maxFeeRate * s.childVsize) - 1;
  return Math.min(Math.floor(maxFeeRate * 1000), Math.floor((1000 * (childAtLimit + s.stateFee)) / (s.stateVsize + s.childVsize)));
}

/** The package rate (sat/kvB) at which the child's fee is --max-fee-share of the payout it spends. */
function affordable(s: Pick<Sizes, 'stateVsize' | 'stateFee' | 'childVsize' | 'payout'>, share: number): number {
  return Math.floor((1000 * (Math.floor(s.payout * share) + s.stateFee)) / (s.stateVsize + s.childVsize));
}

/** The user's decisions this round, each refund sent unless a dry run. */
export async function userRound(host: UserHost, r: Round): Promise<Decision[]> {
  const out: Decision[] = [];
  for (const record of await host.contracts()) {
    const { expiry_height: expiry, funding } = record.contract;
    const refundTxid = record.refund?.txid;
    const d = decideUser({
      contract: record.contract_id,
      status: record.status,
      expiry,
      tip: r.tip,
      ...(refundTxid ? { refundTxid } : {}),
      refundConfirmations: refundTxid ? await r.chain.txConfirmations(refundTxid) : null,
      // Offline nothing says it was spent: the dry run says what it would do if it were not.
      fundingUnspent: r.offline || (await r.chain.utxo(funding.txid, funding.vout)) !== null,
      minConfirmations: USER_SAFE_CONFIRMATIONS,
    });
    out.push(d);
    if (r.dryRun || d.action !== 'refund') continue;
    try {
      const { fromHex } = await import('../../lib/bytes.ts');
      d.txid = await r.chain.broadcast(fromHex((await host.refund(record.contract_id)).hex));
    } catch (e) {
      if (!(e instanceof OffchainError)) throw e;
      d.error = `${e.code}: ${e.message}`;
    }
  }
  return out;
}
