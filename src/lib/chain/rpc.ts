/**
 * ChainSource backed by a Bitcoin Core node over JSON-RPC, written against Core v30's
 * RPC reference (and exercised by the optional regtest suite): getblockchaininfo,
 * gettxout (mempool included), getrawtransaction, testmempoolaccept,
 * sendrawtransaction, submitpackage, gettxspendingprevout, scantxoutset (its own deadline).
 *
 * Safety checks beyond passing answers through:
 *   - the node's chain must be the invocation's network (E_NETWORK_MISMATCH), checked
 *     before the first call of any kind, so a regtest command never broadcasts to mainnet;
 *   - amounts come back as exact satoshis (see amount.ts);
 *   - a raw transaction from the node must hash to the txid asked for.
 *
 * For a watcher (`offchain watch`): getblockheader (its own view of the best chain, to see a
 * reorganisation), estimatesmartfee (where a deadline's fee schedule starts) and
 * getzmqnotifications (where the node announces its blocks, to wake at each).
 *
 * Not done: wallet RPCs, waiting for confirmations.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { toHex } from '../bytes.ts';
import { MalformedInputError, RefusedError } from '../errors.ts';
import type { Network } from '../network.ts';
import { TXID_RE, amount, hexField, hexOrProtocol, int, obj, txidField } from './rpc-fields.ts';
import { RPC_METHOD_NOT_FOUND, RpcClient, RpcError, protocolError } from './rpc-client.ts';
import type { RpcClientDeps } from './rpc-client.ts';
import type { RpcConfig } from './rpc-config.ts';
import type { ChainSource, ChainTip, MempoolAcceptResult, SubmitPackageResult, SubmitPackageTxResult, UtxoInfo } from './types.ts';

/** getblockchaininfo's `chain` for each network (CChainParams::GetChainTypeString). */
export const CORE_CHAIN_NAME: Readonly<Record<Network, string>> = {
  mainnet: 'main',
  testnet: 'test',
  testnet4: 'testnet4',
  signet: 'signet',
  regtest: 'regtest',
};


/**
 * scantxoutset's deadline: bitcoin-cli's -rpcclienttimeout (900 s). It reads the whole UTXO set —
 * a minute or more on mainnet — and the ordinary 30 s would fail every scan there (and a retry
 * then meets "Scan already in progress" until the abandoned one ends).
 */
export const SCAN_TIMEOUT_MS = 900_000;

/**
 * getrawtransaction calls in one batch: each verbose answer is a few kB, so 500 of them are a
 * megabyte or two — one POST a node answers well within the RPC timeout.
 */
export const TX_BATCH = 500;

/** getrawtransaction's RPC_INVALID_ADDRESS_OR_KEY: not in the mempool, and not found in the chain (or no -txindex) — null; anything else is thrown. */
function notFound(e: unknown): null {
  if (e instanceof RpcError && e.rpcCode === -5) return null;
  throw e;
}

export class RpcChainSource implements ChainSource {
  readonly kind = 'rpc' as const;
  readonly client: RpcClient;
  private chainChecked: Promise<void> | undefined;

  constructor(config: RpcConfig | RpcClient, deps?: RpcClientDeps) {
    this.client = config instanceof RpcClient ? config : new RpcClient(config, deps);
  }

  get network(): Network {
    return this.client.config.network;
  }

  async tip(): Promise<ChainTip> {
    const info = obj(await this.client.call('getblockchaininfo'), 'getblockchaininfo', this.url);
    this.checkChain(info);
    this.chainChecked ??= Promise.resolve();
    return {
      height: int(info, 'blocks', 'getblockchaininfo', this.url),
      medianTimePast: int(info, 'mediantime', 'getblockchaininfo', this.url),
      hash: txidField(info, 'bestblockhash', 'getblockchaininfo', this.url),
    };
  }

  async utxo(txid: string, vout: number): Promise<UtxoInfo | null> {
    assertTxid(txid);
    if (!Number.isInteger(vout) || vout < 0 || vout > 0xffff_ffff) throw new MalformedInputError('E_BAD_VOUT', `vout must be a 32-bit unsigned integer, got ${vout}`);
    await this.ensureChain();
    // include_mempool = true: an output created in the mempool has 0 confirmations, an
    // output spent in the mempool is reported as absent (null).
    const reply = await this.client.call('gettxout', [txid, vout, true]);
    if (reply === null) return null;
    const out = obj(reply, 'gettxout', this.url);
    const spk = obj(out['scriptPubKey'], 'gettxout', this.url);
    return {
      txid,
      vout,
      value: amount(out, 'value', 'gettxout', this.url),
      scriptPubKey: hexField(spk, 'hex', 'gettxout', this.url),
      confirmations: int(out, 'confirmations', 'gettxout', this.url),
    };
  }

