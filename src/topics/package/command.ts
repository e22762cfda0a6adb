/**
 * What `package child` and `package submit` share: reading a transaction from a flag
 * (raw hex or a PSBT inline, or a file holding either or one of our messages), the
 * inputs' descriptions (with a node, the node's word; offline, --prevout and the PSBTs'
 * witness_utxo, on trust),
 * and the node's policy numbers (getmempoolinfo when a node is given, else the flags).
 */
import { Flags, type Command } from '@oclif/core';
import { OffchainCommand } from '../../lib/cli/base-command.ts';
import { UsageError } from '../../lib/errors.ts';
import type { ChainSource } from '../../lib/chain/index.ts';
import type { Prevout, TrucPolicy } from '../../lib/truc/check.ts';
import type { PackageTx } from '../../lib/truc/input.ts';

const INLINE = /^(([0-9a-fA-F]{2})+|cHNidP8[A-Za-z0-9+/=]*)$/;

/** A sat/vB flag as Core's sat/kvB integer (at most three decimals, so exact). */
export function satPerKvb(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const rate = Number(value);
  const kvb = Math.round(rate * 1000);
  if (!/^\d+(\.\d{1,3})?$/.test(value.trim()) || !Number.isFinite(rate) || kvb / 1000 !== rate) {
    throw new UsageError('E_USAGE', `--${flag} takes sat/vB with at most three decimals, got ${value}`);
  }
  return kvb;
}

export const policyFlags = {
  'min-relay-fee': Flags.string({ description: 'offline: the node\'s minrelaytxfee, sat/vB (default 0.1: Bitcoin Core 30\'s; with a node, its getmempoolinfo)', helpValue: 'SAT/VB', helpGroup: 'POLICY' }),
  'mempool-min-fee': Flags.string({ description: 'offline: the node\'s mempoolminfee when its mempool is full, sat/vB (default: none; with a node, its getmempoolinfo)', helpValue: 'SAT/VB', helpGroup: 'POLICY' }),
  'dust-relay-fee': Flags.string({ description: 'the node\'s dustrelayfee, sat/vB (default 3)', helpValue: 'SAT/VB', helpGroup: 'POLICY' }),
};

export abstract class PackageCommand<T extends typeof Command> extends OffchainCommand<T> {
  /** A transaction from a flag: inline raw hex / base64 PSBT, or a file (hex, PSBT, walletprocesspsbt's JSON, one of our messages). */
  protected async packageTx(flag: string, value: string, role: 'parent' | 'child'): Promise<PackageTx> {
    const { packageTxFrom, packageTxFromDocument } = await import('../../lib/truc/input.ts');
    if (INLINE.test(value.trim())) return packageTxFrom(new TextEncoder().encode(value), `--${flag}`);
    return packageTxFromDocument(await this.readFlagInput(`--${flag}`, value), `--${flag} ${value}`, role);
  }

  /** A wallet's PSBT from a file: bitcoin-cli's JSON answer (walletcreatefundedpsbt, walletprocesspsbt: its "psbt"), or the PSBT itself. */
  protected async walletPsbtAt(flag: string, path: string) {
    const { detectFormat } = await import('../../lib/cli/input.ts');
    const { parsePsbt } = await import('../../lib/psbt/parse.ts');
    const { psbtBytesFromBase64 } = await import('../../lib/psbt/base64-field.ts');
    const { MalformedInputError } = await import('../../lib/errors.ts');
    const doc = detectFormat(await this.readFlagInput(flag, path), `${flag} ${path}`);
    if (doc.format === 'psbt') return parsePsbt(doc.psbt);
    const psbt = doc.format === 'json' ? (doc.value as { psbt?: unknown }).psbt : undefined;
    if (typeof psbt !== 'string') throw new MalformedInputError('E_MALFORMED_PSBT', `${flag} ${path} holds neither a PSBT nor a JSON object with a "psbt" field`);
    return parsePsbt(psbtBytesFromBase64(psbt, `${flag} ${path}: psbt`));
  }

