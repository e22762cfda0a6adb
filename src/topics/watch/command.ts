/**
 * What a command that runs a watcher shares (`offchain watch`, and `serve mint`, which runs one
 * beside its routes): the node as a watcher asks it, and the host of ./rounds.ts built from the
 * command's own steps — the mint's contracts as `credit list` sees them, its exit as
 * `exit-credit` runs it (in a service, through the service's store: ../credit/served-mint.ts),
 * the user's contracts and refund as `refund-credit` reads them, the gateway's HTLC claim as
 * `gateway claim` runs it, the device's HTLC refund as `device refund-htlc` builds it.
 *
 * Kinds kept today: the credit mint's exit, the credit user's refund, the gateway's claim and the
 * device's refund of a payment's HTLC, and (in `offchain watch`) the statechain owner's backup and
 * withdrawal — its coins as the statechain commands' store keeps them, its exit as `statechain
 * backup` runs it (../statechain/backup-spend.ts) — a payer's HTLC and PTLC refunds (htlc watch-add,
 * ptlc watch-add; the refund commands' own code, ../htlc/payer.ts), and the BOLT 2/3 channel party's
 * penalty on a revoked commitment, its own to_local's sweep and its HTLCs on the peer's commitment
 * (./channel.ts). docs/watch.md says which kinds are not kept yet.
 */
import type { Command } from '@oclif/core';
import { OffchainError, RefusedError, UsageError } from '../../lib/errors.ts';
import type { Network } from '../../lib/network.ts';
import type { ChainSource } from '../../lib/chain/types.ts';
import type { MintContractRecord, UserContractRecord } from '../../lib/credit/ports.ts';
import type { MintRow } from '../../lib/watch/credit.ts';
import { FINAL_DEPTH } from '../../lib/watch/decision.ts';
import type { Due } from '../../lib/watch/ports.ts';
import { HtlcRefundSteps } from '../device/htlc-refund.ts';
import { countIdle, type MintHost, type Round, type UserHost, type WatchChain } from './credit.ts';
import type { DeviceHost, GatewayHost } from './device.ts';
import type { OwnerHost } from './statechain.ts';
import type { PayerHost } from './htlc.ts';
import type { OwnerRecord } from '../../lib/statechain/owner.ts';
import type { Documents } from '../../lib/store/sqlite/records.ts';
import type { WatchHost } from './rounds.ts';
import type { Gauge } from '../serve/metrics.ts';
import type { WatchGaugeState } from './service.ts';

/** A watcher sees its transactions mined through getrawtransaction: without the node's transaction index it would send them again forever. */
const needsTxIndex = async (chain: ChainSource) => (await import('./credit.ts')).withTxIndex(chain, 'a watcher could not see its own transactions mined');


/** How deep the transaction that settled a row for good is buried (0: not settled for good). */
function settledDepth(row: MintRow): number {
  if (row.status === 'closed' || row.status === 'rolled-over') return row.settlement?.confirmations ?? 0;
  if (row.status === 'exited') return row.exit?.confirmations ?? 0;
  if (row.status === 'refunded') return row.refund?.confirmations ?? 0;
  return 0;
}

export abstract class WatchSteps<T extends typeof Command> extends HtlcRefundSteps<T> {
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

  /** The store read against its index one slice a round (./audit.ts): every record once in a third of the safety margin. */
  private mintAudit: import('./audit.ts').MintAudit | undefined;

  /** The host of a watcher's rounds for this state directory (and --store), on `chain`; `once`: one round (`--once`), which reads its tip's slice of the store alone (a long-running watcher also reads those of the tips it skipped). */
  protected watchHost(network: Network, chain: WatchChain, opts: { once?: boolean } = {}): WatchHost {
    this.watchOnce = opts.once === true;
    return {
      network,
      chain,
      db: (create) => this.state(network, { create }),
      kinds: [
        {
          // The mint's contracts: the credit mint's exits and the gateway's claims (one kind per contract).
          kind: 'mint',
          round: async (r, reorgDepth) => {
            if (reorgDepth >= FINAL_DEPTH) this.settledForGood.clear();
            const mint = await this.watchedMint(network, r.tip);
            if (!mint) return [];
            countIdle(r, mint.unread);
            const { mintRound } = await import('./credit.ts');
            const { gatewayRound } = await import('./device.ts');
            const { withAlarms } = await import('./audit.ts');
            return withAlarms([...await mintRound(mint.host, r), ...await gatewayRound(mint.gateway, r)], mint.alarms, mint.held, r.tip);
          },
        },
        { kind: 'credit-user', round: async (r) => (await import('./credit.ts')).userRound(this.watchedUser(network), r) },
        { kind: 'device', round: async (r) => (await import('./device.ts')).deviceRound(await this.watchedDevice(network), r) },
        // A statechain owner's coins, a payer's HTLCs and PTLCs, a channel party's channels: kept by `offchain watch`
        // (a service's watcher keeps its mint's or gateway's contracts; these roles' keys are offchain watch's).
        ...(this.served ? [] : [{
          kind: 'statechain-owner',
          round: async (r: Round) => {
            const owner = await this.watchedOwner(network, chain);
            return owner ? (await import('./statechain.ts')).ownerRound(owner, r) : [];
          },
        }, {
          kind: 'payer',
          round: async (r: Round) => (await import('./htlc.ts')).payerRound(await this.watchedPayer(network), r),
        }, {
          kind: 'channel',
          round: async (r: Round, reorgDepth: number) => {
            if (reorgDepth >= FINAL_DEPTH) this.channelsDone.clear();
            const host = await this.watchedChannels(network, chain);
            return host ? (await import('./channel.ts')).channelRound(host, r) : [];
          },
        }]),
      ],
    };
  }

