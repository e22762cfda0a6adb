/**
 * An anchors commitment's CPFP child in the watcher's round (src/topics/watch/channel-cpfp.ts), crash
 * safety with a fake node and a fake wallet: the wallet's coins and the child's txid are stored
 * BEFORE the package is sent; a package the node refuses changes nothing (the commitment still goes
 * alone, as before); the next round — a new process, reading the records — spends the SAME stored
 * coin, never asking the wallet for new ones. Real channel records (two parties through the library).
 */
import { describe, expect, it } from 'vitest';
import { Transaction } from '@scure/btc-signer';
import { channelRound } from '../../../src/topics/watch/channel.ts';
import type { Round } from '../../../src/topics/watch/credit.ts';
import type { ChannelWatch } from '../../../src/topics/watch/state.ts';
import { pointOf } from '../../../src/lib/bolt3/index.ts';
import { scriptAddress } from '../../../src/lib/address.ts';
import { upTo } from '../bolt3/two-parties.ts';
import { aliceHost } from './alice-host.ts';

const H = (n: number) => n.toString(16).padStart(64, '0');
const P2WPKH = Uint8Array.of(0x00, 0x14, ...new Uint8Array(20).fill(0x66));
const KEY = pointOf(new Uint8Array(32).fill(0x55));
const STRANGER = Uint8Array.of(0x00, 0x14, ...new Uint8Array(20).fill(0x77));
const p2wpkhAddress = scriptAddress(P2WPKH, 'regtest')!;
const mark = (i: number) => [[KEY, { fingerprint: 1, path: [0x80000054, 0x80000001, 0x80000000, 0, i] }]] as [Uint8Array, { fingerprint: number; path: number[] }][];

