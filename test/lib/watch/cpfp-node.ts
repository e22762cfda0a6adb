/**
 * A fake node and wallet for Alice's anchors commitment and its CPFP child in the watcher's round
 * (test/lib/watch/channel-cpfp-*.test.ts): nothing in the mempool until a package is taken
 * (submitpackage); then the commitment spends the funding and her last child spends her anchor,
 * and — `bob` — Bob's child hangs on his anchor. The wallet holds one P2WPKH coin of `balance`
 * sat and, like walletcreatefundedpsbt, refuses to move more than it holds.
 */
import { Transaction } from '@scure/btc-signer';
import type { Round } from '../../../src/topics/watch/credit.ts';
import type { ChannelWatch } from '../../../src/topics/watch/state.ts';
import type { ChannelHost } from '../../../src/topics/watch/channel.ts';
import { pointOf } from '../../../src/lib/bolt3/index.ts';
import { scriptAddress } from '../../../src/lib/address.ts';
import { upTo } from '../bolt3/two-parties.ts';
import { aliceHost } from './alice-host.ts';

const H = (n: number) => n.toString(16).padStart(64, '0');
const P2WPKH = Uint8Array.of(0x00, 0x14, ...new Uint8Array(20).fill(0x66));
const KEY = pointOf(new Uint8Array(32).fill(0x55));
const p2wpkhAddress = scriptAddress(P2WPKH, 'regtest')!;
const mark = (i: number) => [[KEY, { fingerprint: 1, path: [0x80000054, 0x80000001, 0x80000000, 0, i] }]] as [Uint8Array, { fingerprint: number; path: number[] }][];
export const parse = (raw: Uint8Array) => Transaction.fromRaw(raw, { allowUnknownOutputs: true, allowUnknownInputs: true, disableScriptCheck: true });
const outSum = (t: Transaction) => {
  let s = 0n;
  for (let i = 0; i < t.outputsLength; i++) s += t.getOutput(i).amount!;
  return s;
};

export function cpfpNode(o: { estimate: number; balance: bigint; limits: ChannelHost['limits']; bob?: { fee: bigint; vsize: number } }) {
  let watch: ChannelWatch = { sent: {} };
  const sent: { parent: Uint8Array; child: Uint8Array }[] = [];
  const asked: bigint[] = [];
  const COIN = o.balance;
  const { host, record } = aliceHost(upTo(1, 'anchors').a, {
    wallet: {
      async coins(sat: bigint) {
        asked.push(sat);
        if (sat + 1000n > COIN) throw new Error('walletcreatefundedpsbt: Insufficient funds');
        const w = new Transaction({ version: 2 });
        w.addInput({ txid: 'cd'.repeat(32), index: 0, witnessUtxo: { script: P2WPKH, amount: COIN }, bip32Derivation: mark(0) });
        w.addOutput({ script: P2WPKH, amount: COIN - 1000n, bip32Derivation: mark(1) });
        return w;
      },
      mine: async (address: string) => address === p2wpkhAddress,
      async sign(psbt: Transaction) {
        for (let i = 1; i < psbt.inputsLength; i++) psbt.updateInput(i, { finalScriptWitness: [new Uint8Array(72), KEY] }, true);
        return psbt.extract();
      },
    },
    destination: { script: P2WPKH, dustSat: 294 }, limits: o.limits,
  });
  const commitment = record().local!.txid;
  const funding = record().channel.funding_txid;
  const held = () => sent.at(-1);
  /** A child's fee: her anchor and the wallet's one coin in, its outputs out. */
  const feeOf = (raw: Uint8Array) => 330n + COIN - outSum(parse(raw));
  const vsizeOf = (raw: Uint8Array) => parse(raw).vsize;
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
    estimateFeeRate: async () => o.estimate,
    rawTransaction: async (txid: string) => {
      if (txid === commitment) return held()!.parent;
      const t = new Transaction({ version: 2 });
      t.addInput({ txid: '00'.repeat(32), index: 0 });
      t.addOutput({ script: P2WPKH, amount: COIN });
      return t.toBytes(true);
    },
    // getmempoolentry: the commitment's descendants are her child and Bob's; her child's, her child alone.
    mempoolEviction: async (txid: string) => {
      const h = held()!;
      const parentFee = 1_000_000n - outSum(parse(h.parent));
      const chunk = { chunkFee: parentFee + feeOf(h.child), chunkWeight: 4 * (vsizeOf(h.parent) + vsizeOf(h.child)) };
      if (txid === commitment) return { descendantFee: parentFee + feeOf(h.child) + (o.bob?.fee ?? 0n), descendantVsize: vsizeOf(h.parent) + vsizeOf(h.child) + (o.bob?.vsize ?? 0), ...chunk };
      if (txid === parse(h.child).id) return { descendantFee: feeOf(h.child), descendantVsize: vsizeOf(h.child), ...chunk };
      return null;
    },
    mempoolEntry: async (txid: string) => (held() && txid === parse(held()!.child).id ? { fee: feeOf(held()!.child), vsize: vsizeOf(held()!.child) } : null),
    broadcast: async (raw: Uint8Array) => parse(raw).id,
    submitPackage: async (raws: Uint8Array[]) => {
      sent.push({ parent: raws[0]!, child: raws[1]! });
      return { packageMsg: 'success', txResults: [{ wtxid: '', txid: parse(raws[1]!).id }], replacedTransactions: [] };
    },
  };
  const records = { channel: async () => structuredClone(watch), setChannel: async (_id: string, c: ChannelWatch) => { watch = structuredClone(c); } };
  const round = (tip: number): Round => ({ tip, block: H(tip), dryRun: false, offline: false, chain: chain as never, records: records as never, connected: [H(tip)] });
  return { host, commitment, sent, asked, feeOf, vsizeOf, round, watch: () => watch };
}