  /**
   * A watcher run inside a service (serve mint): with a node and `enabled`, its rounds beside
   * the routes, woken by the node's ZMQ hashblock as `zmq` says (--zmq-hashblock) — its
   * decisions in the service's JSON log (role watch), its gauges on the service's /metrics;
   * `stop()` ends it after the round in flight. Undefined otherwise (offline
   * there is nothing to watch; the service says so once).
   */
  protected async serviceWatcher(network: Network, chain: ChainSource, enabled: boolean, logLevel: string, zmq: string): Promise<{ gauges: Gauge[]; state: WatchGaugeState; running(): boolean; start(): void; stop(): Promise<void> } | undefined> {
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
    const state: WatchGaugeState = { reorgs: 0, failedRounds: 0 };
    const abort = new AbortController();
    let running: Promise<void> | undefined;
    let stopped = false;
    const host = this.watchHost(network, chain as WatchChain);
    return {
      gauges: WATCH_GAUGES(state),
      state,
      // Started, and neither stopped nor ended on an internal error (GET /v1/info).
      running: () => running !== undefined && !stopped,
      start: () => {
        running = watchLoop(host, { dryRun: false, intervalMs: 2000, zmq, log, gauges: state, signal: abort.signal }).catch((e: unknown) => {
          log.warn({ event: 'watch-stopped', err: { message: (e as Error).message } }, 'the watcher stopped on an internal error; the service goes on');
        }).finally(() => (stopped = true));
      },
      stop: async () => {
        abort.abort();
        await running;
      },
    };
  }

  private keyChecked = false;

