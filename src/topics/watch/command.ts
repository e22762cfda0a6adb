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

  /** The channel party's revocation_basepoint secret and --sweep-to, loaded and checked once (channelKeyChecked). */
  private channelParty: { secret: Uint8Array; point: string; delayed?: Uint8Array; htlc?: { secret: Uint8Array; preimages: Uint8Array[] }; destination: { script: Uint8Array; dustSat: number } } | undefined;

  /**
   * This state directory's channel records (the `commitment` commands' ChannelBook), each decoded
   * — a damaged one is its channel's error, not the round's (the other channels and kinds go on);
   * none without a database.
   */
  private async channelRecords(network: Network): Promise<import('./channel.ts').WatchedChannel[]> {
    const { ChannelBook } = await import('../../lib/store/sqlite/channels.ts');
    const { decodeChannelRecord } = await import('../../lib/bolt3/party.ts');
    const book = new ChannelBook((create) => this.state(network, { create: false }), this.stateDir(network));
    return [...(await book.all())].flatMap(([id, v]): import('./channel.ts').WatchedChannel[] => {
      try {
        const record = decodeChannelRecord(v, `the record of channel ${id}`);
        return record.network === network ? [{ id, record }] : [];
      } catch (e) {
        return [{ id, error: e instanceof OffchainError ? `${e.code}: ${e.message}` : String(e) }];
      }
    });
  }

  /**
   * A state directory holding channels needs their party's revocation_basepoint secret
   * (--revocation-key-env/--revocation-key-file: the penalties are signed with it) and where the
   * penalties pay (--sweep-to): missing or wrong, refused before anything is decided (E_NO_KEY,
   * E_USAGE, E_WRONG_KEY). The delayed_payment_basepoint secret (the party's own to_local swept)
   * and the htlc_basepoint secret with the preimages (its HTLCs on the peer's current commitment
   * taken) are optional, checked the same way when given. Nothing is asked when it holds none.
   */
  protected async channelKeyChecked(network: Network): Promise<void> {
    const records = await this.channelRecords(network);
    if (records.length === 0 || this.channelParty) return;
    const f = this.flags as { 'revocation-key-env'?: string; 'revocation-key-file'?: string; 'delayed-key-env'?: string; 'delayed-key-file'?: string; 'htlc-key-env'?: string; 'htlc-key-file'?: string; 'preimage-file'?: string[]; 'sweep-to'?: string };
    const env = f['revocation-key-env'];
    const file = f['revocation-key-file'];
    if (env === undefined && file === undefined) {
      throw new UsageError('E_NO_KEY', `${this.stateDir(network)} holds ${records.length} channel(s): their penalties are signed with your revocation_basepoint secret — pass --revocation-key-env NAME or --revocation-key-file FILE`);
    }
    if (file === undefined && !process.env[env!]) throw new UsageError('E_NO_KEY', `the environment variable ${env} named by --revocation-key-env is not set`);
    if (f['sweep-to'] === undefined) throw new UsageError('E_USAGE', `${this.stateDir(network)} holds channel(s): pass --sweep-to ADDRESS, where their penalties pay`);
    const { decodeAddress } = await import('../../lib/address.ts');
    const { dustThreshold } = await import('../../lib/tx/policy.ts');
    const script = decodeAddress(f['sweep-to'], network, '--sweep-to');
    const { loadKeyPair } = await import('../../lib/cli/secrets.ts');
    const key = await loadKeyPair({ keyFile: file, keyFileFlag: '--revocation-key-file', keyEnv: env, env: process.env, network, interactive: false, prompt: async () => '' });
    const { pointOf } = await import('../../lib/bolt3/keys.ts');
    const { toHex } = await import('../../lib/bytes.ts');
    const point = toHex(pointOf(key.secretKey, 'revocation basepoint secret'));
    for (const { id, record } of records) {
      if (record && record.channel.local.revocation_basepoint !== point) {
        key.secretKey.fill(0);
        throw new RefusedError('E_WRONG_KEY', `this key is not the revocation basepoint secret of channel ${id} (its basepoint is ${record.channel.local.revocation_basepoint}): pass that channel's --revocation-key-env/--revocation-key-file`);
      }
    }
    // The delayed_payment_basepoint secret is optional: with it, the party's own commitment's to_local is swept.
    let delayed: Uint8Array | undefined;
    const delayedEnv = f['delayed-key-env'];
    const delayedFile = f['delayed-key-file'];
    if (delayedEnv !== undefined || delayedFile !== undefined) {
      if (delayedFile === undefined && !process.env[delayedEnv!]) throw new UsageError('E_NO_KEY', `the environment variable ${delayedEnv} named by --delayed-key-env is not set`);
      delayed = (await loadKeyPair({ keyFile: delayedFile, keyFileFlag: '--delayed-key-file', keyEnv: delayedEnv, env: process.env, network, interactive: false, prompt: async () => '' })).secretKey;
      const delayedPoint = toHex(pointOf(delayed, 'delayed payment basepoint secret'));
      const other = records.find((c) => c.record && c.record.channel.local.delayed_payment_basepoint !== delayedPoint);
      if (other) {
        key.secretKey.fill(0);
        delayed.fill(0);
        throw new RefusedError('E_WRONG_KEY', `this key is not the delayed_payment_basepoint secret of channel ${other.id} (its basepoint is ${other.record!.channel.local.delayed_payment_basepoint}): pass that channel's --delayed-key-env/--delayed-key-file`);
      }
    }
    // The htlc_basepoint secret is optional too: with it (and the preimages given), the party's HTLCs on the peer's current commitment are taken.
    let htlc: { secret: Uint8Array; preimages: Uint8Array[] } | undefined;
    const htlcEnv = f['htlc-key-env'];
    const htlcFile = f['htlc-key-file'];
    if (htlcEnv !== undefined || htlcFile !== undefined) {
      if (htlcFile === undefined && !process.env[htlcEnv!]) throw new UsageError('E_NO_KEY', `the environment variable ${htlcEnv} named by --htlc-key-env is not set`);
      const secret = (await loadKeyPair({ keyFile: htlcFile, keyFileFlag: '--htlc-key-file', keyEnv: htlcEnv, env: process.env, network, interactive: false, prompt: async () => '' })).secretKey;
      const htlcPoint = toHex(pointOf(secret, 'htlc basepoint secret'));
      const other = records.find((c) => c.record && c.record.channel.local.htlc_basepoint !== htlcPoint);
      if (other) {
        for (const x of [key.secretKey, secret, ...(delayed ? [delayed] : [])]) x.fill(0);
        throw new RefusedError('E_WRONG_KEY', `this key is not the htlc_basepoint secret of channel ${other.id} (its basepoint is ${other.record!.channel.local.htlc_basepoint}): pass that channel's --htlc-key-env/--htlc-key-file`);
      }
      const { readHexSecretFile } = await import('../../lib/cli/secret-file.ts');
      htlc = { secret, preimages: (f['preimage-file'] ?? []).map((p) => readHexSecretFile(p, '--preimage-file', { length: 32 })) };
    } else if (f['preimage-file'] !== undefined) {
      throw new UsageError('E_USAGE', '--preimage-file claims HTLCs with the htlc_basepoint secret: pass --htlc-key-env or --htlc-key-file too');
    }
    this.channelParty = { secret: key.secretKey, point, ...(delayed ? { delayed } : {}), ...(htlc ? { htlc } : {}), destination: { script, dustSat: Number(dustThreshold(script)) } };
  }

  /**
   * The channel party's side, when this state directory holds channels. A channel recorded after
   * the watcher started is checked here too: without a key, or with another revocation basepoint,
   * it is that channel's error (the other channels and kinds go on).
   */
  private async watchedChannels(network: Network): Promise<import('./channel.ts').ChannelHost | undefined> {
    let records = await this.channelRecords(network);
    if (records.length === 0) return undefined;
    const limits = await this.feeLimits();
    try {
      await this.channelKeyChecked(network);
    } catch (e) {
      if (!(e instanceof OffchainError)) throw e;
      const error = `${e.code}: ${e.message}`;
      const unkeyed = records.map(({ id }) => ({ id, error }));
      return { channels: async () => unkeyed, revocationKey: async () => new Uint8Array(32), destination: { script: new Uint8Array(0), dustSat: 0 }, limits, done: this.channelsDone };
    }
    const party = this.channelParty!;
    records = records.map((c) => (c.record && c.record.channel.local.revocation_basepoint !== party.point
      ? { id: c.id, error: `E_WRONG_KEY: the revocation key given is not channel ${c.id}'s (its basepoint is ${c.record.channel.local.revocation_basepoint})` }
      : c));
    const { delayed, htlc } = party;
    return {
      channels: async () => records, revocationKey: async () => party.secret.slice(), ...(delayed ? { delayedKey: async () => delayed.slice() } : {}),
      ...(htlc ? { htlcKey: async () => ({ secret: htlc.secret.slice(), preimages: htlc.preimages.map((p) => p.slice()) }) } : {}),
      destination: party.destination, limits, done: this.channelsDone,
    };
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
