/**
 * The base of the credit-contract commands: builds the mint's or the user's context
 * (key, records and single-use nonces under --state-dir, the chain source) and runs
 * each protocol step under the state directory's lock, so two invocations never
 * interleave a read-check-sign-write.
 *
 * Offline, the mint takes chain facts from flags: --tip-height, and
 * --confirmations N, the operator's assertion that the funding output of the
 * contract being served has N confirmations (its amount and script are the contract's).
 *
 * Beside it in this folder: the group's flags (./flags.ts), the mint's store and chain
 * (./mint-store.ts), the ecash seeds, keysets and tokens (./ecash.ts), and the steps of the
 * commands too long to be thin shells (./open.ts, ./stream.ts, ./rollover.ts, ./exit.ts).
 */
import type { Command } from '@oclif/core';
import { RefusedError, UsageError } from '../../lib/errors.ts';
import { toHex } from '../../lib/bytes.ts';
import type { Network } from '../../lib/network.ts';
import type { ChainSource } from '../../lib/chain/types.ts';
import type { MintContext, MintContractRecord, MintPolicy, UserContext, UserContractRecord } from '../../lib/credit/ports.ts';
import type { ExpiryWindow } from '../../lib/credit/user.ts';
import type { ContractBook } from '../../lib/store/sqlite/records.ts';
import type { FeeLimits } from '../../lib/tx/fee-guard.ts';
import type { MintStorePort } from '../../lib/store/mint-store-port.ts';
import { OffchainCommand } from '../../lib/cli/base-command.ts';
import { parseRate } from '../../lib/cli/flags.ts';
import * as ecash from './ecash.ts';
import { onServedMint, type ServedMint } from './served-mint.ts';
import { mintChain, mintPolicy, openMintStore, type MintStoreOptions } from './mint-store.ts';

type EcashFlags = Parameters<typeof ecash.ecashSeed>[0];

/** No mint under this state directory (and none was created). Exit 2. */
export function noMint(dir: string): UsageError {
  return new UsageError('E_NO_MINT_POLICY', `no mint policy in ${dir} (nothing was created there): check --state-dir and --network, or run "open-credit --role mint --publish --payout-address ADDR" first`);
}

/** What an exit's builder gives: the package, and with --broadcast how to send it (after the freeze is committed). */
export type ExitBuilt = { message: Record<string, unknown>; send?: () => Promise<Record<string, unknown>> };

/** No credit user state under this state directory (and none was created). Exit 2. */
export function noUserState(dir: string): UsageError {
  return new UsageError('E_NO_STATE', `no credit contract in ${dir} (nothing was created there): check --state-dir and --network, or open one with open-credit --role user`);
}

export abstract class CreditCommand<T extends typeof Command> extends OffchainCommand<T> {
  /** MuSig2 sessions at every step (base-command.ts `curveWork`). */
  protected override curveWork = true;

  /** A service's mint store, open for its life, and its group commit (serve mint, serve gateway): each store step then runs as one request of it (./served-mint.ts). */
  protected served: ServedMint | undefined;

  /**
   * Run `step` as the mint, as one transaction of its store (contracts, funding index
   * and single-use nonces in one SQLite database). The transaction starts with
   * BEGIN IMMEDIATE, so it is serialised with every other writer — another command, or
   * a streaming mint between its batches — without a directory lock held for a
   * command's whole life. Everything the step wrote is committed (and the WAL
   * checkpointed and truncated, so no consumed secret nonce lingers in it) before the
   * result is returned for printing; a step that throws commits nothing. A step that
   * touches no nonce (an exit, a claim) says `nonces: 'none'`: on PostgreSQL it may then run
   * as a one-shot command (a step that uses nonces runs only in a long-running process).
   */
  protected async withMint<T>(network: Network, step: (ctx: MintContext, store: MintStorePort<MintContractRecord>) => Promise<T>, opts: { nonces?: 'used' | 'none' } = {}): Promise<T> {
    if (this.served) return onServedMint(this.served, this.random.deterministic, step);
    return this.withMintStore(network, (ctx, store) => store.step(() => step(ctx, store)), opts);
  }

