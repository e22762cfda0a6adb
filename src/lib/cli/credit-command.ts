/**
 * The base of the credit-contract commands: builds the mint's or the user's context
 * (key, records and single-use nonces under --state-dir, the chain source) and runs
 * each protocol step under the state directory's lock, so two invocations never
 * interleave a read-check-sign-write.
 *
 * Offline, the mint takes chain facts from flags: --tip-height, and
 * --confirmations N, the operator's assertion that the funding output of the
 * contract being served has N confirmations (its amount and script are the contract's).
 */
import { Flags, type Command } from '@oclif/core';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RefusedError, UsageError } from '../errors.ts';
import { isMilliSatPrecise } from '../tx/policy.ts';
import type { Network } from '../network.ts';
import type { ChainSource, UtxoInfo } from '../chain/types.ts';
import type { MintContext, MintContractRecord, MintPolicy, UserContext, UserContractRecord } from '../credit/ports.ts';
import type { ExpiryWindow } from '../credit/user.ts';
import type { RecordBook } from '../store/record-book.ts';
import type { FeeLimits } from '../tx/fee-guard.ts';
import type { MintStorePort } from '../store/mint-store-port.ts';
import type { StateSeal } from '../store/state-seal.ts';
import { OffchainCommand, type CommandResult } from './base-command.ts';
import { renamedFrom } from './flags.ts';

export const roleFlag = {
  role: Flags.string({ description: 'which party runs this step', options: ['user', 'mint'], required: true }),
};

export const contractFlag = {
  contract: Flags.string({ description: 'contract id (default: the only open contract in the state directory)', helpValue: 'ID' }),
};

export const fundingConfirmationsFlag = {
  confirmations: renamedFrom(Flags.integer({
    description: 'offline: assert the served contract\'s funding output has N confirmations (with a node, it is asked instead; was --funding-confirmations)',
    helpValue: 'N',
    min: 0,
    helpGroup: 'CHAIN',
  }), 'funding-confirmations'),
};

/**
 * The mint's ecash seed — the secret its keyset derives from, as the Cashu mint it fronts
 * derives its own (Nutshell: MINT_PRIVATE_KEY) — from the environment or a 0600 file,
 * never argv. --ecash-path is read only where no keyset is stored yet (a store published
 * before keysets were kept; the others keep each keyset's path).
 */
export const ecashSeedFlags = {
  'ecash-seed-env': Flags.string({ description: 'mint: name of the environment variable holding the ecash seed (the Cashu mint\'s private key string)', helpValue: 'NAME', helpGroup: 'ECASH' }),
  'ecash-seed-file': Flags.string({ description: 'mint: file (mode 0600) holding the ecash seed', helpValue: 'FILE', helpGroup: 'ECASH' }),
  'ecash-path': Flags.string({ description: 'mint: BIP-32 path of the keyset, its last step the keyset index (Nutshell\'s MINT_DERIVATION_PATH; default m/0\'/0\'/0\')', helpValue: 'PATH', helpGroup: 'ECASH' }),
};

/**
 * The ecash mint's settings (docs/ecash.md, "Settings side by side"), named once by the
 * operator, and/or the running mint's own answers to check them against. A setting not
 * named is taken from the mint's answers, or without them is Nutshell 0.20.3's default.
 */
export const ecashSettingsFlags = {
  'ecash-input-fee-ppk': Flags.integer({ description: 'mint: the keyset\'s input fee in ppk (Nutshell\'s MINT_INPUT_FEE_PPK; default: as the mint announces, else 100)', helpValue: 'PPK', min: 0, helpGroup: 'ECASH' }),
  'ecash-unit': Flags.string({ description: 'mint: the keyset\'s unit (the credit contract pays in sat)', options: ['sat'], helpGroup: 'ECASH' }),
  'ecash-id-version': Flags.string({ description: 'mint: the NUT-02 id version of the keyset: 01 for a keyset Nutshell 0.20 created, 00 for one created by 0.19 or older (default: as the mint announces, else 01)', options: ['00', '01'], helpGroup: 'ECASH' }),
  'ecash-amounts': Flags.integer({ description: 'mint: the keyset\'s number of amounts, 2^0 … 2^(N−1) (Nutshell 64, CDK 32; default: as the mint announces, else 64)', helpValue: 'N', min: 1, max: 64, helpGroup: 'ECASH' }),
  'ecash-keysets': Flags.string({ description: 'mint: the running ecash mint to check against: its URL (its /v1/keysets and /v1/keys are read), or a file with its /v1/keysets answer', helpValue: 'URL|FILE', helpGroup: 'ECASH' }),
  'ecash-keys': Flags.string({ description: 'mint, with --ecash-keysets FILE: a file with the mint\'s /v1/keys answer', helpValue: 'FILE', helpGroup: 'ECASH' }),
};