  /**
   * The node's numbers: getmempoolinfo with a node, else the flags (Core 30's defaults). `maxFeeRate` in sat/vB (the fee
   * guard's). Also the incremental relay fee a replacement pays on top (the node's; offline Core's default, 0.1 sat/vB).
   */
  protected async policy(chain: ChainSource, maxFeeRate: number): Promise<TrucPolicy & { incrementalRelayFeeRate: number }> {
    const { CORE_POLICY } = await import('../../lib/truc/check.ts');
    const { INCREMENTAL_RELAY_FEE_RATE } = await import('../../lib/tx/policy.ts');
    const f = this.flags as { 'min-relay-fee'?: string; 'mempool-min-fee'?: string; 'dust-relay-fee'?: string };
    const policy: TrucPolicy & { incrementalRelayFeeRate: number } = {
      minRelayFeeRate: satPerKvb('min-relay-fee', f['min-relay-fee'], CORE_POLICY.minRelayFeeRate),
      mempoolMinFeeRate: satPerKvb('mempool-min-fee', f['mempool-min-fee'], CORE_POLICY.mempoolMinFeeRate),
      dustRelayFeeRate: satPerKvb('dust-relay-fee', f['dust-relay-fee'], CORE_POLICY.dustRelayFeeRate),
      maxFeeRate: Math.round(maxFeeRate * 1000),
      incrementalRelayFeeRate: INCREMENTAL_RELAY_FEE_RATE,
    };
    if (chain.kind === 'rpc' && chain.mempoolPolicy) {
      if (f['min-relay-fee'] !== undefined || f['mempool-min-fee'] !== undefined) throw new UsageError('E_USAGE', '--min-relay-fee/--mempool-min-fee are for offline use: with a node, its getmempoolinfo is used');
      const node = await chain.mempoolPolicy();
      policy.minRelayFeeRate = node.minRelayFeeRate;
      policy.mempoolMinFeeRate = node.mempoolMinFeeRate > node.minRelayFeeRate ? node.mempoolMinFeeRate : 0;
      policy.incrementalRelayFeeRate = node.incrementalRelayFeeRate;
    }
    return policy;
  }

  /**
   * Every input of `raws` (the parent, then the child) that is not an output of one of them.
   * With a node, as the node vouches for it (src/lib/truc/vouched.ts): a claim of a file or
   * --prevout it contradicts is E_TRUC_PREVOUT_CONFLICT, naming the input — the parent's fee
   * sets the child's (issue 37 finding 3). Offline, as given; `onTrust` lists those.
   */
  protected async completePrevouts(chain: ChainSource, raws: Uint8Array[], given: Prevout[]): Promise<{ prevouts: Prevout[]; onTrust: Prevout[] }> {
    const { measureTx } = await import('../../lib/truc/transaction.ts');
    const { toHex } = await import('../../lib/bytes.ts');
    const txs = raws.map((r) => measureTx(r, 'a package transaction'));
    const inside = (txid: string, vout: number) => txs.find((t) => t.txid === txid)?.tx.outputs[vout] ?? (txs.some((t) => t.txid === txid) ? { amount: 0n, script: new Uint8Array() } : undefined);
    const names = ['parent', 'child'];
    if (chain.kind === 'rpc') {
      const { vouchedPrevouts } = await import('../../lib/truc/vouched.ts');
      const node = {
        prevout: (txid: string, vout: number) => this.prevoutIfNodeKnows(chain, txid, vout),
        mempoolEntry: async (txid: string) => (chain.mempoolEntry ? chain.mempoolEntry(txid) : null),
        spender: async (txid: string, vout: number) => (chain.mempoolSpender ? chain.mempoolSpender(txid, vout) : undefined),
        mempoolTx: async (txid: string) => ((chain.mempoolEntry && await chain.mempoolEntry(txid)) ? chain.rawTransaction(txid) : undefined),
      };
      const prevouts: Prevout[] = [];
      for (const [i, raw] of raws.entries()) {
        const name = names[i] ?? `transaction ${i}`;
        prevouts.push(...await vouchedPrevouts(node, raw, given, { name, source: `the ${name}'s file (its PSBT's witness_utxo, or --prevout)`, inside }));
      }
      return { prevouts, onTrust: [] };
    }
    const onTrust: Prevout[] = [];
    for (const t of txs) {
      for (const input of t.tx.inputs) {
        const txid = toHex(input.txid);
        if (inside(txid, input.index) !== undefined) continue;
        const p = given.find((g) => g.txid === txid && g.vout === input.index);
        if (!p) throw new UsageError('E_TRUC_PREVOUT', `${t.txid} spends ${txid}:${input.index}: give its amount and script with --prevout TXID:VOUT:AMOUNT:SCRIPT, or a node (--rpc-url) to ask`);
        if (!onTrust.includes(p)) onTrust.push(p);
      }
    }
    return { prevouts: [...given], onTrust };
  }