  /**
   * The mint's context on its open store, for a caller that makes its own transactions (the
   * stream). `nonces`: 'none' for a step that issues, takes and burns no nonce (an exit, a
   * claim). On PostgreSQL a step that uses nonces runs only in a long-running process
   * (serve mint, serve gateway, sign-update --stream): its nonces are sealed under that
   * process's own key (pg/mint-store.ts, the restore rule), so a one-shot command's would
   * die with it — it is refused (E_STORE_ONE_SHOT).
   */
  protected async withMintStore<T>(network: Network, use: (ctx: MintContext, store: MintStorePort<MintContractRecord>) => Promise<T>, opts: { nonces?: 'used' | 'none'; keysetsAsStored?: boolean } = {}): Promise<T> {
    const mint = await this.keyPair(network);
    return this.onMintStore(network, async (store, dir, policy) => {
      const { toHex } = await import('../../lib/bytes.ts');
      if (toHex(mint.publicKey) !== policy.mint_pubkey) throw new RefusedError('E_WRONG_KEY', `this key is not the mint key of ${dir} (${policy.mint_pubkey}): pass the mint's --key-file/--key-env`);
      const ctx: MintContext = { network, mint, policy, records: store, funding: store, nonces: store, chain: await this.mintChain(network, store), random: this.random };
      if (policy.ecash) {
        const seed = await this.ecashSeed(false);
        if (seed !== undefined) {
          const signer = await this.ecashSigner(store, policy.ecash, seed);
          // keysetsAsStored: `credit ecash follow`, which repairs a document without this seed's MAC (ecash-keysets.ts)
          ctx.ecash = { keyset: (await signer.refresh(opts.keysetsAsStored !== true)).active, signer, signatures: store };
        }
      }
      const result = await use(ctx, store);
      await store.close();
      return result;
    }, { nonces: opts.nonces ?? 'used', key: mint.secretKey, pub: mint.publicKey });
  }

  /** The keysets this mint issues under (./ecash.ts ecashSigner). */
  protected async ecashSigner(store: MintStorePort<MintContractRecord>, offer: NonNullable<MintPolicy['ecash']>, seed: string) {
    return ecash.ecashSigner(this.flags as EcashFlags, store, offer, seed);
  }

  /**
   * A read-only view of the mint's state: no key (a monitoring job need not hold the
   * signing key) and no lock (SQLite readers see the last commit, also while a mint
   * streams). Nothing is written. In a service, one request of its group commit too: a second
   * store on the service's one connection would share — and, closing, roll back — its open batch.
   */
  protected async withMintView<T>(network: Network, view: (store: MintStorePort<MintContractRecord>, policy: MintPolicy, chain: ChainSource) => Promise<T>): Promise<T> {
    if (this.served) return onServedMint(this.served, false, (ctx, store) => view(store, ctx.policy, ctx.chain));
    return this.onMintStore(network, async (store, _dir, policy) => view(store, policy, await this.mintChain(network, store)), { view: true });
  }

  private async onMintStore<T>(network: Network, use: (store: MintStorePort<MintContractRecord>, dir: string, policy: MintPolicy) => Promise<T>, opts: { view?: boolean; nonces?: 'used' | 'none'; key?: Uint8Array; pub?: Uint8Array } = {}): Promise<T> {
    const store = await this.openMintStore(network, { create: false, ...opts });
    try {
      return await use(store, store.dir, await mintPolicy(store, store.dir));
    } finally {
      await store.abandon();
    }
  }

  /** The mint's store (./mint-store.ts): PostgreSQL when --store names one, else SQLite under --state-dir. */
  protected async openMintStore(network: Network, opts: MintStoreOptions): Promise<MintStorePort<MintContractRecord>> {
    const command = this;
    return openMintStore({
      // Read when a nonce is reopened (the alarm fires later), not copied now: as when the check lived in the base class.
      flags: this.flags as Record<string, unknown>, term: this.term, get longRunning() { return command.longRunning; }, network,
      stateDir: () => this.stateDir(network), state: (create) => this.state(network, { create }),
    }, opts);
  }

  /** The ecash seed from --ecash-seed-env/--ecash-seed-file; undefined when none is given and it is not `required`. */
  protected ecashSeed(required: boolean): Promise<string | undefined> {
    return ecash.ecashSeed(this.flags as EcashFlags, required);
  }

  /** The ecash mint's settings the operator named (--ecash-path, --ecash-input-fee-ppk, …). */
  protected ecashNamed() {
    return ecash.ecashNamed(this.flags as EcashFlags);
  }

