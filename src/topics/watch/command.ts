/**
 * `offchain watch`: a round per new block of the node's best chain — follow the chain by
 * block hash (src/lib/watch/chain-view.ts: a reorganisation is seen, and every decision is
 * taken again on the new chain), then, for every contract the state directory's roles hold,
 * decide (src/lib/watch/) and act through the one-shot step's own code (./credit.ts).
 *
 * Every round decides from the chain and the store alone, so a watcher killed at any point
 * and started again takes the same decisions: what it sent is either in the node (seen there)
 * or not (sent again), and a bid is stored before it is sent, so no later bid undercuts it.
 *
 * Kinds kept today: the credit mint's exit and the credit user's refund (docs/watch.md says
 * which kinds are not kept yet).
 */
import type { Command } from '@oclif/core';
import { OffchainError, UsageError } from '../../lib/errors.ts';
import type { Network } from '../../lib/network.ts';
import type { UserContractRecord } from '../../lib/credit/ports.ts';
import type { ChainSource } from '../../lib/chain/types.ts';
import type { StateDb } from '../../lib/store/sqlite/database.ts';
import { byDeadline, SENDING, type Decision, type Report } from '../../lib/watch/decision.ts';
import type { MintRow } from '../../lib/watch/credit.ts';
import { ExitSteps } from '../credit/exit.ts';
import { mintRound, userRound, type MintHost, type Round, type UserHost, type WatchChain } from './credit.ts';
import { WatchRecords } from './state.ts';
import type { WatchGaugeState, WatchLog } from './service.ts';

export type WatchOptions = { dryRun: boolean; intervalMs: number; log: WatchLog; gauges: WatchGaugeState };

const PENDING = new Set(['exit', 'refund', 'rebid', 'rebroadcast', 'hold', 'wait']);

export abstract class WatchSteps<T extends typeof Command> extends ExitSteps<T> {
  /**
   * The node, with what a watcher asks of it. Without one (--tip-height), only a dry run of one
   * round: no estimate (the schedule starts at Core's relay floor), no mempool, no view of the chain.
   */
  protected async watchChain(network: Network, opts: { dryRun: boolean; once: boolean }): Promise<WatchChain> {
    const chain = await this.chain(network);
    if (chain.kind === 'rpc') return chain as WatchChain;
    if (!opts.dryRun || !opts.once) throw new UsageError('E_CHAIN_OFFLINE', 'watch acts only beside a node: pass --rpc-url (or set OFFCHAIN_RPC_URL); offline, --once --dry-run with --tip-height says what it would do');
    const floor = { minRelayFeeRate: 100, mempoolMinFeeRate: 100, incrementalRelayFeeRate: 100 };
    return Object.assign(Object.create(chain) as ChainSource, {
      estimateFeeRate: async () => null,
      txConfirmations: async () => null,
      mempoolPolicy: async () => floor,
    }) as WatchChain;
  }

  /** The state directory's database; undefined while it has none (a watcher started before the first contract opens it at a later round; reading creates nothing). */
  protected async watchDb(network: Network): Promise<StateDb | undefined> {
    return this.state(network, { create: false });
  }