  async rawTransaction(txid: string): Promise<Uint8Array> {
    assertTxid(txid);
    await this.ensureChain();
    // verbose=false (a bool, accepted by every Core version): the hex serialisation.
    const reply = await this.client.call('getrawtransaction', [txid, false]);
    if (typeof reply !== 'string') throw protocolError('getrawtransaction', this.url, 'a result that is not hex');
    const raw = hexOrProtocol(reply, 'getrawtransaction', this.url);
    const actual = await computeTxid(raw).catch(() => undefined);
    if (actual !== txid) throw protocolError('getrawtransaction', this.url, `a transaction that does not hash to ${txid}`);
    return raw;
  }

  async outputsPaying(script: Uint8Array): Promise<UtxoInfo[]> {
    await this.ensureChain();
    const tip = await this.tip();
    const scan = await this.client.call('scantxoutset', ['start', [`raw(${toHex(script)})`]], { timeoutMs: Math.max(this.client.config.timeoutMs, SCAN_TIMEOUT_MS) });
    const reply = obj(scan, 'scantxoutset', this.url);
    if (reply['success'] !== true) throw protocolError('scantxoutset', this.url, 'an unsuccessful scan');
    const unspents = reply['unspents'];
    if (!Array.isArray(unspents)) throw protocolError('scantxoutset', this.url, 'no "unspents" list');
    return unspents.map((u) => {
      const o = obj(u, 'scantxoutset', this.url);
      const height = int(o, 'height', 'scantxoutset', this.url);
      return {
        txid: txidField(o, 'txid', 'scantxoutset', this.url),
        vout: int(o, 'vout', 'scantxoutset', this.url),
        value: amount(o, 'amount', 'scantxoutset', this.url),
        scriptPubKey: hexOrProtocol(String(o['scriptPubKey']), 'scantxoutset', this.url),
        confirmations: tip.height - height + 1,
      };
    });
  }

  async txConfirmations(txid: string): Promise<number | null> {
    assertTxid(txid);
    await this.ensureChain();
    let reply: unknown;
    try {
      // verbosity 1: `confirmations` is present once mined, absent while in the mempool.
      reply = await this.client.call('getrawtransaction', [txid, 1]);
    } catch (e) {
      return notFound(e);
    }
    return this.confirmationsOf(txid, reply);
  }

  /** txConfirmations of each txid, asked in batches of TX_BATCH (one POST each), by txid. */
  async txConfirmationsMany(txids: readonly string[]): Promise<Map<string, number | null>> {
    const asked = [...new Set(txids)];
    for (const txid of asked) assertTxid(txid);
    const out = new Map<string, number | null>();
    if (asked.length === 0) return out;
    await this.ensureChain();
    for (let i = 0; i < asked.length; i += TX_BATCH) {
      const part = asked.slice(i, i + TX_BATCH);
      const replies = await this.client.batch('getrawtransaction', part.map((txid) => [txid, 1]));
      part.forEach((txid, j) => {
        const r = replies[j]!;
        out.set(txid, 'error' in r ? notFound(r.error) : this.confirmationsOf(txid, r.result));
      });
    }
    return out;
  }

  /** getrawtransaction's verbose answer for `txid`: 0 in the mempool, its confirmations once mined. */
  private confirmationsOf(txid: string, reply: unknown): number {
    const r = obj(reply, 'getrawtransaction', this.url);
    if (txidField(r, 'txid', 'getrawtransaction', this.url) !== txid) throw protocolError('getrawtransaction', this.url, `a transaction other than ${txid}`);
    return r['confirmations'] === undefined ? 0 : int(r, 'confirmations', 'getrawtransaction', this.url);
  }

  /** gettxspendingprevout: the mempool transaction spending an output, or undefined (unspent, spent in a block, or never made). */
  async mempoolSpender(txid: string, vout: number): Promise<string | undefined> {
    assertTxid(txid);
    await this.ensureChain();
    const m = 'gettxspendingprevout';
    const reply = await this.client.call(m, [[{ txid, vout }]]);
    if (!Array.isArray(reply) || reply.length !== 1) throw protocolError(m, this.url, 'a result that is not one entry per output');
    const r = obj(reply[0], m, this.url);
    return r['spendingtxid'] === undefined ? undefined : txidField(r, 'spendingtxid', m, this.url);
  }

