/**
 * The node's wallet as a watcher pays from it: the keyless tower's TRUC children (./tower.ts) and a
 * channel party's anchors / zero-fee HTLC second stages (./channel.ts) — coins chosen by the
 * wallet (walletcreatefundedpsbt, confirmed only, paying an address of its own with its change),
 * signed by it (walletprocesspsbt). The watcher holds none of the wallet's keys.
 */
import type { Transaction } from '@scure/btc-signer';
import type { RpcClient } from '../../lib/chain/rpc-client.ts';

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

/** What a watcher asks the wallet's coins to move (walletcreatefundedpsbt's payment to itself): the most a transaction of up to 1,000 vB pays at `maxFeeRate` (sat/vB), and 1,000 sat over. */
export const feeCoinsSat = (maxFeeRate: number): bigint => BigInt(Math.ceil(maxFeeRate * 1000)) + 1000n;

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
