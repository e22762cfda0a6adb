/**
 * The node's wallet as a watcher pays from it: the keyless tower's TRUC children (./tower.ts) and a
 * channel party's anchors / zero-fee HTLC second stages (./channel.ts) — coins chosen by the
 * wallet (walletcreatefundedpsbt, confirmed only, paying an address of its own with its change),
 * signed by it (walletprocesspsbt). The watcher holds none of the wallet's keys.
 */
import type { Transaction } from '@scure/btc-signer';
import type { RpcClient } from '../../lib/chain/rpc-client.ts';
import type { ChainSource } from '../../lib/chain/types.ts';
import type { Network } from '../../lib/network.ts';

/** The node's wallet, as a watcher pays from it. */
export type NodeWallet = {
  /**
   * walletcreatefundedpsbt: confirmed coins of the wallet paying `sat` to an address of its own (its change too), used
   * as is. `lock`: the coins locked in the wallet (lockUnspents), so that a second call before the first is sent does
   * not choose them again.
   */
  coins(sat: bigint, opts?: { lock?: boolean }): Promise<Transaction>;
  /** walletprocesspsbt: the transaction with the wallet's inputs signed, its network bytes. */
  sign(psbt: Transaction): Promise<Uint8Array>;
  /**
   * getaddressinfo: whether the wallet holds the keys of `address` (ismine) — what vouches for coins read back from a
   * store, which anyone who writes the database can edit (a BIP-32 mark proves no key is the wallet's: ../../lib/tx/wallet-output.ts).
   */
  mine(address: string): Promise<boolean>;
};

/**
 * What a watcher asks the wallet's coins to move (walletcreatefundedpsbt's payment to itself): the most a transaction of up
 * to 1,000 vB pays at `maxFeeRate` (sat/vB) — or `mostFeeSat`, the most the transaction may ever pay (--max-fee-share of
 * what it protects), when less — and 1,000 sat over. Never more: the default budget (10,000 sat/vB) asked 0.1 BTC, and a
 * wallet holding less answered "Insufficient funds" for a bid of a few thousand sat.
 */
export const feeCoinsSat = (maxFeeRate: number, mostFeeSat?: number): bigint =>
  BigInt(Math.min(Math.ceil(maxFeeRate * 1000), mostFeeSat === undefined ? Number.MAX_SAFE_INTEGER : Math.max(0, Math.floor(mostFeeSat)))) + 1000n;

/** The node's RPC client behind a watcher's chain (an RpcChainSource's: watchChain gives the node itself when it is one), at `/wallet/<wallet>` when one is named; none offline. */
export function walletClient(chain: { kind: string }, wallet?: string): RpcClient | undefined {
  if (chain.kind !== 'rpc') return undefined;
  const node = (chain as unknown as { client: RpcClient }).client;
  return wallet === undefined ? node : node.forWallet(wallet);
}

/** The node's wallet (`client`: the node, or `/wallet/<--rpc-wallet>`). */
export function nodeWallet(client: RpcClient): NodeWallet {
  return {
    async coins(sat, opts = {}) {
      const { satsToBtc } = await import('../../lib/chain/amount.ts');
      const { parsePsbtBase64 } = await import('../../lib/psbt/parse.ts');
      const address = await client.call<string>('getnewaddress');
      // Confirmed coins only (a TRUC child has no unconfirmed parent but the backup); the wallet's own fee is ignored: the caller sets its fee.
      const answer = await client.call<{ psbt: string }>('walletcreatefundedpsbt', [[], [{ [address]: satsToBtc(sat) }], 0, { minconf: 1, fee_rate: 1, ...(opts.lock ? { lockUnspents: true } : {}) }]);
      return parsePsbtBase64(answer.psbt, 'walletcreatefundedpsbt');
    },
    async sign(psbt) {
      const { base64 } = await import('@scure/base');
      const { packageTxFrom } = await import('../../lib/truc/input.ts');
      const answer = await client.call<{ psbt: string }>('walletprocesspsbt', [base64.encode(psbt.toPSBT())]);
      return (await packageTxFrom(new TextEncoder().encode(answer.psbt), 'the transaction as walletprocesspsbt signed it')).raw;
    },
    async mine(address) {
      return (await client.call<{ ismine?: unknown }>('getaddressinfo', [address])).ismine === true;
    },
  };
}