  /**
   * getmempoolentry's descendant totals (the transaction and everything in the mempool spending it:
   * what a replacement of it evicts; sat, vB) and its chunk (cluster mempool: what it is mined with; sat, sigop-adjusted weight).
   */
  async mempoolEviction(txid: string): Promise<{ descendantFee: bigint; descendantVsize: number; chunkFee: bigint; chunkWeight: number } | null> {
    assertTxid(txid);
    await this.ensureChain();
    const m = 'getmempoolentry';
    let reply: unknown;
    try {
      reply = await this.client.call(m, [txid]);
    } catch (e) {
      if (e instanceof RpcError && e.rpcCode === -5) return null;
      throw e;
    }
    const r = obj(reply, m, this.url);
    const fees = obj(r['fees'], m, this.url);
    const descendantFee = amount(fees, 'descendant', m, this.url), descendantVsize = int(r, 'descendantsize', m, this.url);
    // Cluster mempool (Core 30+) reports the chunk; before it, the transaction with its descendants is the most it
    // evicts, taken at the highest feerate its size allows (weight ≥ 4 × vsize − 3).
    if (fees['chunk'] === undefined && r['chunkweight'] === undefined) return { descendantFee, descendantVsize, chunkFee: descendantFee, chunkWeight: 4 * descendantVsize - 3 };
    return { descendantFee, descendantVsize, chunkFee: amount(fees, 'chunk', m, this.url), chunkWeight: int(r, 'chunkweight', m, this.url) };
  }

  async mempoolFee(txid: string): Promise<bigint | null> {
    return (await this.mempoolEntry(txid))?.fee ?? null;
  }

  /**
   * getmempoolentry: the base fee (sat) and Core's vsize — the sigop-adjusted one
   * (GetVirtualTransactionSize of weight and sigop cost), which a transaction's bytes alone
   * do not fix: the sigops of its inputs depend on the scripts they spend. null: not in the mempool.
   */
  async mempoolEntry(txid: string): Promise<{ fee: bigint; vsize: number } | null> {
    assertTxid(txid);
    await this.ensureChain();
    let reply: unknown;
    try {
      reply = await this.client.call('getmempoolentry', [txid]);
    } catch (e) {
      // RPC_INVALID_ADDRESS_OR_KEY: not in the mempool.
      if (e instanceof RpcError && e.rpcCode === -5) return null;
      throw e;
    }
    const r = obj(reply, 'getmempoolentry', this.url);
    return { fee: amount(obj(r['fees'], 'getmempoolentry', this.url), 'base', 'getmempoolentry', this.url), vsize: int(r, 'vsize', 'getmempoolentry', this.url) };
  }

  async testMempoolAccept(rawTxs: Uint8Array[]): Promise<MempoolAcceptResult[]> {
    await this.ensureChain();
    const reply = await this.client.call('testmempoolaccept', [rawTxs.map(toHex)]);
    if (!Array.isArray(reply) || reply.length !== rawTxs.length) {
      throw protocolError('testmempoolaccept', this.url, 'a result that is not one entry per transaction');
    }
    return reply.map((entry) => {
      const r = obj(entry, 'testmempoolaccept', this.url);
      const result: MempoolAcceptResult = {
        txid: txidField(r, 'txid', 'testmempoolaccept', this.url),
        // `allowed` is absent when Core stopped before this tx (another one in the package failed).
        allowed: r['allowed'] === true,
      };
      if (typeof r['wtxid'] === 'string') result.wtxid = r['wtxid'];
      if (typeof r['reject-reason'] === 'string') result.rejectReason = r['reject-reason'];
      if (typeof r['reject-details'] === 'string') result.rejectDetails = r['reject-details'];
      if (typeof r['package-error'] === 'string') result.packageError = r['package-error'];
      if (typeof r['vsize'] === 'number') result.vsize = r['vsize'];
      if (r['fees'] !== undefined) result.fees = amount(obj(r['fees'], 'testmempoolaccept', this.url), 'base', 'testmempoolaccept', this.url);
      return result;
    });
  }

  async broadcast(rawTx: Uint8Array): Promise<string> {
    await this.ensureChain();
    const reply = await this.client.call('sendrawtransaction', [toHex(rawTx)]);
    if (typeof reply !== 'string' || !TXID_RE.test(reply)) throw protocolError('sendrawtransaction', this.url, 'a result that is not a txid');
    return reply;
  }

