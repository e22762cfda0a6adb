/**
 * The wallet's coins a pair's bid stored (src/topics/watch/statechain.ts storedCoins), as a writer of the part's
 * database edits them: the node's wallet signs whatever spends its coins, so what the watcher reads back from the
 * store is vouched for by the node (the coin's amount and script from its transaction) and the wallet (ismine) before
 * anything is signed — else new coins are chosen. A real pair's record (test/lib/statechain/harness.ts pairOwned), its
 * backup due; a fake node and wallet. Expected values are the scripts and amounts the test wrote.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { RawTx, Transaction } from '@scure/btc-signer';
import { base64 } from '@scure/base';
import { ownerRound, checkedCoin, type OwnerHost } from '../../../src/topics/watch/statechain.ts';
import type { Round } from '../../../src/topics/watch/credit.ts';
import type { NodeWallet } from '../../../src/topics/watch/wallet.ts';
import type { ExitBid } from '../../../src/lib/watch/credit.ts';
import type { OwnerRecord } from '../../../src/lib/statechain/owner.ts';
import { scriptAddress } from '../../../src/lib/address.ts';
import { fromHex } from '../../../src/lib/bytes.ts';
import { measureTx } from '../../../src/lib/truc/transaction.ts';
import { pointOf } from '../../../src/lib/bolt3/keys.ts';
import { hash160 } from '@scure/btc-signer/utils.js';
import { cleanup, pairOwned } from '../statechain/harness.ts';

afterAll(cleanup);

const H = (n: number) => n.toString(16).padStart(64, '0');
const WALLET_KEY = pointOf(new Uint8Array(32).fill(0x55));
const THIEF_KEY = pointOf(new Uint8Array(32).fill(0x66));
const p2wpkh = (k: Uint8Array) => Uint8Array.of(0x00, 0x14, ...hash160(k));
const WALLET = p2wpkh(WALLET_KEY);
const THIEF = p2wpkh(THIEF_KEY);
const mark = (k: Uint8Array, i: number) => [[k, { fingerprint: 1, path: [0x80000054, 0x80000001, 0x80000000, 0, i] }]] as [Uint8Array, { fingerprint: number; path: number[] }][];
/** The wallet's coin: 1,000,000 sat at H(900):0, as the node's transaction index has it. */
const REAL = 1_000_000n;
const coinTx = () => {
  const t = new Transaction({ version: 2 });
  t.addInput({ txid: H(1), index: 0 });
  t.addOutput({ script: WALLET, amount: REAL });
  return t;
};

/** A walletcreatefundedpsbt-like answer: `input` (amount as written), its outputs as given. */
function psbt(amount: bigint, outputs: { script: Uint8Array; key: Uint8Array; amount: bigint }[], txid = coinTx().id): Transaction {
  const w = new Transaction({ version: 2 });
  w.addInput({ txid, index: 0, witnessUtxo: { script: WALLET, amount }, bip32Derivation: mark(WALLET_KEY, 0) });
  outputs.forEach((o, i) => w.addOutput({ script: o.script, amount: o.amount, bip32Derivation: mark(o.key, i + 1) }));
  return w;
}

