/**
 * ChainSource for working without a node: it answers exactly what the invocation told
 * it (the CLI maps --tip-height, --tip-mtp and per-outpoint confirmations onto it) and
 * refuses, with the flag to pass, anything else (E_CHAIN_UNKNOWN). Mempool tests and
 * broadcasts need a node and always fail (E_CHAIN_OFFLINE).
 *
 * A tip known only by height: `tip()` returns an object whose `medianTimePast` getter
 * throws E_CHAIN_UNKNOWN, so height-lock reasoning works (use `isFinalAtTip`, which
 * reads the MTP only for time locks) while any use of an unknown time fails loudly
 * instead of silently comparing with 0.
 *
 * Not done: deriving anything (e.g. confirmations from heights); nothing is guessed.
 */
import { UsageError } from '../errors.ts';
import { LOCKTIME_THRESHOLD } from './finality.ts';
import type { SubmitPackageResult } from './types.ts';
import type { ChainSource, ChainTip, MempoolAcceptResult, UtxoInfo } from './types.ts';

export interface OfflineFlagNames {
  tipHeight: string;
  tipMedianTimePast: string;
  confirmations: string;
  rpcUrl: string;
}

export interface OfflineChainFacts {
  tipHeight?: number | undefined;
  tipMedianTimePast?: number | undefined;
  tipHash?: string | undefined;
  /** Outputs known to be unspent, with their confirmations (0 = in the mempool). */
  utxos?: readonly UtxoInfo[] | undefined;
  /** Outpoints known to be spent (utxo() answers null for them). */
  spent?: readonly { txid: string; vout: number }[] | undefined;
  /** Raw transactions by txid, e.g. taken from the input message. */
  rawTransactions?: ReadonlyMap<string, Uint8Array> | undefined;
  /** The flag names to quote in error messages, if the CLI spells them differently. */
  flags?: Partial<OfflineFlagNames> | undefined;
}

const DEFAULT_FLAGS: OfflineFlagNames = {
  tipHeight: '--tip-height',
  tipMedianTimePast: '--tip-mtp',
  confirmations: '--confirmations',
  rpcUrl: '--rpc-url',
};

const outpointKey = (txid: string, vout: number): string => `${txid.toLowerCase()}:${vout}`;

export class OfflineChainSource implements ChainSource {
  readonly kind = 'offline' as const;
  private readonly facts: OfflineChainFacts;
  private readonly flags: OfflineFlagNames;
  private readonly utxos = new Map<string, UtxoInfo>();
  private readonly spent = new Set<string>();

  constructor(facts: OfflineChainFacts = {}) {
    this.facts = facts;
    this.flags = { ...DEFAULT_FLAGS, ...facts.flags };
    const { tipHeight, tipMedianTimePast } = facts;
    if (tipHeight !== undefined && (!Number.isInteger(tipHeight) || tipHeight < 0 || tipHeight >= LOCKTIME_THRESHOLD)) {
      throw new UsageError('E_BAD_TIP', `${this.flags.tipHeight} must be a block height (0 ≤ h < ${LOCKTIME_THRESHOLD}), got ${tipHeight}`);
    }
    if (tipMedianTimePast !== undefined && (!Number.isInteger(tipMedianTimePast) || tipMedianTimePast < 0 || tipMedianTimePast > 0xffff_ffff)) {
      throw new UsageError('E_BAD_TIP', `${this.flags.tipMedianTimePast} must be a UNIX time in seconds, got ${tipMedianTimePast}`);
    }
    for (const u of facts.utxos ?? []) {
      if (!Number.isInteger(u.confirmations) || u.confirmations < 0) {
        throw new UsageError('E_BAD_CONFIRMATIONS', `confirmations of ${u.txid}:${u.vout} must be a non-negative integer, got ${u.confirmations}`);
      }
      this.utxos.set(outpointKey(u.txid, u.vout), u);
    }
    for (const s of facts.spent ?? []) this.spent.add(outpointKey(s.txid, s.vout));
  }

  async tip(): Promise<ChainTip> {
    const { tipHeight, tipMedianTimePast, tipHash } = this.facts;
    if (tipHeight === undefined) throw this.unknown(`the chain tip is unknown; pass ${this.flags.tipHeight} (and ${this.flags.tipMedianTimePast} for time locks)`);
    const tip: ChainTip = { height: tipHeight, medianTimePast: 0 };
    if (tipHash !== undefined) tip.hash = tipHash;
    if (tipMedianTimePast !== undefined) {
      tip.medianTimePast = tipMedianTimePast;
    } else {
      const error = (): UsageError => this.unknown(`the tip's median-time-past is unknown; pass ${this.flags.tipMedianTimePast}`);
      Object.defineProperty(tip, 'medianTimePast', {
        enumerable: true,
        get: () => {
          throw error();
        },
      });
    }
    return tip;
  }

  async utxo(txid: string, vout: number): Promise<UtxoInfo | null> {
    const key = outpointKey(txid, vout);
    if (this.spent.has(key)) return null;
    const known = this.utxos.get(key);
    if (known) return known;
    // A flag spelled with its value (e.g. "--confirmations N") is quoted as is;
    // a bare flag name takes the outpoint form.
    const hint = / N$/.test(this.flags.confirmations) ? this.flags.confirmations : `${this.flags.confirmations} ${txid}:${vout}=N`;
    throw this.unknown(`the status of ${txid}:${vout} is unknown; pass its confirmations (${hint})`);
  }

  async rawTransaction(txid: string): Promise<Uint8Array> {
    const raw = this.facts.rawTransactions?.get(txid.toLowerCase());
    if (raw) return raw;
    throw this.unknown(`transaction ${txid} is not known; pass it in the input`);
  }

  async testMempoolAccept(_rawTxs: Uint8Array[]): Promise<MempoolAcceptResult[]> {
    throw this.offline('cannot test mempool acceptance without a node', 'or run bitcoin-cli testmempoolaccept on the printed transaction');
  }

  async broadcast(_rawTx: Uint8Array): Promise<string> {
    throw this.offline('cannot broadcast without a node', 'or broadcast the printed transaction with bitcoin-cli sendrawtransaction');
  }

  /** Refused, whatever the maxfeerate: no package leaves without a node to apply it. */
  async submitPackage(_rawTxs: Uint8Array[], _maxFeeRateSatPerKvb?: number): Promise<SubmitPackageResult> {
    throw this.offline('cannot submit a package without a node', 'or submit the printed transactions with bitcoin-cli submitpackage');
  }

  private unknown(what: string): UsageError {
    return new UsageError('E_CHAIN_UNKNOWN', `offline: ${what} or ${this.flags.rpcUrl}`);
  }

  private offline(what: string, alternative: string): UsageError {
    return new UsageError('E_CHAIN_OFFLINE', `offline: ${what}; pass ${this.flags.rpcUrl} ${alternative}`);
  }
}