/** The user's NUT-13 wallet seed (BIP-39 seed bytes, hex) from the environment or a 0600 file. */
export const walletSeedFlags = {
  'wallet-seed-env': Flags.string({ description: 'user: name of the environment variable holding the wallet seed (hex, 16–64 bytes; NUT-13)', helpValue: 'NAME', helpGroup: 'ECASH' }),
  'wallet-seed-file': Flags.string({ description: 'user: file (mode 0600) holding the wallet seed as hex', helpValue: 'FILE', helpGroup: 'ECASH' }),
};

export const tokenOutFlag = {
  'token-out': Flags.string({ description: 'user, with ecash: write the payment\'s cashuB token to this new file (mode 0600); "-" prints the token alone on standard output (it is bearer money)', helpValue: 'FILE', helpGroup: 'ECASH' }),
};

/** No mint under this state directory (and none was created). Exit 2. */
export function noMint(dir: string): UsageError {
  return new UsageError('E_NO_MINT_POLICY', `no mint policy in ${dir} (nothing was created there): check --state-dir and --network, or run "open-credit --role mint --publish --payout-address ADDR" first`);
}

/** No credit user state under this state directory (and none was created). Exit 2. */
export function noUserState(dir: string): UsageError {
  return new UsageError('E_NO_STATE', `no credit contract in ${dir} (nothing was created there): check --state-dir and --network, or open one with open-credit --role user`);
}

export function parseRate(text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0.1 || n > 100_000) throw new UsageError('E_USAGE', `fee rate must be a number of sat/vB between 0.1 and 100000, got ${text}`);
  if (!isMilliSatPrecise(n)) throw new UsageError('E_USAGE', `fee rate ${text} has more than three decimals: give it in steps of 0.001 sat/vB`);
  return n;
}

export abstract class CreditCommand<T extends typeof Command> extends OffchainCommand<T> {
  /**
   * Run `step` as the mint, as one transaction of its store (contracts, funding index
   * and single-use nonces in one SQLite database). The transaction starts with
   * BEGIN IMMEDIATE, so it is serialised with every other writer — another command, or
   * a streaming mint between its batches — without a directory lock held for a
   * command's whole life. Everything the step wrote is committed (and the WAL
   * checkpointed and truncated, so no consumed secret nonce lingers in it) before the
   * result is returned for printing; a step that throws commits nothing. A step that
   * touches no nonce (an exit, a claim) says `nonces: 'none'`: on PostgreSQL it then keeps
   * nothing under --state-dir (no host nonce key), so it writes nowhere it was not asked to.
   */
  protected async withMint<T>(network: Network, step: (ctx: MintContext, store: MintStorePort<MintContractRecord>) => Promise<T>, opts: { nonces?: 'host' | 'none' } = {}): Promise<T> {
    return this.withMintStore(network, (ctx, store) => store.step(() => step(ctx, store)), opts);
  }

  /**
   * The mint's context on its open store, for a caller that makes its own transactions (the
   * stream). On PostgreSQL, `nonces` says whose key seals the nonces this process issues:
   * the host's, shared by its one-shot commands (the default), or the process's own (the
   * stream's) — see pg/host-epoch.ts and the restore rule in pg/mint-store.ts; 'none' for a
   * step that issues, takes and burns none (the process's own, then, unused: no file).
   */
  protected async withMintStore<T>(network: Network, use: (ctx: MintContext, store: MintStorePort<MintContractRecord>) => Promise<T>, opts: { nonces?: 'host' | 'process' | 'none'; keysetsAsStored?: boolean } = {}): Promise<T> {
    const mint = await this.keyPair(network);
    const { StateSeal } = await import('../store/state-seal.ts');
    return this.onMintStore(network, async (store, dir, policy) => {
      const { toHex } = await import('../bytes.ts');
      if (toHex(mint.publicKey) !== policy.mint_pubkey) throw new UsageError('E_WRONG_KEY', `this key is not the mint key of ${dir} (${policy.mint_pubkey})`);
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
    }, { nonces: opts.nonces ?? 'host', seal: StateSeal.fromMintKey(mint.secretKey) });
  }