async function round(stored: Transaction, opts: { backupInMempool?: boolean; storedSpentElsewhere?: boolean } = {}) {
  const p = await pairOwned();
  const record = p.recA as unknown as OwnerRecord;
  const coin = checkedCoin(record);
  const tip = coin.older!.lockTime - 2; // in the window, before the previous owner's backup is final
  const [cTxid, cVout] = record.statement.outpoint!.split(':') as [string, string];
  const fresh = coinTx();
  fresh.updateInput(0, { txid: H(2) });
  const freshTxid = fresh.id;
  const signed: Transaction[] = [];
  const asked: boolean[] = [];
  const wallet: NodeWallet = {
    async coins(sat, o) {
      asked.push(o?.lock === true);
      return psbt(REAL, [{ script: WALLET, key: WALLET_KEY, amount: sat }, { script: WALLET, key: WALLET_KEY, amount: REAL - sat - 200n }], freshTxid);
    },
    async sign(t) {
      signed.push(t.clone());
      // The anchor's empty witness, then each wallet coin's (a 72-byte signature, a key), as walletprocesspsbt finalizes.
      const inputs = Array.from({ length: t.inputsLength }, (_, i) => t.getInput(i)).map((i) => ({ txid: i.txid!, index: i.index!, finalScriptSig: new Uint8Array(), sequence: i.sequence! }));
      const witnesses = inputs.map((_, i) => (i === 0 ? [] : [new Uint8Array(72), new Uint8Array(33).fill(2)]));
      const outputs = Array.from({ length: t.outputsLength }, (_, i) => ({ amount: t.getOutput(i).amount!, script: t.getOutput(i).script! }));
      return RawTx.encode({ version: t.version, segwitFlag: true, inputs, outputs, witnesses, lockTime: t.lockTime });
    },
    mine: async (address) => address === scriptAddress(WALLET, 'regtest'),
  };
  const bids: ExitBid[] = [];
  let bid: ExitBid | undefined = { start_tip: tip - 1, rate: 1_000, tip: tip - 1, block: 'b', wallet: base64.encode(stored.toPSBT()) };
  const submitted: Uint8Array[][] = [];
  const spent = (txid: string) => txid === coinTx().id && opts.storedSpentElsewhere;
  const chain = {
    mempoolPolicy: async () => ({ minRelayFeeRate: 1_000, mempoolMinFeeRate: 0, incrementalRelayFeeRate: 100 }),
    estimateFeeRate: async () => 2_000,
    txConfirmations: async (txid: string) => (txid === coin.own!.txid && opts.backupInMempool ? 0 : null),
    mempoolSpender: async (txid: string, vout: number) => {
      if (txid === cTxid && vout === Number(cVout)) return opts.backupInMempool ? coin.own!.txid : undefined;
      if (txid === coin.own!.txid) return opts.backupInMempool ? H(77) : undefined; // someone's child on the anchor (part B's)
      if (spent(txid)) return H(88);
      return undefined;
    },
    mempoolEntry: async () => ({ fee: 300n, vsize: 150 }),
    mempoolEviction: async () => ({ descendantFee: 600n, descendantVsize: 350, chunkFee: 600n, chunkWeight: 1_400 }),
    utxo: async (txid: string, vout: number) => (spent(txid) ? null : { txid, vout, value: REAL, scriptPubKey: WALLET, confirmations: 3 }),
    rawTransaction: async (txid: string) => (txid === coinTx().id ? coinTx() : fresh).toBytes(true, false),
    submitPackage: async (txs: Uint8Array[]) => {
      submitted.push(txs);
      const results = txs.map((raw) => measureTx(raw, 'submitted')).map((t) => ({ txid: t.txid, wtxid: t.wtxid }));
      return { packageMsg: 'success', txResults: results, replacedTransactions: [] };
    },
  };
  const records = {
    bid: async (_c: string, of = 'exit') => (of === 'exit' ? bid : undefined),
    setBid: async (_c: string, b: ExitBid) => {
      bids.push(b);
      bid = b;
    },
  };
  const host: OwnerHost = {
    coins: async () => [record],
    backup: async () => { throw new Error('a pair\'s backup is never built as an owner\'s'); },
    withdrawal: async () => { throw new Error('no withdrawal here'); },
    limits: { maxFeeRate: 50, maxFeeShare: 0.5 }, network: 'regtest', wallet,
  };
  const r = { tip, block: 'blk', dryRun: false, offline: false, chain: chain as unknown as Round['chain'], records: records as unknown as Round['records'] } satisfies Round;
  const decisions = await ownerRound(host, r);
  return { decisions, signed, asked, bids, freshTxid, submitted };
}

/** Every output of every child the wallet was asked to sign: its script and amount. */
const outputsOf = (signed: Transaction[]) => signed.flatMap((t) => Array.from({ length: t.outputsLength }, (_, i) => t.getOutput(i)));
const inputsOf = (signed: Transaction[]) => signed.flatMap((t) => Array.from({ length: t.inputsLength }, (_, i) => t.getInput(i)).slice(1));