  /** The running ecash mint's answers (--ecash-keysets URL, or --ecash-keysets FILE --ecash-keys FILE), if given. */
  protected ecashLive() {
    return ecash.ecashLive(this.flags as EcashFlags, (path, flag) => this.readFileDocument(path, flag));
  }

  /** The keyset the credit mint issues under, checked against the running mint's answers when given (./ecash.ts). */
  protected ecashKeyset(required: boolean) {
    return ecash.ecashKeyset(this.flags as EcashFlags, required, (path, flag) => this.readFileDocument(path, flag));
  }

  /** Where a receipt's token goes (--token-out; ./ecash.ts). */
  protected tokenSink() {
    return ecash.tokenSink(this.flags as EcashFlags, this.term);
  }

  /**
   * The user's context; run its steps in `book.exclusive(…)`. Only the step that opens a
   * contract (`create`) may start a new user state directory; every other step needs one.
   */
  protected async userSession(network: Network, opts: { create?: boolean } = {}): Promise<{ ctx: UserContext; book: ContractBook<UserContractRecord> }> {
    const user = await this.keyPair(network);
    const book = await this.userBook(network, opts.create === true);
    const walletSeed = await ecash.walletSeed(this.flags as EcashFlags);
    return { book, ctx: { network, user, records: book, nonces: await this.nonceStore(network, user), chain: await this.chain(network), random: this.random, ...(walletSeed ? { walletSeed } : {}) } };
  }

  /** The user's records and chain, without its key: for read-only views (the refund). */
  protected async userView(network: Network): Promise<{ ctx: Pick<UserContext, 'network' | 'records' | 'chain'>; book: ContractBook<UserContractRecord> }> {
    const book = await this.userBook(network, false);
    return { book, ctx: { network, records: book, chain: await this.chain(network) } };
  }

  /** The user's contracts in the network's state; without `create`, E_NO_STATE when it holds none (and nothing is created). */
  private async userBook(network: Network, create: boolean): Promise<ContractBook<UserContractRecord>> {
    const { ContractBook } = await import('../../lib/store/sqlite/records.ts');
    const book = new ContractBook<UserContractRecord>((c) => this.state(network, { create: c }), 'credit-user', this.stateDir(network));
    if (!create && (await book.isEmpty())) throw noUserState(this.stateDir(network));
    return book;
  }

  /** With a node, the node; offline, --tip-height and the asserted funding confirmations (./mint-store.ts). */
  private async mintChain(network: Network, book: { list(): Promise<MintContractRecord[]> }): Promise<ChainSource> {
    return mintChain(await this.chain(network), (this.flags as { confirmations?: number }).confirmations, book);
  }

  /**
   * An exit of the mint's (exit-credit, gateway claim): the exit takes the latest committed
   * state and freezes the contract, so no later state of it is signed that this exit would
   * leave unpaid. `build` makes the package and, with --broadcast, says how to send it. The
   * freeze (and this run's attempt) is committed first — one transaction of the mint's store,
   * with its other writers, a streaming mint included — then the package goes to the node:
   * COMMIT before the act. A failed send takes back only what ../../lib/credit/exit.ts's rules
   * allow (`broadcastProof`, `releaseAttempt`). --dry-run writes nothing. It signs with no
   * nonce (on PostgreSQL a one-shot command may run it).
   */
  protected async mintExit(network: Network, who: string, build: (ctx: MintContext, record: MintContractRecord) => Promise<ExitBuilt>, given?: { broadcast?: boolean; 'dry-run'?: boolean; contract?: string }): Promise<Record<string, unknown>> {
    // `given`: a service's request in place of this command's flags (serve gateway's /v1/operator/claim).
    const f = given ?? (this.flags as { broadcast?: boolean; 'dry-run'?: boolean });
    const { frozenForExit, broadcastProof, stateNotInMempool, releaseAttempt, stillFrozen } = await import('../../lib/credit/exit.ts');
    const built = await this.withMint(network, async (ctx, store) => {
      if (f.broadcast && !ctx.chain.submitPackage) throw new UsageError('E_CHAIN_OFFLINE', '--broadcast needs a node: pass --rpc-url (or drop --broadcast and submit the printed package with bitcoin-cli submitpackage)');
      const id = given?.contract ?? await this.pickContract(store, ['open', 'closing', 'rolling-over']);
      const record = await store.get(id);
      if (!record) throw new UsageError('E_USAGE', `${who} has no contract ${id}`);
      const out = await build(ctx, record);
      if (f['dry-run']) return { message: out.message };
      const attempt = toHex(ctx.random.bytes(8, 'credit/exit/attempt'));
      const frozen = frozenForExit(record, attempt);
      await store.put(frozen);
      return { ...out, frozen, attempt, chain: ctx.chain };
    }, { nonces: 'none' });
    if (!('frozen' in built) || !built.send) return built.message;
    try {
      return { ...built.message, broadcast: await built.send() };
    } catch (e) {
      const id = built.frozen.contract_id;
      const proof = broadcastProof(e);
      if (proof === undefined) throw stillFrozen(e, id, 'the node may have taken the package');
      const notInMempool = proof === 'never-sent' || await stateNotInMempool(built.chain, built.frozen);
      const released = await this.withMint(network, async (_ctx, store) => {
        const next = releaseAttempt(await store.get(id), built.attempt, notInMempool);
        if (next) await store.put(next.record);
        return next?.unfrozen === true;
      }, { nonces: 'none' });
      if (!released) throw stillFrozen(e, id, notInMempool ? 'another exit of it was sent since' : 'the node holds the exit\'s state in its mempool, or cannot say');
      throw e;
    }
  }

