/**
 * The chain source: the one interface through which commands learn about the chain
 * (BRIEF §2 "Chain") — tip height and median-time-past, UTXO status and confirmations,
 * and the node's mempool verdicts — instead of trusting bare numbers from argv.
 *
 * Two implementations: `RpcChainSource` (a Bitcoin Core node over JSON-RPC) and
 * `OfflineChainSource` (explicit values from flags; refuses what it was not told).
 * Amounts are bigint satoshis; hashes are the usual big-endian display hex.
 */

export interface ChainTip {
  /** Height of the best validated block (Core's `blocks`, not `headers`). */
  height: number;
  /** BIP-113 median-time-past of the tip: what time locks are compared with. */
  medianTimePast: number;
  hash?: string;
}

export interface UtxoInfo {
  txid: string;
  vout: number;
  value: bigint;
  scriptPubKey: Uint8Array;
  /** 0 = created by a transaction still in the mempool. */
  confirmations: number;
}

export interface MempoolAcceptResult {
  txid: string;
  wtxid?: string;
  /** False also when Core did not validate this tx because another one in the package failed. */
  allowed: boolean;
  /** Core's short reason, e.g. "non-final", "missing-inputs", "min relay fee not met". */
  rejectReason?: string;
  /** Core's longer explanation when it gives one (`reject-details`). */
  rejectDetails?: string;
  /** Package-wide error when several transactions were tested together. */
  packageError?: string;
  vsize?: number;
  fees?: bigint;
}

export interface SubmitPackageTxResult {
  wtxid: string;
  txid: string;
  /** A transaction with the same txid but another witness was already in the mempool. */
  otherWtxid?: string;
  vsize?: number;
  fees?: bigint;
  /** Effective (package) fee rate in sat/kvB, when Core reports one. */
  effectiveFeeRate?: bigint;
  error?: string;
}

export interface SubmitPackageResult {
  /** "success" when every transaction is in the mempool. */
  packageMsg: string;
  /** In the order the transactions were submitted. */
  txResults: SubmitPackageTxResult[];
  replacedTransactions: string[];
}

export interface ChainSource {
  readonly kind: 'rpc' | 'offline';
  tip(): Promise<ChainTip>;
  /** null = spent (also by a mempool transaction) or never existed. */
  utxo(txid: string, vout: number): Promise<UtxoInfo | null>;
  rawTransaction(txid: string): Promise<Uint8Array>;
  /**
   * Confirmations of a transaction: 0 in the mempool, `null` when the node cannot say
   * (not found: never seen, evicted, or confirmed on a node without -txindex).
   */
  txConfirmations?(txid: string): Promise<number | null>;
  /** txConfirmations of many transactions, asked together (a JSON-RPC batch), by txid. */
  txConfirmationsMany?(txids: readonly string[]): Promise<Map<string, number | null>>;
  testMempoolAccept(rawTxs: Uint8Array[]): Promise<MempoolAcceptResult[]>;
  /** Returns the txid. */
  broadcast(rawTx: Uint8Array): Promise<string>;
  /**
   * Every unspent output in the confirmed UTXO set paying exactly `script` (Core's
   * `scantxoutset`, which reads the whole set: slow on mainnet, mempool not included).
   */
  outputsPaying?(script: Uint8Array): Promise<UtxoInfo[]>;
  /** Whether the node keeps the transaction index (-txindex): without it a mined transaction is unknown to getrawtransaction. */
  txIndex?(): Promise<boolean>;
  /** A block's height and its parent's hash (null: the genesis block), for any block the node has. */
  blockHeader?(hash: string): Promise<{ height: number; prev: string | null }>;
  /** Where the node publishes ZMQ `hashblock`, as this client reaches it (undefined: it publishes none). */
  hashblockEndpoint?(): Promise<string | undefined>;
  /** estimatesmartfee for confirmation within `blocks`, sat/kvB (null: the node has no estimate). */
  estimateFeeRate?(blocks: number): Promise<number | null>;
  /** getmempoolinfo's minrelaytxfee, mempoolminfee and incrementalrelayfee (what a replacement pays on top), sat/kvB. */
  mempoolPolicy?(): Promise<{ minRelayFeeRate: number; mempoolMinFeeRate: number; incrementalRelayFeeRate: number }>;
  /**
   * Core v28+ `submitpackage` (child with its unconfirmed parents), for CPFP packages, with
   * `maxfeerate` (sat/kvB; Core's default when omitted). A source without a node refuses
   * every call (E_CHAIN_OFFLINE) before anything is sent, whatever the maxfeerate.
   */
  submitPackage?(rawTxs: Uint8Array[], maxFeeRateSatPerKvb?: number): Promise<SubmitPackageResult>;
  /** getmempoolentry's fees.base of a transaction in the mempool, in sat (null: not in the mempool). */
  mempoolFee?(txid: string): Promise<bigint | null>;
  /** The mempool transaction spending an outpoint (Core v24+ `gettxspendingprevout`); undefined when none does (unspent, spent in a block, or never made). */
  mempoolSpender?(txid: string, vout: number): Promise<string | undefined>;
  /** getmempoolentry's descendant fee and size (what replacing it evicts) and its chunk's fee and weight (null: not in the mempool). */
  mempoolEviction?(txid: string): Promise<{ descendantFee: bigint; descendantVsize: number; chunkFee: bigint; chunkWeight: number } | null>;
  /** getmempoolentry's fees.base (sat) and vsize (Core's, sigop-adjusted) of a transaction in the mempool (null: not in the mempool). */
  mempoolEntry?(txid: string): Promise<{ fee: bigint; vsize: number } | null>;
  /** The transaction of block `hash` that spends txid:vout (getblock, verbosity 2), or undefined when none of it does. */
  blockSpender?(hash: string, txid: string, vout: number): Promise<string | undefined>;
  /** A block's height and its transactions' txids, in block order (getblock, verbosity 1: no transaction decoded). */
  blockTxids?(hash: string): Promise<{ height: number; txids: string[] }>;
}
