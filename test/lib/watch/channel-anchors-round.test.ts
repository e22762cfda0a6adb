/**
 * An anchors channel's own commitment, mined, in the watcher's round (src/topics/watch/channel.ts,
 * ./channel-anchors.ts): the HTLC-timeout's fee input comes from the node's wallet, its coins
 * locked and recorded before anything is sent; a broadcast the node refuses is the decision's
 * error, and the next round (a restart: only the records carry over) spends the same coins — the
 * wallet is not asked again — unless one of them was spent elsewhere. Fake node and wallet, real
 * channel records (two parties through the library).
 */
import { describe, expect, it } from 'vitest';
import { Transaction } from '@scure/btc-signer';
import { channelRound, type ChannelHost } from '../../../src/topics/watch/channel.ts';
import type { Round } from '../../../src/topics/watch/credit.ts';
import type { ChannelWatch } from '../../../src/topics/watch/state.ts';
import type { NodeWallet } from '../../../src/topics/watch/wallet.ts';
import { fromHex, toHex } from '../../../src/lib/bytes.ts';
import { pointOf } from '../../../src/lib/bolt3/keys.ts';
import { A, upTo } from '../bolt3/two-parties.ts';

const H = (n: number) => n.toString(16).padStart(64, '0');
const DEST = Uint8Array.of(0x00, 0x14, ...new Uint8Array(20).fill(9));
const P2WPKH = Uint8Array.of(0x00, 0x14, ...new Uint8Array(20).fill(0x66));
const KEY = pointOf(new Uint8Array(32).fill(0x55));
const mark = (i: number) => [[KEY, { fingerprint: 1, path: [0x80000054, 0x80000001, 0x80000000, 0, i] }]] as [Uint8Array, { fingerprint: number; path: number[] }][];

/** Alice's own anchors commitment mined (state 1 offers 5,000 sat, cltv_expiry 501: her HTLC-timeout due at 501), a fake node, a wallet whose PSBTs spend `inputs` coins of 100,000 sat. */
function world(inputs = 1) {
    const rec = upTo(1, 'anchors').a;
    const own = rec.local!.txid;
    // Alice's state 1 offers 5,000 sat with cltv_expiry 501: her HTLC-timeout, due with the tip at 501.
    const asked: { sat: bigint; lock?: boolean }[] = [];
    const wallet: NodeWallet = {
      async coins(sat, opts) {
        asked.push({ sat, ...(opts?.lock !== undefined ? { lock: opts.lock } : {}) });
        const w = new Transaction({ version: 2 });
        for (let k = 0; k < inputs; k++) w.addInput({ txid: H(900 + asked.length), index: k, witnessUtxo: { script: P2WPKH, amount: 100_000n }, bip32Derivation: mark(0) });
        w.addOutput({ script: P2WPKH, amount: sat, bip32Derivation: mark(1) });
        w.addOutput({ script: P2WPKH, amount: 100_000n * BigInt(inputs) - sat - 200n, bip32Derivation: mark(2) });
        return w;
      },
      async sign(psbt) {
        for (let i = 1; i < psbt.inputsLength; i++) psbt.updateInput(i, { finalScriptWitness: [new Uint8Array(72), new Uint8Array(33).fill(2)] });
        return psbt.extract();
      },
      mine: async () => true,
    };
    const spentElsewhere = new Set<string>();
    const sent: Transaction[] = [];
    const state = { refuse: true };
    let store: ChannelWatch = { sent: {} };
    const chain = {
      mempoolSpender: async () => undefined,
      utxo: async (txid: string, vout: number) => (txid === rec.channel.funding_txid || spentElsewhere.has(`${txid}:${vout}`) ? null : { txid, vout, value: 1n, scriptPubKey: '', confirmations: 3 }),
      txConfirmations: async (txid: string) => (txid === own || txid === rec.channel.funding_txid ? 3 : null),
      // The commitment as far as the spender check reads it: it spends the funding.
      rawTransaction: async (txid: string) => {
        const t = new Transaction({ allowUnknownOutputs: true });
        // A coin of the wallet (H(901), H(902), …): its output 0 as the wallet's PSBT has it — the node vouches for it.
        if (Number.parseInt(txid, 16) > 900 && Number.parseInt(txid, 16) < 1_000) {
          t.addInput({ txid: H(1), index: 0 });
          t.addOutput({ script: P2WPKH, amount: 100_000n });
          return t.toBytes(true, false);
        }
        t.addInput({ txid: fromHex(rec.channel.funding_txid), index: rec.channel.funding_vout });
        t.addOutput({ script: DEST, amount: 1_000n });
        return t.toBytes(true, false);
      },
      blockSpender: async (_h: string, txid: string) => (txid === rec.channel.funding_txid ? own : undefined),
      blockHeader: async (hash: string) => ({ height: 0, prev: hash }),
      mempoolPolicy: async () => ({ minRelayFeeRate: 1000, mempoolMinFeeRate: 1000, incrementalRelayFeeRate: 1000 }),
      estimateFeeRate: async () => 2000,
      mempoolEntry: async () => null,
      mempoolEviction: async () => null,
      broadcast: async (raw: Uint8Array) => {
        const tx = Transaction.fromRaw(raw, { allowUnknownOutputs: true });
        if (state.refuse) throw new Error('bad-txns-inputs-missingorspent');
        sent.push(tx);
        return tx.id;
      },
    };
    const records = { channel: async () => structuredClone(store), setChannel: async (_id: string, c: ChannelWatch) => { store = structuredClone(c); } };
    const round: Round = { tip: 501, block: H(501), dryRun: false, offline: false, chain: chain as never, records: records as never, connected: [H(501)] };
    const host = (): ChannelHost => ({
      channels: async () => [{ id: `${rec.channel.funding_txid}:${rec.channel.funding_vout}`, record: rec }],
      revocationKey: async () => A.revocation.slice(), htlcKey: async () => ({ secret: A.htlc.slice(), preimages: [] }),
      destination: { script: DEST, dustSat: 294 }, limits: { maxFeeRate: 20, maxFeeShare: 0.5 }, done: new Set(), wallet,
    });

    return { rec, asked, sent, state, spentElsewhere, store: () => store, host, round };
}