  /**
   * The keysets this mint issues under (kept since --publish, moved on by "credit ecash
   * follow"), read again at each request; for a store published before keysets were kept,
   * its offer's keyset at --ecash-path.
   */
  protected async ecashSigner(store: MintStorePort<MintContractRecord>, offer: NonNullable<MintPolicy['ecash']>, seed: string) {
    const { ECASH_KEYSETS_DOC, legacyKeysetsDoc } = await import('../credit/ecash-keysets.ts');
    const { EcashSigner } = await import('../credit/ecash-signer.ts');
    const path = (this.flags as { 'ecash-path'?: string })['ecash-path'];
    const stored = await store.readDoc<import('../credit/ecash-keysets.ts').EcashKeysetsDoc>(ECASH_KEYSETS_DOC);
    const activePath = stored?.keysets.find((k) => k.id === stored.active)?.path;
    if (stored && path !== undefined && path !== activePath) throw new UsageError('E_USAGE', `--ecash-path is kept with each keyset since --publish (the active one is at ${activePath}): drop it`);
    const legacy = stored ? undefined : legacyKeysetsDoc(offer, path ?? "m/0'/0'/0'");
    return new EcashSigner(seed, async () => legacy ?? (await store.readDoc(ECASH_KEYSETS_DOC))!);
  }

  /**
   * A read-only view of the mint's state: no key (a monitoring job need not hold the
   * signing key) and no lock (SQLite readers see the last commit, also while a mint
   * streams). Nothing is written.
   */
  protected async withMintView<T>(network: Network, view: (store: MintStorePort<MintContractRecord>, policy: MintPolicy, chain: ChainSource) => Promise<T>): Promise<T> {
    return this.onMintStore(network, async (store, _dir, policy) => view(store, policy, await this.mintChain(network, store)), { view: true });
  }

  private async onMintStore<T>(network: Network, use: (store: MintStorePort<MintContractRecord>, dir: string, policy: MintPolicy) => Promise<T>, opts: { view?: boolean; nonces?: 'host' | 'process' | 'none'; seal?: StateSeal } = {}): Promise<T> {
    const store = await this.openMintStore(network, { create: false, ...opts });
    try {
      return await use(store, store.dir, await this.mintPolicy(store, store.dir));
    } finally {
      await store.abandon();
    }
  }

  /**
   * The mint's store: PostgreSQL when --store / $OFFCHAIN_STORE_URL names one (no lock
   * file, nothing under --state-dir), else SQLite under --state-dir. Every step but
   * publishing an offer (`create`) needs a mint that exists: a mistyped --state-dir is
   * refused before anything is created under it.
   */
  protected async openMintStore(network: Network, opts: { create: boolean; view?: boolean; nonces?: 'host' | 'process' | 'none'; seal?: StateSeal }): Promise<MintStorePort<MintContractRecord>> {
    const { storeTarget } = await import('./store-flags.ts');
    const target = await storeTarget(this.flags as Record<string, unknown>);
    // A nonce offered again (nonce-ledger.ts): a stream says so on stderr, beside its credit/error
    // line; a committed nonce opened again for its own session (signed again, identically) is
    // said by every command — nothing else would tell the operator a row was put back.
    const alarm = (message: string, refused: boolean) => {
      if (!refused) this.term.warn(message);
      else if (this.longRunning) this.term.warn(`E_NONCE_REOPENED ${message}`);
    };
    const seal = opts.view ? {} : { ...(opts.seal ? { seal: opts.seal } : {}), alarm };
    if (target) {
      const { PgMintStore } = await import('../store/pg/mint-store.ts');
      const hostDir = !opts.view && opts.nonces === 'host' ? join(this.stateDir(network), 'credit-mint-pg') : undefined;
      const store = await PgMintStore.open<MintContractRecord>(target, network, { view: opts.view ?? false, hostDir, ...seal });
      const retired = store.retiredHostEpoch;
      if (retired?.noLedger) {
        this.term.warn(
          `this host's nonce key for ${store.dir} (epoch ${retired.epoch.slice(0, 8)}…) was used without a nonce ledger beside it (an older offchain, or the ledger was lost): which of its nonces were opened cannot be told, so it was retired and a new one drawn; users whose nonces it sealed recover with "credit abandon"`,
        );
      } else if (retired && retired.seen < 0) {
        this.term.warn(
          `this host's nonce key for ${store.dir} (epoch ${retired.epoch.slice(0, 8)}…) is a copy: its rollback witness was written beside another key file (this --state-dir was copied from another host or restored from a file-level backup). It was retired and a new one drawn; users whose nonces it sealed recover with "credit abandon"`,
        );
      } else if (retired) {
        this.term.warn(
          `the store ${store.dir} went back in time (this host's nonce epoch ${retired.epoch.slice(0, 8)}… counter ${retired.counter ?? 'gone'}, this host committed ${retired.seen}): a restore, failover, a step killed before its COMMIT, or a copy of this --state-dir used elsewhere. This host's nonce key was retired and a new one drawn; users whose nonces it sealed recover with "credit abandon"`,
        );
      }
      return store;
    }
    const { MintStore } = await import('../store/mint-store.ts');
    const dir = opts.create ? join(this.stateDir(network), 'credit-mint') : this.existingState(network, 'credit-mint', noMint);
    return MintStore.open<MintContractRecord>(dir, seal);
  }

