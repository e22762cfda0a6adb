/**
 * A `bitcoind -regtest` with a funded wallet, for the contract suites (HTLC, PTLC, …):
 * 110 blocks mined to the wallet (ten spendable coinbases), a sweep address, and the
 * steps every suite repeats — fund an address and confirm it, test a transaction for the
 * mempool, accept-broadcast-mine-and-confirm it.
 */
import { satsToBtc } from '../../src/lib/chain/amount.ts';
import type { RpcClient } from '../../src/lib/chain/rpc-client.ts';
import { startBitcoind, type Bitcoind } from './bitcoind.ts';

export type OutPoint = { txid: string; vout: number };

export type FundedNode = {
  node: Bitcoind;
  wallet: RpcClient;
  /** A wallet address (bech32m) blocks are mined to. */
  miner: string;
  /** Another wallet address (bech32) spends sweep to. */
  sweepTo: string;
  /** --rpc-url and --rpc-cookie for the CLI. */
  chain(): string[];
  tip(): Promise<number>;
  mine(n: number): Promise<unknown>;
  /** testmempoolaccept of one transaction: allowed, and Core's reject-reason. */
  mempool(hex: string): Promise<{ allowed: boolean; 'reject-reason'?: string }>;
  /** Accepted, broadcast, mined in the next block: its txid. */
  acceptAndMine(hex: string): Promise<string>;
  /** Pay `sat` to `address` from the wallet and confirm it: the outpoint. */
  fund(address: string, sat?: bigint): Promise<OutPoint>;
  stop(): Promise<void>;
};

export async function startFundedNode(binary: string, walletName: string, nodeArgs: string[] = []): Promise<FundedNode> {
  const node = await startBitcoind(binary, nodeArgs);
  await node.rpc.call('createwallet', [walletName]);
  const wallet = node.rpc.forWallet(walletName);
  const miner = await wallet.call<string>('getnewaddress', ['', 'bech32m']);
  const sweepTo = await wallet.call<string>('getnewaddress', ['', 'bech32']);
  const mine = (n: number) => node.rpc.call('generatetoaddress', [n, miner]);
  await mine(110);
  const mempool = async (hex: string) => (await node.rpc.call<{ allowed: boolean; 'reject-reason'?: string }[]>('testmempoolaccept', [[hex]]))[0]!;
  return {
    node,
    wallet,
    miner,
    sweepTo,
    chain: () => ['--rpc-url', node.config.url, '--rpc-cookie', node.cookieFile],
    tip: () => node.rpc.call<number>('getblockcount'),
    mine,
    mempool,
    async acceptAndMine(hex) {
      // Plain checks, not vitest's expect: bench/device-serve.ts builds its Core Lightning world with this too.
      const accepted = await mempool(hex);
      if (!accepted.allowed) throw new Error(`testmempoolaccept refused the transaction: ${accepted['reject-reason']}`);
      const txid = await node.rpc.call<string>('sendrawtransaction', [hex]);
      await mine(1);
      const confirmations = (await node.rpc.call<{ confirmations?: number }>('getrawtransaction', [txid, 1])).confirmations;
      if (confirmations !== 1) throw new Error(`${txid} has ${confirmations} confirmations after one block, not 1`);
      return txid;
    },
    async fund(address, sat = 50_000n) {
      const txid = await wallet.call<string>('sendtoaddress', [address, satsToBtc(sat)]);
      await mine(1);
      const tx = await node.rpc.call<{ vout: { n: number; scriptPubKey: { address?: string } }[] }>('getrawtransaction', [txid, 1]);
      return { txid, vout: tx.vout.find((o) => o.scriptPubKey.address === address)!.n };
    },
    stop: () => node.stop(),
  };
}
