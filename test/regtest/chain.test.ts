/**
 * Optional integration suite against a real `bitcoind -regtest` (BRIEF §5): our one
 * finality rule must agree with Core's mempool (CheckFinalTxAtTip) at every boundary,
 * and the RPC ChainSource must read tip, UTXOs, raw transactions and broadcast for real.
 * Runs when `bitcoind` is on PATH or BITCOIND names it; otherwise the suite is skipped
 * and its title says why.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schnorr } from '@noble/curves/secp256k1.js';
import { SigHash, TEST_NETWORK, Transaction, p2tr } from '@scure/btc-signer';
import { equalBytes, fromHex, toHex } from '../../src/lib/bytes.ts';
import { OffchainError } from '../../src/lib/errors.ts';
import { SEQUENCE_FINAL, blocksUntilFinal, explainFinality, isFinal, isFinalAtTip, lockTimeFields } from '../../src/lib/chain/finality.ts';
import { RpcChainSource } from '../../src/lib/chain/rpc.ts';
import { scriptPubKeyView } from '../../src/lib/psbt/decode.ts';
import type { RpcClient } from '../../src/lib/chain/rpc-client.ts';
import type { ChainTip } from '../../src/lib/chain/types.ts';
import { findBitcoind, startBitcoind } from './bitcoind.ts';
import type { Bitcoind } from './bitcoind.ts';

// Regtest address parameters (bech32 HRP "bcrt"), kept local so the suite depends only on the chain layer.
const REGTEST = { ...TEST_NETWORK, bech32: 'bcrt' };
const NON_FINAL = 0xfffffffd; // opts in to nLockTime (and RBF), no BIP-68 lock
const FEE = 1_000n;

// A key we hold; regtest only.
const PRIV = new Uint8Array(32).fill(7);
const INTERNAL = schnorr.getPublicKey(PRIV);
const OURS = p2tr(INTERNAL, undefined, REGTEST);

interface Funding {
  txid: string;
  vout: number;
  value: bigint;
  script: Uint8Array;
}

/** A key-path spend of `fund` back to `to`, with the given nLockTime and nSequence. */
function keyPathSpend(fund: Funding, lockTime: number, sequence: number, to: string): Transaction {
  const tx = new Transaction({ version: 2, lockTime });
  tx.addInput({ txid: fund.txid, index: fund.vout, witnessUtxo: { script: fund.script, amount: fund.value }, tapInternalKey: INTERNAL, sequence });
  tx.addOutputAddress(to, fund.value - FEE, REGTEST);
  tx.sign(PRIV);
  tx.finalize();
  return tx;
}

describe('regtest helpers (no node needed)', () => {
  it('keyPathSpend sets nLockTime/nSequence and signs for the output key', () => {
    const fund: Funding = { txid: '11'.repeat(32), vout: 0, value: 100_000_000n, script: OURS.script };
    const tx = keyPathSpend(fund, 123, NON_FINAL, OURS.address!);
    const back = Transaction.fromRaw(tx.extract());
    expect(back.lockTime).toBe(123);
    expect(back.getInput(0).sequence).toBe(NON_FINAL);
    const sig = back.getInput(0).finalScriptWitness![0]!;
    const msg = tx.preimageWitnessV1(0, [fund.script], SigHash.DEFAULT, [fund.value]);
    // The taproot output key is the script's 32-byte program (OP_1 <key>).
    expect(schnorr.verify(sig, msg, fund.script.subarray(2))).toBe(true);
  });
});

const BITCOIND = findBitcoind();
const TITLE = BITCOIND
  ? `bitcoind -regtest (${BITCOIND})`
  : 'bitcoind -regtest — SKIPPED: no bitcoind on PATH and BITCOIND is unset';
// Say so in the run's output too, not only in verbose listings.
if (!BITCOIND) console.warn(`[regtest] ${TITLE}`);