  /** `maxFeeRateSatPerKvb` is passed as submitpackage's maxfeerate (BTC/kvB), when given; 0 disables it, as in Core. */
  async submitPackage(rawTxs: Uint8Array[], maxFeeRateSatPerKvb?: number): Promise<SubmitPackageResult> {
    await this.ensureChain();
    const m = 'submitpackage';
    const params: unknown[] = [rawTxs.map(toHex)];
    if (maxFeeRateSatPerKvb !== undefined) params.push(maxFeeRateSatPerKvb / 1e8);
    const r = obj(await this.client.call(m, params), m, this.url);
    const results = obj(r['tx-results'], m, this.url);
    const txResults = Object.entries(results).map(([wtxid, entry]): SubmitPackageTxResult => {
      const e = obj(entry, m, this.url);
      const out: SubmitPackageTxResult = { wtxid, txid: txidField(e, 'txid', m, this.url) };
      if (typeof e['other-wtxid'] === 'string') out.otherWtxid = e['other-wtxid'];
      if (typeof e['vsize'] === 'number') out.vsize = e['vsize'];
      if (typeof e['error'] === 'string') out.error = e['error'];
      if (e['fees'] !== undefined) {
        const fees = obj(e['fees'], m, this.url);
        out.fees = amount(fees, 'base', m, this.url);
        // BTC/kvB → sat/kvB: the same 8-decimal amount encoding.
        if (fees['effective-feerate'] !== undefined) out.effectiveFeeRate = amount(fees, 'effective-feerate', m, this.url);
      }
      return out;
    });
    const replaced = r['replaced-transactions'];
    return {
      packageMsg: typeof r['package_msg'] === 'string' ? r['package_msg'] : '',
      txResults,
      replacedTransactions: Array.isArray(replaced) ? replaced.filter((t): t is string => typeof t === 'string') : [],
    };
  }

  /**
   * getblockheader: a block's height and the hash of the block before it (null for the genesis
   * block). Any block the node has, in the best chain or not: a watcher walks back from a tip by
   * it, so what it sees is one chain however the node moves meanwhile.
   */
  async blockHeader(hash: string): Promise<{ height: number; prev: string | null }> {
    if (typeof hash !== 'string' || !TXID_RE.test(hash)) throw new MalformedInputError('E_BAD_BLOCK_HASH', `a block hash is 64 lower-case hex characters, got ${JSON.stringify(hash)}`);
    await this.ensureChain();
    const m = 'getblockheader';
    const r = obj(await this.client.call(m, [hash, true]), m, this.url);
    return { height: int(r, 'height', m, this.url), prev: r['previousblockhash'] === undefined ? null : txidField(r, 'previousblockhash', m, this.url) };
  }

  /**
   * getblock (verbosity 2): the transaction of a block spending txid:vout, or undefined. For a
   * watcher that saw an output disappear among the blocks it walked (one block, once).
   */
  async blockSpender(hash: string, txid: string, vout: number): Promise<string | undefined> {
    if (typeof hash !== 'string' || !TXID_RE.test(hash)) throw new MalformedInputError('E_BAD_BLOCK_HASH', `a block hash is 64 lower-case hex characters, got ${JSON.stringify(hash)}`);
    assertTxid(txid);
    await this.ensureChain();
    const m = 'getblock';
    const r = obj(await this.client.call(m, [hash, 2]), m, this.url);
    const txs = r['tx'];
    if (!Array.isArray(txs)) throw protocolError(m, this.url, 'no "tx" list');
    for (const t of txs) {
      const tx = obj(t, m, this.url);
      const vin = Array.isArray(tx['vin']) ? tx['vin'] : [];
      if (vin.some((i) => typeof i === 'object' && i !== null && (i as { txid?: unknown }).txid === txid && (i as { vout?: unknown }).vout === vout)) return txidField(tx, 'txid', m, this.url);
    }
    return undefined;
  }

  /**
   * getblock (verbosity 1): a block's height and its txids — what a tower matches its locators
   * against, one call per block, no transaction decoded.
   */
  async blockTxids(hash: string): Promise<{ height: number; txids: string[] }> {
    if (typeof hash !== 'string' || !TXID_RE.test(hash)) throw new MalformedInputError('E_BAD_BLOCK_HASH', `a block hash is 64 lower-case hex characters, got ${JSON.stringify(hash)}`);
    await this.ensureChain();
    const m = 'getblock';
    const r = obj(await this.client.call(m, [hash, 1]), m, this.url);
    const txs = r['tx'];
    if (!Array.isArray(txs) || !txs.every((t) => typeof t === 'string' && TXID_RE.test(t))) throw protocolError(m, this.url, 'no "tx" list of txids');
    return { height: int(r, 'height', m, this.url), txids: txs as string[] };
  }