  private async prevoutIfNodeKnows(chain: ChainSource, txid: string, vout: number): Promise<Prevout | undefined> {
    const { measureTx } = await import('../../lib/truc/transaction.ts');
    if (chain.kind !== 'rpc') return undefined;
    const u = await chain.utxo(txid, vout);
    if (u) return { txid, vout, amount: u.value, script: u.scriptPubKey };
    // Spent already — by this very parent, in the mempool (a child replacing an earlier one): the transaction that made it says.
    const raw = await chain.rawTransaction(txid).catch(() => undefined);
    const o = raw ? measureTx(raw, 'a prevout transaction').tx.outputs[vout] : undefined;
    return o ? { txid, vout, amount: o.amount, script: o.script } : undefined;
  }

  /**
   * The wallet PSBT's coins (`--wallet-psbt`): with a node, each as the node holds it unspent and confirmed
   * (src/lib/truc/vouched.ts: a coin it contradicts is E_TRUC_PREVOUT_CONFLICT, one it does not hold or holds unconfirmed
   * E_WALLET_PSBT_INPUT), and none is on trust; offline, all of them are (returned).
   */
  protected async walletCoinsVouched(chain: ChainSource, wallet: import('@scure/btc-signer').Transaction): Promise<Prevout[]> {
    const { toHex } = await import('../../lib/bytes.ts');
    const coins: Prevout[] = [];
    for (let i = 0; i < wallet.inputsLength; i++) {
      const input = wallet.getInput(i);
      if (input.txid && input.index !== undefined && input.witnessUtxo) coins.push({ txid: toHex(input.txid), vout: input.index, amount: input.witnessUtxo.amount, script: input.witnessUtxo.script });
    }
    if (chain.kind !== 'rpc') return coins;
    const { vouchedWalletCoins } = await import('../../lib/truc/vouched.ts');
    await vouchedWalletCoins(async (txid, vout) => {
      const u = await chain.utxo(txid, vout);
      return u ? { amount: u.value, script: u.scriptPubKey, confirmations: u.confirmations } : undefined;
    }, coins, '--wallet-psbt');
    return [];
  }

  /** Where the parent stands with the node (src/lib/truc/standing.ts): refusals for a parent it already judged, and the conflicts to outbid; offline nothing is known. */
  protected async parentStanding(chain: ChainSource, parent: Uint8Array) {
    if (chain.kind !== 'rpc' || !chain.mempoolSpender || !chain.mempoolEviction) return { conflicts: [] };
    const { parentStanding } = await import('../../lib/truc/standing.ts');
    const spender = chain.mempoolSpender.bind(chain), eviction = chain.mempoolEviction.bind(chain);
    return parentStanding({
      unspent: async (txid, vout) => chain.utxo(txid, vout).then((u) => (u ? { confirmations: u.confirmations } : undefined)),
      spender,
      mempoolTx: async (txid) => ((await eviction(txid)) ? chain.rawTransaction(txid) : undefined),
      eviction,
    }, parent);
  }

  /** The earlier child (`--replaces`) as the node knows it (src/lib/truc/replaced.ts): its mempool fee, or its vouched inputs; offline: E_CHAIN_OFFLINE. */
  protected async replacedChild(chain: ChainSource, raw: Uint8Array, parent: Uint8Array, claims: Prevout[]) {
    if (chain.kind !== 'rpc') throw new UsageError('E_CHAIN_OFFLINE', '--replaces needs a node (--rpc-url): the fee the earlier child pays is the node\'s to say, not its file\'s');
    const { replacedChild } = await import('../../lib/truc/replaced.ts');
    return replacedChild({
      prevout: (txid, vout) => this.prevoutIfNodeKnows(chain, txid, vout),
      mempoolEntry: async (txid) => (chain.mempoolEntry ? chain.mempoolEntry(txid) : null),
    }, raw, parent, claims, chain.mempoolEviction?.bind(chain));
  }
}
