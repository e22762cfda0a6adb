/**
 * The credit mint's store and chain, as its commands open them: PostgreSQL when --store /
 * $OFFCHAIN_STORE_URL names one (its alarms said on stderr), else SQLite under
 * --state-dir; the offer (the mint's policy) read from it; and offline, the chain facts the
 * operator asserts (--tip-height, --confirmations). Which step runs in which transaction is
 * ./command.ts (withMint).
 */
import { join } from 'node:path';
import { UsageError } from '../../lib/errors.ts';
import type { Terminal } from '../../lib/cli/terminal.ts';
import type { Network } from '../../lib/network.ts';
import type { ChainSource, UtxoInfo } from '../../lib/chain/types.ts';
import type { MintContractRecord, MintPolicy } from '../../lib/credit/ports.ts';
import type { MintStorePort } from '../../lib/store/mint-store-port.ts';
import type { StateDb } from '../../lib/store/sqlite/database.ts';

/** `key`: the mint's secret key (its seal); none for a view. */
/**
 * `nonces`: 'used' for a step that issues, takes or burns the mint's nonces (every step of the
 * mint's commands says which: ./command.ts withMintStore); publishing or reading the offer names
 * none and uses none, so it runs on PostgreSQL as a one-shot command.
 */
export type MintStoreOptions = { create: boolean; view?: boolean; nonces?: 'used' | 'none'; key?: Uint8Array; pub?: Uint8Array };

/** What opening the store needs of the command: its flags, its terminal, and where its state lives. */
export type MintStoreHost = {
  flags: Record<string, unknown>;
  term: Terminal;
  longRunning: boolean;
  network: Network;
  /** --state-dir for this network, asked only when used (a PostgreSQL view keeps nothing there). */
  stateDir: () => string;
  /** The network's state database (store/sqlite/database.ts): undefined without `create` where there is none. */
  state: (create: boolean) => Promise<StateDb | undefined>;
};

/**
 * The mint's store: PostgreSQL when --store / $OFFCHAIN_STORE_URL names one (no lock
 * file, nothing under --state-dir), else SQLite under --state-dir. Every step but
 * publishing an offer (`create`) needs a mint that exists: a mistyped --state-dir is
 * refused before anything is created under it.
 */
export async function openMintStore(host: MintStoreHost, opts: MintStoreOptions): Promise<MintStorePort<MintContractRecord>> {
  const { storeTarget } = await import('../../lib/cli/store-flags.ts');
  const target = await storeTarget(host.flags);
  // A nonce offered again (nonce-ledger.ts): a stream says so on stderr, beside its credit/error
  // line; a committed nonce opened again for its own session (signed again, identically) is
  // said by every command — nothing else would tell the operator a row was put back.
  const alarm = (message: string, refused: boolean) => {
    if (!refused) host.term.warn(message);
    else if (host.longRunning) host.term.warn(`E_NONCE_REOPENED ${message}`);
  };
  if (target) {
    const seal: { key?: Uint8Array; alarm?: typeof alarm } = opts.view ? {} : { ...(opts.key ? { key: opts.key } : {}), alarm };
    // A PostgreSQL mint's nonces are sealed under the key of the long-running process that issued
    // them (pg/mint-store.ts, the restore rule): a one-shot command's would die with it.
    if (!opts.view && opts.nonces === 'used' && !host.longRunning) {
      throw new UsageError('E_STORE_ONE_SHOT', `on PostgreSQL (--store ${target.url}) the mint's nonces are kept by its long-running processes: send this request to "serve mint" (or "serve gateway") — the user's --peer does — or feed it to "sign-update --role mint --stream"; one-shot mint steps that sign are for a SQLite --state-dir`);
    }
    const { PgMintStore } = await import('../../lib/store/pg/mint-store.ts');
    const store = await PgMintStore.open<MintContractRecord>(target, host.network, { view: opts.view ?? false, ...seal });
    return store;
  }
  const { SqliteMintStore } = await import('../../lib/store/sqlite/mint.ts');
  const { Sealer } = await import('../../lib/store/seal.ts');
  const db = await host.state(opts.create);
  if (db === undefined) throw new UsageError('E_NO_MINT_POLICY', `no mint policy in ${host.stateDir()} (nothing was created there): check --state-dir and --network, or run "open-credit --role mint --publish --payout-address ADDR" first`);
  const store = new SqliteMintStore<MintContractRecord>(db, opts.view || !opts.key ? {} : { sealer: Sealer.fromSecret(opts.key), ...(opts.pub ? { signer: opts.pub } : {}) });
  if (!opts.view && opts.key) {
    await store.resealLegacy(opts.key);
    await store.sealImported();
  }
  return store;
}

/** The mint's policy: its stored offer, without the envelope. */
export async function mintPolicy(store: MintStorePort<MintContractRecord>, dir: string): Promise<MintPolicy> {
  const { decodeMessage } = await import('../../lib/message.ts');
  const { CreditOfferSchema } = await import('../../lib/credit/schemas.ts');
  const stored = await store.readDoc<Record<string, unknown>>('offer');
  if (!stored) throw new UsageError('E_NO_MINT_POLICY', `no mint policy in ${dir}: run "open-credit --role mint --publish --payout-address ADDR" first`);
  const { type: _t, version: _v, network: _n, ...policy } = decodeMessage(CreditOfferSchema, stored);
  return policy;
}

/** With a node, the node; offline, --tip-height and the asserted funding confirmations. */
export async function mintChain(base: ChainSource, confirmations: number | undefined, book: { list(): Promise<MintContractRecord[]> }): Promise<ChainSource> {
  if (base.kind === 'rpc') {
    if (confirmations !== undefined) throw new UsageError('E_USAGE', '--confirmations is for offline use; the node is asked instead');
    return base;
  }
  const { termsFromJson } = await import('../../lib/credit/codec.ts');
  // Funding outpoint → contract, built once: a contract's funding never changes.
  let byOutpoint: Map<string, MintContractRecord> | undefined;
  // And the output its terms fund, derived once per contract (terms' JSON keyed, ~10 µs an update, otherwise).
  const outputs = new Map<string, { value: bigint; scriptPubKey: Uint8Array }>();
  const find = async (key: string) => {
    if (!byOutpoint?.has(key)) byOutpoint = new Map((await book.list()).map((r) => [`${r.contract.funding.txid}:${r.contract.funding.vout}`, r]));
    return byOutpoint.get(key);
  };
  return {
    kind: 'offline',
    tip: () => base.tip(),
    async utxo(txid: string, vout: number): Promise<UtxoInfo | null> {
      if (confirmations === undefined) return base.utxo(txid, vout);
      const key = `${txid}:${vout}`;
      let output = outputs.get(key);
      if (!output) {
        const r = await find(key);
        if (!r) return null;
        const c = termsFromJson(r.contract, r.network);
        outputs.set(key, (output = { value: c.capacity, scriptPubKey: c.script }));
      }
      return { txid, vout, ...output, confirmations };
    },
    rawTransaction: (txid) => base.rawTransaction(txid),
    testMempoolAccept: (txs) => base.testMempoolAccept(txs),
    broadcast: (tx) => base.broadcast(tx),
  };
}
