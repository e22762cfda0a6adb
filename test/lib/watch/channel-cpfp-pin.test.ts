/**
 * The peer pins Alice's anchors commitment while her CPFP child is in the node's mempool
 * (src/topics/watch/channel-cpfp.ts): an anchors commitment is version 2, so besides her child on
 * her to_local_anchor the peer may hang its own on its to_remote_anchor — a large one at a low rate
 * (here 95,000 vB paying 95,000 sat). Her next bid replaces only HER child (the one its input
 * conflicts with): Core asks it to pay that child's fee plus the incremental relay fee on its own
 * size (rules 3 and 4), never the peer's child's fee — checked on bitcoind -regtest (Core 30.99,
 * cluster mempool): a parent with a 46,581 vB, 9,500 sat stranger child and a 1,000 sat child of
 * ours took a replacement of ours paying 1,012 sat. The whole commitment's descendant fee as the
 * bar had her watcher hold, "budget" short, every block to the deadline.
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
const p2wpkhAddress = scriptAddress(P2WPKH, 'regtest')!;
const mark = (i: number) => [[KEY, { fingerprint: 1, path: [0x80000054, 0x80000001, 0x80000000, 0, i] }]] as [Uint8Array, { fingerprint: number; path: number[] }][];
const parse = (raw: Uint8Array) => Transaction.fromRaw(raw, { allowUnknownOutputs: true, allowUnknownInputs: true, disableScriptCheck: true });
const COIN = 100_000n;

describe('Alice\'s anchors commitment and her child in the mempool; Bob hangs a 95,000 vB child paying 1 sat/vB on his anchor', () => {
  it('her next bid replaces her child for its fee plus 100 sat/kvB on its size — not for Bob\'s 95,000 sat too', async () => {
    let watch: ChannelWatch = { sent: {} };
    const sent: { parent: Uint8Array; child: Uint8Array }[] = [];
    const { host, record } = aliceHost(upTo(1, 'anchors').a, {
      wallet: {
        async coins() {
          const w = new Transaction({ version: 2 });
          w.addInput({ txid: 'cd'.repeat(32), index: 0, witnessUtxo: { script: P2WPKH, amount: COIN }, bip32Derivation: mark(0) });
          w.addOutput({ script: P2WPKH, amount: 99_000n, bip32Derivation: mark(1) });
          return w;
        },
        mine: async (address: string) => address === p2wpkhAddress,
        async sign(psbt: Transaction) {
          for (let i = 1; i < psbt.inputsLength; i++) psbt.updateInput(i, { finalScriptWitness: [new Uint8Array(72), KEY] }, true);
          return psbt.extract();
        },
      },
      destination: { script: P2WPKH, dustSat: 294 }, limits: { maxFeeRate: 20, maxFeeShare: 0.5 },
    });
    const commitment = record().local!.txid;
    const funding = record().channel.funding_txid;
    // The node: nothing in the mempool until the package is taken; then the commitment, her child (the last sent) and Bob's.
    const held = () => sent.at(-1);
    const feeOf = (raw: Uint8Array) => {
      const t = parse(raw);
      let out = 0n;
      for (let i = 0; i < t.outputsLength; i++) out += t.getOutput(i).amount!;
      return 330n + COIN - out; // her anchor and the wallet's one coin
    };
    const vsizeOf = (raw: Uint8Array) => parse(raw).vsize;
    const BOB = { fee: 95_000n, vsize: 95_000 };
    const chain = {
      mempoolSpender: async (txid: string, vout: number) => {
        const h = held();
        if (!h) return undefined;
        if (txid === funding) return commitment;
        if (txid === commitment && vout === parse(h.child).getInput(0).index) return parse(h.child).id;
        return undefined;
      },
      utxo: async (txid: string, vout: number) => (held() && txid === 'cd'.repeat(32) ? null : { txid, vout, value: 1n, scriptPubKey: '', confirmations: 10 }),
      txConfirmations: async (txid: string) => (txid === commitment ? 0 : 10),
      mempoolPolicy: async () => ({ minRelayFeeRate: 1000, mempoolMinFeeRate: 1000, incrementalRelayFeeRate: 100 }),
      estimateFeeRate: async () => 11_000,
      rawTransaction: async (txid: string) => {
        if (txid === commitment) return held()!.parent;
        const t = new Transaction({ version: 2 });
        t.addInput({ txid: '00'.repeat(32), index: 0 });
        t.addOutput({ script: P2WPKH, amount: COIN });
        return t.toBytes(true);
      },
      // getmempoolentry: the commitment's descendants are her child AND Bob's; her child's are her child alone.
      mempoolEviction: async (txid: string) => {
        const h = held()!;
        const parentFee = 1_000_000n - (() => { const t = parse(h.parent); let s = 0n; for (let i = 0; i < t.outputsLength; i++) s += t.getOutput(i).amount!; return s; })();
        if (txid === commitment) {
          const fee = parentFee + feeOf(h.child) + BOB.fee;
          return { descendantFee: fee, descendantVsize: vsizeOf(h.parent) + vsizeOf(h.child) + BOB.vsize, chunkFee: parentFee + feeOf(h.child), chunkWeight: 4 * (vsizeOf(h.parent) + vsizeOf(h.child)) };
        }
        if (txid === parse(h.child).id) return { descendantFee: feeOf(h.child), descendantVsize: vsizeOf(h.child), chunkFee: parentFee + feeOf(h.child), chunkWeight: 4 * (vsizeOf(h.parent) + vsizeOf(h.child)) };
        return null;
      },
      mempoolEntry: async (txid: string) => (held() && txid === parse(held()!.child).id ? { fee: feeOf(held()!.child), vsize: vsizeOf(held()!.child) } : null),
      broadcast: async () => { throw new Error('not alone'); },
      submitPackage: async (raws: Uint8Array[]) => {
        sent.push({ parent: raws[0]!, child: raws[1]! });
        return { packageMsg: 'success', txResults: [{ wtxid: '', txid: parse(raws[1]!).id }], replacedTransactions: [] };
      },
    };
    const records = { channel: async () => structuredClone(watch), setChannel: async (_id: string, c: ChannelWatch) => { watch = structuredClone(c); } };
    const round = (tip: number): Round => ({ tip, block: H(tip), dryRun: false, offline: false, chain: chain as never, records: records as never, connected: [H(tip)] });

    const [d0] = await channelRound(host(), round(504));
    expect(d0).toMatchObject({ action: 'exit', txid: commitment });
    expect(sent).toHaveLength(1);
    const first = feeOf(sent[0]!.child);

    // Blocks later the schedule asks more: her child replaced on the same coin, for at least its fee + 100 sat/kvB × its size.
    const [d1] = await channelRound(host(), round(510));
    expect(d1, JSON.stringify(d1)).toMatchObject({ action: 'rebid' });
    expect(d1!.shortfall).toBeUndefined();
    expect(sent).toHaveLength(2);
    const second = feeOf(sent[1]!.child);
    expect(Number(second)).toBeGreaterThanOrEqual(Number(first) + Math.ceil((100 * vsizeOf(sent[1]!.child)) / 1000));
    expect(second).toBeLessThan(BOB.fee); // never Bob's child's fee on top
  });
});