describe.skipIf(!BITCOIND)(TITLE, () => {
  let node: Bitcoind;
  let wallet: RpcClient;
  let source: RpcChainSource;
  let walletAddress: string;
  let fund: Funding;

  const mine = async (n: number) => {
    await node.rpc.call('generatetoaddress', [n, walletAddress]);
  };
  const accept = async (tx: Transaction) => {
    const [result] = await source.testMempoolAccept([tx.extract()]);
    return result!;
  };

  beforeAll(async () => {
    node = await startBitcoind(BITCOIND!);
    source = new RpcChainSource(node.config);
    await node.rpc.call('createwallet', ['offchain-test']);
    wallet = node.rpc.forWallet('offchain-test');
    walletAddress = await wallet.call<string>('getnewaddress');
    await mine(101); // coinbase maturity: the first block's reward becomes spendable
  });

  afterAll(async () => {
    await node?.stop();
  });

  it('tip: height, median-time-past and hash from getblockchaininfo', async () => {
    const tip = await source.tip();
    expect(tip.height).toBe(101);
    expect(tip.hash).toBe(await node.rpc.call('getbestblockhash'));
    const header = await node.rpc.call<{ mediantime: number }>('getblockheader', [tip.hash]);
    expect(tip.medianTimePast).toBe(header.mediantime);
  });

  it('funds our P2TR key and follows it from mempool (0 confirmations) to 1 confirmation', async () => {
    const txid = await wallet.call<string>('sendtoaddress', [OURS.address, 1]);
    const raw = await source.rawTransaction(txid); // from the mempool
    const parsed = Transaction.fromRaw(raw, { allowUnknownOutputs: true });
    expect(parsed.id).toBe(txid);
    let vout = -1;
    for (let i = 0; i < parsed.outputsLength; i++) if (equalBytes(parsed.getOutput(i).script!, OURS.script)) vout = i;
    expect(vout).toBeGreaterThanOrEqual(0);
    fund = { txid, vout, value: 100_000_000n, script: OURS.script };

    const pending = await source.utxo(txid, vout);
    expect(pending).toEqual({ txid, vout, value: 100_000_000n, scriptPubKey: OURS.script, confirmations: 0 });
    expect(await source.txConfirmations(txid)).toBe(0);
    await mine(1);
    expect((await source.utxo(txid, vout))?.confirmations).toBe(1);
    expect(await source.txConfirmations(txid)).toBe(1);
    expect(await source.utxo(txid, 99)).toBeNull();
    expect(await source.txConfirmations('00'.repeat(32))).toBeNull(); // never seen: null, not an error
  });

  it('txConfirmationsMany: getrawtransaction in JSON-RPC batches (one POST per 500), each answer as txConfirmations gives it one by one — mined, in the mempool, never seen', async () => {
    const inMempool = await wallet.call<string>('sendtoaddress', [OURS.address, 0.5]);
    const unknown = Array.from({ length: 520 }, (_, i) => `ab${(i + 1).toString(16).padStart(62, '0')}`);
    const asked = [fund.txid, inMempool, ...unknown, fund.txid];
    let posts = 0;
    const counted = new RpcChainSource(node.config, { fetch: (url, init) => (posts++, fetch(url, init)) });
    const many = await counted.txConfirmationsMany(asked);
    // One POST for the chain check (getblockchaininfo), then 522 distinct txids in batches of 500: two.
    expect(posts).toBe(3);
    expect(many.size).toBe(522);
    expect(many.get(fund.txid)).toBe(await source.txConfirmations(fund.txid));
    expect(many.get(fund.txid)).toBeGreaterThanOrEqual(1);
    expect(many.get(inMempool)).toBe(0);
    for (const t of unknown) expect(many.get(t)).toBeNull();
    expect(await counted.txConfirmationsMany([])).toEqual(new Map());
    expect(posts).toBe(3);
    // A batch the node refuses whole (the credentials) throws as a single call does; a txid that is not one is refused before anything is sent.
    const wrong = new RpcChainSource({ ...node.config, auth: { user: '__cookie__', password: 'not-the-cookie' } });
    await expect(wrong.txConfirmationsMany([fund.txid])).rejects.toMatchObject({ code: 'E_RPC_AUTH' });
    await expect(counted.txConfirmationsMany(['zz'])).rejects.toMatchObject({ code: 'E_BAD_TXID' });
    await mine(1);
  });

  it('isFinal agrees with testmempoolaccept at every locktime boundary', async () => {
    const tip: ChainTip = await source.tip();
    const cases: [string, Transaction, boolean][] = [
      ['height lock = tip + 1', keyPathSpend(fund, tip.height + 1, NON_FINAL, walletAddress), false],
      ['height lock = tip', keyPathSpend(fund, tip.height, NON_FINAL, walletAddress), true],
      ['height lock far ahead, sequence final', keyPathSpend(fund, tip.height + 100, SEQUENCE_FINAL, walletAddress), true],
      ['time lock = MTP', keyPathSpend(fund, tip.medianTimePast, NON_FINAL, walletAddress), false],
      ['time lock = MTP − 1', keyPathSpend(fund, tip.medianTimePast - 1, NON_FINAL, walletAddress), true],
    ];
    for (const [name, tx, final] of cases) {
      const ours = isFinal(lockTimeFields(tx), tip.height, tip.medianTimePast);
      const core = await accept(tx);
      expect({ name, ours }).toEqual({ name, ours: final });
      expect({ name, allowed: core.allowed, reason: core.rejectReason }).toEqual(
        final ? { name, allowed: true, reason: undefined } : { name, allowed: false, reason: 'non-final' },
      );
    }
  });

  it('a refund locked at tip + 1 is rejected as non-final, then accepted, broadcast and confirmed after one block', async () => {
    const tip = await source.tip();
    const refund = keyPathSpend(fund, tip.height + 1, NON_FINAL, walletAddress);
    const fields = lockTimeFields(refund);
    expect(isFinalAtTip(fields, tip)).toBe(false);
    expect(blocksUntilFinal(fields, tip.height)).toBe(1);
    expect(explainFinality(fields, tip)).toContain('1 more block');
    expect((await accept(refund)).rejectReason).toBe('non-final');
    const early = await source.broadcast(refund.extract()).catch((e: unknown) => e);
    expect(early).toBeInstanceOf(OffchainError);
    expect(early).toMatchObject({ code: 'E_RPC_ERROR', rpcCode: -26 });
    expect((early as Error).message).toContain('non-final');

    await mine(1);
    const next = await source.tip();
    expect(next.height).toBe(tip.height + 1);
    expect(isFinalAtTip(fields, next)).toBe(true);
    const verdict = await accept(refund);
    expect(verdict).toMatchObject({ txid: refund.id, allowed: true, fees: FEE });
    expect(verdict.vsize).toBeGreaterThan(0);

    expect(await source.broadcast(refund.extract())).toBe(refund.id);
    expect(await source.utxo(fund.txid, fund.vout)).toBeNull(); // spent in the mempool
    expect((await source.utxo(refund.id, 0))?.confirmations).toBe(0);
    expect(await source.rawTransaction(refund.id)).toEqual(refund.extract());
    await mine(1);
    expect((await source.utxo(refund.id, 0))?.confirmations).toBe(1);
    expect(await source.rawTransaction(refund.id)).toEqual(refund.extract()); // via -txindex
    // The funding's output is spent now, but the funding transaction stays confirmed: what
    // `credit list` asks of a settlement (gettxout would say null and cry wolf).
    expect(await source.utxo(fund.txid, fund.vout)).toBeNull();
    expect(await source.txConfirmations(fund.txid)).toBeGreaterThanOrEqual(3);
  });

  it("psbt decode names and addresses every kind of output script as Core's decodescript does (a taproot key off the curve, future witness versions, P2A)", async () => {
    const h = (n: number, b = '11') => b.repeat(n);
    const pub = `02${toHex(INTERNAL)}`;
    const scripts = [
      `76a914${h(20)}88ac`, `a914${h(20)}87`, `0014${h(20)}`, `0020${h(32)}`,
      `5120${toHex(INTERNAL)}`,
      `5120${h(32, '00')}`, // x = 0: not on the curve; Core's Solver does not look
      `5120${h(31, '00')}05`, // x = 5: not on the curve either
      `5114${h(20)}`, '5202abcd', `6028${h(40)}`, '51024e73', `0015${h(21)}`,
      '6a0100', `21${pub}ac`, `5121${pub}21${pub}52ae`, 'ac',
    ];
    for (const hex of scripts) {
      const core = await node.rpc.call<{ type: string; address?: string }>('decodescript', [hex]);
      const ours = scriptPubKeyView(fromHex(hex), 'regtest');
      expect({ hex, type: ours.type, address: ours.address }).toEqual({ hex, type: core.type, address: core.address });
    }
  });

  it('refuses to talk to the node as another network, and rejects a wrong password', async () => {
    await expect(new RpcChainSource({ ...node.config, network: 'testnet' }).tip()).rejects.toMatchObject({ code: 'E_NETWORK_MISMATCH' });
    const wrong = new RpcChainSource({ ...node.config, auth: { user: '__cookie__', password: 'not-the-cookie' } });
    const e = await wrong.tip().catch((err: unknown) => err);
    expect(e).toMatchObject({ code: 'E_RPC_AUTH' });
    expect((e as Error).message).not.toContain('not-the-cookie');
  });
});