describe('Alice\'s anchors commitment goes on chain (an HTLC she offered, cltv_expiry 501) in a fee spike: the node estimates 15 sat/vB', () => {
  it('504, the node\'s policy unreadable: the commitment goes alone all the same; 505: coins taken once and stored before the package is sent; refused, the commitment goes alone; 506: the same coin, the package accepted; 507: stored coins a database writer edited are not signed — new ones', async () => {
    let watch: ChannelWatch = { sent: {} };
    const packages: { txids: string[]; childInputs: string[]; storedThen: ChannelWatch }[] = [];
    const alone: string[] = [];
    let coinsAsked = 0;
    const state = { refuse: true, policyDown: true };
    const chain = {
      mempoolSpender: async () => undefined,
      utxo: async (txid: string, vout: number) => ({ txid, vout, value: 1n, scriptPubKey: '', confirmations: 10 }),
      txConfirmations: async () => 10,
      mempoolPolicy: async () => {
        if (state.policyDown) throw new Error('getmempoolinfo: connection reset');
        return { minRelayFeeRate: 1000, mempoolMinFeeRate: 1000, incrementalRelayFeeRate: 100 };
      },
      estimateFeeRate: async () => 15_000,
      // The node's transaction index: each fee coin the fake wallet hands out (cd…cd:n) is a 100,000 sat P2WPKH output of it.
      rawTransaction: async () => {
        const t = new Transaction({ version: 2 });
        t.addInput({ txid: '00'.repeat(32), index: 0 });
        for (let i = 0; i < 4; i++) t.addOutput({ script: P2WPKH, amount: 100_000n });
        return t.toBytes(true);
      },
      broadcast: async (raw: Uint8Array) => (alone.push(Transaction.fromRaw(raw, { allowUnknownOutputs: true }).id), alone.at(-1)!),
      submitPackage: async (raws: Uint8Array[]) => {
        const [parent, child] = raws.map((r) => Transaction.fromRaw(r, { allowUnknownOutputs: true, allowUnknownInputs: true, disableScriptCheck: true }));
        const inputs = Array.from({ length: child!.inputsLength }, (_, i) => `${Buffer.from(child!.getInput(i).txid!).toString('hex')}:${child!.getInput(i).index}`);
        packages.push({ txids: [parent!.id, child!.id], childInputs: inputs, storedThen: structuredClone(watch) });
        return { packageMsg: state.refuse ? 'transaction failed' : 'success', txResults: [{ wtxid: '', txid: child!.id, ...(state.refuse ? { error: 'mempool full' } : {}) }], replacedTransactions: [] };
      },
    };
    const records = { channel: async () => structuredClone(watch), setChannel: async (_id: string, c: ChannelWatch) => { watch = structuredClone(c); } };
    const round = (tip: number): Round => ({ tip, block: H(tip), dryRun: false, offline: false, chain: chain as never, records: records as never, connected: [H(tip)] });
    const wallet = {
      async coins() {
        coinsAsked++;
        const w = new Transaction({ version: 2 });
        w.addInput({ txid: 'cd'.repeat(32), index: coinsAsked, witnessUtxo: { script: P2WPKH, amount: 100_000n }, bip32Derivation: mark(0) });
        w.addOutput({ script: P2WPKH, amount: 99_000n, bip32Derivation: mark(1) });
        return w;
      },
      /** getaddressinfo: the fake wallet's own script only. */
      async mine(address: string) {
        return address === p2wpkhAddress;
      },
      async sign(psbt: Transaction) {
        for (let i = 1; i < psbt.inputsLength; i++) psbt.updateInput(i, { finalScriptWitness: [new Uint8Array(72), KEY] }, true);
        return psbt.extract();
      },
    };
    const { host, record } = aliceHost(upTo(1, 'anchors').a, { wallet, destination: { script: P2WPKH, dustSat: 294 }, limits: { maxFeeRate: 20, maxFeeShare: 0.5 } });
    const commitment = record().local!.txid;

    const [d0] = await channelRound(host(), round(504));
    expect(d0).toMatchObject({ action: 'exit', txid: commitment });
    expect(d0!.error).toMatch(/connection reset/);
    expect([alone, packages.length, coinsAsked]).toEqual([[commitment], 0, 0]);
    state.policyDown = false;

    const [d1] = await channelRound(host(), round(505));
    expect(d1).toMatchObject({ action: 'rebroadcast', txid: commitment });
    expect(d1!.error).toMatch(/^E_BROADCAST_REJECTED: .*mempool full/);
    expect(coinsAsked).toBe(1);
    expect(packages).toHaveLength(1);
    const [p1] = packages;
    expect(p1!.txids[0]).toBe(commitment);
    // Stored before the node was asked: the coins, and this child's txid, by the anchor's outpoint (the child's input 0).
    expect(p1!.storedThen.funded?.[p1!.childInputs[0]!]?.txids).toEqual([p1!.txids[1]]);
    expect(p1!.childInputs[0]!.startsWith(`${commitment}:`)).toBe(true);
    expect(alone).toEqual([commitment, commitment]); // the refused package changed nothing: the commitment still went alone

    state.refuse = false;
    const [d2] = await channelRound(host(), round(506));
    expect(d2).toMatchObject({ action: 'rebroadcast', txid: commitment });
    expect(d2!.error).toBeUndefined();
    expect(coinsAsked).toBe(1); // never new coins: the stored one
    expect(packages[1]!.childInputs).toEqual(p1!.childInputs);
    expect(watch.funded?.[p1!.childInputs[0]!]?.txids.at(-1)).toBe(packages[1]!.txids[1]);
    expect(d2!.fee_rate).toBeGreaterThan(10);
    expect(alone).toEqual([commitment, commitment]);

    // A writer of the database points the stored coins' change at a stranger: the wallet would sign a child paying him.
    // The coins are not vouched for (./wallet.ts vouchedCoins), so new ones are taken — stored before they are sent.
    const anchor = p1!.childInputs[0]!;
    const forged = Transaction.fromPSBT(Buffer.from(watch.funded![anchor]!.wallet, 'base64'));
    forged.updateOutput(0, { script: STRANGER, bip32Derivation: mark(1) });
    watch = { ...watch, funded: { ...watch.funded, [anchor]: { ...watch.funded![anchor]!, wallet: Buffer.from(forged.toPSBT()).toString('base64') } } };
    const [d3] = await channelRound(host(), round(507));
    expect(d3!.error).toBeUndefined();
    expect(coinsAsked).toBe(2);
    expect(packages.at(-1)!.childInputs.slice(1)).toEqual([`${'cd'.repeat(32)}:2`]);
    expect(Transaction.fromPSBT(Buffer.from(watch.funded![anchor]!.wallet, 'base64')).getOutput(0).script).toEqual(P2WPKH);
  });
});