  /** One round (`--once`): see watchHost. */
  private watchOnce = false;

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
    this.channelParty = await loadChannelParty(this.flags as import('./channel-party.ts').ChannelFlags, records, network, this.stateDir(network), (line) => this.term.warn(line));
  }

  /** The channel party's side, when this state directory holds channels (a channel recorded since the start is checked too). */
  private async watchedChannels(network: Network, chain: ChainSource): Promise<import('./channel.ts').ChannelHost | undefined> {
    const records = await this.channelRecords(network);
    if (records.length === 0) return undefined;
    const { channelHost, channelStepper } = await import('./channel-party.ts');
    let party: import('./channel-party.ts').ChannelParty | OffchainError;
    try {
      await this.channelKeyChecked(network);
      party = this.channelParty!;
    } catch (e) {
      if (!(e instanceof OffchainError)) throw e;
      party = e;
    }
    // Anchors' HTLC second stages pay their fee from the node's wallet (--rpc-wallet, else its only loaded one): asked only when one is due.
    const { nodeWallet, walletClient } = await import('./wallet.ts');
    const client = walletClient(chain, (this.flags as { 'rpc-wallet'?: string })['rpc-wallet']);
    const wallet = client ? nodeWallet(client) : undefined;
    const step = channelStepper((create) => this.state(network, { create }), this.stateDir(network));
    return channelHost(records, party, await this.feeLimits(), this.channelsDone, wallet, step);
  }

  /**
   * A watcher of a mint holds the mint's key (its exits' children are signed by it): a missing
   * or wrong one is refused before anything is decided (E_NO_KEY, E_WRONG_KEY), not found out
   * contract by contract when an exit is due. A directory without a mint needs none.
   */
  protected async mintKeyChecked(network: Network): Promise<void> {
    if (this.keyChecked || this.served) return;
    let key: Awaited<ReturnType<typeof this.keyPair>> | undefined;
    try {
      await this.withMintView(network, async (_store, policy) => {
        key ??= await this.keyPair(network);
        const { toHex } = await import('../../lib/bytes.ts');
        if (toHex(key.publicKey) !== policy.mint_pubkey) throw new RefusedError('E_WRONG_KEY', `this key is not the mint key of ${this.stateDir(network)} (${policy.mint_pubkey}): pass the mint's --key-file/--key-env (a mint and an owner with different keys need a state directory each)`);
      });
    } catch (e) {
      if (e instanceof UsageError && e.code === 'E_NO_MINT_POLICY') return;
      throw e;
    }
    this.keyChecked = true;
  }

  /**
   * The mint's side, when this state directory (or --store) holds a mint: its contracts due at
   * the tip (src/lib/watch/ports.ts: within the safety margin of expiry, or with an exit or a
   * gateway's payment in flight; the others, `idle`, are not read) for the credit mint's exit,
   * and those a gateway keeps (its latest state's HTLC, whose preimage it holds: ./device.ts
   * gatewayKeeps) for the gateway's claim — each contract one kind's.
   */
  private async watchedMint(network: Network, roundTip: number): Promise<{ host: MintHost; gateway: GatewayHost; unread: Omit<Due<unknown>, 'records'>; alarms: ReadonlyMap<string, string>; held: ReadonlySet<string> } | undefined> {
    let rows: MintRow[];
    let channels: MintContractRecord[];
    let margin: number;
    let unread: Omit<Due<unknown>, 'records'>;
    try {
      ({ rows, channels, margin, unread } = await this.withMintView(network, async (store, policy, chain) => {
        const { contractsMessage } = await import('../../lib/credit/operator.ts');
        const { gatewayKeeps } = await import('./device.ts');
        const { auditEvery, mintDueUpTo } = await import('../../lib/watch/ports.ts');
        const { MintAudit } = await import('./audit.ts');
        // The rows are credit list's at the node's tip now: the contracts due at it, or at the round's if that is higher.
        const tip = (await chain.tip()).height;
        // Read through the index, and one slice of the store against it: the whole store within a third of the margin (ports.ts, THE AUDIT: why not a gateway's claim window).
        this.mintAudit ??= new MintAudit(auditEvery(policy.safety_margin_blocks), !this.watchOnce);
        const due = await this.mintAudit.read(store, mintDueUpTo(Math.max(tip, roundTip), policy.safety_margin_blocks), roundTip);
        const records = due.records.filter((r) => !this.settledForGood.has(r.contract_id));
        const channels = records.filter(gatewayKeeps);
        const exits = records.filter((r) => !gatewayKeeps(r));
        const rows = (await contractsMessage(exits, tip, policy, network, chain)).contracts as MintRow[];
        const { records: _read, ...rest } = due;
        return { rows, channels, margin: policy.safety_margin_blocks, unread: rest };
      }));
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
    const limits = await this.feeLimits();
    return {
      unread,
      alarms: this.mintAudit!.alarms,
      held: this.mintAudit!.held,
      host: { rows: async () => rows, exit: (req) => this.creditExit(req), pin, limits },
      gateway: {
        channels, margin, limits,
        claim: (req) => this.gatewayClaim(network, req),
        settled: (contract) => this.settledForGood.add(contract),
      },
    };
  }

  /** The device's side: the user's contracts with a device channel, `device refund-htlc`'s step (signed by --key-env/--key-file, the device's key), the fee guard. */
  private async watchedDevice(network: Network): Promise<DeviceHost> {
    return {
      limits: await this.feeLimits(),
      // Those of the user's contracts due at the round's tip: every one with a device channel is (src/lib/watch/ports.ts).
      contracts: async (tip) => (await this.watchedUser(network).contracts(tip)).records,
      refund: (req) => this.htlcRefund(req),
    };
  }

  /** The owner's documents (coin-<id>), opened once, sealed under --key-file/--key-env. */
  private ownerDocs: Promise<Documents> | undefined;

  private async ownerCoins(network: Network): Promise<{ docs: Documents; names: string[] }> {
    const { ownerDocuments } = await import('../statechain/backup-spend.ts');
    const docs = await (this.ownerDocs ??= ownerDocuments((create) => this.state(network, { create }), this.stateDir(network), () => this.keyPair(network)));
    // A pair's part's coins (joint-<coin>) too: kept as an owner's, the backup's child paid from the node's wallet.
    return { docs, names: (await docs.list()).filter((n) => n.startsWith('coin-') || n.startsWith('joint-')) };
  }

  /**
   * A watcher of a statechain owner's coins holds the owner's key (its shares are sealed under
   * it; the backup's child is signed with the share): a missing or wrong one is refused before
   * anything is decided (E_NO_KEY, E_WRONG_KEY). One key per watcher: a state directory whose mint
   * and statechain owner hold different keys is refused by one check or the other.
   */
  protected async ownerKeyChecked(network: Network): Promise<void> {
    const { docs, names } = await this.ownerCoins(network);
    if (names.length === 0) return;
    const key = await this.keyPair(network);
    const { toHex } = await import('../../lib/bytes.ts');
    for (const name of names) {
      if (this.ownerChecked.has(name)) continue;
      let record: OwnerRecord | undefined;
      try {
        record = await docs.read<OwnerRecord>(name);
      } catch (e) {
        if (e instanceof OffchainError && e.code === 'E_KEY_MISMATCH') throw new RefusedError('E_WRONG_KEY', `this key is not the statechain owner's of ${this.stateDir(network)} (its coins are sealed under another): pass the owner's --key-file/--key-env (a mint and an owner with different keys need a state directory each)`);
        throw e;
      }
      // A part's record names the pair's first part (A) as its auth: its own part's key is its joint part's.
      const { isJoint } = await import('./statechain.ts');
      const auth = record && isJoint(record) ? record.joint.parts[record.joint.index]?.auth : record?.auth;
      if (record !== undefined && auth !== toHex(key.publicKey)) {
        throw new RefusedError('E_WRONG_KEY', `this key is not the owner of coin ${record.coin_id} in ${this.stateDir(network)} (its key is ${record.auth}): pass the owner's --key-file/--key-env (a mint and an owner with different keys need a state directory each)`);
      }
      this.ownerChecked.add(name);
    }
  }

  /** The coin records whose owner key was checked (a long-running watcher checks a coin once). */
  private ownerChecked = new Set<string>();

  /** The statechain owner's side, when this state directory holds coins. */
  private async watchedOwner(network: Network, chain: WatchChain): Promise<OwnerHost | undefined> {
    const { docs, names } = await this.ownerCoins(network);
    if (names.length === 0) return undefined;
    await this.ownerKeyChecked(network);
    const key = await this.keyPair(network);
    const limits = await this.feeLimits();
    const { backupSpend, withdrawalSpend } = await import('../statechain/backup-spend.ts');
    const { ownerScript } = await import('../../lib/statechain/coin.ts');
    // The child pays the watcher's own key (its BIP-86 P2TR), as the credit exit's pays the mint's.
    const destination = ownerScript(key.publicKey);
    const { nodeWallet, walletClient } = await import('./wallet.ts');
    const client = walletClient(chain);
    return {
      coins: async () => (await Promise.all(names.map((n) => docs.read<OwnerRecord>(n)))).filter((r): r is OwnerRecord => r !== undefined),
      backup: (record, req) => backupSpend(record, chain, {
        network, broadcast: req.broadcast, auxRand: this.random.bytes(32, 'statechain/child-aux'),
        child: { destination, feeRate: req.feeRate, feeLimits: limits, packageGuard: true, ...(req.conflicts ? { conflicts: req.conflicts } : {}) },
      }),
      withdrawal: (record, req) => withdrawalSpend(record, chain, {
        network, owner: key, broadcast: req.broadcast, auxRand: this.random.bytes(32, 'statechain/child-aux'),
        child: { destination, feeRate: req.feeRate, feeLimits: limits, packageGuard: true },
      }),
      limits,
      network,
      // A pair's backups' children are paid from the node's wallet (its default one), asked only when one is due.
      ...(client ? { wallet: nodeWallet(client) } : { noWallet: 'E_CHAIN_OFFLINE: no node (--rpc-url) and so no wallet' }),
    };
  }

  /** A payer's HTLCs and PTLCs (htlc watch-add, ptlc watch-add): refunded with --key-file/--key-env, the payer's key. */
  private async watchedPayer(network: Network): Promise<PayerHost> {
    const { payerRecords } = await import('./htlc.ts');
    return {
      network, limits: await this.feeLimits(),
      records: async () => payerRecords(await this.state(network, { create: false })),
      key: () => this.keyPair(network),
      auxRand: () => this.random.bytes(32, 'htlc/bip340-aux'),
    };
  }

  /** The payer's key of every kept HTLC and PTLC: E_NO_KEY/E_WRONG_KEY before any round. */
  protected async payerKeyChecked(network: Network): Promise<void> {
    const { payerKeyCheck, payerRecords } = await import('./htlc.ts');
    await payerKeyCheck(await payerRecords(await this.state(network, { create: false })), () => this.keyPair(network));
  }

  private watchedUser(network: Network): UserHost {
    return {
      contracts: async (tip) => {
        const { ContractBook } = await import('../../lib/store/sqlite/records.ts');
        const { userDueUpTo } = await import('../../lib/watch/ports.ts');
        const book = new ContractBook<UserContractRecord>((c) => this.state(network, { create: c }), 'credit-user', this.stateDir(network));
        return book.due(userDueUpTo(tip));
      },
      refund: async (id) => {
        const { ctx } = await this.userView(network);
        const { refundMessage } = await import('../../lib/credit/user-refund.ts');
        return (await refundMessage(ctx, id)).message as { hex: string; txid: string };
      },
    };
  }
}
