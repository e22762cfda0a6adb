/**
 * What a command that runs a watcher shares (`offchain watch`, and `serve mint`, which runs one
 * beside its routes): the node as a watcher asks it, and the host of ./rounds.ts built from the
 * command's own steps — the mint's contracts as `credit list` sees them, its exit as
 * `exit-credit` runs it (in a service, through the service's store: ../credit/served-mint.ts),
 * the user's contracts and refund as `refund-credit` reads them.
 *
 * Kinds kept today: the credit mint's exit, the credit user's refund, and the BOLT 2/3 channel
 * party's penalty on a revoked commitment (./channel.ts; docs/watch.md says which kinds are not
 * kept yet).
 */
import type { Command } from '@oclif/core';
import { OffchainError, RefusedError, UsageError } from '../../lib/errors.ts';
import type { Network } from '../../lib/network.ts';
import type { ChainSource } from '../../lib/chain/types.ts';
import type { UserContractRecord } from '../../lib/credit/ports.ts';
import type { MintRow } from '../../lib/watch/credit.ts';
import { FINAL_DEPTH } from '../../lib/watch/decision.ts';
import { ExitSteps } from '../credit/exit.ts';
import type { MintHost, UserHost, WatchChain } from './credit.ts';
import type { WatchHost } from './rounds.ts';
import type { Gauge } from '../serve/metrics.ts';

/** A watcher sees its transactions mined through getrawtransaction: without the node's transaction index it would send them again forever. */
async function needsTxIndex(chain: ChainSource): Promise<void> {
  if (chain.txIndex && !(await chain.txIndex())) {
    throw new UsageError('E_CHAIN_NO_TXINDEX', 'the node keeps no transaction index: a watcher could not see its own transactions mined; restart bitcoind with -txindex=1 (it builds the index once)');
  }
}


/** How deep the transaction that settled a row for good is buried (0: not settled for good). */
function settledDepth(row: MintRow): number {
  if (row.status === 'closed' || row.status === 'rolled-over') return row.settlement?.confirmations ?? 0;
  if (row.status === 'exited') return row.exit?.confirmations ?? 0;
  if (row.status === 'refunded') return row.refund?.confirmations ?? 0;
  return 0;
}

export abstract class WatchSteps<T extends typeof Command> extends ExitSteps<T> {
  /**
   * The node, with what a watcher asks of it. Without one (--tip-height), only a dry run of one
   * round: no estimate (the schedule starts at Core's relay floor), no mempool, no view of the chain.
   */
  protected async watchChain(network: Network, opts: { dryRun: boolean; once: boolean }): Promise<WatchChain> {
    const chain = await this.chain(network);
    if (chain.kind === 'rpc') {
      await needsTxIndex(chain);
      return chain as WatchChain;
    }
    if (!opts.dryRun || !opts.once) throw new UsageError('E_CHAIN_OFFLINE', 'watch acts only beside a node: pass --rpc-url (or set OFFCHAIN_RPC_URL); offline, --once --dry-run with --tip-height says what it would do');
    const floor = { minRelayFeeRate: 100, mempoolMinFeeRate: 100, incrementalRelayFeeRate: 100 };
    return Object.assign(Object.create(chain) as ChainSource, {
      estimateFeeRate: async () => null,
      txConfirmations: async () => null,
      mempoolPolicy: async () => floor,
    }) as WatchChain;
  }

  /**
   * Contracts a long-running watcher saw settled for good — closed, rolled over, exited or
   * refunded, that transaction FINAL_DEPTH blocks deep or more: not evaluated again (each
   * would cost the node a getrawtransaction per block, for ever), until a reorganisation that
   * deep makes every one of them a question again.
   */
  private settledForGood = new Set<string>();

  /** The host of a watcher's rounds for this state directory (and --store), on `chain`. */
  protected watchHost(network: Network, chain: WatchChain): WatchHost {
    return {
      network,
      chain,
      db: (create) => this.state(network, { create }),
      kinds: [
        async (r, reorgDepth) => {
          if (reorgDepth >= FINAL_DEPTH) this.settledForGood.clear();
          const mint = await this.watchedMint(network);
          return mint ? (await import('./credit.ts')).mintRound(mint, r) : [];
        },
        async (r) => (await import('./credit.ts')).userRound(this.watchedUser(network), r),
        async (r, reorgDepth) => {
          if (reorgDepth >= FINAL_DEPTH) this.channelsDone.clear();
          // A service's watcher (serve mint) keeps its own role's contracts: a channel party's key is offchain watch's.
          if (this.served) return [];
          const host = await this.watchedChannels(network);
          return host ? (await import('./channel.ts')).channelRound(host, r) : [];
        },
      ],
    };
  }