  private async mintPolicy(store: MintStorePort<MintContractRecord>, dir: string): Promise<MintPolicy> {
    const { decodeMessage } = await import('../message.ts');
    const { CreditOfferSchema } = await import('../credit/schemas.ts');
    const stored = await store.readDoc<Record<string, unknown>>('offer');
    if (!stored) throw new UsageError('E_NO_MINT_POLICY', `no mint policy in ${dir}: run "open-credit --role mint --publish --payout-address ADDR" first`);
    const { type: _t, version: _v, network: _n, ...policy } = decodeMessage(CreditOfferSchema, stored);
    return policy;
  }

  /** The ecash seed from --ecash-seed-env/--ecash-seed-file; undefined when none is given and it is not `required`. */
  protected async ecashSeed(required: boolean): Promise<string | undefined> {
    const f = this.flags as { 'ecash-seed-env'?: string; 'ecash-seed-file'?: string };
    let seed: string | undefined;
    if (f['ecash-seed-env'] !== undefined && f['ecash-seed-file'] !== undefined) throw new UsageError('E_USAGE', 'give the ecash seed once: --ecash-seed-env or --ecash-seed-file');
    if (f['ecash-seed-env'] !== undefined) {
      seed = process.env[f['ecash-seed-env']];
      if (!seed) throw new UsageError('E_NO_ECASH_SEED', `the environment variable ${f['ecash-seed-env']} (--ecash-seed-env) is not set`);
    } else if (f['ecash-seed-file'] !== undefined) {
      const { readSecretText } = await import('./secret-file.ts');
      seed = readSecretText(f['ecash-seed-file'], '--ecash-seed-file').replace(/\r?\n$/, '');
      if (!seed) throw new UsageError('E_NO_ECASH_SEED', `--ecash-seed-file ${f['ecash-seed-file']} is empty`);
    }
    if (seed === undefined && required) throw new UsageError('E_NO_ECASH_SEED', 'this mint issues ecash: pass its seed with --ecash-seed-env NAME or --ecash-seed-file FILE');
    return seed;
  }

  /** The ecash mint's settings the operator named (--ecash-path, --ecash-input-fee-ppk, …); what is absent stays undefined. */
  protected ecashNamed(): import('../credit/ecash-keysets.ts').NamedSettings {
    const f = this.flags as { 'ecash-path'?: string; 'ecash-input-fee-ppk'?: number; 'ecash-unit'?: string; 'ecash-id-version'?: string; 'ecash-amounts'?: number };
    return {
      ...(f['ecash-path'] !== undefined ? { path: f['ecash-path'] } : {}),
      ...(f['ecash-input-fee-ppk'] !== undefined ? { input_fee_ppk: f['ecash-input-fee-ppk'] } : {}),
      ...(f['ecash-unit'] !== undefined ? { unit: f['ecash-unit'] } : {}),
      ...(f['ecash-id-version'] !== undefined ? { id_version: f['ecash-id-version'] as '00' | '01' } : {}),
      ...(f['ecash-amounts'] !== undefined ? { amounts: f['ecash-amounts'] } : {}),
    };
  }

  /** The running ecash mint's answers (--ecash-keysets URL, or --ecash-keysets FILE --ecash-keys FILE), if given. */
  protected async ecashLive() {
    const f = this.flags as { 'ecash-keysets'?: string; 'ecash-keys'?: string };
    const { readEcashLive } = await import('./ecash-live.ts');
    return readEcashLive(f['ecash-keysets'], f['ecash-keys'], (path, flag) => this.readFileDocument(path, flag));
  }