/**
 * The wallet's coins a watcher stored (walletcreatefundedpsbt's answer, base64), as far as the node and the wallet vouch
 * for them: a writer of the database can edit them, and the wallet signs whatever spends its coins — an output marked
 * with a stranger's own BIP-32 keys passes the PSBT's checks (../../lib/tx/wallet-output.ts), and an input's amount
 * written low makes the transaction pay the difference as fee (the wallet signs over the amount it knows). So: each
 * input is the output the node's transaction index has (its amount and script), the wallet's (getaddressinfo ismine),
 * and unspent or spent in the mempool by `spentBy` (the watcher's own transaction there, which the next bid replaces);
 * each output is the wallet's. Anything else — the wallet spent a coin elsewhere, the bytes are no PSBT — is none:
 * undefined, and the caller chooses new coins.
 */
export async function vouchedCoins(chain: Pick<ChainSource, 'utxo' | 'rawTransaction' | 'mempoolSpender'>, wallet: NodeWallet, network: Network, stored: string, spentBy: string | undefined): Promise<Transaction | undefined> {
  const { parsePsbtBase64 } = await import('../../lib/psbt/parse.ts');
  const { scriptAddress } = await import('../../lib/address.ts');
  const { measureTx } = await import('../../lib/truc/transaction.ts');
  const { equalBytes, toHex } = await import('../../lib/bytes.ts');
  const { walletCoins } = await import('../../lib/tx/wallet-psbt.ts');
  const { SEQUENCE_LOCKTIME_DISABLE_FLAG } = await import('../../lib/chain/finality.ts');
  let coins: Transaction;
  try {
    coins = parsePsbtBase64(stored, 'the stored wallet coins');
  } catch {
    return undefined;
  }
  const mine = async (script: Uint8Array | undefined) => {
    const address = script && scriptAddress(script, network);
    return address !== undefined && (await wallet.mine(address));
  };
  if (coins.inputsLength === 0 || coins.outputsLength === 0) return undefined;
  // Coins every bid would fail on, round after round, are none either: what the builders refuse (an output's BIP-32 mark
  // stripped, a script tree added to a taproot coin), an input whose nSequence is a relative lock (BIP 68: the child non-final).
  try {
    walletCoins(coins, { flag: 'the stored wallet coins', code: 'E_FEE_PSBT', purpose: 'vouched for' });
  } catch {
    return undefined;
  }
  for (let i = 0; i < coins.inputsLength; i++) {
    const { txid, index, witnessUtxo: w, sequence } = coins.getInput(i);
    if (!txid || index === undefined || !w) return undefined;
    if (sequence !== undefined && (sequence & SEQUENCE_LOCKTIME_DISABLE_FLAG) === 0) return undefined;
    let real: { amount: bigint; script: Uint8Array } | undefined;
    try {
      real = measureTx(await chain.rawTransaction(toHex(txid)), 'a stored wallet coin\'s transaction').tx.outputs[index];
    } catch {
      return undefined;
    }
    if (!real || real.amount !== w.amount || !equalBytes(real.script, w.script) || !(await mine(w.script))) return undefined;
    if ((await chain.utxo(toHex(txid), index)) === null && (spentBy === undefined || (await chain.mempoolSpender?.(toHex(txid), index)) !== spentBy)) return undefined;
  }
  for (let i = 0; i < coins.outputsLength; i++) if (!(await mine(coins.getOutput(i).script))) return undefined;
  return coins;
}