  /**
   * A watcher run inside a service (serve mint): with a node and `enabled`, its rounds beside
   * the routes — its decisions in the service's JSON log (role watch), its gauges on the
   * service's /metrics; `stop()` ends it after the round in flight. Undefined otherwise (offline
   * there is nothing to watch; the service says so once).
   */
  protected async serviceWatcher(network: Network, chain: ChainSource, enabled: boolean, logLevel: string): Promise<{ gauges: Gauge[]; start(): void; stop(): Promise<void> } | undefined> {
    if (!enabled) return undefined;
    if (chain.kind !== 'rpc') {
      this.term.info('offchain: no node (--rpc-url): the service keeps no deadline — run offchain watch beside a node, or give this service one');
      return undefined;
    }
    const { WATCH_GAUGES, watchLogger } = await import('./service.ts');
    const { watchLoop } = await import('./rounds.ts');
    const log = await watchLogger(logLevel, network);
    try {
      await needsTxIndex(chain);
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      log.warn({ event: 'not-watching', code: e.code }, e.message);
      return undefined;
    }
    const state = { reorgs: 0, failedRounds: 0 };
    const abort = new AbortController();
    let running: Promise<void> | undefined;
    const host = this.watchHost(network, chain as WatchChain);
    return {
      gauges: WATCH_GAUGES(state),
      start: () => {
        running = watchLoop(host, { dryRun: false, intervalMs: 2000, log: log.info, gauges: state, signal: abort.signal }).catch((e: unknown) => {
          log.warn({ event: 'watch-stopped', err: { message: (e as Error).message } }, 'the watcher stopped on an internal error; the service goes on');
        });
      },
      stop: async () => {
        abort.abort();
        await running;
      },
    };
  }

  private keyChecked = false;

  /** Channels a long-running watcher saw done: not evaluated again, until a reorganisation FINAL_DEPTH deep. */
  private channelsDone = new Set<string>();

  /** The channel party's secrets and --sweep-to, loaded and checked once (channelKeyChecked; ./channel-party.ts). */
  private channelParty: import('./channel-party.ts').ChannelParty | undefined;

  private async channelRecords(network: Network) {
    return (await import('./channel-party.ts')).readChannels((create) => this.state(network, { create }), this.stateDir(network), network);
  }

  /**
   * A state directory holding channels needs their party's secrets and --sweep-to
   * (./channel-party.ts): missing or wrong, refused before anything is decided. Nothing is asked
   * when it holds none.
   */
  protected async channelKeyChecked(network: Network): Promise<void> {
    const records = await this.channelRecords(network);
    if (records.length === 0 || this.channelParty) return;
    const { loadChannelParty } = await import('./channel-party.ts');
    this.channelParty = await loadChannelParty(this.flags as import('./channel-party.ts').ChannelFlags, records, network, this.stateDir(network));
  }

  /** The channel party's side, when this state directory holds channels (a channel recorded since the start is checked too). */
  private async watchedChannels(network: Network): Promise<import('./channel.ts').ChannelHost | undefined> {
    const records = await this.channelRecords(network);
    if (records.length === 0) return undefined;
    const { channelHost } = await import('./channel-party.ts');
    let party: import('./channel-party.ts').ChannelParty | OffchainError;
    try {
      await this.channelKeyChecked(network);
      party = this.channelParty!;
    } catch (e) {
      if (!(e instanceof OffchainError)) throw e;
      party = e;
    }
    return channelHost(records, party, await this.feeLimits(), this.channelsDone);
  }

  /**
   * A watcher of a mint holds the mint's key (its exits' children are signed by it): a missing
   * or wrong one is refused before anything is decided (E_NO_KEY, E_WRONG_KEY), not found out
   * contract by contract when an exit is due.
   */
  private async mintKeyChecked(network: Network): Promise<void> {
    if (this.keyChecked) return;
    const key = await this.keyPair(network);
    await this.withMintView(network, async (_store, policy) => {
      const { toHex } = await import('../../lib/bytes.ts');
      if (toHex(key.publicKey) !== policy.mint_pubkey) throw new RefusedError('E_WRONG_KEY', `this key is not the mint key of ${this.stateDir(network)} (${policy.mint_pubkey}): pass the mint's --key-file/--key-env`);
    });
    this.keyChecked = true;
  }

  /** The mint's side, when this state directory (or --store) holds a mint. */
  private async watchedMint(network: Network): Promise<MintHost | undefined> {
    let rows: MintRow[];
    try {
      rows = await this.withMintView(network, async (store, policy, chain) => {
        const { contractsMessage } = await import('../../lib/credit/operator.ts');
        const records = (await store.list()).filter((r) => !this.settledForGood.has(r.contract_id));
        return (await contractsMessage(records, (await chain.tip()).height, policy, network, chain)).contracts as MintRow[];
      });
    } catch (e) {
      if (e instanceof UsageError && e.code === 'E_NO_MINT_POLICY') return undefined;
      throw e;
    }
    for (const row of rows) if (settledDepth(row) >= FINAL_DEPTH) this.settledForGood.add(row.contract_id);
    if (!this.served) await this.mintKeyChecked(network);
    // With the key: a view reads the signed states sealed (asked only of a contract whose exit's state is in the mempool).
    const pin = (contract: string) => this.withMint(network, async (ctx, store) => {
      const record = await store.get(contract);
      return record ? (await import('../../lib/credit/exit.ts')).exitPin(ctx.chain, record) : undefined;
    }, { nonces: 'none' });
    return { rows: async () => rows, exit: (req) => this.creditExit(req), pin, limits: await this.feeLimits() };
  }

  private watchedUser(network: Network): UserHost {
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