  /**
   * The keyset the credit mint issues under, from the seed and the named settings, checked
   * against the running mint's answers when given (E_ECASH_KEYSET_MISMATCH names the
   * setting that differs); undefined when no seed is given and it is not `required`.
   */
  protected async ecashKeyset(required: boolean) {
    const seed = await this.ecashSeed(required);
    const named = this.ecashNamed();
    const live = await this.ecashLive();
    if (seed === undefined) {
      if (live || Object.keys(named).length) throw new UsageError('E_NO_ECASH_SEED', 'the ecash settings need the ecash mint\'s seed: pass it with --ecash-seed-env NAME or --ecash-seed-file FILE');
      return undefined;
    }
    const { publishedKeysets, settleKeyset } = await import('../credit/ecash-reproduce.ts');
    const { deriveMintKeyset } = await import('../ecash/nut01.ts');
    let keyset = settleKeyset(seed, named, live);
    // With the mint's answers: its newest active keyset at a higher index (a restart with the next index) is the one issued under.
    if (live) {
      const issuing = publishedKeysets(seed, keyset, undefined, live).keyset;
      if (issuing.id !== keyset.id) keyset = deriveMintKeyset(seed, issuing, issuing.id);
    }
    return { seed, live, keyset };
  }

  /**
   * Where a receipt's token goes (--token-out): a new 0600 file, never overwriting another
   * token (the same token again is fine: a rerun), or with "-" standard output alone, the
   * balance then on standard error. `result` turns the step's balance into the output.
   */
  protected tokenSink() {
    const out = (this.flags as { 'token-out'?: string })['token-out'];
    let printed: string | undefined;
    const sink = out === undefined ? undefined : out === '-'
      ? { path: '-', write: async (token: string) => void (printed = token) }
      : { path: out, write: (token: string) => writeTokenFile(out, token) };
    return {
      sink,
      result: (message: Record<string, unknown>): CommandResult => {
        if (printed === undefined) return { message };
        this.term.info(JSON.stringify(message));
        return { text: printed };
      },
    };
  }

  /** A long-running mint's blind signatures on the selected libsecp256k1 backend's constant-time multiply, when it has one. */
  protected async ecashOnBackend(): Promise<void> {
    const { activeSecp256k1 } = await import('../musig/engine/select.ts');
    const ec = activeSecp256k1();
    if (ec.name === 'noble' || !ec.mulSecret) return;
    const { useSecretMultiplier } = await import('../ecash/curve.ts');
    useSecretMultiplier((p, k) => ec.mulSecret!(p, k) as Uint8Array | null);
  }

  /** The user's wallet seed (hex, 16–64 bytes) from --wallet-seed-env/--wallet-seed-file, if given. */
  protected async walletSeed(): Promise<Uint8Array | undefined> {
    const f = this.flags as { 'wallet-seed-env'?: string; 'wallet-seed-file'?: string };
    if (f['wallet-seed-env'] !== undefined && f['wallet-seed-file'] !== undefined) throw new UsageError('E_USAGE', 'give the wallet seed once: --wallet-seed-env or --wallet-seed-file');
    let hex: string | undefined;
    if (f['wallet-seed-env'] !== undefined) {
      hex = process.env[f['wallet-seed-env']];
      if (!hex) throw new UsageError('E_NO_WALLET_SEED', `the environment variable ${f['wallet-seed-env']} (--wallet-seed-env) is not set`);
    } else if (f['wallet-seed-file'] !== undefined) {
      const { readSecretText } = await import('./secret-file.ts');
      hex = readSecretText(f['wallet-seed-file'], '--wallet-seed-file');
    }
    if (hex === undefined) return undefined;
    const { fromHex } = await import('../bytes.ts');
    const t = hex.trim();
    if (!/^([0-9a-fA-F]{2}){16,64}$/.test(t)) throw new UsageError('E_BAD_WALLET_SEED', 'the wallet seed must be 16–64 bytes as hex (e.g. a BIP-39 seed)');
    return fromHex(t.toLowerCase(), 'wallet seed');
  }