  /** getindexinfo: whether the node keeps the transaction index (-txindex), which getrawtransaction needs for a mined transaction. */
  async txIndex(): Promise<boolean> {
    await this.ensureChain();
    const r = obj(await this.client.call('getindexinfo', ['txindex']), 'getindexinfo', this.url);
    return r['txindex'] !== undefined;
  }

  /**
   * getzmqnotifications: where the node publishes ZMQ `hashblock` (its -zmqpubhashblock), as this
   * client reaches it — a wildcard host (0.0.0.0, *, [::]) is the RPC URL's host. Undefined when
   * it publishes none, or was built without ZMQ (Method not found).
   */
  async hashblockEndpoint(): Promise<string | undefined> {
    await this.ensureChain();
    const m = 'getzmqnotifications';
    let list: unknown;
    try {
      list = await this.client.call(m);
    } catch (e) {
      if (e instanceof RpcError && e.rpcCode === RPC_METHOD_NOT_FOUND) return undefined;
      throw e;
    }
    if (!Array.isArray(list)) throw protocolError(m, this.url, 'a result that is not a list');
    const entry = list.map((n) => obj(n, m, this.url)).find((n) => n['type'] === 'pubhashblock');
    if (entry === undefined) return undefined;
    const address = entry['address'];
    if (typeof address !== 'string') throw protocolError(m, this.url, 'a pubhashblock without an address');
    const host = new URL(this.url).hostname;
    return address.replace(/^tcp:\/\/(0\.0\.0\.0|\*|\[::\]):/, `tcp://${host}:`);
  }

  /**
   * estimatesmartfee's rate for confirmation within `blocks` (1–1008), sat/kvB; null when the
   * node has no estimate (a fresh node, regtest without history: Core answers "errors").
   */
  async estimateFeeRate(blocks: number): Promise<number | null> {
    await this.ensureChain();
    const m = 'estimatesmartfee';
    const target = Math.min(1008, Math.max(1, Math.trunc(blocks)));
    const r = obj(await this.client.call(m, [target]), m, this.url);
    if (r['feerate'] === undefined) return null;
    return Number(amount(r, 'feerate', m, this.url));
  }

  /** getmempoolinfo's minrelaytxfee, mempoolminfee and incrementalrelayfee, in sat/kvB (Core's unit; the same 8-decimal encoding). */
  async mempoolPolicy(): Promise<{ minRelayFeeRate: number; mempoolMinFeeRate: number; incrementalRelayFeeRate: number }> {
    await this.ensureChain();
    const m = 'getmempoolinfo';
    const r = obj(await this.client.call(m), m, this.url);
    return {
      minRelayFeeRate: Number(amount(r, 'minrelaytxfee', m, this.url)),
      mempoolMinFeeRate: Number(amount(r, 'mempoolminfee', m, this.url)),
      incrementalRelayFeeRate: Number(amount(r, 'incrementalrelayfee', m, this.url)),
    };
  }

  private get url(): string {
    return this.client.config.url;
  }

  /** Once per source: the node must be on our network before we read or send anything. */
  private ensureChain(): Promise<void> {
    this.chainChecked ??= this.client.call('getblockchaininfo').then(
      (info) => this.checkChain(obj(info, 'getblockchaininfo', this.url)),
      (e: unknown) => {
        this.chainChecked = undefined; // let a later call retry
        throw e;
      },
    );
    return this.chainChecked;
  }

  private checkChain(info: Record<string, unknown>): void {
    const expected = CORE_CHAIN_NAME[this.network];
    if (info['chain'] !== expected) {
      this.chainChecked = undefined;
      throw new RefusedError(
        'E_NETWORK_MISMATCH',
        `bitcoind at ${this.url} is on chain ${JSON.stringify(info['chain'])} but the network is ${this.network} (chain "${expected}"); ` +
          `point --rpc-url at a ${this.network} node or pass --network to match`,
      );
    }
  }
}

/** txid of a serialised transaction: double SHA-256 of the witness-stripped form, byte-reversed. */
export async function computeTxid(raw: Uint8Array): Promise<string> {
  // btc-signer is imported lazily: it costs start-up time every command would pay.
  const { RawTx } = await import('@scure/btc-signer');
  const tx = RawTx.decode(raw);
  const legacy = RawTx.encode({ ...tx, segwitFlag: false, witnesses: undefined });
  return toHex(sha256(sha256(legacy)).reverse());
}

function assertTxid(txid: string): void {
  if (typeof txid !== 'string' || !TXID_RE.test(txid)) throw new MalformedInputError('E_BAD_TXID', `txid must be 64 lower-case hex characters, got ${JSON.stringify(txid)}`);
}