describe('a pair\'s backup on a node relaying from 1 sat/vB (Core before 29.1, or a full mempool\'s floor)', () => {
  it('is sized at any rate and sent (the zero-fee backup\'s package sized at 0.1 sat/vB was unbuildable: held, never sent)', async () => {
    const { decisions, submitted } = await round(psbt(REAL, [{ script: WALLET, key: WALLET_KEY, amount: 50_000n }, { script: WALLET, key: WALLET_KEY, amount: REAL - 50_200n }]));
    expect(decisions[0]).toMatchObject({ kind: 'statechain-joint', action: 'rebroadcast' });
    expect(decisions[0]!.error).toBeUndefined();
    expect(submitted).toHaveLength(1);
  });
});

describe('a pair\'s stored wallet coins, edited in the database', () => {
  it('as the wallet stored them: spent again by the next bid (the wallet not asked for others)', async () => {
    const { decisions, signed, asked } = await round(psbt(REAL, [{ script: WALLET, key: WALLET_KEY, amount: 50_000n }, { script: WALLET, key: WALLET_KEY, amount: REAL - 50_200n }]));
    expect(decisions[0]).toMatchObject({ kind: 'statechain-joint' });
    expect(decisions[0]!.error).toBeUndefined();
    expect(signed).toHaveLength(1);
    expect(asked.filter((l) => l)).toEqual([]);
    expect(inputsOf(signed).map((i) => i.txid && Buffer.from(i.txid).toString('hex'))).toEqual([coinTx().id]);
  });

  it('an output marked with a stranger\'s own BIP-32 key: never signed — new coins of the wallet are chosen, every output the wallet\'s', async () => {
    const { decisions, signed, asked, bids, freshTxid } = await round(psbt(REAL, [{ script: THIEF, key: THIEF_KEY, amount: REAL - 200n }]));
    expect(decisions[0]!.error).toBeUndefined();
    expect(signed.length).toBeGreaterThan(0);
    for (const o of outputsOf(signed)) expect(Buffer.from(o.script!).toString('hex')).toBe(Buffer.from(WALLET).toString('hex'));
    expect(asked).toContain(true);
    expect(inputsOf(signed).map((i) => Buffer.from(i.txid!).toString('hex'))).toEqual([freshTxid]);
    expect(bids.at(-1)!.wallet).not.toBe(undefined);
  });

  it('an input\'s amount written low (40,000 of its 1,000,000 sat: the wallet, signing over the real amount, would pay the rest as fee): never signed as such — the child spends coins at the amounts the node has', async () => {
    const { signed } = await round(psbt(40_000n, [{ script: WALLET, key: WALLET_KEY, amount: 39_000n }]));
    expect(signed.length).toBeGreaterThan(0);
    for (const i of inputsOf(signed)) expect(i.witnessUtxo!.amount).toBe(REAL);
  });

  it('the bytes no PSBT: new coins, not an error every round', async () => {
    const garbled = { toPSBT: () => fromHex('00') } as unknown as Transaction;
    const { decisions, signed } = await round(garbled);
    expect(decisions[0]!.error).toBeUndefined();
    expect(signed).toHaveLength(1);
  });

  it('the backup in the mempool with part B\'s child, the stored coin spent elsewhere: new coins, not a child spending a spent coin', async () => {
    const { decisions, signed, freshTxid } = await round(psbt(REAL, [{ script: WALLET, key: WALLET_KEY, amount: 50_000n }, { script: WALLET, key: WALLET_KEY, amount: REAL - 50_200n }]), { backupInMempool: true, storedSpentElsewhere: true });
    expect(decisions[0]!.error).toBeUndefined();
    expect(decisions[0]!.action).toBe('rebid');
    expect(inputsOf(signed).map((i) => Buffer.from(i.txid!).toString('hex'))).toEqual([freshTxid]);
  });
});