  /**
   * The user's context; run its steps in `book.exclusive(…)`. Only the step that opens a
   * contract (`create`) may start a new user state directory; every other step needs one.
   */
  protected async userSession(network: Network, opts: { create?: boolean } = {}): Promise<{ ctx: UserContext; book: RecordBook<UserContractRecord> }> {
    const { RecordBook } = await import('../store/record-book.ts');
    const { NonceStore } = await import('../store/nonce-store.ts');
    const dir = this.stateDir(network);
    if (!opts.create) this.existingState(network, 'credit-user', noUserState);
    const book = new RecordBook<UserContractRecord>(join(dir, 'credit-user'));
    const user = await this.keyPair(network);
    const walletSeed = await this.walletSeed();
    return { book, ctx: { network, user, records: book, nonces: new NonceStore(join(dir, 'nonces')), chain: await this.chain(network), random: this.random, ...(walletSeed ? { walletSeed } : {}) } };
  }

  /** The user's records and chain, without its key: for read-only views (the refund). */
  protected async userView(network: Network): Promise<{ ctx: Pick<UserContext, 'network' | 'records' | 'chain'>; book: RecordBook<UserContractRecord> }> {
    const { RecordBook } = await import('../store/record-book.ts');
    const book = new RecordBook<UserContractRecord>(this.existingState(network, 'credit-user', noUserState));
    return { book, ctx: { network, records: book, chain: await this.chain(network) } };
  }

  /** With a node, the node; offline, --tip-height and the asserted funding confirmations. */
  private async mintChain(network: Network, book: { list(): Promise<MintContractRecord[]> }): Promise<ChainSource> {
    const base = await this.chain(network);
    const confirmations = (this.flags as { confirmations?: number }).confirmations;
    if (base.kind === 'rpc') {
      if (confirmations !== undefined) throw new UsageError('E_USAGE', '--confirmations is for offline use; the node is asked instead');
      return base;
    }
    const { termsFromJson } = await import('../credit/codec.ts');
    // Funding outpoint → contract, built once: a contract's funding never changes.
    let byOutpoint: Map<string, MintContractRecord> | undefined;
    const find = async (key: string) => {
      if (!byOutpoint?.has(key)) byOutpoint = new Map((await book.list()).map((r) => [`${r.contract.funding.txid}:${r.contract.funding.vout}`, r]));
      return byOutpoint.get(key);
    };
    return {
      kind: 'offline',
      tip: () => base.tip(),
      async utxo(txid: string, vout: number): Promise<UtxoInfo | null> {
        if (confirmations === undefined) return base.utxo(txid, vout);
        const r = await find(`${txid}:${vout}`);
        if (!r) return null;
        const c = termsFromJson(r.contract, r.network);
        return { txid, vout, value: c.capacity, scriptPubKey: c.script, confirmations };
      },
      rawTransaction: (txid) => base.rawTransaction(txid),
      testMempoolAccept: (txs) => base.testMempoolAccept(txs),
      broadcast: (tx) => base.broadcast(tx),
    };
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
    const { parseFeeLimits } = await import('../tx/fee-guard.ts');
    return parseFeeLimits({ maxFeeRate: f['max-fee-rate'], maxFeeShare: f['max-fee-share'] });
  }

  /** A --fee-rate the user gave (sat/vB), parsed and held to --max-fee-rate before anything is built. */
  protected async guardedRate(text: string): Promise<number> {
    const rate = parseRate(text);
    const { checkFeeRate } = await import('../tx/fee-guard.ts');
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
    const { readEnvelope } = await import('../envelope.ts');
    const env = readEnvelope(doc.value);
    return { type: env.type, network: this.network(env.network), value: doc.value };
  }

  /**
   * --expiry (a height or +BLOCKS) resolved against the chain's tip and checked against
   * the mint's window before anything is written (coded errors, exit 2).
   */
  protected async expiryHeight(spec: string, chain: ChainSource, window?: ExpiryWindow): Promise<number> {
    const { resolveExpiry } = await import('../credit/user.ts');
    if (!/^\+?\d+$/.test(spec)) return resolveExpiry(spec, 0, window); // E_USAGE, before asking the chain
    return resolveExpiry(spec, (await chain.tip()).height, window);
  }
}

async function writeTokenFile(path: string, token: string): Promise<void> {
  if (existsSync(path)) {
    let old = '';
    try {
      old = readFileSync(path, 'utf8');
    } catch {
      // unreadable: refused below
    }
    if (old.trim() === token) return;
    throw new RefusedError('E_TOKEN_OUT_EXISTS', `--token-out ${path} already exists and holds something else (another token?): name a new file`);
  }
  const { writeFileAtomic } = await import('../store/atomic.ts');
  await writeFileAtomic(path, token + '\n', { mode: 0o600 });
}
