/**
 * The node wallet's coins a watcher stored, read back (src/topics/watch/wallet.ts vouchedCoins): kept only while the
 * node (the coin's output in its transaction index, unspent or spent by the watcher's own transaction) and the wallet
 * (ismine, for every input and output) vouch for them. Fake node and wallet; the scripts and amounts the test wrote.
 */
import { describe, expect, it } from 'vitest';
import { Transaction } from '@scure/btc-signer';
import { base64 } from '@scure/base';
import { hash160 } from '@scure/btc-signer/utils.js';
import { vouchedCoins, type NodeWallet } from '../../../src/topics/watch/wallet.ts';
import { scriptAddress } from '../../../src/lib/address.ts';
import { pointOf } from '../../../src/lib/bolt3/keys.ts';

const KEY = pointOf(new Uint8Array(32).fill(0x55));
const STRANGER = pointOf(new Uint8Array(32).fill(0x66));
const p2wpkh = (k: Uint8Array) => Uint8Array.of(0x00, 0x14, ...hash160(k));
const mark = (k: Uint8Array) => [[k, { fingerprint: 1, path: [0x80000054, 0x80000001, 0x80000000, 0, 1] }]] as [Uint8Array, { fingerprint: number; path: number[] }][];
const COIN = 'aa'.repeat(32);

function stored(o: { amount?: bigint; to?: Uint8Array; sequence?: number; unmarked?: boolean } = {}): string {
  const w = new Transaction({ version: 2 });
  w.addInput({ txid: COIN, index: 0, witnessUtxo: { script: p2wpkh(KEY), amount: o.amount ?? 100_000n }, bip32Derivation: mark(KEY), ...(o.sequence !== undefined ? { sequence: o.sequence } : {}) });
  w.addOutput({ script: p2wpkh(o.to ?? KEY), amount: 99_000n, ...(o.unmarked ? {} : { bip32Derivation: mark(o.to ?? KEY) }) });
  return base64.encode(w.toPSBT());
}

function node(o: { spentBy?: string } = {}) {
  return {
    rawTransaction: async () => {
      const t = new Transaction({ version: 2 });
      t.addInput({ txid: 'bb'.repeat(32), index: 0 });
      t.addOutput({ script: p2wpkh(KEY), amount: 100_000n });
      return t.toBytes(true, false);
    },
    utxo: async (txid: string, vout: number) => (o.spentBy ? null : { txid, vout, value: 100_000n, scriptPubKey: p2wpkh(KEY), confirmations: 6 }),
    mempoolSpender: async () => o.spentBy,
  };
}
const wallet = { mine: async (a: string) => a === scriptAddress(p2wpkh(KEY), 'regtest') } as NodeWallet;

describe('stored wallet coins, vouched for', () => {
  it('as the wallet made them: kept; spent by the watcher\'s own transaction in the mempool: kept', async () => {
    expect(await vouchedCoins(node(), wallet, 'regtest', stored(), undefined)).toBeDefined();
    expect(await vouchedCoins(node({ spentBy: 'cc'.repeat(32) }), wallet, 'regtest', stored(), 'cc'.repeat(32))).toBeDefined();
  });

  it('none when: an output marked with a stranger\'s own key, an amount written low, spent elsewhere, not a PSBT', async () => {
    expect(await vouchedCoins(node(), wallet, 'regtest', stored({ to: STRANGER }), undefined)).toBeUndefined();
    expect(await vouchedCoins(node(), wallet, 'regtest', stored({ amount: 40_000n }), undefined)).toBeUndefined();
    expect(await vouchedCoins(node({ spentBy: 'dd'.repeat(32) }), wallet, 'regtest', stored(), 'cc'.repeat(32))).toBeUndefined();
    expect(await vouchedCoins(node({ spentBy: 'dd'.repeat(32) }), wallet, 'regtest', stored(), undefined)).toBeUndefined();
    expect(await vouchedCoins(node(), wallet, 'regtest', 'bm90IGEgcHNidA==', undefined)).toBeUndefined();
  });

  it('none when the input is another wallet\'s (this wallet does not hold its key)', async () => {
    const other = { mine: async () => false } as unknown as NodeWallet;
    expect(await vouchedCoins(node(), other, 'regtest', stored(), undefined)).toBeUndefined();
  });
});

describe('stored wallet coins a writer edited so that every bid on them fails: none, so new ones are chosen', () => {
  it('as the wallet made them, its nSequence 0xfffffffd (walletcreatefundedpsbt\'s) or 0xfffffffe: kept', async () => {
    expect(await vouchedCoins(node(), wallet, 'regtest', stored({ sequence: 0xfffffffd }), undefined)).toBeDefined();
    expect(await vouchedCoins(node(), wallet, 'regtest', stored({ sequence: 0xfffffffe }), undefined)).toBeDefined();
  });
  it('an input\'s nSequence a relative lock (BIP 68: 65,535 blocks) — the child non-final, refused by the node each round', async () => {
    expect(await vouchedCoins(node(), wallet, 'regtest', stored({ sequence: 0x0000ffff }), undefined)).toBeUndefined();
  });
  it('the change output\'s BIP-32 mark stripped (still the wallet\'s address) — the child\'s builder refuses it each round', async () => {
    expect(await vouchedCoins(node(), wallet, 'regtest', stored({ unmarked: true }), undefined)).toBeUndefined();
  });
});