describe('an anchors channel\'s HTLC-timeout funded by the node\'s wallet, across rounds', () => {
  it('coins locked and recorded before the send; a refused broadcast changes nothing else; the next round spends the same coins; new ones only once one is spent elsewhere', async () => {
    const { asked, sent, state, spentElsewhere, store, host, round } = world();
    const [d1] = await channelRound(host(), round);
    expect(d1!.error).toMatch(/bad-txns-inputs-missingorspent/);
    expect(asked).toEqual([{ sat: 21_000n, lock: true }]);
    const outpoints = Object.keys(store().funded ?? {});
    expect(outpoints).toHaveLength(1);
    const recorded = store().funded![outpoints[0]!]!;
    expect(recorded.txids).toHaveLength(1);
    expect(store().sent[outpoints[0]!]).toBe(recorded.txids[0]);

    // The next round (a new process: only the records): the same coins, the wallet not asked.
    state.refuse = false;
    const [d2] = await channelRound(host(), round);
    expect(d2!.error, JSON.stringify(d2)).toBeUndefined();
    expect(asked).toHaveLength(1);
    expect(sent).toHaveLength(1);
    const tx = sent[0]!;
    expect(`${toHex(tx.getInput(0).txid!)}:${tx.getInput(0).index}`).toBe(outpoints[0]);
    expect([toHex(tx.getInput(1).txid!), tx.getInput(1).index]).toEqual([H(901), 0]);
    expect(store().funded![outpoints[0]!]!.wallet).toBe(recorded.wallet);
    // Its fee: the wallet's coin less what the outputs keep, within --max-fee-rate on its size and half the HTLC (5,000 sat).
    const fee = 100_000 + 5_000 - Array.from({ length: tx.outputsLength }, (_, i) => Number(tx.getOutput(i).amount!)).reduce((a, b) => a + b, 0);
    expect(fee).toBeGreaterThan(0);
    expect(fee).toBeLessThanOrEqual(Math.min(20 * tx.vsize, 2_500));

    // The wallet spent that coin elsewhere while no bid of hers holds the output: new coins.
    spentElsewhere.add(`${H(901)}:0`);
    await channelRound(host(), round);
    expect(asked).toHaveLength(2);
    expect([toHex(sent[1]!.getInput(1).txid!)]).toEqual([H(902)]);
  });
});

describe('an anchors channel\'s HTLC-timeout, its first bid sized before the wallet chose its coins (one P2WPKH coin); the wallet brings two', () => {
  it('it pays the rate decided on its real size — not the fee decided for the smaller one, below the rate (the node refused it, "min relay fee not met", and the HTLC waited a block)', async () => {
    const { sent, state, host, round } = world(2);
    state.refuse = false;
    const [d] = await channelRound(host(), round);
    expect(d!.error, JSON.stringify(d)).toBeUndefined();
    expect(sent).toHaveLength(1);
    const tx = sent[0]!;
    expect(tx.inputsLength).toBe(3);
    const fee = 200_000 + 5_000 - Array.from({ length: tx.outputsLength }, (_, i) => Number(tx.getOutput(i).amount!)).reduce((a, b) => a + b, 0);
    // The decision's rate (sat/vB, rounded to the sat/kvB) on the signed size; within --max-fee-rate.
    expect(fee / tx.vsize).toBeGreaterThanOrEqual(d!.fee_rate! - 0.001);
    expect(fee).toBeLessThanOrEqual(20 * tx.vsize);
  });
});