  /** One round at the node's tip: follow the chain, decide for every contract, act unless `dryRun`. */
  protected async round(network: Network, chain: WatchChain, db: StateDb | undefined, dryRun: boolean): Promise<Report> {
    const { follow } = await import('../../lib/watch/chain-view.ts');
    const records = await WatchRecords.open(db);
    const tip = await chain.tip();
    const offline = chain.kind !== 'rpc';
    const followed = offline ? { view: { blocks: [] }, replaced: [], deep: false } : await follow(records.view(), { height: tip.height, hash: tip.hash! }, (hash) => chain.blockHeader(hash));
    const r: Round = { tip: tip.height, block: tip.hash ?? '', dryRun, offline, chain, records };
    const decisions = [...await this.mintDecisions(network, r), ...await userRound(this.userHost(network), r)].sort(byDeadline);
    if (!dryRun) await records.setView(followed.view);
    const live = decisions.filter((d) => d.action !== 'done');
    return {
      type: 'watch/report',
      version: 1,
      network,
      dry_run: dryRun,
      tip: { height: tip.height, ...(tip.hash ? { hash: tip.hash } : {}) },
      ...(followed.replaced.length > 0 ? { reorg: { depth: followed.replaced.length, ...('forkHeight' in followed && followed.forkHeight !== undefined ? { fork_height: followed.forkHeight } : {}), deep: followed.deep, replaced: followed.replaced.map((b) => b.hash) } } : {}),
      decisions: decisions.map(({ rate: _rate, ...d }: Decision & { rate?: number }) => d),
      summary: {
        contracts: decisions.length,
        sent: decisions.filter((d) => SENDING.has(d.action) && d.error === undefined && !dryRun).length,
        pending: decisions.filter((d) => PENDING.has(d.action)).length,
        shortfalls: decisions.filter((d) => d.shortfall !== undefined).length,
        errors: decisions.filter((d) => d.error !== undefined).length,
        ...(live.length > 0 ? { nearest_deadline: Math.min(...live.map((d) => d.blocks_left)) } : {}),
      },
    };
  }

  /**
   * Rounds until SIGTERM or SIGINT: one at start, then one per new best block (the node asked
   * every `intervalMs`), each decision other than `none` logged as one JSON line. A round that
   * fails (the node unreachable, a busy store) is logged and tried again at the next poll.
   */
  protected async loop(network: Network, chain: WatchChain, db: () => Promise<StateDb | undefined>, opts: WatchOptions): Promise<void> {
    let stop = false;
    let wake: (() => void) | undefined;
    const onSignal = () => {
      stop = true;
      wake?.();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    let last: string | undefined;
    const previous = new Map<string, string>();
    try {
      while (!stop) {
        try {
          const tip = await chain.tip();
          if (tip.hash !== last) {
            const report = await this.round(network, chain, await db(), opts.dryRun);
            last = report.tip.hash;
            opts.gauges.last = report;
            if (report.reorg) opts.gauges.reorgs++;
            if (report.reorg) opts.log({ event: 'reorg', tip: report.tip, ...report.reorg }, 'reorganisation: decisions taken again on the new best chain');
            for (const d of report.decisions) {
              const key = `${d.kind}:${d.contract}`;
              const said = `${d.action}:${d.fee_rate ?? ''}:${d.txid ?? ''}`;
              if (d.action !== 'none' && previous.get(key) !== said) opts.log({ event: 'decision', height: report.tip.height, ...d }, d.reason);
              previous.set(key, said);
            }
            opts.log({ event: 'round', tip: report.tip, ...report.summary }, 'round');
          }
        } catch (e) {
          if (!(e instanceof OffchainError)) throw e;
          opts.gauges.failedRounds++;
          opts.log({ event: 'round-failed', code: e.code }, e.message);
        }
        if (stop) break;
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, opts.intervalMs);
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
      }
    } finally {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    }
  }

  /** The mint's decisions, when this state directory (or --store) holds a mint. */
  private async mintDecisions(network: Network, r: Round): Promise<Decision[]> {
    let rows: MintRow[] | undefined;
    try {
      rows = await this.withMintView(network, async (store, policy, chain) => {
        const { contractsList } = await import('../credit/list.ts');
        return (await contractsList(store, policy, chain, network, undefined)).contracts as MintRow[];
      });
    } catch (e) {
      if (e instanceof UsageError && e.code === 'E_NO_MINT_POLICY') return [];
      throw e;
    }
    const host: MintHost = {
      rows: async () => rows!,
      exit: (req) => this.creditExit(req),
      limits: await this.feeLimits(),
    };
    return mintRound(host, r);
  }

  private userHost(network: Network): UserHost {
    return {
      contracts: async () => {
        const { ContractBook } = await import('../../lib/store/sqlite/records.ts');
        const book = new ContractBook<UserContractRecord>((c) => this.state(network, { create: c }), 'credit-user', this.stateDir(network));
        return book.list();
      },
      refund: async (id) => {
        const { ctx } = await this.userView(network);
        const { refundMessage } = await import('../../lib/credit/user-refund.ts');
        return (await refundMessage(ctx, id)).message as { hex: string; txid: string };
      },
    };
  }
}