  /** --contract, or the only contract in `status` in the book. */
  protected async pickContract<R extends { contract_id: string; status: string }>(book: { list(): Promise<R[]>; dir: string }, statuses: readonly string[]): Promise<string> {
    const explicit = (this.flags as { contract?: string }).contract;
    if (explicit) {
      if (!/^[0-9a-f]{64}$/.test(explicit)) throw new UsageError('E_USAGE', `--contract must be a contract id (64 hex digits), got ${JSON.stringify(explicit)}`);
      return explicit;
    }
    const candidates = (await book.list()).filter((r) => statuses.includes(r.status));
    if (candidates.length === 1) return candidates[0]!.contract_id;
    throw new UsageError(
      'E_USAGE',
      candidates.length === 0 ? `no ${statuses.join('/')} contract in ${book.dir}` : `${candidates.length} contracts are ${statuses.join('/')}: pass --contract ID`,
    );
  }

  /** --max-fee-rate / --max-fee-share (the fee guard), for commands that spread feeGuardFlags. */
  protected async feeLimits(): Promise<FeeLimits> {
    const f = this.flags as { 'max-fee-rate'?: string; 'max-fee-share'?: string };
    const { parseFeeLimits } = await import('../../lib/tx/fee-guard.ts');
    return parseFeeLimits({ maxFeeRate: f['max-fee-rate'], maxFeeShare: f['max-fee-share'] });
  }

  /** A --fee-rate the user gave (sat/vB), parsed and held to --max-fee-rate before anything is built. */
  protected async guardedRate(text: string): Promise<number> {
    const rate = parseRate(text);
    const { checkFeeRate } = await import('../../lib/tx/fee-guard.ts');
    checkFeeRate(rate, await this.feeLimits());
    return rate;
  }

  /**
   * The one JSON message a step reads, with its envelope checked and the network of
   * this invocation resolved from it; `expected` says what the step takes.
   */
  protected async readMessage(expected: string): Promise<{ type: string; network: Network; value: unknown }> {
    const doc = await this.readDocument();
    if (doc.format !== 'json') throw new UsageError('E_USAGE', `expected ${expected}`);
    const { readEnvelope } = await import('../../lib/envelope.ts');
    const env = readEnvelope(doc.value);
    return { type: env.type, network: this.network(env.network), value: doc.value };
  }

  /**
   * --expiry (a height or +BLOCKS) resolved against the chain's tip and checked against
   * the mint's window before anything is written (coded errors, exit 2).
   */
  protected async expiryHeight(spec: string, chain: ChainSource, window?: ExpiryWindow): Promise<number> {
    const { resolveExpiry } = await import('../../lib/credit/user.ts');
    if (!/^\+?\d+$/.test(spec)) return resolveExpiry(spec, 0, window); // E_USAGE, before asking the chain
    return resolveExpiry(spec, (await chain.tip()).height, window);
  }
}

